// libs.missing, libs.stale_ldcache, libs.empty_file, libs.not_elf,
// libs.dangling_link, libs.version_mismatch, libs.multiple_versions,
// libs.stub_first, libs.soname_mismatch: the linker audit, judged from
// Snapshot::libs (see docs/linker-audit.md).
#include <algorithm>
#include <cctype>
#include <map>
#include <set>

#include <fmt/format.h>

#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {

using model::Finding;
using model::LibEntry;
using model::LibsInfo;
using model::Severity;

namespace {

constexpr std::string_view k_required[] = {"libnvidia-ml.so.1", "libcuda.so.1"};
constexpr std::size_t k_max_listed = 8;  // files named per version in evidence

std::string base_name(std::string_view path) {
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

std::string dir_of(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == 0 || slash == std::string_view::npos ? "/" : std::string(path.substr(0, slash));
}

bool is_soname_link_name(std::string_view name) {
  auto so = name.rfind(".so.");
  if (so == std::string_view::npos) return false;
  auto n = name.substr(so + 4);
  return !n.empty() && n.find_first_not_of("0123456789") == std::string_view::npos;
}

bool in_stubs_dir(std::string_view path) { return ("/" + dir_of(path) + "/").find("/stubs/") != std::string::npos; }

bool is_link(const LibEntry& e) { return !e.hops.empty(); }
bool is_empty(const LibEntry& e) { return e.resolved && e.size_bytes == 0u; }
bool is_usable(const LibEntry& e) { return e.resolved && e.size_bytes.value_or(0) > 0 && e.elf_error.empty(); }
bool is_not_elf(const LibEntry& e) { return e.resolved && e.size_bytes.value_or(0) > 0 && !e.elf_error.empty(); }

// glibc's _dl_cache_libcmp: digit runs compare as numbers, so "so.465" > "so.460" > "so".
int libcmp(std::string_view a, std::string_view b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t ie = i, je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      auto na = a.substr(i, ie - i), nb = b.substr(j, je - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size() ? -1 : 1;
      if (na != nb) return na < nb ? -1 : 1;
      i = ie, j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j] ? -1 : 1;
      ++i, ++j;
    }
  }
  return (i < a.size()) - (j < b.size());
}

std::string file_facts(const LibEntry& e) {
  std::string out = fmt::format("{} bytes, {}", e.size_bytes.value_or(0), e.version.value_or("no version"));
  if (e.soname) out += ", SONAME " + *e.soname;
  if (!e.elf_error.empty()) out += ", " + e.elf_error;
  return out;
}

// "a -> b (size, version)"; a dangling or looping link ends in "(missing)" / "(symlink loop)".
std::string chain_text(const LibEntry& e) {
  std::string out = e.path;
  for (const auto& hop : e.hops) out += " -> " + hop;
  if (!e.resolved)
    return out + (e.link_error.find("too many levels") != std::string::npos ? " (symlink loop)" : " (missing)");
  if (!e.hops.empty() && base_name(e.hops.back()) != base_name(*e.resolved)) out += " -> " + *e.resolved;
  return out + " (" + file_facts(e) + ")";
}

const LibEntry* entry_at(const LibsInfo& libs, std::string_view path) {
  for (const auto& e : libs.entries)
    if (e.path == path) return &e;
  return nullptr;
}

const model::LoaderPick* pick_of(const LibsInfo& libs, std::string_view name) {
  for (const auto& p : libs.picks)
    if (p.name == name) return &p;
  return nullptr;
}

std::string pick_text(const LibsInfo& libs, const model::LoaderPick& p) {
  std::string where = fmt::format("dlopen(\"{}\") opens ", p.name);
  const LibEntry* e = p.path ? entry_at(libs, *p.path) : nullptr;
  if (!e && p.resolved) e = entry_at(libs, *p.resolved);
  if (e) return fmt::format("{}{} [via {}]", where, chain_text(*e), p.found_via);
  return fmt::format("{}{} -> {} [via {}]", where, p.path.value_or("?"), p.resolved.value_or("?"), p.found_via);
}

// Files (not links) `file` is reached from: the entries whose chain ends there.
std::vector<const LibEntry*> reaching(const LibsInfo& libs, const std::string& file) {
  std::vector<const LibEntry*> out;
  for (const auto& e : libs.entries)
    if (e.resolved == file) out.push_back(&e);
  return out;
}

// True when the loader would open `file` for some name, or a SONAME link leads to it.
bool on_a_chain(const LibsInfo& libs, const std::string& file) {
  for (const auto& p : libs.picks)
    if (p.resolved == file) return true;
  for (const auto* e : reaching(libs, file))
    if (is_link(*e) && is_soname_link_name(base_name(e->path))) return true;
  return false;
}

bool relevant(const model::Snapshot& s) { return !no_nvidia_gpu(s) && !s.libs.picks.empty(); }

std::string rm_command(const std::vector<std::string>& files) {
  return "sudo rm -f " + fmt::format("{}", fmt::join(files, " "));
}

// Bad final files (empty / not ELF): one finding listing each file and the names leading to it.
void bad_files(const RuleInput& in, std::vector<Finding>& out, bool (*bad)(const LibEntry&), Finding f) {
  const auto& libs = in.snap.libs;
  std::vector<std::string> files;
  bool reached = false;
  for (const auto& e : libs.entries) {
    if (!bad(e) || is_link(e)) continue;
    files.push_back(*e.resolved);
    reached = reached || on_a_chain(libs, *e.resolved);
    for (const auto* r : reaching(libs, *e.resolved)) f.evidence.push_back(chain_text(*r));
  }
  if (files.empty()) return;
  f.severity = reached ? Severity::critical : Severity::warning;
  std::string_view reach = !reached            ? ""
                           : files.size() == 1 ? " (the loader reaches it)"
                                               : " (the loader reaches them)";
  f.summary = fmt::format(fmt::runtime(f.summary), files.size(), fmt::join(files, ", "), reach);
  f.needs_root = true;
  out.push_back(std::move(f));
}

}  // namespace

void rule_libs_missing(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!s.driver.nvidia_loaded || s.libs.picks.empty()) return;
  std::vector<std::string> missing, found;
  Finding f;
  for (auto name : k_required) {
    const auto* p = pick_of(s.libs, name);
    if (p && p->path) {
      found.push_back(fmt::format("{} -> {}", name, p->resolved.value_or(*p->path)));
      continue;
    }
    missing.emplace_back(name);
    f.evidence.push_back(
        fmt::format("dlopen(\"{}\") fails: not in LD_LIBRARY_PATH, /etc/ld.so.cache or the default "
                    "library dirs",
                    name));
    std::string family(name.substr(0, name.find(".so")));
    for (const auto& e : s.libs.entries)
      if (e.family == family) f.evidence.push_back("present but not loadable: " + chain_text(e));
  }
  if (missing.empty()) {
    f.summary = fmt::format("Driver libraries found: {}", fmt::join(found, ", "));
    out.push_back(std::move(f));
    return;
  }
  std::vector<std::string> dirs;
  for (const auto& d : s.libs.dirs) dirs.push_back(d.path);
  f.evidence.push_back(
      fmt::format("searched: {}", dirs.empty() ? "no library dir exists" : fmt::format("{}", fmt::join(dirs, ", "))));
  f.severity = Severity::critical;
  f.summary = fmt::format("{} missing while the nvidia kernel module {} is loaded", fmt::join(missing, " and "),
                          s.driver.kernel_version.value_or("(version unknown)"));
  f.cause =
      "The driver's user-space libraries are not installed (or were removed), live in a directory the loader "
      "does not search, or the linker cache was not rebuilt. nvidia-smi, NVML users and CUDA programs fail "
      "with 'cannot open shared object file'.";
  f.fix = {fmt::format("Install the user-space driver libraries of version {} (the package or .run installer that "
                       "matches the kernel module), then: sudo ldconfig",
                       s.driver.kernel_version.value_or("<kernel module version>")),
           "If they live in a non-standard dir: echo /that/dir | sudo tee /etc/ld.so.conf.d/nvidia.conf; sudo ldconfig",
           "In a container: start it with the NVIDIA runtime (docker run --gpus all ...) so they are mounted"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

namespace {

struct StaleCheck {
  std::vector<std::string> critical, warning;
};

// The file ldconfig would point link `e` at: the newest usable file in the same dir carrying that SONAME.
const LibEntry* ldconfig_choice(const LibsInfo& libs, const LibEntry& e) {
  const LibEntry* best = nullptr;
  std::string name = base_name(e.path), dir = dir_of(e.path);
  for (const auto& c : libs.entries) {
    if (is_link(c) || !is_usable(c) || c.soname != name || dir_of(c.path) != dir) continue;
    if (!best || libcmp(base_name(c.path), base_name(best->path)) > 0) best = &c;
  }
  return best;
}

bool cached(const LibsInfo& libs, const std::string& dir, const std::string& name) {
  for (const auto& c : libs.ld_cache)
    if (c.in_dir == dir && c.name == name) return true;
  return false;
}

void check_links(const LibsInfo& libs, const model::LibDir& d, StaleCheck& out) {
  for (const auto& e : libs.entries) {
    if (dir_of(e.path) != d.resolved) continue;
    std::string name = base_name(e.path);
    if (is_link(e) && is_soname_link_name(name)) {
      const auto* best = ldconfig_choice(libs, e);
      if (best && e.resolved != best->path)
        out.critical.push_back(fmt::format("{}, but ldconfig would point it at {} ({})", chain_text(e),
                                           base_name(best->path), file_facts(*best)));
    }
    if (libs.ld_cache_error.empty() && libs.ld_cache_present && is_usable(e) && e.soname == name &&
        !cached(libs, d.resolved, name))
      out.warning.push_back(fmt::format("{} is not in /etc/ld.so.cache (installed after the last ldconfig)", e.path));
  }
}

StaleCheck stale_items(const LibsInfo& libs) {
  StaleCheck out;
  if (!libs.ld_cache_error.empty())
    out.critical.push_back(fmt::format("{} (the loader ignores a corrupt cache)", libs.ld_cache_error));
  for (const auto& c : libs.ld_cache)
    if (!c.present)
      out.critical.push_back(fmt::format("/etc/ld.so.cache lists {} => {}, which no longer exists", c.name, c.path));
  for (const auto& d : libs.dirs) {
    if (!d.in_ld_cache_scope) continue;
    check_links(libs, d, out);
    if (!libs.ld_cache_present && d.origin == "ld.so.conf")
      for (const auto& e : libs.entries)
        if (dir_of(e.path) == d.resolved && is_usable(e) && e.soname == base_name(e.path))
          out.critical.push_back(
              fmt::format("no /etc/ld.so.cache: {} (from ld.so.conf) is invisible to the loader", e.path));
  }
  return out;
}

}  // namespace

void rule_libs_stale_ldcache(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!relevant(s)) return;
  auto items = stale_items(s.libs);
  Finding f;
  if (items.critical.empty() && items.warning.empty()) {
    if (!s.libs.ld_cache_present || s.libs.entries.empty()) return;
    f.summary = fmt::format("The linker cache agrees with the library dirs ({} driver-library cache entries)",
                            s.libs.ld_cache.size());
    out.push_back(std::move(f));
    return;
  }
  f.severity = items.critical.empty() ? Severity::warning : Severity::critical;
  f.summary = fmt::format(
      "The dynamic linker's cache is stale: {} mismatch(es) between /etc/ld.so.cache, the "
      ".so links and the files installed",
      items.critical.size() + items.warning.size());
  f.evidence = items.critical;
  f.evidence.insert(f.evidence.end(), items.warning.begin(), items.warning.end());
  f.cause = s.libs.ld_cache_error.empty()
                ? ""
                : "The cache file is damaged (full disk, interrupted ldconfig, copied from elsewhere); the loader then "
                  "searches only its default dirs. ";
  f.cause +=
      "Driver libraries were added, removed or replaced (driver up/downgrade, container image built with the "
      "NVIDIA runtime) without running ldconfig, so the cache and the SONAME links still name the old files. "
      "Programs then load a removed, empty or wrong-version library ('load library failed: ... cannot open "
      "shared object file', 'no CUDA-capable device is detected').";
  f.fix = {"sudo ldconfig   (rebuilds /etc/ld.so.cache and re-points the .so.1 links at the installed files)",
           "Then restart the containers and services that use the GPU"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_libs_empty_file(const RuleInput& in, std::vector<Finding>& out) {
  if (!relevant(in.snap)) return;
  Finding f;
  f.summary = "{} driver library file(s) are empty (0 bytes): {}{}";
  f.cause =
      "0-byte copies are left behind when a container image is built with the NVIDIA runtime (it mounts the "
      "host's libraries over placeholders that stay empty in the image) or after a driver change. ldconfig "
      "skips them ('is empty, not checked'), but an old link can still lead to one: CUDA then finds no device "
      "and nvidia-smi shows 'CUDA Version: N/A'.";
  std::vector<std::string> files;
  for (const auto& e : in.snap.libs.entries)
    if (is_empty(e) && !is_link(e)) files.push_back(*e.resolved);
  f.fix = {rm_command(files) + "   (empty placeholders)", "sudo ldconfig",
           "Container images: build them with the default runc runtime, not nvidia"};
  bad_files(in, out, is_empty, std::move(f));
}

void rule_libs_not_elf(const RuleInput& in, std::vector<Finding>& out) {
  if (!relevant(in.snap)) return;
  Finding f;
  f.summary = "{} driver library file(s) are not usable x86-64 ELF libraries: {}{}";
  f.cause =
      "A truncated copy (full disk, interrupted install or image layer), a file of another architecture or "
      "a text file in place of the library. dlopen fails with 'invalid ELF header' or 'file too short'.";
  f.fix = {"Reinstall the package that owns each file (dpkg -S FILE or rpm -qf FILE names it)", "sudo ldconfig"};
  bad_files(in, out, is_not_elf, std::move(f));
}

void rule_libs_dangling_link(const RuleInput& in, std::vector<Finding>& out) {
  const auto& libs = in.snap.libs;
  if (!relevant(in.snap)) return;
  std::vector<std::string> links;
  Finding f;
  f.severity = Severity::warning;
  for (const auto& e : libs.entries) {
    if (e.resolved) continue;
    links.push_back(e.path);
    f.evidence.push_back(chain_text(e));
    if (is_soname_link_name(base_name(e.path))) f.severity = Severity::critical;
  }
  if (links.empty()) return;
  f.summary = fmt::format("{} driver library link(s) lead nowhere: {}", links.size(), fmt::join(links, ", "));
  f.cause =
      "The files the links point to were removed (driver uninstalled or replaced) or the links point at each "
      "other. A program asking for that name gets 'cannot open shared object file'.";
  auto dpkg = dangling_alternatives_links(in.snap);
  std::vector<std::string> plain;
  for (const auto& l : links)
    if (std::none_of(dpkg.begin(), dpkg.end(), [&](const LibEntry* e) { return e->path == l; })) plain.push_back(l);
  if (!dpkg.empty()) {
    std::vector<std::string> names;
    for (const auto* e : dpkg)
      for (const auto& hop : e->hops)
        if (hop.starts_with("/etc/alternatives/")) names.push_back(base_name(hop));
    f.cause += fmt::format(
        " {} of them lead through /etc/alternatives: they belong to dpkg (Debian's update-alternatives), which "
        "keeps them in step with the installed packages; removing them by hand (or letting ldconfig delete them) "
        "leaves dpkg's records wrong.",
        dpkg.size());
    f.fix = {"Find the package that should provide the target: dpkg -S <the target path above>",
             "Reinstall it: sudo apt-get install --reinstall <package>   (Debian: nvidia-alternative and the "
             "library's own package, e.g. libnvidia-ml1)",
             fmt::format("Or let update-alternatives choose again: sudo update-alternatives --auto {}",
                         names.empty() ? std::string("<name>") : names.front()),
             "Then: sudo ldconfig (only once the links lead to files again)"};
    if (!plain.empty()) f.fix.push_back(rm_command(plain) + "   (the links not managed by dpkg)");
  } else {
    f.fix = {rm_command(links), "sudo ldconfig   (recreates the SONAME links for the libraries that are installed)"};
  }
  f.needs_root = true;
  out.push_back(std::move(f));
}

namespace {

// Mismatching picks, unless user space is uniformly the version NVML reports (driver.version_mismatch says that).
std::vector<const model::LoaderPick*> mismatched_picks(const model::Snapshot& s) {
  std::vector<const model::LoaderPick*> out;
  std::set<std::string> versions, files;
  for (const auto& p : s.libs.picks) {
    if (!p.version || !files.insert(*p.resolved).second) continue;
    versions.insert(*p.version);
    if (*p.version != *s.driver.kernel_version) out.push_back(&p);
  }
  bool uniform = versions.size() == 1 && s.nvml.library.file_version == *versions.begin();
  return uniform ? std::vector<const model::LoaderPick*>{} : out;
}

bool has_file_of_version(const LibsInfo& libs, const std::string& dir, const std::string& soname,
                         const std::string& version) {
  for (const auto& e : libs.entries)
    if (!is_link(e) && is_usable(e) && dir_of(e.path) == dir && e.soname == soname && e.version == version) return true;
  return false;
}

}  // namespace

void rule_libs_version_mismatch(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!relevant(s) || !s.driver.nvidia_loaded || !s.driver.kernel_version) return;
  auto bad = mismatched_picks(s);
  if (bad.empty()) return;
  const auto& kv = *s.driver.kernel_version;
  Finding f;
  f.severity = Severity::critical;
  std::vector<std::string> names, dev_links;
  bool relink = false, reinstall = false;
  for (const auto* p : bad) {
    names.push_back(fmt::format("{} is {}", p->name, *p->version));
    f.evidence.push_back(pick_text(s.libs, *p));
    if (!is_soname_link_name(p->name)) {
      const LibEntry* e = entry_at(s.libs, *p->resolved);
      dev_links.push_back(fmt::format("sudo ln -sfn {} {}   (the development link still points at {})",
                                      e && e->soname ? *e->soname : p->name + ".1", *p->path, base_name(*p->resolved)));
    } else if (has_file_of_version(s.libs, dir_of(*p->resolved), p->name, kv)) {
      relink = true;
    } else {
      reinstall = true;
    }
  }
  f.evidence.push_back(fmt::format("loaded kernel module: {}", kv));
  f.summary = fmt::format("{} but the loaded kernel module is {}", fmt::join(names, ", "), kv);
  f.cause =
      "The library the loader opens belongs to another driver version than the running kernel module: "
      "leftovers of an older or newer driver, a stale link, or a container image carrying its own copies. "
      "CUDA fails to initialise ('system has unsupported display driver / cuda driver combination').";
  if (relink)
    f.fix.push_back(
        fmt::format("sudo ldconfig   (the {} files are installed beside them; this re-points the links)", kv));
  f.fix.insert(f.fix.end(), dev_links.begin(), dev_links.end());
  if (reinstall) {
    f.fix.push_back(fmt::format("Install the user-space libraries of driver {} to match the module", kv));
    f.fix.push_back("Or reboot, if the newer user space is the one you want (loads the matching module)");
  }
  f.fix.push_back("Then remove the other version's files (see libs.multiple_versions)");
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_libs_multiple_versions(const RuleInput& in, std::vector<Finding>& out) {
  const auto& s = in.snap;
  if (!relevant(s)) return;
  std::map<std::string, std::vector<std::string>> by_version;
  for (const auto& e : s.libs.entries)
    if (!is_link(e) && e.resolved && e.version && !in_stubs_dir(e.path)) by_version[*e.version].push_back(e.path);
  if (by_version.size() < 2) return;
  Finding f;
  f.severity = Severity::warning;
  std::vector<std::string> versions, others;
  for (const auto& [v, files] : by_version) {
    versions.push_back(v);
    std::vector<std::string> shown(files.begin(), files.begin() + std::min(files.size(), k_max_listed));
    f.evidence.push_back(fmt::format(
        "{}: {}{}", v, fmt::join(shown, ", "),
        files.size() > k_max_listed ? fmt::format(" and {} more", files.size() - k_max_listed) : std::string()));
    if (s.driver.kernel_version && v != *s.driver.kernel_version)
      others.insert(others.end(), files.begin(), files.end());
  }
  f.summary = fmt::format("Driver libraries of {} versions are installed side by side: {}{}", versions.size(),
                          fmt::join(versions, ", "),
                          s.driver.kernel_version ? fmt::format(" (kernel module {})", *s.driver.kernel_version) : "");
  f.cause =
      "An older driver was not fully removed (a .run install over packages, a partial upgrade) or a container "
      "image brought its own copies. Which one a program gets depends on link and cache order; ldconfig picks "
      "the newest, whatever the kernel module is.";
  if (!others.empty() && by_version.count(*s.driver.kernel_version))
    f.fix = {"Remove the versions the kernel module does not match: " + rm_command(others), "sudo ldconfig"};
  else
    f.fix = {"Remove the leftover driver version (dpkg -S FILE or rpm -qf FILE names its package)", "sudo ldconfig"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_libs_stub_first(const RuleInput& in, std::vector<Finding>& out) {
  const auto& libs = in.snap.libs;
  if (!relevant(in.snap)) return;
  Finding f;
  std::vector<std::string> dirs;
  for (auto name : {"libcuda.so.1", "libcuda.so"}) {
    const auto* p = pick_of(libs, name);
    if (!p || !p->path || !(in_stubs_dir(*p->path) || (p->resolved && in_stubs_dir(*p->resolved)))) continue;
    f.evidence.push_back(pick_text(libs, *p));
    dirs.push_back(dir_of(*p->path));
    if (std::string_view(name) == "libcuda.so.1")
      f.severity = Severity::critical;
    else if (f.severity == Severity::ok)
      f.severity = Severity::warning;
  }
  if (dirs.empty()) return;
  for (const auto& e : libs.entries)
    if (e.family == "libcuda" && !is_link(e) && is_usable(e) && !in_stubs_dir(e.path))
      f.evidence.push_back("the real driver library: " + chain_text(e));
  f.summary = fmt::format("The CUDA toolkit's stub libcuda is found before the driver's: {}", dirs.front());
  f.cause =
      "A toolkit 'stubs' directory (only for linking with -lcuda) is in LD_LIBRARY_PATH or /etc/ld.so.conf.d "
      "ahead of the driver's libraries. CUDA then fails with CUDA_ERROR_STUB_LIBRARY (34): 'CUDA driver is a "
      "stub library'.";
  f.fix = {fmt::format("Remove {} from LD_LIBRARY_PATH (link against it with -L only)", dirs.front()),
           fmt::format("Or, when it comes from the linker configuration: sudo grep -rl '{}' /etc/ld.so.conf "
                       "/etc/ld.so.conf.d, delete that line, remove the link ldconfig made "
                       "(sudo rm -f {}/libcuda.so.1), then sudo ldconfig",
                       dirs.front(), dirs.front())};
  f.needs_root = true;
  out.push_back(std::move(f));
}

void rule_libs_soname_mismatch(const RuleInput& in, std::vector<Finding>& out) {
  const auto& libs = in.snap.libs;
  if (!relevant(in.snap)) return;
  Finding f;
  f.severity = Severity::warning;
  std::vector<std::string> names;
  for (const auto& e : libs.entries) {
    if (!is_usable(e) || !e.soname) continue;
    std::string name = base_name(e.path);
    bool link_wrong = is_link(e) && is_soname_link_name(name) && *e.soname != name;
    bool family_wrong = !is_link(e) && e.soname->rfind(e.family + ".so", 0) != 0;
    if (!link_wrong && !family_wrong) continue;
    names.push_back(name);
    f.evidence.push_back(
        fmt::format("{}: SONAME is {}, expected {}", chain_text(e), *e.soname, link_wrong ? name : e.family + ".so.*"));
    if (link_wrong) f.severity = Severity::critical;
  }
  if (names.empty()) return;
  f.summary = fmt::format("{} driver library name(s) lead to a library with another SONAME: {}", names.size(),
                          fmt::join(names, ", "));
  f.cause =
      "A link or file was made by hand or copied under the wrong name, so a program asking for one library gets "
      "another (missing symbols, 'Function Not Found').";
  f.fix = {"Remove the wrongly named links or files and reinstall the driver's user-space package", "sudo ldconfig"};
  f.needs_root = true;
  out.push_back(std::move(f));
}

// Every program that loads a driver library (gpudoctor as root included) searches these dirs: one that anyone
// can write into lets anyone plant a libcuda.so.1 or libnvidia-ml.so.1 there.
void rule_libs_world_writable_dir(const RuleInput& in, std::vector<Finding>& out) {
  std::vector<std::string> dirs;
  Finding f;
  f.severity = Severity::warning;
  for (const auto& d : in.snap.libs.dirs) {
    if (d.world_writable.empty()) continue;
    if (dirs.empty()) f.fix = {fmt::format("sudo chmod o-w {}   (or remove the dir from /etc/ld.so.conf.d and run "
                                           "sudo ldconfig)", d.world_writable)};
    dirs.push_back(d.path);
    f.evidence.push_back(fmt::format("{} ({}{}): {} is writable by every user{}", d.path, d.origin,
                                     d.resolved != d.path ? ", resolves to " + d.resolved : "", d.world_writable,
                                     d.world_writable == d.resolved ? "" : " (and has no sticky bit)"));
  }
  if (dirs.empty()) return;
  f.summary = fmt::format("{} library dir(s) the loader searches can be written by any user: {}", dirs.size(),
                          fmt::join(dirs, ", "));
  f.cause = "A directory in /etc/ld.so.conf, LD_LIBRARY_PATH or the default search path (or a folder above it) is "
            "world-writable: any local user can place a library there that GPU programs, services and root "
            "then load.";
  f.needs_root = true;
  out.push_back(std::move(f));
}

}  // namespace gd::rule
