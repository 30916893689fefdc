#include "gd/host/library_finder.hpp"

#include <fmt/format.h>

#include "gd/host/ld_cache.hpp"
#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

constexpr std::string_view k_ld_cache = "/etc/ld.so.cache";
constexpr std::size_t k_ld_cache_max_bytes = 64 << 20;
constexpr std::string_view k_default_dirs[] = {
    "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64", "/lib", "/usr/lib"};

void note(std::vector<std::string>* problems, std::string text) {
  if (problems) problems->push_back(std::move(text));
}

// True when the loader could open `path`: a regular file once links are followed.
bool loadable(const HostRoot& host, const std::string& path) {
  FileKind kind = host.kind(path);
  if (kind == FileKind::symlink) kind = host.kind_followed(path);
  return kind == FileKind::regular;
}

std::optional<std::string> in_dir(const HostRoot& host, std::string_view dir, std::string_view soname) {
  std::string path = join(dir, soname);
  if (loadable(host, path)) return path;
  return std::nullopt;
}

std::optional<FoundLibrary> from_cache(const HostRoot& host, std::string_view soname,
                                       std::vector<std::string>* problems) {
  if (!host.exists(k_ld_cache)) return std::nullopt;
  auto bytes = host.read_file(k_ld_cache, k_ld_cache_max_bytes);
  if (!bytes) {
    note(problems, bytes.error().message);
    return std::nullopt;
  }
  auto entries = parse_ld_cache(*bytes);
  if (!entries) {
    note(problems, fmt::format("{}: {}", k_ld_cache, entries.error().message));
    return std::nullopt;
  }
  for (const auto& e : *entries) {
    if (e.name != soname || e.flags != k_ld_flags_x86_64_libc6) continue;
    if (loadable(host, e.path)) return FoundLibrary{e.path, "ld.so.cache"};
    note(problems, fmt::format("{}: entry {} points to {}, which no longer exists", k_ld_cache, e.name, e.path));
  }
  return std::nullopt;
}

}  // namespace

std::optional<FoundLibrary> find_library(const HostRoot& host, std::string_view soname,
                                         const std::vector<std::string>& ld_library_path,
                                         std::vector<std::string>* problems) {
  if (soname.empty() || soname.find('/') != std::string_view::npos) return std::nullopt;
  for (const auto& dir : ld_library_path) {
    if (dir.empty()) continue;  // an empty element means the process's cwd: meaningless in a root
    if (auto path = in_dir(host, dir, soname)) return FoundLibrary{*path, "LD_LIBRARY_PATH"};
  }
  if (auto found = from_cache(host, soname, problems)) return found;
  for (auto dir : k_default_dirs)
    if (auto path = in_dir(host, dir, soname)) return FoundLibrary{*path, std::string(dir)};
  return std::nullopt;
}

std::span<const std::string_view> default_library_dirs() { return k_default_dirs; }

std::optional<std::string> library_file_version(std::string_view resolved_name) {
  auto slash = resolved_name.rfind('/');
  if (slash != std::string_view::npos) resolved_name.remove_prefix(slash + 1);
  auto so = resolved_name.find(".so.");
  if (so == std::string_view::npos) return std::nullopt;
  auto version = resolved_name.substr(so + 4);
  auto parts = util::split(version, '.');
  if (parts.size() < 2) return std::nullopt;
  for (auto p : parts)
    if (p.empty() || p.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  return std::string(version);
}

}  // namespace gd::host
