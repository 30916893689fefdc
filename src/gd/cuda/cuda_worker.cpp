#include "gd/cuda/cuda_worker.hpp"

#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"
#include "gd/util/line_worker.hpp"
#include "gd/util/subprocess.hpp"

namespace gd::cuda {

namespace {

using nlohmann::json;
using model::json_field;

bool apply_device(const json& d, model::CudaInfo& out) {
  auto ordinal = json_field<int>(d, "ordinal");
  auto get_return = json_field<int>(d, "get_return");
  if (!d.is_object() || !ordinal || !get_return) return false;
  model::CudaDevice dev;
  dev.ordinal = *ordinal;
  dev.get_return = *get_return;
  dev.name = json_field<std::string>(d, "name");
  dev.bus_id = json_field<std::string>(d, "bus_id");
  out.devices.push_back(std::move(dev));
  return true;
}

void apply_init(const json& in, model::CudaInfo& out) {
  out.init_return = json_field<int>(in, "return");
  out.init_ms = json_field<double>(in, "ms");
  out.state = out.init_return == 0 ? model::CudaState::ok : model::CudaState::init_failed;
}

}  // namespace

bool apply_worker_line(std::string_view line, model::CudaInfo& out, bool& done) {
  json j = json::parse(line.begin(), line.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) return false;
  if (auto it = j.find("call"); it != j.end() && it->is_string()) {
    out.hung_call = it->get<std::string>();
    out.hung_device = json_field<int>(j, "device");
  } else if (auto e = j.find("load_error"); e != j.end()) {
    out.state = model::CudaState::library_missing;
    out.load_error = e->is_string() ? e->get<std::string>() : "unknown load error";
  } else if (auto m = j.find("missing"); m != j.end() && m->is_array()) {
    for (const auto& s : *m)
      if (s.is_string()) out.missing_symbols.push_back(s.get<std::string>());
  } else if (auto v = j.find("version"); v != j.end() && v->is_object()) {
    out.version_return = json_field<int>(*v, "return");
    out.driver_version = json_field<int>(*v, "version");
  } else if (auto in = j.find("init"); in != j.end() && in->is_object()) {
    apply_init(*in, out);
  } else if (auto ie = j.find("init_error"); ie != j.end() && ie->is_object()) {
    out.init_error_name = json_field<std::string>(*ie, "name");
    out.init_error_text = json_field<std::string>(*ie, "text");
  } else if (auto c = j.find("count"); c != j.end() && c->is_object()) {
    out.count_return = json_field<int>(*c, "return");
    out.device_count = json_field<int>(*c, "count");
  } else if (auto d = j.find("device"); d != j.end()) {
    return apply_device(*d, out);
  } else if (j.contains("done")) {
    done = true;
  } else {
    return false;
  }
  return true;
}

void run_cuda_worker(const std::string& library_path, double timeout_s, model::CudaInfo& out,
                     const std::string& worker_exe) {
  out.timeout_s = timeout_s;
  bool done = false;
  auto end = util::run_line_worker(
      {worker_exe.empty() ? util::worker_exe() : worker_exe, "__cuda-worker", library_path}, timeout_s,
      [&](std::string_view line) { return apply_worker_line(line, out, done); }, done);
  out.elapsed_ms = end.elapsed_ms;
  if (!end.started) {
    out.state = model::CudaState::worker_failed;
    out.load_error = end.spawn_error;
    return;
  }
  out.worker_stderr = end.stderr_text;
  if (end.timed_out) {
    out.state = model::CudaState::hung;
  } else if (end.ended_early && out.state != model::CudaState::library_missing) {
    out.state = model::CudaState::worker_failed;
    out.load_error = "CUDA worker ended early: " + end.exit_description;
  }
  if (done) out.hung_call.reset(), out.hung_device.reset();
}

}  // namespace gd::cuda
