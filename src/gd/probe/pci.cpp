#include "gd/probe/pci.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include <fmt/format.h>

#include "gd/model/bus_id.hpp"
#include "gd/util/strings.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_devices_dir = "/sys/bus/pci/devices";

std::string basename(std::string_view path) {
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// Reads one attribute of a device: nullopt when the file is absent; a problem
// is added when it exists but cannot be read.
std::optional<std::string> read_attr(const host::HostRoot& host, const std::string& file,
                                     std::vector<std::string>& problems) {
  if (!host.exists(file)) return std::nullopt;
  auto text = host.read_file(file, 4096);
  if (!text) {
    problems.push_back(text.error().message);
    return std::nullopt;
  }
  return *text;
}

template <class Parse>
auto parsed_attr(const host::HostRoot& host, const std::string& dir, std::string_view name, std::string_view expected,
                 Parse parse, std::vector<std::string>& problems) -> decltype(parse(std::string_view())) {
  std::string file = host::join(dir, name);
  auto text = read_attr(host, file, problems);
  if (!text) return std::nullopt;
  auto value = parse(*text);
  if (!value)
    problems.push_back(
        fmt::format("{}: expected {}, got \"{}\"", file, expected, util::printable(util::trim(*text), 60)));
  return value;
}

std::optional<std::string> text_attr(const host::HostRoot& host, const std::string& dir, std::string_view name,
                                     std::vector<std::string>& problems) {
  auto parse = [](std::string_view t) -> std::optional<std::string> {
    auto v = util::trim(t);
    if (v.empty() || util::printable(v) != v) return std::nullopt;
    return std::string(v);
  };
  return parsed_attr(host, dir, name, "a link speed", parse, problems);
}

// The bound driver's name from the `driver` symlink; "" when unbound.
std::string bound_driver(const host::HostRoot& host, const std::string& dir, std::vector<std::string>& problems) {
  std::string link = host::join(dir, "driver");
  host::FileKind kind = host.kind(link);
  if (kind == host::FileKind::missing) return "";
  if (kind != host::FileKind::symlink) {
    problems.push_back(fmt::format("{}: expected a symlink to the bound driver", link));
    return "";
  }
  auto target = host.read_link(link);
  if (!target) {
    problems.push_back(target.error().message);
    return "";
  }
  return basename(*target);
}

void fill_gpu(const host::HostRoot& host, const std::string& dir, model::PciGpu& gpu) {
  auto& problems = gpu.problems;
  gpu.device_id = parsed_attr(host, dir, "device", "hex", parse_sysfs_hex, problems).value_or(0);
  gpu.driver = bound_driver(host, dir, problems);
  gpu.current_link_speed = text_attr(host, dir, "current_link_speed", problems);
  gpu.max_link_speed = text_attr(host, dir, "max_link_speed", problems);
  gpu.current_link_width = parsed_attr(host, dir, "current_link_width", "a number", parse_sysfs_uint, problems);
  gpu.max_link_width = parsed_attr(host, dir, "max_link_width", "a number", parse_sysfs_uint, problems);
}

// Orders by numeric domain first, so "10000:..." sorts after "ffff:...".
bool bus_id_less(const model::PciGpu& a, const model::PciGpu& b) {
  auto key = [](const std::string& id) {
    auto colon = id.find(':');
    return std::pair(colon == std::string::npos ? id.size() : colon, std::string_view(id));
  };
  return key(a.bus_id) < key(b.bus_id);
}

}  // namespace

std::optional<std::uint32_t> parse_sysfs_hex(std::string_view text) {
  auto s = util::trim(text);
  if (util::starts_with(s, "0x") || util::starts_with(s, "0X")) s.remove_prefix(2);
  if (s.empty() || s.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos) return std::nullopt;
  auto v = util::parse_hex(s);
  if (!v || *v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

std::optional<std::uint32_t> parse_sysfs_uint(std::string_view text) {
  auto v = util::parse_u64(util::trim(text));
  if (!v || *v > std::numeric_limits<std::uint32_t>::max()) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

bool is_nvidia_gpu_class(std::uint32_t class_code) {
  std::uint32_t base_sub = class_code >> 8;
  return base_sub == 0x0300 || base_sub == 0x0302;
}

model::PciInfo read_pci(const host::HostRoot& host) {
  model::PciInfo info;
  auto names = host.list_dir(k_devices_dir);
  if (!names) return info;  // no PCI bus in this root: not present
  for (const auto& name : *names) {
    std::string dir = host::join(k_devices_dir, name);
    std::vector<std::string> problems;
    auto vendor = parsed_attr(host, dir, "vendor", "hex", parse_sysfs_hex, problems);
    if (vendor != k_nvidia_vendor_id) continue;  // unreadable vendor: cannot tell it is ours
    auto class_code = parsed_attr(host, dir, "class", "hex", parse_sysfs_hex, problems);
    if (class_code && !is_nvidia_gpu_class(*class_code)) {
      ++info.other_nvidia_functions;
      continue;
    }
    model::PciGpu gpu;  // an NVIDIA function of unknown class is kept, with the problem
    auto bus_id = model::normalize_bus_id(name);
    if (!bus_id) problems.push_back(fmt::format("{}: directory name is not a PCI bus id", dir));
    gpu.bus_id = bus_id.value_or(name);
    gpu.vendor_id = *vendor;
    gpu.class_code = class_code.value_or(0);
    gpu.problems = std::move(problems);
    fill_gpu(host, dir, gpu);
    info.gpus.push_back(std::move(gpu));
  }
  std::sort(info.gpus.begin(), info.gpus.end(), bus_id_less);
  return info;
}

}  // namespace gd::probe
