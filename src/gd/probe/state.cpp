#include "gd/probe/state.hpp"

#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"
#include "gd/store/store.hpp"
#include "gd/util/strings.hpp"

namespace gd::probe {

void parse_change_records(std::string_view text, model::StateInfo& out) {
  std::size_t n = 0;
  for (auto line : util::lines(text)) {
    ++n;
    if (util::trim(line).empty()) continue;
    auto j = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    auto rec = j.is_discarded() ? Result<model::ChangeRecord>(make_error("not JSON"))
                                : model::change_record_from_json(j);
    if (!rec) {
      if (out.problems.size() < 20)
        out.problems.push_back(fmt::format("{} line {}: {}", k_changes_file, n, rec.error().message));
      continue;
    }
    out.changes.push_back(std::move(*rec));
    if (out.changes.size() > k_max_change_records) out.changes.erase(out.changes.begin());
  }
}

std::optional<std::int64_t> parse_boot_time(std::string_view proc_stat) {
  for (auto line : util::lines(proc_stat)) {
    if (!line.starts_with("btime ")) continue;
    auto v = util::parse_u64(util::trim(line.substr(6)));
    if (v && *v > 0 && *v < 100'000'000'000ull) return static_cast<std::int64_t>(*v);
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<std::string> parse_boot_id(std::string_view text) {
  std::string id(util::trim(text));
  if (id.size() != 36) return std::nullopt;
  for (std::size_t i = 0; i < id.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    char c = id[i];
    if (dash ? c != '-' : !std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  return util::to_lower(id);
}

namespace {

// Losses and persistence changes of this boot from watch's history (a live
// watch keeps writing it). Read-only, never created or moved aside; its links
// are resolved inside the root first, so the file read is the root's.
void read_history(const host::HostRoot& root, model::StateInfo& s) {
  if (root.kind_followed(model::k_history_file) != host::FileKind::regular) return;
  auto host_path = root.resolve(model::k_history_file);
  if (!host_path) return s.problems.push_back(host_path.error().message);
  auto db = store::Store::open_for_query(root.display_path(*host_path).string());
  if (!db) return s.problems.push_back(fmt::format("{}: {}", model::k_history_file, db.error().message));
  std::int64_t since_ms = s.boot_time_unix_s ? *s.boot_time_unix_s * 1000 : 0;
  auto rows = (*db)->events(since_ms, std::numeric_limits<std::int64_t>::max(), {"gpu_lost", "persistence_changed"});
  if (!rows) return s.problems.push_back(fmt::format("{}: {}", model::k_history_file, rows.error().message));
  for (const auto& e : *rows) {
    if (s.history.size() >= 1000) break;
    auto d = nlohmann::json::parse(e.detail, nullptr, false);
    model::HistoryMark m{e.ts_ms, e.type, e.gpu, std::nullopt};
    if (!d.is_discarded() && d.is_object())
      m.persistence_mode = model::json_field<std::string>(d, e.type == "gpu_lost" ? "persistence_mode" : "to");
    s.history.push_back(std::move(m));
  }
}

}  // namespace

Result<std::optional<model::Ledger>> read_ledger(const host::HostRoot& root) {
  if (root.kind(model::k_ledger_file) == host::FileKind::missing) return std::optional<model::Ledger>{};
  auto text = root.read_file(model::k_ledger_file, 8u << 20);
  if (!text) return text.error();
  auto l = model::parse_ledger(*text, root.display_path(model::k_ledger_file).string());
  if (!l) return l.error();
  return std::optional<model::Ledger>(std::move(*l));
}

model::StateInfo read_state(const host::HostRoot& root) {
  model::StateInfo s;
  s.dir = std::string(k_state_dir);
  if (auto stat = root.read_file("/proc/stat", 1 << 20)) s.boot_time_unix_s = parse_boot_time(*stat);
  if (auto id = root.read_file("/proc/sys/kernel/random/boot_id", 128)) s.boot_id = parse_boot_id(*id);
  read_history(root, s);
  if (auto l = read_ledger(root); !l)
    s.problems.push_back(l.error().message);
  else
    s.ledger = std::move(*l);
  if (root.kind(k_changes_file) == host::FileKind::missing) return s;
  auto text = root.read_file(k_changes_file, 4u << 20);
  if (!text) {
    s.problems.push_back(text.error().message);
    return s;
  }
  parse_change_records(*text, s);
  return s;
}

}  // namespace gd::probe
