#include "gd/probe/driver.hpp"

#include <limits>

#include <fmt/format.h>

#include "gd/model/bus_id.hpp"
#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_proc_version = "/proc/driver/nvidia/version";
constexpr std::string_view k_sys_version = "/sys/module/nvidia/version";
constexpr std::string_view k_gpus_dir = "/proc/driver/nvidia/gpus";

std::string quoted(std::string_view s) { return fmt::format("\"{}\"", util::printable(util::trim(s), 80)); }

bool all_digits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

Error bad_value(std::string_view key, std::string_view expected, std::string_view value) {
  return make_error(fmt::format("{}: expected {}, got {}", key, expected, quoted(value)));
}

// Applies one "Key: value" line; Error when a known key has a malformed value.
std::optional<Error> apply_information_line(std::string_view key, std::string_view value, model::DriverGpu& gpu) {
  if (key == "Model") {
    gpu.model = util::printable(value);
  } else if (key == "GPU UUID") {
    gpu.uuid = util::printable(value);
  } else if (key == "Device Minor") {
    auto minor = util::parse_u64(value);
    if (!minor || *minor > std::numeric_limits<unsigned>::max()) return bad_value(key, "a number", value);
    gpu.minor = static_cast<unsigned>(*minor);
  } else if (key == "GPU Excluded") {
    if (value != "Yes" && value != "No") return bad_value(key, "Yes or No", value);
    gpu.excluded = value == "Yes";
  }
  return std::nullopt;
}

// Reads a file that may be absent: nullopt when absent, a problem when unreadable.
std::optional<std::string> read_optional(const host::HostRoot& host, std::string_view file,
                                         std::vector<std::string>& problems) {
  if (!host.exists(file)) return std::nullopt;
  auto text = host.read_file(file, 64 * 1024);
  if (!text) {
    problems.push_back(text.error().message);
    return std::nullopt;
  }
  return *text;
}

void read_modules(const host::HostRoot& host, model::DriverInfo& info) {
  if (auto text = read_optional(host, "/proc/modules", info.problems)) {
    LoadedModules m = parse_proc_modules(*text);
    info.nvidia_loaded = m.nvidia;
    info.nvidia_uvm_loaded = m.nvidia_uvm;
    info.nvidia_modeset_loaded = m.nvidia_modeset;
    info.nvidia_drm_loaded = m.nvidia_drm;
    info.nouveau_loaded = m.nouveau;
  }
  if (host.kind("/sys/module/nvidia") == host::FileKind::directory) info.nvidia_loaded = true;
}

std::optional<std::string> read_sys_version(const host::HostRoot& host, std::vector<std::string>& problems) {
  auto text = read_optional(host, k_sys_version, problems);
  if (!text) return std::nullopt;
  auto version = util::trim(*text);
  if (!looks_like_driver_version(version)) {
    problems.push_back(fmt::format("{}: expected a driver version, got {}", k_sys_version, quoted(version)));
    return std::nullopt;
  }
  return std::string(version);
}

void read_version(const host::HostRoot& host, model::DriverInfo& info) {
  auto sys_version = read_sys_version(host, info.problems);
  if (auto text = read_optional(host, k_proc_version, info.problems)) {
    auto parsed = parse_proc_driver_version(*text);
    if (!parsed) {
      info.problems.push_back(fmt::format("{}: {}", k_proc_version, parsed.error().message));
    } else {
      info.kernel_version = parsed->version;
      info.flavour = parsed->flavour;
      info.version_line = parsed->first_line;
    }
  }
  if (!sys_version) return;
  if (!info.kernel_version) {
    info.kernel_version = sys_version;
  } else if (*info.kernel_version != *sys_version) {
    info.problems.push_back(
        fmt::format("{} says {} but {} says {}", k_proc_version, *info.kernel_version, k_sys_version, *sys_version));
  }
}

Result<model::DriverGpu> read_information(const host::HostRoot& host, const std::string& name) {
  std::string file = host::join(host::join(k_gpus_dir, name), "information");
  auto text = host.read_file(file, 64 * 1024);
  if (!text) return text.error();
  auto gpu = parse_gpu_information(*text, name);
  if (!gpu) return make_error(fmt::format("{}: {}", file, gpu.error().message));
  return gpu;
}

void read_gpus(const host::HostRoot& host, model::DriverInfo& info) {
  auto names = host.list_dir(k_gpus_dir);
  if (!names) return;  // no driver, or a driver with no GPUs
  for (const auto& name : *names) {
    auto gpu = read_information(host, name);
    if (gpu) {
      info.gpus.push_back(std::move(*gpu));
      continue;
    }
    info.problems.push_back(gpu.error().message);
    model::DriverGpu listed;  // the driver still lists this GPU
    listed.bus_id = model::normalize_bus_id(name).value_or("");
    if (!listed.bus_id.empty()) info.gpus.push_back(std::move(listed));
  }
}

}  // namespace

bool looks_like_driver_version(std::string_view token) {
  auto parts = util::split(token, '.');
  if (parts.size() != 2 && parts.size() != 3) return false;
  for (auto p : parts)
    if (!all_digits(p)) return false;
  return true;
}

Result<ProcDriverVersion> parse_proc_driver_version(std::string_view text) {
  auto all = util::lines(text);
  std::string_view line = all.empty() ? std::string_view() : util::trim(all[0]);
  if (!util::starts_with(line, "NVRM version:"))
    return make_error(fmt::format("expected a first line starting \"NVRM version:\", got {}", quoted(line)));
  auto module = line.find("Module");
  if (module == std::string_view::npos) return make_error(fmt::format("no \"Module\" in {}", quoted(line)));
  ProcDriverVersion out;
  for (auto token : util::split_ws(line.substr(module + 6))) {
    if (looks_like_driver_version(token)) {
      out.version = std::string(token);
      break;
    }
  }
  if (out.version.empty()) return make_error(fmt::format("no driver version after \"Module\" in {}", quoted(line)));
  out.flavour = line.find("Open Kernel Module") != std::string_view::npos ? "open" : "proprietary";
  out.first_line = util::printable(line);
  return out;
}

Result<model::DriverGpu> parse_gpu_information(std::string_view text, std::string_view dir_name) {
  model::DriverGpu gpu;
  auto bus_id = model::normalize_bus_id(dir_name);
  if (!bus_id) return make_error(fmt::format("directory name {} is not a PCI bus id", quoted(dir_name)));
  gpu.bus_id = *bus_id;
  for (auto line : util::lines(text)) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    auto error = apply_information_line(util::trim(line.substr(0, colon)), util::trim(line.substr(colon + 1)), gpu);
    if (error) return *error;
  }
  return gpu;
}

LoadedModules parse_proc_modules(std::string_view text) {
  LoadedModules m;
  for (auto line : util::lines(text)) {
    auto fields = util::split_ws(line);
    if (fields.empty()) continue;
    std::string_view name = fields[0];
    if (name == "nvidia")
      m.nvidia = true;
    else if (name == "nvidia_uvm")
      m.nvidia_uvm = true;
    else if (name == "nvidia_modeset")
      m.nvidia_modeset = true;
    else if (name == "nvidia_drm")
      m.nvidia_drm = true;
    else if (name == "nouveau")
      m.nouveau = true;
  }
  return m;
}

model::DriverInfo read_driver(const host::HostRoot& host) {
  model::DriverInfo info;
  read_modules(host, info);
  read_version(host, info);
  read_gpus(host, info);
  return info;
}

}  // namespace gd::probe
