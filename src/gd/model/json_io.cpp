#include "gd/model/json_io.hpp"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <set>
#include <typeinfo>
#include <type_traits>
#include <utility>

#include <fmt/format.h>

#include "gd/model/field_count.hpp"
#include "gd/util/strings.hpp"

namespace gd::model {

namespace {

using nlohmann::json;

// One field list per struct, shared by the writer and the reader.
template <class V> void describe(V& v, ProbeRun& x) {
  v("name", x.name); v("ok", x.ok); v("error", x.error); v("duration_ms", x.duration_ms);
}
template <class V> void describe(V& v, PciGpu& x) {
  v("bus_id", x.bus_id); v("vendor_id", x.vendor_id); v("device_id", x.device_id);
  v("class_code", x.class_code); v("driver", x.driver);
  v("current_link_speed", x.current_link_speed); v("max_link_speed", x.max_link_speed);
  v("current_link_width", x.current_link_width); v("max_link_width", x.max_link_width);
  v("problems", x.problems);
}
template <class V> void describe(V& v, PciInfo& x) {
  v("gpus", x.gpus); v("other_nvidia_functions", x.other_nvidia_functions);
}
template <class V> void describe(V& v, DriverGpu& x) {
  v("bus_id", x.bus_id); v("model", x.model); v("uuid", x.uuid); v("minor", x.minor); v("excluded", x.excluded);
}
template <class V> void describe(V& v, DriverInfo& x) {
  v("nvidia_loaded", x.nvidia_loaded); v("nvidia_uvm_loaded", x.nvidia_uvm_loaded);
  v("nvidia_modeset_loaded", x.nvidia_modeset_loaded); v("nvidia_drm_loaded", x.nvidia_drm_loaded);
  v("nouveau_loaded", x.nouveau_loaded); v("kernel_version", x.kernel_version); v("flavour", x.flavour);
  v("version_line", x.version_line); v("gpus", x.gpus); v("problems", x.problems);
}
template <class V> void describe(V& v, DevNode& x) {
  v("path", x.path); v("present", x.present); v("char_device", x.char_device);
}
template <class V> void describe(V& v, DevNodes& x) { v("nodes", x.nodes); }
template <class V> void describe(V& v, Persistenced& x) {
  v("pid_file", x.pid_file); v("pid", x.pid); v("process_alive", x.process_alive); v("socket", x.socket);
  v("unit_file", x.unit_file); v("unit_masked", x.unit_masked); v("unit_exec_start", x.unit_exec_start);
  v("unit_no_persistence_mode", x.unit_no_persistence_mode);
  v("problems", x.problems);
}
template <class V> void describe(V& v, NvmlLibrary& x) {
  v("requested", x.requested); v("found_via", x.found_via); v("path", x.path);
  v("resolved_path", x.resolved_path); v("file_version", x.file_version); v("not_loaded", x.not_loaded);
}
template <class V> void describe(V& v, NvmlGpu& x) {
  v("index", x.index); v("handle_return", x.handle_return); v("bus_id", x.bus_id); v("name", x.name);
  v("uuid", x.uuid); v("serial", x.serial); v("minor", x.minor); v("persistence_mode", x.persistence_mode);
  v("temp_celsius", x.temp_celsius); v("temp_slowdown_celsius", x.temp_slowdown_celsius);
  v("temp_shutdown_celsius", x.temp_shutdown_celsius); v("power_watts", x.power_watts);
  v("power_limit_watts", x.power_limit_watts); v("energy_millijoules", x.energy_millijoules);
  v("mem_total_bytes", x.mem_total_bytes); v("mem_used_bytes", x.mem_used_bytes);
  v("util_gpu_percent", x.util_gpu_percent); v("util_mem_percent", x.util_mem_percent);
  v("clock_graphics_mhz", x.clock_graphics_mhz); v("clock_sm_mhz", x.clock_sm_mhz);
  v("clock_mem_mhz", x.clock_mem_mhz); v("clock_graphics_max_mhz", x.clock_graphics_max_mhz);
  v("clock_mem_max_mhz", x.clock_mem_max_mhz); v("clock_event_reasons", x.clock_event_reasons);
  v("pstate", x.pstate); v("fan_percent", x.fan_percent); v("ecc_enabled", x.ecc_enabled);
  v("ecc_corrected_volatile", x.ecc_corrected_volatile); v("ecc_uncorrected_volatile", x.ecc_uncorrected_volatile);
  v("ecc_uncorrected_aggregate", x.ecc_uncorrected_aggregate); v("retired_pages_pending", x.retired_pages_pending);
  v("remapped_rows_correctable", x.remapped_rows_correctable);
  v("remapped_rows_uncorrectable", x.remapped_rows_uncorrectable);
  v("recovery_action", x.recovery_action);
  v("remapped_rows_pending", x.remapped_rows_pending); v("remapped_rows_failure", x.remapped_rows_failure);
  v("pcie_gen", x.pcie_gen); v("pcie_width", x.pcie_width); v("pcie_max_gen", x.pcie_max_gen);
  v("pcie_max_width", x.pcie_max_width); v("call_errors", x.call_errors);
}
template <class V> void describe(V& v, NvmlInfo& x) {
  v("state", x.state); v("library", x.library); v("load_error", x.load_error); v("init_return", x.init_return);
  v("init_ms", x.init_ms); v("driver_version", x.driver_version); v("nvml_version", x.nvml_version);
  v("cuda_driver_version", x.cuda_driver_version); v("count_return", x.count_return);
  v("device_count", x.device_count); v("system_call_errors", x.system_call_errors); v("gpus", x.gpus); v("hung_call", x.hung_call); v("hung_gpu", x.hung_gpu);
  v("hung_bus_id", x.hung_bus_id);
  v("timeout_s", x.timeout_s); v("elapsed_ms", x.elapsed_ms); v("worker_stderr", x.worker_stderr);
  v("missing_symbols", x.missing_symbols);
}
template <class V> void describe(V& v, CudaDevice& x) {
  v("ordinal", x.ordinal); v("get_return", x.get_return); v("name", x.name); v("bus_id", x.bus_id);
}
template <class V> void describe(V& v, CudaInfo& x) {
  v("state", x.state); v("library", x.library); v("load_error", x.load_error); v("skip_reason", x.skip_reason);
  v("init_return", x.init_return); v("init_error_name", x.init_error_name);
  v("init_error_text", x.init_error_text); v("init_ms", x.init_ms); v("version_return", x.version_return);
  v("driver_version", x.driver_version); v("count_return", x.count_return); v("device_count", x.device_count);
  v("devices", x.devices); v("visible_devices", x.visible_devices); v("hung_call", x.hung_call);
  v("hung_device", x.hung_device); v("timeout_s", x.timeout_s); v("elapsed_ms", x.elapsed_ms);
  v("worker_stderr", x.worker_stderr); v("missing_symbols", x.missing_symbols);
}
template <class V> void describe(V& v, LibDir& x) {
  v("path", x.path); v("resolved", x.resolved); v("origin", x.origin); v("in_ld_cache_scope", x.in_ld_cache_scope);
  v("world_writable", x.world_writable);
}
template <class V> void describe(V& v, LibEntry& x) {
  v("family", x.family); v("path", x.path); v("hops", x.hops); v("resolved", x.resolved);
  v("link_error", x.link_error); v("size_bytes", x.size_bytes); v("version", x.version); v("soname", x.soname);
  v("elf_error", x.elf_error);
}
template <class V> void describe(V& v, LdCacheLib& x) {
  v("name", x.name); v("path", x.path); v("in_dir", x.in_dir); v("present", x.present);
}
template <class V> void describe(V& v, LoaderPick& x) {
  v("name", x.name); v("path", x.path); v("found_via", x.found_via); v("resolved", x.resolved);
  v("version", x.version);
}
template <class V> void describe(V& v, LibsInfo& x) {
  v("dirs", x.dirs); v("ld_cache_present", x.ld_cache_present); v("ld_cache_error", x.ld_cache_error);
  v("ld_cache", x.ld_cache); v("entries", x.entries); v("picks", x.picks); v("problems", x.problems);
}
template <class V> void describe(V& v, KernelEvent& x) {
  v("kind", x.kind); v("xid", x.xid); v("bus_id", x.bus_id); v("pid", x.pid); v("process", x.process);
  v("message", x.message); v("boot", x.boot); v("timestamp", x.timestamp); v("unix_s", x.unix_s);
  v("client_version", x.client_version); v("module_version", x.module_version);
  v("rm_stage", x.rm_stage); v("rm_status", x.rm_status); v("form", x.form); v("cpu", x.cpu);
  v("stalled_s", x.stalled_s); v("rip", x.rip); v("driver_frames", x.driver_frames);
}
template <class V> void describe(V& v, GpuInitMarks& x) {
  v("bus_id", x.bus_id); v("boot", x.boot); v("lines", x.lines); v("uuid", x.uuid);
}
template <class V> void describe(V& v, ModuleLoad& x) { v("boot", x.boot); v("version", x.version); v("flavour", x.flavour); }
template <class V> void describe(V& v, ChangeRecord& x) {
  v("ts_unix_s", x.ts_unix_s); v("boot_id", x.boot_id); v("finding", x.finding); v("action", x.action);
  v("before", x.before); v("detail", x.detail);
}
template <class V> void describe(V& v, HistoryMark& x) {
  v("ts_ms", x.ts_ms); v("type", x.type); v("bus_id", x.bus_id); v("persistence_mode", x.persistence_mode);
}
template <class V> void describe(V& v, StateInfo& x) {
  v("dir", x.dir); v("changes", x.changes); v("boot_id", x.boot_id); v("boot_time_unix_s", x.boot_time_unix_s);
  v("history", x.history); v("ledger", x.ledger); v("problems", x.problems);
}
template <class V> void describe(V& v, LedgerRepair& x) { v("ts_unix_s", x.ts_unix_s); v("boot_id", x.boot_id); v("what", x.what); }
template <class V> void describe(V& v, LedgerEntry& x) {
  v("id", x.id); v("gpu", x.gpu); v("latch", x.latch); v("state", x.state); v("severity", x.severity);
  v("summary", x.summary); v("evidence", x.evidence); v("raised_unix_s", x.raised_unix_s);
  v("raised_boot_id", x.raised_boot_id); v("last_seen_unix_s", x.last_seen_unix_s);
  v("last_seen_boot_id", x.last_seen_boot_id); v("seen_now", x.seen_now); v("occurrences", x.occurrences);
  v("boots_seen", x.boots_seen); v("gpu_serial", x.gpu_serial); v("gpu_uuid", x.gpu_uuid); v("repairs", x.repairs);
  v("escalation", x.escalation); v("cleared_unix_s", x.cleared_unix_s); v("cleared_how", x.cleared_how);
  v("cleared_by", x.cleared_by);
}
template <class V> void describe(V& v, Ledger& x) {
  v("kind", x.kind); v("schema", x.schema); v("boots", x.boots); v("updated_unix_s", x.updated_unix_s);
  v("updated_by", x.updated_by); v("newest_check_unix_ms", x.newest_check_unix_ms); v("entries", x.entries);
}
template <class V> void describe(V& v, KernelLog& x) {
  v("source", x.source); v("unavailable", x.unavailable); v("window", x.window);
  v("lines_scanned", x.lines_scanned); v("lines_cut", x.lines_cut);
  v("events_outside_window", x.events_outside_window); v("events", x.events); v("gpu_uuids", x.gpu_uuids);
  v("init_marks", x.init_marks); v("module_loads", x.module_loads);
  v("problems", x.problems); v("stalls_elsewhere", x.stalls_elsewhere); v("incomplete", x.incomplete);
}
template <class V> void describe(V& v, GpuTask& x) {
  v("pid", x.pid); v("comm", x.comm); v("state", x.state); v("started_unix_s", x.started_unix_s);
  v("wchan", x.wchan); v("stack", x.stack); v("devices", x.devices); v("in_driver", x.in_driver);
  v("thread_tid", x.thread_tid); v("thread_comm", x.thread_comm);
}
template <class V> void describe(V& v, ProcessesInfo& x) {
  v("read", x.read); v("processes", x.processes); v("not_read", x.not_read);
  v("uninterruptible", x.uninterruptible); v("holders_scanned", x.holders_scanned);
  v("holders_note", x.holders_note); v("tasks", x.tasks); v("problems", x.problems);
}
template <class V> void describe(V& v, ContainerCli& x) {
  v("path", x.path); v("skip_reason", x.skip_reason); v("timed_out", x.timed_out); v("exit_code", x.exit_code);
  v("error", x.error); v("nvrm_version", x.nvrm_version); v("cuda_version", x.cuda_version);
  v("devices", x.devices); v("elapsed_ms", x.elapsed_ms);
}
template <class V> void describe(V& v, DockerRuntime& x) { v("name", x.name); v("path", x.path); v("found", x.found); }
template <class V> void describe(V& v, CdiSpec& x) {
  v("path", x.path); v("driver_versions", x.driver_versions); v("nvidia", x.nvidia);
}
template <class V> void describe(V& v, DevCharLink& x) {
  v("node", x.node); v("link", x.link); v("ok", x.ok); v("problem", x.problem);
}
template <class V> void describe(V& v, ContainerInfo& x) {
  v("inside", x.inside); v("inside_evidence", x.inside_evidence); v("cgroup_version", x.cgroup_version);
  v("toolkit_config", x.toolkit_config); v("toolkit_no_cgroups", x.toolkit_no_cgroups);
  v("toolkit_ldconfig", x.toolkit_ldconfig); v("toolkit_ldconfig_found", x.toolkit_ldconfig_found);
  v("docker_config", x.docker_config); v("docker_runtimes", x.docker_runtimes);
  v("docker_default_runtime", x.docker_default_runtime); v("cgroup_driver", x.cgroup_driver);
  v("cgroup_driver_source", x.cgroup_driver_source); v("cdi_specs", x.cdi_specs); v("dev_char", x.dev_char);
  v("cli", x.cli); v("problems", x.problems);
}
template <class V> void describe(V& v, WatchInfo& x) {
  v("history_path", x.history_path); v("history_write_ok", x.history_write_ok);
  v("history_error", x.history_error); v("history_pending_rows", x.history_pending_rows);
  v("history_write_errors_total", x.history_write_errors_total);
}
template <class V> void describe(V& v, Snapshot& x) {
  v("kind", x.kind); v("schema", x.schema); v("gpudoctor_version", x.gpudoctor_version); v("hostname", x.hostname);
  v("taken_at", x.taken_at); v("root", x.root); v("probes", x.probes); v("pci", x.pci); v("driver", x.driver);
  v("devnodes", x.devnodes); v("persistenced", x.persistenced); v("nvml", x.nvml);
  v("cuda", x.cuda);
  v("libs", x.libs);
  v("kernel_log", x.kernel_log);
  v("processes", x.processes);
  v("container", x.container);
  v("state", x.state);
  v("watch", x.watch);
}
template <class V> void describe(V& v, Finding& x) {
  v("id", x.id); v("severity", x.severity); v("gpu", x.gpu); v("summary", x.summary); v("evidence", x.evidence);
  v("cause", x.cause); v("fix", x.fix); v("needs_root", x.needs_root); v("needs_reboot", x.needs_reboot);
  v("earlier_boots_only", x.earlier_boots_only);
}

constexpr std::pair<NvmlState, std::string_view> k_nvml_states[] = {
    {NvmlState::not_run, "not_run"},       {NvmlState::library_missing, "library_missing"},
    {NvmlState::init_failed, "init_failed"}, {NvmlState::hung, "hung"},
    {NvmlState::worker_failed, "worker_failed"}, {NvmlState::ok, "ok"},
};
constexpr std::pair<CudaState, std::string_view> k_cuda_states[] = {
    {CudaState::not_run, "not_run"},         {CudaState::skipped, "skipped"},
    {CudaState::library_missing, "library_missing"}, {CudaState::init_failed, "init_failed"},
    {CudaState::hung, "hung"},               {CudaState::worker_failed, "worker_failed"},
    {CudaState::ok, "ok"},
};
constexpr std::pair<KernelEventKind, std::string_view> k_kernel_event_kinds[] = {
    {KernelEventKind::xid, "xid"},
    {KernelEventKind::fallen_off_bus, "fallen_off_bus"},
    {KernelEventKind::api_mismatch, "api_mismatch"},
    {KernelEventKind::rm_init_failed, "rm_init_failed"},
    {KernelEventKind::gsp_failed, "gsp_failed"},
    {KernelEventKind::probe_failed, "probe_failed"},
    {KernelEventKind::gpu_reset, "gpu_reset"},
    {KernelEventKind::hung_task, "hung_task"},
    {KernelEventKind::soft_lockup, "soft_lockup"},
    {KernelEventKind::hard_lockup, "hard_lockup"},
    {KernelEventKind::rcu_stall, "rcu_stall"},
};
constexpr std::pair<Latch, std::string_view> k_latches[] = {
    {Latch::none, "none"}, {Latch::transient, "transient"}, {Latch::hardware, "hardware"}};
constexpr std::pair<LedgerState, std::string_view> k_ledger_states[] = {
    {LedgerState::open, "open"}, {LedgerState::cleared, "cleared"}, {LedgerState::acknowledged, "acknowledged"}};
constexpr std::pair<Severity, std::string_view> k_severities[] = {
    {Severity::ok, "ok"}, {Severity::warning, "warning"}, {Severity::critical, "critical"}};

template <class E> constexpr auto& enum_table() {
  if constexpr (std::is_same_v<E, NvmlState>) return k_nvml_states;
  else if constexpr (std::is_same_v<E, CudaState>) return k_cuda_states;
  else if constexpr (std::is_same_v<E, KernelEventKind>) return k_kernel_event_kinds;
  else if constexpr (std::is_same_v<E, Latch>) return k_latches;
  else if constexpr (std::is_same_v<E, LedgerState>) return k_ledger_states;
  else return k_severities;
}

template <class T> struct is_optional : std::false_type {};
template <class T> struct is_optional<std::optional<T>> : std::true_type {};
template <class T> struct is_vector : std::false_type {};
template <class T> struct is_vector<std::vector<T>> : std::true_type {};
template <class T> struct is_map : std::false_type {};
template <class T> struct is_map<std::map<std::string, T>> : std::true_type {};

template <class T> json write(const T& v);

struct Writer {
  json& out;
  template <class T> void operator()(const char* name, const T& value) { out[name] = write(value); }
};

template <class T> json write(const T& v) {
  if constexpr (is_optional<T>::value) {
    return v ? write(*v) : json(nullptr);
  } else if constexpr (is_vector<T>::value) {
    json a = json::array();
    for (const auto& e : v) a.push_back(write(e));
    return a;
  } else if constexpr (is_map<T>::value) {
    json o = json::object();
    for (const auto& [k, e] : v) o[k] = write(e);
    return o;
  } else if constexpr (std::is_enum_v<T>) {
    for (const auto& [e, name] : enum_table<T>())
      if (e == v) return json(name);
    return json(nullptr);
  } else if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) {
    return json(v);
  } else {
    json o = json::object();
    Writer w{o};
    describe(w, const_cast<T&>(v));
    return o;
  }
}

std::string type_name(const json& j) {
  if (j.is_number()) return "number";
  return j.type_name();
}

struct ReadCtx {
  std::string error;
  std::vector<std::string> unknown_keys;  // object keys no describe() names, as paths
  void fail(const std::string& path, std::string_view what, const json& j) {
    if (error.empty()) error = fmt::format("{}: expected {}, got {}", path, what, type_name(j));
  }
};

template <class T> void read(const json& j, T& out, const std::string& path, ReadCtx& ctx);

struct Reader {
  const json& in;
  const std::string& path;
  ReadCtx& ctx;
  std::vector<std::string_view> names{};  // every name the struct's describe() lists
  template <class T> void operator()(const char* name, T& value) {
    names.emplace_back(name);
    if (!ctx.error.empty()) return;
    auto it = in.find(name);
    if (it == in.end()) return;  // missing: keep the default
    read(*it, value, path.empty() ? std::string(name) : path + "." + name, ctx);
  }
};

template <class T> void read_number(const json& j, T& out, const std::string& path, ReadCtx& ctx) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!j.is_number()) return ctx.fail(path, "a number", j);
    out = j.get<T>();
  } else {
    if (!j.is_number_integer()) return ctx.fail(path, "an integer", j);
    if (j.is_number_unsigned()) {
      auto u = j.get<std::uint64_t>();
      if (u > static_cast<std::uint64_t>(std::numeric_limits<T>::max())) return ctx.fail(path, "a smaller integer", j);
      out = static_cast<T>(u);
    } else {
      auto s = j.get<std::int64_t>();
      if constexpr (std::is_unsigned_v<T>) {
        if (s < 0) return ctx.fail(path, "a non-negative integer", j);
      } else {
        if (s < std::numeric_limits<T>::min() || s > std::numeric_limits<T>::max())
          return ctx.fail(path, "a smaller integer", j);
      }
      out = static_cast<T>(s);
    }
  }
}

template <class T> void read(const json& j, T& out, const std::string& path, ReadCtx& ctx) {
  if (!ctx.error.empty()) return;
  if constexpr (is_optional<T>::value) {
    if (j.is_null()) {
      out.reset();
      return;
    }
    typename T::value_type v{};
    read(j, v, path, ctx);
    out = std::move(v);
  } else if constexpr (is_vector<T>::value) {
    if (!j.is_array()) return ctx.fail(path, "an array", j);
    out.clear();
    for (size_t i = 0; i < j.size(); ++i) {
      typename T::value_type v{};
      read(j[i], v, fmt::format("{}[{}]", path, i), ctx);
      out.push_back(std::move(v));
    }
  } else if constexpr (is_map<T>::value) {
    if (!j.is_object()) return ctx.fail(path, "an object", j);
    out.clear();
    for (auto it = j.begin(); it != j.end(); ++it) read(it.value(), out[it.key()], path + "." + it.key(), ctx);
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!j.is_boolean()) return ctx.fail(path, "true or false", j);
    out = j.get<bool>();
  } else if constexpr (std::is_arithmetic_v<T>) {
    read_number(j, out, path, ctx);
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!j.is_string()) return ctx.fail(path, "a string", j);
    out = j.get<std::string>();
  } else if constexpr (std::is_enum_v<T>) {
    if (!j.is_string()) return ctx.fail(path, "a string", j);
    auto s = j.get<std::string>();
    for (const auto& [e, name] : enum_table<T>())
      if (name == s) {
        out = e;
        return;
      }
    if (ctx.error.empty()) ctx.error = fmt::format("{}: unknown value \"{}\"", path, s);
  } else {
    if (!j.is_object()) return ctx.fail(path, "an object", j);
    Reader r{j, path, ctx};
    describe(r, out);
    for (auto it = j.begin(); it != j.end(); ++it)
      if (std::find(r.names.begin(), r.names.end(), it.key()) == r.names.end() && ctx.unknown_keys.size() < 100)
        ctx.unknown_keys.push_back(path.empty() ? it.key() : path + "." + it.key());
  }
}

template <class T>
Result<T> read_top(const json& j, std::string_view what, std::vector<std::string>* unknown_keys = nullptr) {
  T out{};
  ReadCtx ctx;
  if (!j.is_object()) return make_error(fmt::format("{}: expected a JSON object, got {}", what, type_name(j)));
  read(j, out, "", ctx);
  if (!ctx.error.empty()) return make_error(ctx.error);
  if (unknown_keys) *unknown_keys = std::move(ctx.unknown_keys);
  return out;
}

// Counts the names each describe() lists and compares them with the members
// the compiler counts, for every struct reachable from the start type.
struct MemberCheck {
  std::vector<std::string>& problems;
  std::set<std::string> seen{};

  template <class T> void type();
};

struct MemberCounter {
  MemberCheck& check;
  std::set<const void*> addresses{};
  std::size_t named = 0;
  template <class T> void operator()(const char*, T& member) {
    ++named;
    addresses.insert(&member);
    check.type<T>();
  }
};

template <class T> void MemberCheck::type() {
  if constexpr (is_optional<T>::value || is_vector<T>::value) {
    type<typename T::value_type>();
  } else if constexpr (is_map<T>::value) {
    type<typename T::mapped_type>();
  } else if constexpr (std::is_class_v<T> && !std::is_same_v<T, std::string>) {
    int status = 0;
    char* demangled = abi::__cxa_demangle(typeid(T).name(), nullptr, nullptr, &status);
    std::string name = status == 0 && demangled ? demangled : typeid(T).name();
    std::free(demangled);
    if (!seen.insert(name).second) return;
    T sample{};
    MemberCounter counter{*this};
    describe(counter, sample);
    constexpr std::size_t members = field_count<T>();
    if (counter.named != members || counter.addresses.size() != members)
      problems.push_back(fmt::format("{}: {} members, describe() names {} ({} distinct)", name, members, counter.named,
                                     counter.addresses.size()));
  }
}

}  // namespace

std::vector<std::string> undescribed_members() {
  std::vector<std::string> problems;
  MemberCheck check{problems};
  check.type<Snapshot>();
  check.type<Finding>();
  check.type<Ledger>();
  return problems;
}

json to_json(const Snapshot& s) { return write(s); }
json to_json(const Finding& f) { return write(f); }
json to_json(const NvmlGpu& g) { return write(g); }
json to_json(const NvmlInfo& n) { return write(n); }
json to_json(const ChangeRecord& c) { return write(c); }
Result<ChangeRecord> change_record_from_json(const json& j) { return read_top<ChangeRecord>(j, "change record"); }
json to_json(const Ledger& l) { return write(l); }

Result<Ledger> parse_ledger(std::string_view text, std::string_view source_name) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return make_error(fmt::format("{}: not valid JSON", source_name));
  auto kind = j.is_object() ? j.find("kind") : j.end();
  if (!j.is_object() || kind == j.end() || !kind->is_string() || kind->get<std::string>() != k_ledger_kind)
    return make_error(fmt::format("{}: not a gpudoctor ledger (no \"kind\": \"{}\")", source_name, k_ledger_kind));
  auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_number_integer() || schema->get<std::int64_t>() != k_ledger_schema)
    return make_error(fmt::format("{}: ledger schema {} is not supported (expected {})", source_name,
                                  schema == j.end() ? "missing" : schema->dump(), k_ledger_schema));
  auto r = read_top<Ledger>(j, "ledger");
  if (!r) return make_error(fmt::format("{}: {}", source_name, r.error().message));
  return r;
}

// What a JSON document that is not a snapshot is, for the message.
std::string not_a_snapshot(const json& j) {
  auto kind = j.find("kind");
  if ((j.contains("findings") && j.contains("exit_code")) || (kind != j.end() && *kind == "gpudoctor-check"))
    return "this is the output of `gpudoctor check --json`, not a snapshot (take one with `gpudoctor collect`)";
  if (kind != j.end() && kind->is_string())
    return fmt::format("kind \"{}\" is not a snapshot (expected \"{}\")", util::printable(kind->get<std::string>(), 60),
                       k_snapshot_kind);
  return fmt::format("not a gpudoctor snapshot: no \"kind\": \"{}\" (write one with `gpudoctor collect`)",
                     k_snapshot_kind);
}

Result<Snapshot> snapshot_from_json(const json& j, std::vector<std::string>* unknown_keys) {
  if (!j.is_object()) return make_error(fmt::format("expected a JSON object, got {}", type_name(j)));
  auto kind = j.find("kind");
  if (kind == j.end() || !kind->is_string() || kind->get<std::string>() != k_snapshot_kind)
    return make_error(not_a_snapshot(j));
  auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_number_integer() || schema->get<std::int64_t>() != k_snapshot_schema)
    return make_error(fmt::format("schema: version {} is not supported (expected {})",
                                  schema == j.end() ? "missing" : schema->dump(), k_snapshot_schema));
  auto r = read_top<Snapshot>(j, "snapshot", unknown_keys);
  if (r && r->probes.empty()) return make_error("the snapshot holds no probe results (nothing was gathered)");
  return r;
}
Result<NvmlGpu> nvml_gpu_from_json(const json& j) { return read_top<NvmlGpu>(j, "gpu"); }
Result<NvmlInfo> nvml_info_from_json(const json& j) { return read_top<NvmlInfo>(j, "nvml"); }

Result<Snapshot> parse_snapshot(std::string_view text, std::string_view source_name,
                                std::vector<std::string>* unknown_keys) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded())
    return make_error(fmt::format("{}: not valid JSON (truncated or corrupt snapshot?)", source_name));
  auto r = snapshot_from_json(j, unknown_keys);
  if (!r) return make_error(fmt::format("{}: {}", source_name, r.error().message));
  return r;
}

std::string_view nvml_state_name(NvmlState s) {
  for (const auto& [e, name] : k_nvml_states)
    if (e == s) return name;
  return "?";
}

std::string_view cuda_state_name(CudaState s) {
  for (const auto& [e, name] : k_cuda_states)
    if (e == s) return name;
  return "?";
}

std::string_view kernel_event_kind_name(KernelEventKind k) {
  for (const auto& [e, name] : k_kernel_event_kinds)
    if (e == k) return name;
  return "?";
}

std::string_view latch_name(Latch l) {
  for (const auto& [e, name] : k_latches)
    if (e == l) return name;
  return "?";
}

std::string_view ledger_state_name(LedgerState s) {
  for (const auto& [e, name] : k_ledger_states)
    if (e == s) return name;
  return "?";
}

std::string_view severity_name(Severity s) {
  for (const auto& [e, name] : k_severities)
    if (e == s) return name;
  return "?";
}

}  // namespace gd::model
