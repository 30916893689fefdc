#include "gd/host/ld_conf.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

constexpr int k_max_include_depth = 16;
constexpr std::size_t k_max_conf_files = 4096;
constexpr std::size_t k_max_conf_bytes = 1 << 20;
constexpr std::size_t k_max_glob_matches = 4096;

bool is_blank(char c) { return c == ' ' || c == '\t'; }

// "include" or "hwcap" followed by a blank: the rest of the line.
std::optional<std::string_view> keyword_rest(std::string_view line, std::string_view keyword) {
  if (line.size() <= keyword.size() || !is_blank(line[keyword.size()])) return std::nullopt;
  if (util::to_lower(line.substr(0, keyword.size())) != keyword) return std::nullopt;
  return line.substr(keyword.size() + 1);
}

std::string strip_trailing_slashes(std::string_view dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.remove_suffix(1);
  return std::string(dir);
}

bool has_wildcard(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string dir_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : std::string(path.substr(0, slash));
}

struct ConfReader {
  const HostRoot& host;
  LdConf out;
  std::set<std::string> dirs_seen;
  std::vector<std::string> open_files;  // the include chain being read
  std::set<std::string> files_read;     // every file read once: a second read adds no directory

  void add_dir(const std::string& file, const LdConfLine& l) {
    if (l.value.empty() || l.value[0] != '/') {
      out.problems.push_back(
          fmt::format("{}:{}: relative directory \"{}\" ignored", file, l.line, util::printable(l.value, 80)));
      return;
    }
    std::string dir = normalize(l.value);
    if (dirs_seen.insert(dir).second) out.dirs.push_back(dir);
  }

  void include(const std::string& file, const LdConfLine& l, int depth) {
    std::string pattern = l.value[0] == '/' ? l.value : join(dir_of(file), l.value);
    for (const auto& match : glob_in_root(host, pattern)) read(match, depth + 1, fmt::format("{}:{}", file, l.line));
  }

  void read(const std::string& file, int depth, const std::string& from) {
    auto real = host.resolve(file);  // read links inside the root, never outside it
    if (!real) {
      if (depth > 0 || host.exists(file)) out.problems.push_back(real.error().message);
      return;
    }
    if (std::find(open_files.begin(), open_files.end(), *real) != open_files.end()) {
      out.problems.push_back(fmt::format("{}: include loop: {} is already being read", from, file));
      return;
    }
    if (depth > k_max_include_depth) {
      out.problems.push_back(
          fmt::format("{}: includes nest deeper than {}; {} not read", from, k_max_include_depth, file));
      return;
    }
    // A file read before (files that include each other's glob) gives the
    // same directories again, which come after their first place: skip it, so
    // n such files cost n reads, not n! (9 files took 65 s and 5 GB).
    if (!files_read.insert(*real).second) return;
    if (files_read.size() > k_max_conf_files) {
      out.problems.push_back(fmt::format("{}: more than {} ld.so.conf files; {} not read", from, k_max_conf_files, file));
      return;
    }
    auto text = host.read_file(*real, k_max_conf_bytes);
    if (!text) {
      out.problems.push_back(text.error().message);
      return;
    }
    open_files.push_back(*real);
    for (const auto& l : parse_ld_so_conf(*text)) {
      if (l.kind == LdConfLine::Kind::include)
        include(file, l, depth);
      else
        add_dir(file, l);
    }
    open_files.pop_back();
  }
};

void glob_step(const HostRoot& host, const std::string& base, const std::vector<std::string_view>& parts, std::size_t i,
               std::vector<std::string>& out) {
  if (out.size() >= k_max_glob_matches) return;
  if (i == parts.size()) {
    if (host.exists(base)) out.push_back(base);
    return;
  }
  std::string part(parts[i]);
  if (!has_wildcard(part)) return glob_step(host, join(base, part), parts, i + 1, out);
  auto dir = host.resolve(base);
  if (!dir) return;
  auto names = host.list_dir(*dir);
  if (!names) return;
  for (const auto& name : *names)
    if (::fnmatch(part.c_str(), name.c_str(), FNM_PERIOD) == 0) glob_step(host, join(base, name), parts, i + 1, out);
}

}  // namespace

std::vector<LdConfLine> parse_ld_so_conf(std::string_view text) {
  std::vector<LdConfLine> out;
  int number = 0;
  for (auto raw : util::lines(text)) {
    ++number;
    auto hash = raw.find('#');
    auto line = util::trim(raw.substr(0, hash));
    if (line.empty() || keyword_rest(line, "hwcap")) continue;
    if (auto rest = keyword_rest(line, "include")) {
      for (auto pattern : util::split_ws(*rest))
        out.push_back(LdConfLine{LdConfLine::Kind::include, std::string(pattern), number});
      continue;
    }
    out.push_back(LdConfLine{LdConfLine::Kind::directory, strip_trailing_slashes(line), number});
  }
  return out;
}

LdConf read_ld_so_conf(const HostRoot& host, std::string_view conf) {
  ConfReader r{host, {}, {}, {}, {}};
  r.read(std::string(conf), 0, std::string(conf));
  return std::move(r.out);
}

std::vector<std::string> glob_in_root(const HostRoot& host, std::string_view pattern) {
  std::vector<std::string> out;
  if (pattern.empty() || pattern[0] != '/') return out;
  std::vector<std::string_view> parts;
  for (auto p : util::split(pattern, '/'))
    if (!p.empty() && p != ".") parts.push_back(p);
  glob_step(host, "/", parts, 0, out);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace gd::host
