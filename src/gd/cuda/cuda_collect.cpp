#include "gd/cuda/cuda_collect.hpp"

#include <chrono>
#include <cstring>
#include <optional>

#include <nlohmann/json.hpp>

#include "gd/cuda/cuda_api.hpp"
#include "gd/model/bus_id.hpp"
#include "gd/util/line_worker.hpp"

namespace gd::cuda {

namespace {

using nlohmann::json;

// The most devices listed one by one (CUDA counts them all).
constexpr int k_max_devices = 64;

class Emitter {
 public:
  explicit Emitter(int fd) : m_fd(fd) {}
  void line(const json& j) { util::write_line(m_fd, j.dump(-1, ' ', false, json::error_handler_t::replace)); }
  void call(const char* name, std::optional<int> device = std::nullopt) {
    json j = {{"call", name}};
    if (device) j["device"] = *device;
    line(j);
  }

 private:
  int m_fd;
};

std::string cstr(const char* buf, size_t len) { return std::string(buf, strnlen(buf, len)); }

void collect_version(Emitter& em, const CudaApi& a) {
  int v = 0;
  em.call(a.driver_version.name);
  int r = a.driver_version.fn(&v);
  json j = {{"return", r}};
  if (r == k_success) j["version"] = v;
  em.line({{"version", j}});
}

// cuInit(0); on failure also the library's own name and text for the code.
bool collect_init(Emitter& em, const CudaApi& a) {
  em.call(a.init.name);
  auto t0 = std::chrono::steady_clock::now();
  int r = a.init.fn(0);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  em.line({{"init", {{"return", r}, {"ms", ms}}}});
  if (r == k_success) return true;
  json e = json::object();
  if (a.error_name) {
    em.call(a.error_name.name);
    if (auto n = error_name(a, r); !n.empty()) e["name"] = n;
  }
  if (a.error_string) {
    em.call(a.error_string.name);
    if (auto t = error_string(a, r); !t.empty()) e["text"] = t;
  }
  em.line({{"init_error", e}});
  return false;
}

json collect_device(Emitter& em, const CudaApi& a, int ordinal) {
  json d = {{"ordinal", ordinal}};
  CUdevice dev = 0;
  em.call(a.device_get.name, ordinal);
  int r = a.device_get.fn(&dev, ordinal);
  d["get_return"] = r;
  if (r != k_success) return d;
  char buf[k_device_name_len] = {};
  if (a.device_name) {
    em.call(a.device_name.name, ordinal);
    if (a.device_name.fn(buf, sizeof buf, dev) == k_success) d["name"] = cstr(buf, sizeof buf);
  }
  if (a.device_bus_id) {
    em.call(a.device_bus_id.name, ordinal);
    if (a.device_bus_id.fn(buf, k_pci_bus_id_len, dev) == k_success) {
      std::string raw = cstr(buf, k_pci_bus_id_len);
      d["bus_id"] = model::normalize_bus_id(raw).value_or(raw);
    }
  }
  return d;
}

}  // namespace

int worker_main(const std::string& library_path, int out_fd) {
  Emitter em(out_fd);
  auto api = load_cuda(library_path);
  if (!api) {
    em.line({{"load_error", api.error().message}});
    em.line({{"done", true}});
    return 0;
  }
  const CudaApi& a = *api;
  em.line({{"missing", a.missing}});
  collect_version(em, a);  // needs no cuInit: tells the library's version even when init fails
  if (collect_init(em, a)) {
    int count = 0;
    em.call(a.device_count.name);
    int r = a.device_count.fn(&count);
    json c = {{"return", r}};
    if (r == k_success) c["count"] = count;
    em.line({{"count", c}});
    for (int i = 0; r == k_success && a.device_get && i < count && i < k_max_devices; ++i)
      em.line({{"device", collect_device(em, a, i)}});
  }
  em.line({{"done", true}});
  return 0;
}

}  // namespace gd::cuda
