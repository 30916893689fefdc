#include "gd/probe/state.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/model/json_io.hpp"
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

model::StateInfo read_state(const host::HostRoot& root) {
  model::StateInfo s;
  s.dir = std::string(k_state_dir);
  if (auto stat = root.read_file("/proc/stat", 1 << 20)) s.boot_time_unix_s = parse_boot_time(*stat);
  if (auto id = root.read_file("/proc/sys/kernel/random/boot_id", 128)) s.boot_id = parse_boot_id(*id);
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
