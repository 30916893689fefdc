#include "gd/sampler/metrics_text.hpp"

#include "gd/util/strings.hpp"

#include <vector>

#include <fmt/format.h>

#include "gd/store/gpu_metrics.hpp"

namespace gd::sampler {

namespace {

// Appends one metric family: HELP, TYPE, then its samples.
class Family {
 public:
  Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
      : m_out(out), m_name(name) {
    fmt::format_to(std::back_inserter(m_out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void add(std::string_view labels, double v) {
    if (labels.empty())
      fmt::format_to(std::back_inserter(m_out), "{} {}\n", m_name, v);
    else
      fmt::format_to(std::back_inserter(m_out), "{}{{{}}} {}\n", m_name, labels, v);
  }

 private:
  std::string& m_out;
  std::string_view m_name;
};

std::string gpu_labels(const model::NvmlGpu& g) {
  return fmt::format(R"(gpu="{}",uuid="{}",model="{}")", escape_label(g.bus_id.value_or("")),
                     escape_label(g.uuid.value_or("")), escape_label(g.name.value_or("")));
}

std::string dcgm_labels(const LiveState& s, const model::NvmlGpu& g) {
  return fmt::format(R"(gpu="{}",UUID="{}",device="nvidia{}",modelName="{}",Hostname="{}",pci_bus_id="{}")", g.index,
                     escape_label(g.uuid.value_or("")), g.minor.value_or(g.index), escape_label(g.name.value_or("")),
                     escape_label(s.hostname), escape_label(g.bus_id.value_or("")));
}

bool answered(const model::NvmlGpu& g) { return g.handle_return == 0 && g.bus_id; }

void render_gpu_metrics(std::string& out, const LiveState& s, MetricsCompat compat) {
  std::vector<std::string> labels;  // once per GPU, not once per metric and GPU
  for (const auto& g : s.nvml.gpus) labels.push_back(gpu_labels(g));
  for (const auto& m : store::gpu_metrics()) {
    Family f(out, m.prom, m.type, m.help);
    for (std::size_t i = 0; i < s.nvml.gpus.size(); ++i)
      if (auto v = m.get(s.nvml.gpus[i]); v && answered(s.nvml.gpus[i]))
        f.add(labels[i], static_cast<double>(*v) * m.prom_scale);
  }
  if (compat != MetricsCompat::dcgm) return;
  labels.clear();
  for (const auto& g : s.nvml.gpus) labels.push_back(dcgm_labels(s, g));
  for (const auto& m : store::gpu_metrics()) {
    if (m.dcgm.empty()) continue;
    Family f(out, m.dcgm, m.type, fmt::format("{} (dcgm-exporter compatible)", m.help));
    for (std::size_t i = 0; i < s.nvml.gpus.size(); ++i)
      if (auto v = m.get(s.nvml.gpus[i]); v && answered(s.nvml.gpus[i]))
        f.add(labels[i], static_cast<double>(*v) * m.dcgm_scale);
  }
}

void render_health(std::string& out, const LiveState& s) {
  Family(out, "gpudoctor_nvml_up", "gauge",
         "Whether the NVML worker answered the latest sample in time (1) or not (0).")
      .add("", s.nvml.state == model::NvmlState::ok ? 1 : 0);
  {
    Family f(out, "gpudoctor_gpu_info", "gauge", "Identity of every GPU seen since start (value 1).");
    for (const auto& [bus, g] : s.gpus)
      f.add(fmt::format(R"(gpu="{}",uuid="{}",model="{}",serial="{}")", escape_label(bus), escape_label(g.uuid),
                        escape_label(g.model), escape_label(g.serial)),
            1);
  }
  {
    Family f(out, "gpudoctor_gpu_lost", "gauge", "Whether a GPU seen before no longer answers NVML (1) or does (0).");
    for (const auto& [bus, g] : s.gpus) f.add(fmt::format(R"(gpu="{}")", escape_label(bus)), g.lost ? 1 : 0);
  }
  {
    Family f(out, "gpudoctor_xid_errors_total", "counter",
             "Xid errors since the daemon started, by GPU and Xid code (kernel log and NVML events, deduplicated).");
    for (const auto& [key, n] : s.xid_errors)
      f.add(fmt::format(R"(gpu="{}",xid="{}")", escape_label(key.first), key.second), static_cast<double>(n));
  }
  {
    Family f(out, "gpudoctor_finding_active", "gauge", "1 for every active finding (warning or critical).");
    for (const auto& x : s.findings)
      f.add(fmt::format(R"(id="{}",severity="{}",gpu="{}")", escape_label(x.id), model::severity_name(x.severity),
                        escape_label(x.gpu.value_or(""))),
            1);
  }
  {
    Family f(out, "gpudoctor_ledger_latched", "gauge",
             "1 for every problem the node's health ledger holds open (cleared only by a verified recovery).");
    for (const auto& e : s.ledger_open)
      f.add(fmt::format(R"(id="{}",severity="{}",gpu="{}",latch="{}")", escape_label(e.id),
                        model::severity_name(e.severity), escape_label(e.gpu), model::latch_name(e.latch)),
            1);
  }
  Family(out, "gpudoctor_ledger_write_ok", "gauge", "Whether the latest health ledger write succeeded (1) or not (0).")
      .add("", s.ledger_ok ? 1 : 0);
  Family(out, "gpudoctor_inventory_changes_total", "counter",
         "GPUs found with another UUID or serial at a bus id since the daemon started (a card swapped).")
      .add("", static_cast<double>(s.inventory_changes_total));
  {
    Family f(out, "gpudoctor_probe_duration_seconds", "gauge", "How long each probe took in the latest tick.");
    for (const auto& p : s.probes) f.add(fmt::format(R"(probe="{}")", escape_label(p.name)), p.duration_ms / 1000.0);
  }
  {
    Family f(out, "gpudoctor_probe_success", "gauge", "1 when the probe gathered its part in the latest tick.");
    for (const auto& p : s.probes) f.add(fmt::format(R"(probe="{}")", escape_label(p.name)), p.ok ? 1 : 0);
  }
}

void render_self(std::string& out, const LiveState& s) {
  Family(out, "gpudoctor_last_sample_timestamp_seconds", "gauge", "Unix time of the latest sample.")
      .add("", s.sample_unix_s);
  Family(out, "gpudoctor_watch_samples_total", "counter", "Ticks sampled since start.")
      .add("", static_cast<double>(s.samples_total));
  Family(out, "gpudoctor_watch_missed_ticks_total", "counter", "Ticks skipped because a previous one ran late.")
      .add("", static_cast<double>(s.missed_ticks_total));
  Family(out, "gpudoctor_nvml_hangs_total", "counter", "Samples the NVML worker did not answer in time.")
      .add("", static_cast<double>(s.nvml_hangs_total));
  Family(out, "gpudoctor_nvml_worker_starts_total", "counter", "NVML worker processes started.")
      .add("", static_cast<double>(s.nvml_worker_starts_total));
  Family(out, "gpudoctor_history_write_ok", "gauge", "Whether the latest history write succeeded (1) or not (0).")
      .add("", s.history_ok ? 1 : 0);
  Family(out, "gpudoctor_history_write_errors_total", "counter", "History writes that failed (disk full, read-only).")
      .add("", static_cast<double>(s.history_write_errors_total));
  Family(out, "gpudoctor_history_pending_rows", "gauge", "Rows kept in memory until the history accepts them.")
      .add("", static_cast<double>(s.history_pending_rows));
}

}  // namespace

std::string escape_label(std::string_view raw) {
  // Prometheus requires UTF-8 label values (a host name with other bytes broke the whole page).
  std::string valid = util::valid_utf8(raw);
  std::string_view v = valid;
  std::string out;
  out.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    char c = v[i];
    if (util::c1_control_at(v, i) >= 0) {
      out += '?';
      ++i;
    } else if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f)
      out += '?';  // (terminal escapes from node files stay out of scrapes)
    else
      out += c;
  }
  return out;
}

std::string render_metrics(const LiveState& s, MetricsCompat compat) {
  std::string out;
  out.reserve(16384);
  render_gpu_metrics(out, s, compat);
  render_health(out, s);
  render_self(out, s);
  return out;
}

}  // namespace gd::sampler
