#include "gd/nvml/nvml_worker.hpp"

#include <charconv>

#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"
#include "gd/util/line_worker.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::nvml {

namespace {

using nlohmann::json;
using model::json_field;

void apply_system(const json& sys, model::NvmlInfo& out) {
  out.driver_version = json_field<std::string>(sys, "driver_version");
  if (auto v = json_field<std::string>(sys, "nvml_version")) out.nvml_version = v;
  out.cuda_driver_version = json_field<int>(sys, "cuda_driver_version");
  out.count_return = json_field<int>(sys, "count_return");
  out.device_count = json_field<unsigned>(sys, "device_count");
  if (auto e = sys.find("call_errors"); e != sys.end() && e->is_object())
    for (const auto& [name, code] : e->items())
      if (code.is_number_integer() && out.system_call_errors.size() < 16)
        out.system_call_errors[util::printable(name, 64)] = code.get<int>();
}

}  // namespace

// {"call":"NAME"} or {"call":"NAME","gpu":N}, most of the protocol, read
// without a JSON parser; false for anything else (the parser decides).
static bool apply_call_line(std::string_view line, model::NvmlInfo& out) {
  constexpr std::string_view k_prefix = R"({"call":")", k_gpu = R"(,"gpu":)";
  if (!line.starts_with(k_prefix)) return false;
  std::string_view rest = line.substr(k_prefix.size());
  auto quote = rest.find('"');
  if (quote == std::string_view::npos) return false;
  std::string_view name = rest.substr(0, quote), tail = rest.substr(quote + 1);
  if (name.find('\\') != std::string_view::npos) return false;
  std::optional<unsigned> gpu;
  if (tail != "}") {
    if (!tail.starts_with(k_gpu) || !tail.ends_with('}')) return false;
    std::string_view digits = tail.substr(k_gpu.size(), tail.size() - k_gpu.size() - 1);
    unsigned v = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
    if (ec != std::errc() || end != digits.data() + digits.size() || digits.empty()) return false;
    gpu = v;
  }
  if (out.hung_call)
    out.hung_call->assign(name);  // reuses the string's buffer: no allocation per line
  else
    out.hung_call.emplace(name);
  if (gpu != out.hung_gpu) out.hung_bus_id.reset();  // another GPU: its bus id comes with its PCI info
  out.hung_gpu = gpu;
  return true;
}

bool apply_worker_line(std::string_view line, model::NvmlInfo& out, bool& done) {
  if (apply_call_line(line, out)) return true;
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  if (auto it = j.find("call"); it != j.end() && it->is_string()) {
    out.hung_call = it->get<std::string>();
    auto gpu = json_field<unsigned>(j, "gpu");
    if (gpu != out.hung_gpu) out.hung_bus_id.reset();
    out.hung_gpu = gpu;
  } else if (auto b = j.find("gpu_bus"); b != j.end() && b->is_object()) {
    if (json_field<unsigned>(*b, "index") == out.hung_gpu) out.hung_bus_id = json_field<std::string>(*b, "bus_id");
  } else if (auto e = j.find("load_error"); e != j.end()) {
    out.state = model::NvmlState::library_missing;
    out.load_error = e->is_string() ? e->get<std::string>() : "unknown load error";
  } else if (auto m = j.find("missing"); m != j.end() && m->is_array()) {
    for (const auto& s : *m)
      if (s.is_string()) out.missing_symbols.push_back(s.get<std::string>());
  } else if (auto in = j.find("init"); in != j.end() && in->is_object()) {
    out.init_return = json_field<int>(*in, "return");
    out.init_ms = json_field<double>(*in, "ms");
    out.state = out.init_return == 0 ? model::NvmlState::ok : model::NvmlState::init_failed;
  } else if (auto lib = j.find("library"); lib != j.end() && lib->is_object()) {
    out.nvml_version = json_field<std::string>(*lib, "nvml_version");
  } else if (auto sys = j.find("system"); sys != j.end() && sys->is_object()) {
    apply_system(*sys, out);
  } else if (auto g = j.find("gpu"); g != j.end()) {
    auto gpu = model::nvml_gpu_from_json(*g);
    if (!gpu) return false;
    out.gpus.push_back(std::move(*gpu));
  } else if (j.contains("done")) {
    done = true;
  } else {
    return false;
  }
  return true;
}

void run_nvml_worker(const std::string& library_path, double timeout_s, model::NvmlInfo& out,
                     const std::string& worker_exe) {
  out.timeout_s = timeout_s;
  bool done = false;
  auto end = util::run_line_worker({worker_exe.empty() ? util::worker_exe() : worker_exe, "__nvml-worker", library_path},
                                   timeout_s, [&](std::string_view line) { return apply_worker_line(line, out, done); },
                                   done);
  out.elapsed_ms = end.elapsed_ms;
  if (!end.started) {
    out.state = model::NvmlState::worker_failed;
    out.load_error = end.spawn_error;
    return;
  }
  out.worker_stderr = end.stderr_text;
  if (end.timed_out) {
    out.state = model::NvmlState::hung;
  } else if (end.ended_early && out.state != model::NvmlState::library_missing) {
    out.state = model::NvmlState::worker_failed;
    out.load_error = "NVML worker ended early: " + end.exit_description;
  }
  if (done) out.hung_call.reset(), out.hung_gpu.reset(), out.hung_bus_id.reset();
}

}  // namespace gd::nvml
