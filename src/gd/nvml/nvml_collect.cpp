#include "gd/nvml/nvml_collect.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "gd/model/bus_id.hpp"
#include "gd/model/json_io.hpp"
#include "gd/nvml/nvml_api.hpp"
#include "gd/util/line_worker.hpp"

namespace gd::nvml {

namespace {

using nlohmann::json;

// The sampler's call markers without a write per call: the marker of the
// call in progress is kept here (formatted), and a watchdog thread writes it
// only when that call has run for 20-40 ms (a hang), or a fatal signal's
// handler writes it (a crash). ~30 markers per GPU per sample were most of
// the long-lived worker's CPU as one write() each.
class MarkerWatchdog {
 public:
  explicit MarkerWatchdog(int fd) : m_fd(fd), m_thread([this] { run(); }) {
    s_self = this;
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sa.sa_flags = SA_RESETHAND;
    for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::sigaction(sig, &sa, nullptr);
  }
  ~MarkerWatchdog() {
    {
      std::lock_guard lock(m_mutex);
      m_stop = true;
    }
    m_wake.notify_one();
    m_thread.join();
    s_self = nullptr;
  }

  void set(const char* text, std::size_t n) {
    std::lock_guard lock(m_mutex);
    std::memcpy(m_marker, text, n);
    m_marker_len = n;
    ++m_seq;
  }
  // Between begin() and end() a call may hang: the watchdog looks.
  void begin() {
    {
      std::lock_guard lock(m_mutex);
      m_busy = true;
    }
    m_wake.notify_one();
  }
  void end() {
    std::lock_guard lock(m_mutex);
    m_busy = false;
  }
  // Writes a whole line, never interleaved with a marker.
  void write(std::string_view line) {
    std::lock_guard lock(m_mutex);
    util::write_line(m_fd, line);
  }

 private:
  void run() {
    std::unique_lock lock(m_mutex);
    std::uint64_t seen = 0, written = 0;
    while (!m_stop) {
      m_wake.wait(lock, [&] { return m_stop || m_busy; });
      seen = m_seq;
      while (!m_stop && m_busy) {
        m_wake.wait_for(lock, std::chrono::milliseconds(20));
        if (m_busy && m_seq == seen && written != m_seq && m_marker_len > 0) {
          write_all(m_marker, m_marker_len);  // the same call for 20+ ms: report it
          written = m_seq;
        }
        seen = m_seq;
      }
    }
  }
  void write_all(const char* p, std::size_t n) {
    while (n > 0) {
      ssize_t w = ::write(m_fd, p, n);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      p += w, n -= static_cast<std::size_t>(w);
    }
  }
  static void on_fatal_signal(int sig) {
    if (MarkerWatchdog* w = s_self; w && w->m_marker_len > 0) [[maybe_unused]]
      auto n = ::write(w->m_fd, w->m_marker, w->m_marker_len);  // async-signal-safe
    ::raise(sig);                                               // SA_RESETHAND: the default action now
  }

  static inline MarkerWatchdog* s_self = nullptr;
  int m_fd;
  std::mutex m_mutex;
  std::condition_variable m_wake;
  char m_marker[192] = {};
  std::size_t m_marker_len = 0;
  std::uint64_t m_seq = 0;
  bool m_busy = false, m_stop = false;
  std::thread m_thread;  // last: started once the rest is initialised
};

class Emitter {
 public:
  explicit Emitter(int fd, MarkerWatchdog* watchdog = nullptr) : m_fd(fd), m_watchdog(watchdog) {}
  void line(const json& j) {
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace);
    if (m_watchdog)
      m_watchdog->write(text);
    else
      util::write_line(m_fd, text);
  }
  // Which bus id a GPU index has, as soon as it is known, so a later hang on
  // that GPU names it. One-shot workers only: watch knows its GPUs already.
  void gpu_bus(unsigned index, const std::string& bus_id) {
    if (!m_watchdog) line({{"gpu_bus", {{"index", index}, {"bus_id", bus_id}}}});
  }
  // The marker before every NVML call, formatted without a JSON object (symbol
  // names need no escaping): written at once, or handed to the watchdog.
  void call(const char* name, std::optional<unsigned> gpu = std::nullopt) {
    char buf[192];
    int n = gpu ? std::snprintf(buf, sizeof buf, "{\"call\":\"%s\",\"gpu\":%u}\n", name, *gpu)
                : std::snprintf(buf, sizeof buf, "{\"call\":\"%s\"}\n", name);
    if (n <= 0 || static_cast<std::size_t>(n) >= sizeof buf) return;
    if (m_watchdog) return m_watchdog->set(buf, static_cast<std::size_t>(n));
    for (int off = 0; off < n;) {
      ssize_t w = ::write(m_fd, buf + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return;
      off += static_cast<int>(w);
    }
  }

 private:
  int m_fd;
  MarkerWatchdog* m_watchdog;
};

// Runs one per-GPU query: marks the call, maps NOT_SUPPORTED/missing symbol to
// "not reported", records other failures in call_errors. True on success.
template <class F, class... Args>
bool query(Emitter& em, model::NvmlGpu& g, const Sym<F>& sym, Args... args) {
  if (!sym) return false;
  em.call(sym.name, g.index);
  int r = sym.fn(args...);
  if (r == k_success) return true;
  if (r != k_not_supported) g.call_errors[sym.name] = r;
  return false;
}

std::string cstr(const char* buf, size_t len) { return std::string(buf, strnlen(buf, len)); }

// Only nvmlDeviceGetPciInfo_v3 writes the 32-byte busId; v1 and v2 leave it
// as it was and fill busIdLegacy (always written).
std::string bus_id_text(const NvmlApi& a, const nvmlPciInfo_t& pci) {
  bool v3 = std::strcmp(a.pci_info.name, "nvmlDeviceGetPciInfo_v3") == 0;
  return v3 ? cstr(pci.busId, sizeof pci.busId) : cstr(pci.busIdLegacy, sizeof pci.busIdLegacy);
}

void collect_identity(Emitter& em, const NvmlApi& a, nvmlDevice_t d, model::NvmlGpu& g) {
  nvmlPciInfo_t pci{};
  if (query(em, g, a.pci_info, d, &pci)) {
    std::string raw = bus_id_text(a, pci);
    auto id = model::normalize_bus_id(raw);
    g.bus_id = id ? *id : raw;
    em.gpu_bus(g.index, *g.bus_id);
  }
  char buf[k_device_uuid_len] = {};
  if (query(em, g, a.name, d, buf, k_device_name_len)) g.name = cstr(buf, sizeof buf);
  if (query(em, g, a.uuid, d, buf, k_device_uuid_len)) g.uuid = cstr(buf, sizeof buf);
  if (query(em, g, a.serial, d, buf, k_device_serial_len)) g.serial = cstr(buf, sizeof buf);
  unsigned u = 0;
  if (query(em, g, a.minor, d, &u)) g.minor = u;
  nvmlEnableState_t e = 0;
  if (query(em, g, a.persistence, d, &e)) g.persistence_mode = (e != 0);
}

void collect_thermal_power(Emitter& em, const NvmlApi& a, nvmlDevice_t d, model::NvmlGpu& g) {
  unsigned u = 0;
  if (query(em, g, a.temperature, d, 0, &u)) g.temp_celsius = u;
  if (query(em, g, a.temp_threshold, d, k_temp_threshold_slowdown, &u)) g.temp_slowdown_celsius = u;
  if (query(em, g, a.temp_threshold, d, k_temp_threshold_shutdown, &u)) g.temp_shutdown_celsius = u;
  if (query(em, g, a.power_usage, d, &u)) g.power_watts = u / 1000.0;
  if (query(em, g, a.power_limit, d, &u)) g.power_limit_watts = u / 1000.0;
  unsigned long long ull = 0;
  if (query(em, g, a.energy, d, &ull)) g.energy_millijoules = ull;
  if (query(em, g, a.fan, d, &u)) g.fan_percent = u;
  nvmlPstates_t ps = 0;
  if (query(em, g, a.pstate, d, &ps)) g.pstate = static_cast<unsigned>(ps);
  if (query(em, g, a.clock_reasons, d, &ull)) g.clock_event_reasons = ull;
}

void collect_usage(Emitter& em, const NvmlApi& a, nvmlDevice_t d, model::NvmlGpu& g) {
  nvmlMemory_t mem{};
  if (query(em, g, a.memory, d, &mem)) {
    g.mem_total_bytes = mem.total;
    g.mem_used_bytes = mem.used;
  }
  nvmlUtilization_t util{};
  if (query(em, g, a.utilization, d, &util)) {
    g.util_gpu_percent = util.gpu;
    g.util_mem_percent = util.memory;
  }
  unsigned u = 0;
  if (query(em, g, a.clock, d, k_clock_graphics, &u)) g.clock_graphics_mhz = u;
  if (query(em, g, a.clock, d, k_clock_sm, &u)) g.clock_sm_mhz = u;
  if (query(em, g, a.clock, d, k_clock_mem, &u)) g.clock_mem_mhz = u;
  if (query(em, g, a.max_clock, d, k_clock_graphics, &u)) g.clock_graphics_max_mhz = u;
  if (query(em, g, a.max_clock, d, k_clock_mem, &u)) g.clock_mem_max_mhz = u;
  if (query(em, g, a.pcie_gen, d, &u)) g.pcie_gen = u;
  if (query(em, g, a.pcie_width, d, &u)) g.pcie_width = u;
  if (query(em, g, a.pcie_max_gen, d, &u)) g.pcie_max_gen = u;
  if (query(em, g, a.pcie_max_width, d, &u)) g.pcie_max_width = u;
}

void collect_memory_health(Emitter& em, const NvmlApi& a, nvmlDevice_t d, model::NvmlGpu& g) {
  nvmlEnableState_t cur = 0, pending = 0;
  if (query(em, g, a.ecc_mode, d, &cur, &pending)) g.ecc_enabled = (cur != 0);
  unsigned long long ull = 0;
  if (g.ecc_enabled.value_or(false)) {
    if (query(em, g, a.ecc_count, d, k_memory_error_corrected, k_ecc_counter_volatile, &ull))
      g.ecc_corrected_volatile = ull;
    if (query(em, g, a.ecc_count, d, k_memory_error_uncorrected, k_ecc_counter_volatile, &ull))
      g.ecc_uncorrected_volatile = ull;
    if (query(em, g, a.ecc_count, d, k_memory_error_uncorrected, k_ecc_counter_aggregate, &ull))
      g.ecc_uncorrected_aggregate = ull;
  }
  nvmlEnableState_t e = 0;
  if (query(em, g, a.retired_pending, d, &e)) g.retired_pages_pending = (e != 0);
  unsigned corr = 0, unc = 0, is_pending = 0, failure = 0;
  if (query(em, g, a.remapped_rows, d, &corr, &unc, &is_pending, &failure)) {
    g.remapped_rows_correctable = corr;
    g.remapped_rows_uncorrectable = unc;
    g.remapped_rows_pending = is_pending != 0;
    g.remapped_rows_failure = failure != 0;
  }
  // The driver's recovery action (field 230, from R570; Xid 154 announces a change).
  nvmlFieldValue_t fv{};
  fv.fieldId = k_fi_dev_get_gpu_recovery_action;
  if (query(em, g, a.field_values, d, 1, &fv) && fv.nvmlReturn == k_success) {
    switch (fv.valueType) {
      case k_value_type_uint: g.recovery_action = fv.value.uiVal; break;
      case k_value_type_ulong: g.recovery_action = static_cast<unsigned>(fv.value.ulVal); break;
      case k_value_type_ulonglong: g.recovery_action = static_cast<unsigned>(fv.value.ullVal); break;
      case k_value_type_sint: g.recovery_action = static_cast<unsigned>(fv.value.siVal); break;
      default: break;
    }
  }
}

model::NvmlGpu collect_gpu(Emitter& em, const NvmlApi& a, unsigned index) {
  model::NvmlGpu g;
  g.index = index;
  nvmlDevice_t d = nullptr;
  em.call(a.handle_by_index.name, index);
  g.handle_return = a.handle_by_index.fn(index, &d);
  if (g.handle_return != k_success) return g;
  collect_identity(em, a, d, g);
  collect_thermal_power(em, a, d, g);
  collect_usage(em, a, d, g);
  collect_memory_health(em, a, d, g);
  return g;
}

json collect_system(Emitter& em, const NvmlApi& a) {
  json sys = json::object();
  json errors = json::object();
  // A failed system query is kept with its code (not-supported ones are no error), like a GPU's call_errors.
  auto failed = [&](const char* name, int r) {
    if (r != k_not_supported) errors[name] = r;
  };
  char buf[k_system_version_len] = {};
  if (a.driver_version) {
    em.call(a.driver_version.name);
    if (int r = a.driver_version.fn(buf, sizeof buf); r == k_success) sys["driver_version"] = cstr(buf, sizeof buf);
    else failed(a.driver_version.name, r);
  }
  if (a.nvml_version) {
    em.call(a.nvml_version.name);
    if (int r = a.nvml_version.fn(buf, sizeof buf); r == k_success) sys["nvml_version"] = cstr(buf, sizeof buf);
    else failed(a.nvml_version.name, r);
  }
  int v = 0;
  if (a.cuda_version) {
    em.call(a.cuda_version.name);
    if (int r = a.cuda_version.fn(&v); r == k_success) sys["cuda_driver_version"] = v;
    else failed(a.cuda_version.name, r);
  }
  if (!errors.empty()) sys["call_errors"] = errors;
  unsigned count = 0;
  em.call(a.count.name);
  int r = a.count.fn(&count);
  sys["count_return"] = r;
  if (r == k_success) sys["device_count"] = count;
  return sys;
}

// Loads the library and calls nvmlInit, reporting both; the API when init succeeded.
std::optional<NvmlApi> load_and_init(Emitter& em, const std::string& library_path) {
  auto api = load_nvml(library_path);
  if (!api) {
    em.line({{"load_error", api.error().message}});
    em.line({{"done", true}});
    return std::nullopt;
  }
  em.line({{"missing", api->missing}});
  // The library states its own version before init, even without a driver:
  // the version check then works for plain-file installs (no version in the name).
  if (api->nvml_version) {
    char buf[k_system_version_len] = {};
    em.call(api->nvml_version.name);
    if (api->nvml_version.fn(buf, sizeof buf) == k_success) em.line({{"library", {{"nvml_version", cstr(buf, sizeof buf)}}}});
  }
  em.call(api->init.name);
  auto t0 = std::chrono::steady_clock::now();
  int r = api->init.fn();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  em.line({{"init", {{"return", r}, {"ms", ms}}}});
  if (r != k_success) {
    em.line({{"done", true}});
    return std::nullopt;
  }
  return std::move(*api);
}

// One sample: the system line and a line per GPU. Returns the GPU count.
unsigned emit_sample(Emitter& em, const NvmlApi& a) {
  json sys = collect_system(em, a);
  em.line({{"system", sys}});
  unsigned count = sys.value("device_count", 0u);
  for (unsigned i = 0; i < count && i < 1024; ++i) em.line({{"gpu", model::to_json(collect_gpu(em, a, i))}});
  return count;
}

// Xid events through NVML's event API where the library has it: one event set
// with XidCriticalError registered on every GPU that supports it.
class XidEvents {
 public:
  XidEvents(Emitter& em, const NvmlApi& a) : m_em(em), m_a(a) {}
  void close() {
    if (m_set) m_a.event_set_free.fn(m_set);
    m_set = nullptr;
  }

  // Registers GPUs 0..count-1 (the count of the first sample, so that opening
  // adds no nvmlDeviceGetCount call of its own).
  void open(unsigned count) {
    const NvmlApi& a = m_a;
    if (!a.event_set_create || !a.event_set_free || !a.register_events || !a.event_wait) {
      m_em.line({{"xid_events", {{"registered", 0}, {"reason", "the library lacks the event API"}}}});
      return;
    }
    m_em.call(a.event_set_create.name);
    int r = a.event_set_create.fn(&m_set);
    if (r != k_success) {
      m_set = nullptr;
      m_em.line({{"xid_events", {{"registered", 0}, {"reason", "nvmlEventSetCreate returned " + std::to_string(r)}}}});
      return;
    }
    json registered = json::array();
    for (unsigned i = 0; i < count && i < 1024; ++i)
      if (register_gpu(i)) registered.push_back(i);
    m_em.line({{"xid_events", {{"registered", registered.size()}, {"gpus", registered}}}});
  }

  // Every queued Xid, without waiting (timeout 0): one {"xid":...} line each.
  void poll() {
    if (!m_set) return;
    for (int k = 0; k < 256; ++k) {
      nvmlEventData_t d{};
      m_em.call(m_a.event_wait.name);
      if (m_a.event_wait.fn(m_set, &d, 0) != k_success) return;
      if (!(d.eventType & k_event_type_xid_critical_error)) continue;
      json x = {{"code", d.eventData}};
      for (const auto& [dev, index, bus] : m_gpus)
        if (dev == d.device) x["gpu"] = index, x["bus_id"] = bus;
      m_em.line({{"xid", x}});
    }
  }

 private:
  bool register_gpu(unsigned i) {
    const NvmlApi& a = m_a;
    nvmlDevice_t d = nullptr;
    m_em.call(a.handle_by_index.name, i);
    if (a.handle_by_index.fn(i, &d) != k_success) return false;
    unsigned long long types = k_event_type_xid_critical_error;
    if (a.supported_events) {
      m_em.call(a.supported_events.name, i);
      if (a.supported_events.fn(d, &types) != k_success) return false;
    }
    if (!(types & k_event_type_xid_critical_error)) return false;
    m_em.call(a.register_events.name, i);
    if (a.register_events.fn(d, k_event_type_xid_critical_error, m_set) != k_success) return false;
    std::string bus;
    nvmlPciInfo_t pci{};
    if (a.pci_info && a.pci_info.fn(d, &pci) == k_success) {
      std::string raw = bus_id_text(a, pci);
      bus = model::normalize_bus_id(raw).value_or(raw);
    }
    m_gpus.emplace_back(d, i, bus);
    return true;
  }

  Emitter& m_em;
  const NvmlApi& m_a;
  nvmlEventSet_t m_set = nullptr;
  std::vector<std::tuple<nvmlDevice_t, unsigned, std::string>> m_gpus;
};

}  // namespace

int worker_main(const std::string& library_path, int out_fd) {
  Emitter em(out_fd);
  auto api = load_and_init(em, library_path);
  if (!api) return 0;
  emit_sample(em, *api);
  em.call(api->shutdown.name);
  api->shutdown.fn();
  em.line({{"done", true}});
  return 0;
}

int sampler_main(const std::string& library_path, int in_fd, int out_fd) {
  MarkerWatchdog watchdog(out_fd);
  Emitter em(out_fd, &watchdog);
  watchdog.begin();
  auto api = load_and_init(em, library_path);
  watchdog.end();
  if (!api) return 0;
  XidEvents xids(em, *api);
  bool first = true;
  std::string pending;
  char buf[256];
  while (true) {
    ssize_t n = ::read(in_fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the parent is gone or closed our stdin: shut down
    pending.append(buf, static_cast<size_t>(n));
    size_t pos;
    while ((pos = pending.find('\n')) != std::string::npos) {
      pending.erase(0, pos + 1);
      watchdog.begin();
      unsigned count = emit_sample(em, *api);
      if (first) xids.open(count), first = false;
      xids.poll();
      watchdog.end();
      em.line({{"done", true}});
    }
  }
  watchdog.begin();
  xids.close();
  em.call(api->shutdown.name);
  api->shutdown.fn();
  watchdog.end();
  return 0;
}

int set_persistence_main(const std::string& library_path, int out_fd) {
  Emitter em(out_fd);
  auto api = load_nvml(library_path);
  if (!api || !api->set_persistence || !api->persistence) {
    em.line({{"load_error", api ? "the library lacks nvmlDeviceSetPersistenceMode" : api.error().message}});
    return 0;
  }
  const NvmlApi& a = *api;
  int r = a.init.fn();
  if (r != k_success) {
    em.line({{"init", {{"return", r}}}});
    return 0;
  }
  unsigned count = 0;
  a.count.fn(&count);
  for (unsigned i = 0; i < count && i < 1024; ++i) {
    nvmlDevice_t d = nullptr;
    json line = {{"index", i}};
    int h = a.handle_by_index.fn(i, &d);
    if (h != k_success) {
      line["ret"] = h;
      em.line(line);
      continue;
    }
    nvmlPciInfo_t pci{};
    if (a.pci_info && a.pci_info.fn(d, &pci) == k_success)
      line["bus_id"] = model::normalize_bus_id(cstr(pci.busIdLegacy, sizeof pci.busIdLegacy)).value_or("");
    nvmlEnableState_t mode = 0;
    a.persistence.fn(d, &mode);
    line["was_on"] = mode != 0;
    line["ret"] = mode != 0 ? k_success : a.set_persistence.fn(d, 1);
    em.line(line);
  }
  a.shutdown.fn();
  em.line({{"done", true}});
  return 0;
}

}  // namespace gd::nvml
