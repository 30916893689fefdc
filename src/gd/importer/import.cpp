#include "gd/importer/import.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <tuple>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/host/kernel_log_source.hpp"
#include "gd/model/history_event.hpp"
#include "gd/probe/kernel_log.hpp"
#include "gd/sampler/tick_events.hpp"
#include "gd/sampler/xid_feed.hpp"
#include "gd/store/gpu_metrics.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::importer {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t k_max_named = 40;
constexpr std::size_t k_batch_rows = 20'000;   // sample rows per transaction
constexpr std::size_t k_batch_gpus = 100'000;  // GPU records held and ordered by time at once (~60 MB)

void skip(ImportReport& r, std::string text) {
  if (r.skipped.size() < k_max_named) r.skipped.push_back(util::printable(text, 300));
  ++r.skipped_count;
}

struct TimedDump {
  SmiDump dump;
  std::string file;
  std::int64_t unix_ms = 0;
};

// The files named: each file, and each directory's regular files (not its subdirectories), by name.
std::vector<std::string> expand(const std::vector<std::string>& paths, std::size_t max_files, ImportReport& r) {
  std::vector<std::string> out;
  for (const auto& p : paths) {
    std::error_code ec;
    auto st = fs::status(p, ec);
    if (ec || !fs::exists(st)) {
      ++r.files_unreadable;
      skip(r, fmt::format("{}: {}", p, ec ? ec.message() : "no such file or directory"));
      continue;
    }
    if (fs::is_directory(st)) {
      std::vector<std::string> files;
      std::size_t others = 0;
      for (fs::directory_iterator it(p, ec), end; !ec && it != end; it.increment(ec)) {
        std::error_code e2;
        if (it->is_regular_file(e2)) files.push_back(it->path().string());
        else ++others;
      }
      if (ec) skip(r, fmt::format("{}: listing stopped: {}", p, ec.message()));
      if (others) skip(r, fmt::format("{}: {} entr{} that are not regular files (subdirectories are not read)", p, others,
                                      others == 1 ? "y" : "ies"));
      std::sort(files.begin(), files.end());
      out.insert(out.end(), files.begin(), files.end());
    } else if (fs::is_regular_file(st)) {
      out.push_back(p);
    } else {
      ++r.files_unreadable;
      skip(r, fmt::format("{}: not a regular file or directory", p));
    }
    if (out.size() > max_files) {
      skip(r, fmt::format("more than {} files: the rest are not read", max_files));
      out.resize(max_files);
      break;
    }
  }
  return out;
}

// The file's bytes, up to max (through the one bounded reader, host::stream_file); nullopt (named in the
// report) when it cannot be read.
std::optional<std::string> read_bounded(const std::string& path, std::size_t max, bool& cut, ImportReport& r) {
  std::string text;
  auto read = host::stream_file(path, [&text](std::string_view chunk) { text.append(chunk); }, max + 1);
  if (!read) {
    ++r.files_unreadable;
    skip(r, read.error().message);
    return std::nullopt;
  }
  cut = text.size() > max;
  if (cut) text.resize(max);
  return text;
}

std::string dump_json(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// An event's detail (JSON object text) with `extra`'s members added: where it was read from.
void add_detail(store::EventRow& e, const nlohmann::json& extra) {
  auto j = nlohmann::json::parse(e.detail, nullptr, false);
  if (!j.is_object()) j = nlohmann::json::object();
  j.update(extra);
  e.detail = dump_json(j);
}

nlohmann::json source_of(const TimedDump& d) {
  return {{"source", fmt::format("nvidia-smi {}", smi_format_name(d.dump.format))}, {"file", d.file}, {"line", d.dump.line}};
}

store::EventRow dump_event(const TimedDump& d, model::HistoryEvent type) {
  nlohmann::json j = source_of(d);
  if (!d.dump.message.empty()) j["message"] = d.dump.message;
  return {0, d.unix_ms, std::string(model::history_event_name(type)), "", dump_json(j)};
}

std::vector<std::optional<std::int64_t>> metric_values(const model::NvmlGpu& g) {
  std::vector<std::optional<std::int64_t>> v;
  for (const auto& m : store::gpu_metrics()) v.push_back(m.get(g));
  return v;
}

// Writes what was gathered, leaving out events the history holds already (the same files imported again).
class Writer {
 public:
  Writer(store::Store& s, ImportReport& r) : m_store(s), m_report(r) {}

  void sample(store::SampleRow row) { m_samples.push_back(std::move(row)); }
  void event(store::EventRow e) { m_events.push_back(std::move(e)); }
  void identity(store::GpuIdentity id) { m_inventory.push_back(std::move(id)); }
  bool full() const { return m_samples.size() >= k_batch_rows; }

  Result<bool> flush() {
    if (m_samples.empty() && m_events.empty() && m_inventory.empty()) return true;
    std::vector<store::EventRow> fresh;
    if (!m_events.empty()) {
      auto [lo, hi] = std::minmax_element(m_events.begin(), m_events.end(),
                                          [](const auto& a, const auto& b) { return a.ts_ms < b.ts_ms; });
      auto known = m_store.events(lo->ts_ms, hi->ts_ms + 1, {});
      if (!known) return known.error();
      std::set<std::tuple<std::int64_t, std::string, std::string>> have;
      for (const auto& e : *known) have.emplace(e.ts_ms, e.type, e.gpu);
      for (auto& e : m_events) {
        if (have.contains({e.ts_ms, e.type, e.gpu})) {
          ++m_report.events_already;
          continue;
        }
        ++m_report.events[e.type];
        fresh.push_back(std::move(e));
      }
    }
    if (auto err = m_store.write(m_samples, m_inventory, fresh))
      return make_error(fmt::format("writing the history: {}", err->message));
    m_report.samples += m_samples.size();
    m_samples.clear();
    m_events.clear();
    m_inventory.clear();
    return true;
  }

 private:
  store::Store& m_store;
  ImportReport& m_report;
  std::vector<store::SampleRow> m_samples;
  std::vector<store::EventRow> m_events;
  std::vector<store::GpuIdentity> m_inventory;
};

Result<bool> pack(store::Store& store, ImportReport& r) {
  // Finished hours move into blocks and roll-ups as `watch` moves them (and what is past retention goes).
  auto now = util::now_unix_ms() / 1000;
  while (true) {
    auto m = store.maintain(now, store::Retention{}, 64);
    if (!m) return m.error();
    r.hours_packed += static_cast<std::size_t>(m->hours_packed);
    if (!m->more) return true;
  }
}

}  // namespace

std::optional<std::int64_t> time_from_file_name(std::string_view name) {
  for (std::size_t i = 0; i < name.size();) {
    if (name[i] < '0' || name[i] > '9') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < name.size() && name[j] >= '0' && name[j] <= '9') ++j;
    if (j - i >= 9 && j - i <= 10) return *util::parse_i64(name.substr(i, j - i));
    i = j;
  }
  return std::nullopt;
}

Result<ImportReport> import_nvidia_smi(store::Store& store, const SmiImportOptions& o) {
  ImportReport r;
  // The dumps are read as the ticks of their own time: which GPUs are known, lost or back comes from them alone
  // (the history's present state may be years later, and may know GPUs these dumps never listed). Against the
  // history only: a GPU it knows is not "added" again, and a dump without UUIDs does not overwrite its identity.
  std::set<std::string> known;
  if (auto inv = store.inventory())
    for (const auto& g : *inv) known.insert(g.bus_id);
  sampler::LiveState prev;
  prev.nvml.state = model::NvmlState::ok;
  // What the history keeps: samples older than its longest retention would be dropped as soon as written.
  const store::Retention retention;
  const std::int64_t now_s = util::now_unix_ms() / 1000;
  const std::int64_t kept_from = now_s - std::int64_t{retention.hour_days} * 86400;
  const std::int64_t raw_from = now_s - std::int64_t{retention.raw_days} * 86400;
  std::size_t too_old = 0, rollups_only = 0, late = 0;
  std::optional<std::int64_t> judged_to;  // the time of the last dump judged

  Writer w(store, r);
  std::set<std::string> gpus;
  // Files are read in the order named (a directory's by name: the loop's nvidia-smi-<time>.log files sort by
  // time), in batches of at most k_batch_gpus GPU records (memory stays bounded whatever the input), each
  // batch ordered by time before it is judged.
  std::vector<TimedDump> batch;
  std::size_t batch_gpus = 0;
  auto judge = [&]() -> Result<bool> {
    std::stable_sort(batch.begin(), batch.end(), [](const auto& a, const auto& b) { return a.unix_ms < b.unix_ms; });
    for (auto& t : batch) {
      const SmiDump& d = t.dump;
      r.first_ms = std::min(r.first_ms.value_or(t.unix_ms), t.unix_ms);
      r.last_ms = std::max(r.last_ms.value_or(t.unix_ms), t.unix_ms);
      if (judged_to && t.unix_ms < *judged_to) ++late;
      judged_to = std::max(judged_to.value_or(t.unix_ms), t.unix_ms);
      if (d.state == SmiDump::State::empty) {
        ++r.dumps["empty"];
        w.event(dump_event(t, model::HistoryEvent::nvidia_smi_empty));
        continue;
      }
      if (d.state == SmiDump::State::failed) {
        ++r.dumps["failed"];
        w.event(dump_event(t, model::HistoryEvent::nvidia_smi_failed));
        continue;
      }
      ++r.dumps[d.state == SmiDump::State::no_devices ? "no_devices" : std::string(smi_format_name(d.format))];
      if (d.state == SmiDump::State::no_devices) w.event(dump_event(t, model::HistoryEvent::nvidia_smi_no_devices));
      // The dump as a `watch` tick: NVML answered and listed these GPUs ("No devices were found": none).
      sampler::LiveState next;
      next.gpus = prev.gpus;
      next.samples_total = prev.samples_total + 1;
      next.nvml.state = model::NvmlState::ok;
      next.nvml.gpus = d.gpus;
      next.nvml.device_count = static_cast<unsigned>(d.gpus.size());
      next.nvml.driver_version = d.driver_version;
      auto changes = sampler::diff_tick(prev, next, t.unix_ms);
      for (auto& e : changes.events) {
        if (e.type == model::history_event_name(model::HistoryEvent::gpu_added) && known.contains(e.gpu)) continue;
        add_detail(e, source_of(t));
        w.event(std::move(e));
      }
      for (auto& id : changes.inventory)
        if (!id.uuid.empty() || !known.contains(id.bus_id)) w.identity(std::move(id));
      for (const auto& g : d.gpus) {
        gpus.insert(*g.bus_id);
        std::int64_t ts = t.unix_ms / 1000;
        if (ts < kept_from) {
          ++too_old;
          continue;
        }
        if (ts < raw_from) ++rollups_only;
        w.sample(store::SampleRow{ts, *g.bus_id, metric_values(g)});
      }
      prev = std::move(next);
      if (w.full())
        if (auto ok = w.flush(); !ok) return ok.error();
    }
    batch.clear();
    batch_gpus = 0;
    return true;
  };
  for (const auto& path : expand(o.paths, o.max_files, r)) {
    bool cut = false;
    auto text = read_bounded(path, o.max_file_bytes, cut, r);
    if (!text) continue;
    ++r.files_read;
    if (cut) skip(r, fmt::format("{}: larger than {} MB: the rest is not read", path, o.max_file_bytes >> 20));
    auto parsed = parse_nvidia_smi(*text, o.csv_fields);
    text.reset();
    for (const auto& s : parsed.skipped) skip(r, fmt::format("{}: {}", path, s));
    if (parsed.skipped_count > parsed.skipped.size())
      skip(r, fmt::format("{}: {} more not read", path, parsed.skipped_count - parsed.skipped.size()));
    // A dump's time: its own header, else the file's name (nvidia-smi-<unix seconds>.log), else the file's time.
    std::optional<std::int64_t> named = time_from_file_name(fs::path(path).filename().string());
    std::optional<std::int64_t> mtime;
    if (struct stat st {}; ::stat(path.c_str(), &st) == 0) mtime = static_cast<std::int64_t>(st.st_mtime);
    std::size_t untimed = 0;
    for (auto& d : parsed.dumps) {
      TimedDump t{std::move(d), path, 0};
      if (t.dump.unix_ms) {
        t.unix_ms = *t.dump.unix_ms;
        ++r.time_from["header"];
      } else if (named) {
        t.unix_ms = *named * 1000;
        ++r.time_from["file name"];
        ++untimed;
      } else if (mtime) {
        t.unix_ms = *mtime * 1000;
        ++r.time_from["file time"];
        ++untimed;
      } else {
        skip(r, fmt::format("{}: line {}: a dump without a time (no header, no time in the file name, no file time)",
                            path, t.dump.line));
        continue;
      }
      batch_gpus += std::max<std::size_t>(t.dump.gpus.size(), 1);
      batch.push_back(std::move(t));
      if (batch_gpus >= k_batch_gpus)
        if (auto ok = judge(); !ok) return ok.error();
    }
    if (untimed > 1)
      skip(r, fmt::format("{}: {} dumps without their own time share the file's: later ones replace earlier samples",
                          path, untimed));
  }
  if (auto ok = judge(); !ok) return ok.error();
  if (late)
    skip(r, fmt::format("{} dump(s) older than dumps judged before them (files named out of time order, {} GPU "
                        "records apart or more): their samples are in, their events judged in the order read",
                        late, k_batch_gpus));
  if (auto ok = w.flush(); !ok) return ok.error();
  r.gpus = gpus.size();
  if (too_old)
    skip(r, fmt::format("{} sample(s) older than the history keeps anything ({} days): not written (their events are)",
                        too_old, retention.hour_days));
  if (rollups_only)
    skip(r, fmt::format("{} sample(s) older than the raw retention ({} days): only their minute and hour roll-ups are "
                        "kept",
                        rollups_only, retention.raw_days));
  if (auto ok = pack(store, r); !ok) return ok.error();
  return r;
}

Result<ImportReport> import_kernel_log(store::Store& store, const std::string& file) {
  ImportReport r;
  auto now = util::now_unix_ms() / 1000;
  probe::KernelLogWindow all{std::nullopt, std::nullopt, "all"};
  auto log = probe::read_kernel_log_file(file, all, now);
  if (!log.unavailable.empty()) return make_error(log.unavailable);
  ++r.files_read;
  for (const auto& p : log.problems) skip(r, fmt::format("{}: {}", file, p));
  sampler::XidTracker tracker(0);
  Writer w(store, r);
  std::size_t untimed = 0, other = 0;
  for (const auto& e : log.events) {
    if (e.kind != model::KernelEventKind::xid && e.kind != model::KernelEventKind::fallen_off_bus) {
      ++other;
      continue;
    }
    if (!e.unix_s) {
      ++untimed;
      continue;
    }
    auto row = tracker.add(sampler::sighting_from_kernel(e, *e.unix_s * 1000));
    if (!row) continue;
    add_detail(*row, {{"file", file}, {"timestamp", e.timestamp}});
    r.first_ms = std::min(r.first_ms.value_or(row->ts_ms), row->ts_ms);
    r.last_ms = std::max(r.last_ms.value_or(row->ts_ms), row->ts_ms);
    w.event(std::move(*row));
  }
  if (untimed)
    skip(r, fmt::format("{}: {} Xid/fallen-off-the-bus event(s) without a wall-clock time (seconds since boot only, "
                        "and the boot's start is not in the log): not placed in the history",
                        file, untimed));
  if (other)
    skip(r, fmt::format("{}: {} other event(s) (API mismatch, RmInitAdapter, stalls, ...): the history records Xids and "
                        "fallen-off-the-bus messages only; `gpudoctor xid {}` explains them",
                        file, other, file));
  if (auto ok = w.flush(); !ok) return ok.error();
  return r;
}

}  // namespace gd::importer
