#include "gd/sampler/tick_events.hpp"

#include <cmath>
#include <set>

#include <nlohmann/json.hpp>

#include "gd/model/nvml_return.hpp"

namespace gd::sampler {

namespace {

using nlohmann::json;

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

using model::HistoryEvent;

store::EventRow event(std::int64_t ts, HistoryEvent type, std::string gpu, const json& detail) {
  return {0, ts, std::string(model::history_event_name(type)), std::move(gpu), dump(detail)};
}

bool lost_code(int r) { return model::is_lost(r); }

template <class T>
std::optional<std::int64_t> i64(const std::optional<T>& v) {
  if (!v) return std::nullopt;
  return static_cast<std::int64_t>(*v);
}

void diff_nvml(const LiveState& prev, const LiveState& next, std::int64_t ts, TickChanges& out) {
  bool was_up = prev.nvml.state == model::NvmlState::ok;
  bool up = next.nvml.state == model::NvmlState::ok;
  if (next.nvml.state == model::NvmlState::hung && prev.nvml.state != model::NvmlState::hung) {
    json d = {{"timeout_s", next.nvml.timeout_s}};
    if (next.nvml.hung_call) d["call"] = *next.nvml.hung_call;
    if (next.nvml.hung_gpu) d["gpu_index"] = *next.nvml.hung_gpu;
    out.events.push_back(event(ts, HistoryEvent::nvml_hung, "", d));
  } else if (up && !was_up && prev.samples_total > 0) {
    out.events.push_back(event(ts, HistoryEvent::nvml_answering, "", {{"after", "recovered"}}));
  } else if (!up && was_up && next.nvml.state != model::NvmlState::hung) {
    out.events.push_back(event(ts, HistoryEvent::nvml_failed, "", {{"error", next.nvml.load_error}}));
  }
  // Each start of watch's NVML worker initialises the driver's view of every GPU: with persistence off and no
  // other client, that brings the GPUs up (seconds: the seed's nvidia-smi took 4-5 s). report counts them.
  if (up && next.nvml_worker_starts_total > prev.nvml_worker_starts_total && next.nvml.init_ms)
    out.events.push_back(event(ts, HistoryEvent::nvml_initialised, "",
                               {{"init_ms", std::round(*next.nvml.init_ms * 10) / 10},
                                {"worker_starts", next.nvml_worker_starts_total}}));
  if (up && prev.nvml.driver_version && next.nvml.driver_version && *prev.nvml.driver_version != *next.nvml.driver_version)
    out.events.push_back(
        event(ts, HistoryEvent::driver_changed, "", {{"from", *prev.nvml.driver_version}, {"to", *next.nvml.driver_version}}));
}

const char* on_off(bool b) { return b ? "on" : "off"; }

// What the loss of a GPU is recorded with: the codes NVML gave for it, its
// last persistence mode, how many GPUs NVML counted.
json loss_evidence(const LiveState& next, const std::string& bus, const KnownGpu& g) {
  json d = {{"uuid", g.uuid}, {"nvml_device_count", next.nvml.device_count.value_or(0)}};
  if (g.persistence) d["persistence_mode"] = on_off(*g.persistence);
  for (const auto& x : next.nvml.gpus) {
    if (x.bus_id != bus) continue;
    json errors = json::object();
    if (x.handle_return != 0) errors["nvmlDeviceGetHandleByIndex"] = x.handle_return;
    for (const auto& [call, r] : x.call_errors) errors[call] = r;
    d["nvml_errors"] = errors;
  }
  if (!d.contains("nvml_errors")) {
    // A GPU whose handle lookup failed has no bus id to match: its code (GPU_IS_LOST 15 = reboot, RESET_REQUIRED
    // 16 = reset) is kept with its index; "not listed" only when NVML enumerated nothing that failed.
    json failed = json::array();
    for (const auto& x : next.nvml.gpus)
      if (!x.bus_id && x.handle_return != 0)
        failed.push_back({{"index", x.index}, {"nvmlDeviceGetHandleByIndex", x.handle_return}});
    if (!failed.empty()) d["handles_failed"] = failed;
    else d["not_listed_by_nvml"] = true;
  }
  return d;
}

void diff_gpus(LiveState& next, std::int64_t ts, TickChanges& out) {
  if (next.nvml.state != model::NvmlState::ok) return;  // no verdict on GPUs while NVML does not answer
  std::set<std::string> answering;
  for (const auto& g : next.nvml.gpus) {
    if (!g.bus_id) continue;
    bool lost = lost_code(g.handle_return);
    for (const auto& [call, r] : g.call_errors) lost = lost || lost_code(r);
    if (!lost) answering.insert(*g.bus_id);
    if (auto known = next.gpus.find(*g.bus_id); !lost && known != next.gpus.end() && g.persistence_mode) {
      if (known->second.persistence && *known->second.persistence != *g.persistence_mode)
        out.events.push_back(event(ts, HistoryEvent::persistence_changed, *g.bus_id,
                                   {{"from", on_off(*known->second.persistence)}, {"to", on_off(*g.persistence_mode)}}));
      known->second.persistence = g.persistence_mode;
    }
    KnownGpu id{g.uuid.value_or(""), g.name.value_or(""), g.serial.value_or(""), false, std::nullopt,
                i64(g.temp_slowdown_celsius), i64(g.temp_shutdown_celsius)};
    auto identity = [&](const KnownGpu& k) {
      return store::GpuIdentity{*g.bus_id, k.uuid, k.serial, k.model, k.slowdown_celsius, k.shutdown_celsius};
    };
    auto it = next.gpus.find(*g.bus_id);
    if (it == next.gpus.end()) {
      out.events.push_back(
          event(ts, HistoryEvent::gpu_added, *g.bus_id, {{"uuid", id.uuid}, {"serial", id.serial}, {"model", id.model}}));
      out.inventory.push_back(identity(id));
      id.persistence = g.persistence_mode;
      it = next.gpus.emplace(*g.bus_id, id).first;
    } else if (!id.uuid.empty() && (it->second.uuid != id.uuid || it->second.serial != id.serial)) {
      out.events.push_back(event(ts, HistoryEvent::inventory_changed, *g.bus_id,
                                 {{"old", {{"uuid", it->second.uuid}, {"serial", it->second.serial}}},
                                  {"new", {{"uuid", id.uuid}, {"serial", id.serial}}}}));
      out.inventory.push_back(identity(id));
      bool lost_before = it->second.lost;
      id.persistence = g.persistence_mode;
      it->second = id;
      it->second.lost = lost_before;
    } else if ((id.slowdown_celsius && id.slowdown_celsius != it->second.slowdown_celsius) ||
               (id.shutdown_celsius && id.shutdown_celsius != it->second.shutdown_celsius)) {
      // The same GPU, its thresholds first seen (a history from before they were kept) or changed: no event.
      if (id.slowdown_celsius) it->second.slowdown_celsius = id.slowdown_celsius;
      if (id.shutdown_celsius) it->second.shutdown_celsius = id.shutdown_celsius;
      KnownGpu k = it->second;
      if (k.uuid.empty()) k.uuid = id.uuid, k.serial = id.serial, k.model = id.model;
      out.inventory.push_back(identity(k));
    }
  }
  for (auto& [bus, g] : next.gpus) {
    bool lost = !answering.contains(bus);
    if (lost && !g.lost) out.events.push_back(event(ts, HistoryEvent::gpu_lost, bus, loss_evidence(next, bus, g)));
    if (!lost && g.lost) out.events.push_back(event(ts, HistoryEvent::gpu_back, bus, {{"uuid", g.uuid}}));
    g.lost = lost;
  }
}

std::string finding_key(const model::Finding& f) { return f.id + "|" + f.gpu.value_or(""); }

// Whether this tick could judge the finding again: not while NVML does not
// answer, nor for a GPU that is lost (no data is not "cleared").
bool reassessed(const LiveState& next, const model::Finding& f) {
  if (next.nvml.state != model::NvmlState::ok) return false;
  if (!f.gpu) return true;
  auto it = next.gpus.find(*f.gpu);
  return it == next.gpus.end() || !it->second.lost;
}

void diff_findings(const LiveState& prev, LiveState& next, std::int64_t ts, TickChanges& out) {
  std::set<std::string> before, now;
  for (const auto& f : prev.findings) before.insert(finding_key(f));
  for (const auto& f : next.findings) now.insert(finding_key(f));
  for (const auto& f : prev.findings)
    if (!now.contains(finding_key(f)) && !reassessed(next, f)) {
      next.findings.push_back(f);  // still active: nothing says otherwise
      now.insert(finding_key(f));
    }
  for (const auto& f : next.findings) {
    if (!before.contains(finding_key(f)))
      out.events.push_back(event(ts, HistoryEvent::finding_raised, f.gpu.value_or(""),
                                 {{"id", f.id},
                                  {"severity", model::severity_name(f.severity)},
                                  {"summary", f.summary},
                                  {"evidence", f.evidence}}));
  }
  for (const auto& f : prev.findings)
    if (!now.contains(finding_key(f)))
      out.events.push_back(event(ts, HistoryEvent::finding_cleared, f.gpu.value_or(""), {{"id", f.id}, {"summary", f.summary}}));
}

}  // namespace

TickChanges diff_tick(const LiveState& prev, LiveState& next, std::int64_t ts_ms) {
  TickChanges out;
  diff_nvml(prev, next, ts_ms, out);
  diff_gpus(next, ts_ms, out);
  diff_findings(prev, next, ts_ms, out);
  return out;
}

store::EventRow node_event(std::int64_t ts_ms, model::HistoryEvent type, std::string detail_json) {
  return {0, ts_ms, std::string(model::history_event_name(type)), "", std::move(detail_json)};
}

}  // namespace gd::sampler
