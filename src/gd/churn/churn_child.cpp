// The churn child: one short-lived process that initialises the driver the
// way a candidate-kernel timing process does, then exits.
#include <chrono>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "gd/churn/churn.hpp"
#include "gd/cuda/cuda_api.hpp"
#include "gd/cuda/cuda_cycle.hpp"
#include "gd/nvml/nvml_api.hpp"

namespace gd::churn {

namespace {

using nlohmann::json;

json nvml_cycle(const std::string& library) {
  auto api = nvml::load_nvml(library);
  if (!api) return {{"ret", -1}, {"error", api.error().message}};
  auto t0 = std::chrono::steady_clock::now();
  int ret = api->init.fn();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  json out = {{"ret", ret}, {"init_ms", ms}};
  if (ret != 0) return out;
  unsigned count = 0;
  api->count.fn(&count);
  json lost = json::array();
  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t d = nullptr;
    if (api->handle_by_index.fn(i, &d) == 15) lost.push_back(i);
  }
  out["count"] = count;
  out["lost"] = lost;
  api->shutdown.fn();
  return out;
}

// cuInit + the primary context + a 1 MiB allocation + teardown.
json cuda_cycle(const std::string& library) {
  auto api = cuda::load_cuda(library);
  if (!api) return {{"ret", -1}, {"error", api.error().message}};
  auto r = cuda::run_cycle(*api);
  json out = {{"ret", r.ok() ? 0 : r.result}, {"init_ms", r.init_ms}, {"lost", json::array()}};
  if (!r.ok()) out["failed_call"] = r.failed_call;
  int count = 0;
  if (r.ok() && api->device_count.fn(&count) == 0) out["count"] = count;
  return out;
}

}  // namespace

int churn_child_main(const std::string& mode, const std::string& library) {
  json out = mode == "nvml"   ? nvml_cycle(library)
             : mode == "cuda" ? cuda_cycle(library)
                              : json{{"ret", -1}, {"error", "mode " + mode + " not supported"}};
  std::string line = out.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace gd::churn
