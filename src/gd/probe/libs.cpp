#include "gd/probe/libs.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "gd/host/elf.hpp"
#include "gd/host/ld_cache.hpp"
#include "gd/host/ld_conf.hpp"
#include "gd/host/library_finder.hpp"
#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_families[] = {
    "libcuda",        "libnvidia-ml",  "libnvidia-ptxjitcompiler", "libnvidia-fatbinaryloader", "libnvidia-opencl",
    "libnvidia-nvvm", "libnvidia-cfg", "libnvidia-allocator",      "libnvidia-gpucomp",
};
// Looked up even when no file carries them: what CUDA programs and NVML users dlopen.
constexpr std::string_view k_always_picked[] = {"libcuda.so.1", "libcuda.so", "libnvidia-ml.so.1"};
constexpr std::string_view k_ld_cache = "/etc/ld.so.cache";
constexpr std::size_t k_ld_cache_max_bytes = 64 << 20;
constexpr std::size_t k_max_hops = 8;

std::string dir_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : std::string(path.substr(0, slash));
}

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

struct ElfFacts {
  std::optional<std::string> soname;
  std::string error;
  bool foreign = false;  // a valid library for another ABI (the i386 multilib copy): not this loader's business
};

struct Gatherer {
  const host::HostRoot& host;
  model::LibsInfo out;
  std::vector<host::LdCacheEntry> cache;     // this architecture's entries, cache order
  std::map<std::string, ElfFacts> elf_memo;  // by resolved path

  void read_cache() {
    if (!host.exists(k_ld_cache)) return;
    out.ld_cache_present = true;
    auto bytes = host.read_file(k_ld_cache, k_ld_cache_max_bytes);
    if (!bytes) {
      out.ld_cache_error = bytes.error().message;
      return;
    }
    auto entries = host::parse_ld_cache(*bytes);
    if (!entries) {
      out.ld_cache_error = fmt::format("{}: {}", k_ld_cache, entries.error().message);
      return;
    }
    for (auto& e : *entries)
      if (e.flags == host::k_ld_flags_x86_64_libc6) cache.push_back(std::move(e));
  }

  std::set<std::string> cached_dirs() const {
    std::set<std::string> named, out_dirs;
    for (const auto& e : cache) named.insert(dir_of(e.path));
    for (const auto& d : named)
      if (auto r = host.resolve(d)) out_dirs.insert(*r);
    return out_dirs;
  }

  // The dir (any o+w) or an ancestor (o+w without the sticky bit) that anyone may write into; "" when none.
  std::string world_writable(const std::string& dir) const {
    std::string cur = dir;
    for (bool self = true;; self = false) {
      if (auto st = host.stat(cur); st && (st->st_mode & S_IWOTH) && (self || !(st->st_mode & S_ISVTX))) return cur;
      if (cur == "/" || cur.empty()) return "";
      cur = dir_of(cur);
    }
  }

  void add_dirs(const std::vector<std::string>& ld_library_path, const std::vector<std::string>& conf_dirs) {
    std::set<std::string> scope = cached_dirs(), seen;
    for (const auto& d : conf_dirs)
      if (auto r = host.resolve(d)) scope.insert(*r);
    auto add = [&](std::string_view path, std::string_view origin) {
      if (path.empty() || path[0] != '/') return;
      auto r = host.resolve(path);
      if (!r || host.kind(*r) != host::FileKind::directory || !seen.insert(*r).second) return;
      out.dirs.push_back(
          model::LibDir{std::string(path), *r, std::string(origin), scope.count(*r) > 0, world_writable(*r)});
    };
    for (const auto& d : ld_library_path) add(d, "LD_LIBRARY_PATH");
    for (const auto& d : conf_dirs) add(d, "ld.so.conf");
    for (auto d : host::default_library_dirs()) add(d, "default");
  }

  // Records each link target in turn (for the evidence), up to a repeat or k_max_hops.
  void record_hops(model::LibEntry& e) {
    std::string cur = e.path;
    std::set<std::string> visited{cur};
    while (e.hops.size() < k_max_hops && host.kind(cur) == host::FileKind::symlink) {
      auto target = host.read_link(cur);
      if (!target) return;
      e.hops.push_back(*target);
      cur = host::normalize(!target->empty() && (*target)[0] == '/' ? *target : host::join(dir_of(cur), *target));
      if (!visited.insert(cur).second) return;
    }
  }

  const ElfFacts& elf_facts(const std::string& resolved) {
    auto it = elf_memo.find(resolved);
    if (it != elf_memo.end()) return it->second;
    ElfFacts f;
    auto elf = host::read_elf(host, resolved);
    if (elf) {
      f.soname = elf->soname;
    } else {
      f.error = elf.error().message;
      std::string prefix = resolved + ": ";
      if (util::starts_with(f.error, prefix)) f.error.erase(0, prefix.size());
      auto header = host.read_file(resolved, 64);
      f.foreign = header && host::foreign_elf(*header).has_value();
    }
    return elf_memo.emplace(resolved, std::move(f)).first->second;
  }

  // The entry for dir/name; nullopt when it leads to a library for another ABI.
  std::optional<model::LibEntry> follow(const std::string& dir, const std::string& name, std::string_view family) {
    model::LibEntry e;
    e.family = std::string(family);
    e.path = host::join(dir, name);
    record_hops(e);
    auto r = host.resolve(e.path);
    if (!r) {
      e.link_error = r.error().message;
      return e;
    }
    e.resolved = *r;
    e.version = host::library_file_version(base_name(*r));
    if (host.kind(*r) != host::FileKind::regular) {
      e.elf_error = "not a regular file";
      return e;
    }
    e.size_bytes = static_cast<std::uint64_t>(std::max(0LL, host.file_size(*r)));
    if (*e.size_bytes == 0) return e;
    const auto& facts = elf_facts(*r);
    if (facts.foreign) return std::nullopt;
    e.soname = facts.soname;
    e.elf_error = facts.error;
    return e;
  }

  void scan_dir(const model::LibDir& d) {
    auto names = host.list_dir(d.resolved);
    if (!names) {
      out.problems.push_back(names.error().message);
      return;
    }
    for (const auto& name : *names)
      if (auto family = driver_library_family(name))
        if (auto e = follow(d.resolved, name, *family)) out.entries.push_back(std::move(*e));
  }

  void add_cache_libs() {
    for (const auto& e : cache) {
      if (!driver_library_family(e.name)) continue;
      model::LdCacheLib lib{e.name, e.path, "", false};
      if (auto d = host.resolve(dir_of(e.path))) lib.in_dir = *d;
      auto r = host.resolve(e.path);
      lib.present = r && host.kind(*r) == host::FileKind::regular;
      out.ld_cache.push_back(std::move(lib));
    }
  }

  void add_picks(const std::vector<std::string>& ld_library_path) {
    std::vector<std::string> names(std::begin(k_always_picked), std::end(k_always_picked));
    std::set<std::string> more;
    for (const auto& e : out.entries)
      if (is_soname_link_name(base_name(e.path))) more.insert(base_name(e.path));
    for (const auto& n : more)
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
    for (const auto& n : names) {
      model::LoaderPick p{n, std::nullopt, "", std::nullopt, std::nullopt};
      if (auto found = host::find_library(host, n, ld_library_path, nullptr)) {
        p.path = found->path;
        p.found_via = found->found_via;
        if (auto r = host.resolve(found->path)) {
          p.resolved = *r;
          p.version = host::library_file_version(base_name(*r));
        }
      }
      out.picks.push_back(std::move(p));
    }
  }
};

}  // namespace

std::span<const std::string_view> driver_library_families() { return k_families; }

std::optional<std::string_view> driver_library_family(std::string_view file_name) {
  for (auto family : k_families) {
    if (!util::starts_with(file_name, family) || !util::starts_with(file_name.substr(family.size()), ".so")) continue;
    auto rest = file_name.substr(family.size() + 3);
    if (rest.empty() || rest[0] == '.') return family;
  }
  return std::nullopt;
}

bool is_soname_link_name(std::string_view file_name) {
  auto so = file_name.rfind(".so.");
  if (so == std::string_view::npos) return false;
  auto n = file_name.substr(so + 4);
  return !n.empty() && n.find_first_not_of("0123456789") == std::string_view::npos;
}

model::LibsInfo read_libs(const host::HostRoot& host, const std::vector<std::string>& ld_library_path) {
  Gatherer g{host, {}, {}, {}};
  auto conf = host::read_ld_so_conf(host);
  g.out.problems = conf.problems;
  g.read_cache();
  g.add_dirs(ld_library_path, conf.dirs);
  for (const auto& d : g.out.dirs) g.scan_dir(d);
  g.add_cache_libs();
  g.add_picks(ld_library_path);
  return std::move(g.out);
}

}  // namespace gd::probe
