#include "scenario.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "cuda_return_codes.hpp"
#include "return_codes.hpp"

namespace gd::sim {
namespace {

using nlohmann::json;

// Thrown inside this file only; parse_scenario turns it into an Error.
class ParseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Buffer sizes from nvml.h, including the NUL.
constexpr std::size_t k_version_len = 80;
constexpr std::size_t k_name_len = 96;
constexpr std::size_t k_uuid_len = 96;
constexpr std::size_t k_serial_len = 30;
constexpr std::uint64_t k_u32_max = std::numeric_limits<std::uint32_t>::max();

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw ParseError(path + ": " + what); }

std::string describe(const json& v) {
  if (v.is_number() || v.is_boolean()) return std::string(v.type_name()) + " " + v.dump();
  return v.type_name();
}

[[noreturn]] void expected(const std::string& path, const std::string& what, const json& got) {
  fail(path, "expected " + what + ", got " + describe(got));
}

std::string child(const std::string& parent, std::string_view key) {
  return parent.empty() ? std::string(key) : parent + "." + std::string(key);
}

std::string element(const std::string& parent, std::size_t index) { return parent + "[" + std::to_string(index) + "]"; }

// The member `key` of `obj`, or nullptr when it is absent or null.
const json* member(const json& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

std::uint64_t as_u64(const json& v, const std::string& path, std::uint64_t max) {
  if (v.is_number_unsigned()) {
    std::uint64_t n = v.get<std::uint64_t>();
    if (n > max) fail(path, "value " + std::to_string(n) + " is out of range (at most " + std::to_string(max) + ")");
    return n;
  }
  if (v.is_number_integer()) expected(path, "a non-negative integer", v);
  if (v.is_number()) expected(path, "an integer", v);
  expected(path, "a number", v);
}

std::optional<std::uint64_t> parse_hex(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  std::uint64_t n = 0;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(s.data() + 2, end, n, 16);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return n;
}

std::optional<std::uint64_t> read_u64(const json& obj, std::string_view key, const std::string& parent,
                                      std::uint64_t max = std::numeric_limits<std::uint64_t>::max()) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  return as_u64(*v, child(parent, key), max);
}

std::optional<unsigned> read_u32(const json& obj, std::string_view key, const std::string& parent,
                                 std::uint64_t max = k_u32_max) {
  auto n = read_u64(obj, key, parent, max);
  if (!n) return std::nullopt;
  return static_cast<unsigned>(*n);
}

// An id or bit mask: an integer or a "0x..." hex string.
std::optional<std::uint64_t> read_hex_or_u64(const json& obj, std::string_view key, const std::string& parent,
                                             std::uint64_t max) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  std::string path = child(parent, key);
  if (!v->is_string()) return as_u64(*v, path, max);
  auto n = parse_hex(v->get<std::string>());
  if (!n) fail(path, "expected an integer or a \"0x...\" hex string, got \"" + v->get<std::string>() + "\"");
  if (*n > max) fail(path, "value " + v->get<std::string>() + " is out of range");
  return n;
}

std::optional<int> read_int(const json& obj, std::string_view key, const std::string& parent) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  std::string path = child(parent, key);
  if (!v->is_number_integer()) expected(path, "an integer", *v);
  std::int64_t n = v->get<std::int64_t>();
  if (v->is_number_unsigned() && v->get<std::uint64_t>() > static_cast<std::uint64_t>(INT32_MAX)) {
    fail(path, "value out of range");
  }
  if (n < INT32_MIN || n > INT32_MAX) fail(path, "value out of range");
  return static_cast<int>(n);
}

std::optional<bool> read_bool(const json& obj, std::string_view key, const std::string& parent) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  if (!v->is_boolean()) expected(child(parent, key), "true or false", *v);
  return v->get<bool>();
}

std::optional<std::string> read_string(const json& obj, std::string_view key, const std::string& parent,
                                       std::size_t buffer_len) {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  std::string path = child(parent, key);
  if (!v->is_string()) expected(path, "a string", *v);
  std::string s = v->get<std::string>();
  if (s.size() + 1 > buffer_len) {
    fail(path, "longer than NVML's " + std::to_string(buffer_len) + "-byte buffer allows");
  }
  return s;
}

std::string require_string(const json& obj, std::string_view key, const std::string& parent, std::size_t buffer_len) {
  auto s = read_string(obj, key, parent, buffer_len);
  if (!s) fail(child(parent, key), "missing (required)");
  return *s;
}

// The member `key` when it is an object; nullptr when absent or null.
const json* read_object(const json& obj, std::string_view key, const std::string& parent) {
  const json* v = member(obj, key);
  if (v && !v->is_object()) expected(child(parent, key), "an object", *v);
  return v;
}

// Parses one hex field of a bus id; nullopt unless 1..max_digits hex digits.
std::optional<unsigned> bus_id_part(std::string_view s, std::size_t max_digits) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  unsigned n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n, 16);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return n;
}

// "DDDDDDDD:BB:DD.F" (domain 1-8 hex digits, device <= 0x1f).
std::optional<PciAddress> parse_bus_id(std::string_view s) {
  std::size_t c1 = s.find(':');
  std::size_t c2 = s.find(':', c1 == std::string_view::npos ? c1 : c1 + 1);
  std::size_t dot = s.find('.', c2 == std::string_view::npos ? c2 : c2 + 1);
  if (c1 == std::string_view::npos || c2 == std::string_view::npos || dot == std::string_view::npos) {
    return std::nullopt;
  }
  auto domain = bus_id_part(s.substr(0, c1), 8);
  auto bus = bus_id_part(s.substr(c1 + 1, c2 - c1 - 1), 2);
  auto device = bus_id_part(s.substr(c2 + 1, dot - c2 - 1), 2);
  auto function = bus_id_part(s.substr(dot + 1), 1);
  if (!domain || !bus || !device || !function || *device > 0x1f || *function > 7) return std::nullopt;
  return PciAddress{*domain, *bus, *device};
}

ClocksMhz parse_clocks(const json& gpu, std::string_view key, const std::string& path) {
  ClocksMhz clocks;
  const json* obj = read_object(gpu, key, path);
  if (!obj) return clocks;
  std::string p = child(path, key);
  clocks.graphics = read_u32(*obj, "graphics", p);
  clocks.sm = read_u32(*obj, "sm", p);
  clocks.mem = read_u32(*obj, "mem", p);
  return clocks;
}

EccErrorCounts parse_ecc_errors(const json& gpu, const std::string& path) {
  EccErrorCounts counts;
  const json* obj = read_object(gpu, "ecc_errors", path);
  if (!obj) return counts;
  std::string p = child(path, "ecc_errors");
  counts.corrected_volatile = read_u64(*obj, "corrected_volatile", p);
  counts.corrected_aggregate = read_u64(*obj, "corrected_aggregate", p);
  counts.uncorrected_volatile = read_u64(*obj, "uncorrected_volatile", p);
  counts.uncorrected_aggregate = read_u64(*obj, "uncorrected_aggregate", p);
  return counts;
}

std::optional<RemappedRows> parse_remapped_rows(const json& gpu, const std::string& path) {
  const json* obj = read_object(gpu, "remapped_rows", path);
  if (!obj) return std::nullopt;
  std::string p = child(path, "remapped_rows");
  RemappedRows rows;
  rows.correctable = read_u32(*obj, "correctable", p).value_or(0);
  rows.uncorrectable = read_u32(*obj, "uncorrectable", p).value_or(0);
  rows.pending = read_bool(*obj, "pending", p).value_or(false);
  rows.failure = read_bool(*obj, "failure", p).value_or(false);
  return rows;
}

PcieLink parse_pcie(const json& gpu, const std::string& path) {
  PcieLink link;
  const json* obj = read_object(gpu, "pcie", path);
  if (!obj) return link;
  std::string p = child(path, "pcie");
  link.gen = read_u32(*obj, "gen", p);
  link.width = read_u32(*obj, "width", p);
  link.max_gen = read_u32(*obj, "max_gen", p);
  link.max_width = read_u32(*obj, "max_width", p);
  return link;
}

PciAddress parse_gpu_bus_id(const json& obj, const std::string& path) {
  std::string text = require_string(obj, "bus_id", path, 32);
  auto address = parse_bus_id(text);
  if (!address) fail(child(path, "bus_id"), "expected \"DDDDDDDD:BB:DD.F\" in hex, got \"" + text + "\"");
  return *address;
}

void parse_identity(const json& obj, const std::string& path, Gpu& gpu) {
  gpu.name = require_string(obj, "name", path, k_name_len);
  gpu.uuid = require_string(obj, "uuid", path, k_uuid_len);
  gpu.serial = read_string(obj, "serial", path, k_serial_len);
  gpu.pci = parse_gpu_bus_id(obj, path);
  gpu.pci_device_id = read_hex_or_u64(obj, "pci_device_id", path, k_u32_max).value_or(gpu.pci_device_id);
  gpu.pci_subsystem_id = read_hex_or_u64(obj, "pci_subsystem_id", path, k_u32_max).value_or(gpu.pci_subsystem_id);
  gpu.minor = read_u32(obj, "minor", path);
  gpu.persistence_mode = read_bool(obj, "persistence_mode", path);
}

void parse_thermal_and_power(const json& obj, const std::string& path, Gpu& gpu) {
  gpu.temperature_c = read_u32(obj, "temperature_c", path);
  gpu.slowdown_temp_c = read_u32(obj, "slowdown_temp_c", path);
  gpu.shutdown_temp_c = read_u32(obj, "shutdown_temp_c", path);
  gpu.power_mw = read_u32(obj, "power_mw", path);
  gpu.power_limit_mw = read_u32(obj, "power_limit_mw", path);
  gpu.energy_mj = read_u64(obj, "energy_mj", path);
  gpu.fan_percent = read_u32(obj, "fan_percent", path);
}

void parse_load(const json& obj, const std::string& path, Gpu& gpu) {
  gpu.memory_total_bytes = read_u64(obj, "memory_total_bytes", path);
  gpu.memory_used_bytes = read_u64(obj, "memory_used_bytes", path).value_or(0);
  if (gpu.memory_total_bytes && gpu.memory_used_bytes > *gpu.memory_total_bytes) {
    fail(child(path, "memory_used_bytes"), "larger than memory_total_bytes");
  }
  gpu.utilization_gpu = read_u32(obj, "utilization_gpu", path, 100);
  gpu.utilization_memory = read_u32(obj, "utilization_memory", path, 100).value_or(0);
  gpu.clocks_mhz = parse_clocks(obj, "clocks_mhz", path);
  gpu.max_clocks_mhz = parse_clocks(obj, "max_clocks_mhz", path);
  gpu.clock_event_reasons =
      read_hex_or_u64(obj, "clock_event_reasons", path, std::numeric_limits<std::uint64_t>::max());
  gpu.pstate = read_int(obj, "pstate", path);
  if (gpu.pstate && !((*gpu.pstate >= 0 && *gpu.pstate <= 15) || *gpu.pstate == 32)) {
    fail(child(path, "pstate"), "expected 0..15 or 32 (unknown), got " + std::to_string(*gpu.pstate));
  }
}

void parse_health(const json& obj, const std::string& path, Gpu& gpu) {
  gpu.ecc_mode = read_bool(obj, "ecc_mode", path);
  gpu.ecc_mode_pending = read_bool(obj, "ecc_mode_pending", path);
  if (!gpu.ecc_mode_pending) gpu.ecc_mode_pending = gpu.ecc_mode;
  gpu.ecc_errors = parse_ecc_errors(obj, path);
  gpu.retired_pages_pending = read_bool(obj, "retired_pages_pending", path);
  gpu.remapped_rows = parse_remapped_rows(obj, path);
  gpu.recovery_action = read_u32(obj, "recovery_action", path, 5);
  gpu.pcie = parse_pcie(obj, path);
}

// "0-27,56-83": CPU numbers, each at most max.
std::vector<unsigned> parse_cpu_list(const json& obj, std::string_view key, const std::string& parent) {
  std::vector<unsigned> cpus;
  auto text = read_string(obj, key, parent, 4096);
  if (!text) return cpus;
  std::string path = child(parent, key);
  std::string_view rest = *text;
  auto number = [&](std::string_view part) {
    unsigned n = 0;
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), n);
    if (part.empty() || ec != std::errc() || ptr != part.data() + part.size() || n >= 4096)
      fail(path, "expected CPU ranges like \"0-27,56-83\" (CPUs below 4096), got \"" + *text + "\"");
    return n;
  };
  while (!rest.empty()) {
    std::size_t comma = rest.find(',');
    std::string_view range = rest.substr(0, comma);
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    std::size_t dash = range.find('-');
    unsigned lo = number(range.substr(0, dash));
    unsigned hi = dash == std::string_view::npos ? lo : number(range.substr(dash + 1));
    if (hi < lo) fail(path, "range " + std::string(range) + " ends before it starts");
    for (unsigned c = lo; c <= hi; ++c) cpus.push_back(c);
  }
  return cpus;
}

std::vector<unsigned> parse_mhz_list(const json& obj, std::string_view key, const std::string& parent) {
  std::vector<unsigned> out;
  const json* v = member(obj, key);
  if (!v) return out;
  std::string path = child(parent, key);
  if (!v->is_array()) expected(path, "an array of MHz", *v);
  for (std::size_t i = 0; i < v->size(); ++i) out.push_back(static_cast<unsigned>(as_u64((*v)[i], element(path, i), 100000)));
  std::sort(out.rbegin(), out.rend());
  return out;
}

std::vector<GpuProcess> parse_processes(const json& obj, const std::string& parent) {
  std::vector<GpuProcess> out;
  const json* v = member(obj, "processes");
  if (!v) return out;
  std::string path = child(parent, "processes");
  if (!v->is_array()) expected(path, "an array of processes", *v);
  if (v->size() > 256) fail(path, "more than 256 processes");
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string p = element(path, i);
    const json& e = (*v)[i];
    if (!e.is_object()) expected(p, "an object", e);
    GpuProcess proc;
    auto pid = read_u32(e, "pid", p);
    if (!pid) fail(child(p, "pid"), "missing (required)");
    proc.pid = *pid;
    proc.used_bytes = read_u64(e, "used_bytes", p);
    proc.sm_util = read_u32(e, "sm_util", p, 100);
    proc.mem_util = read_u32(e, "mem_util", p, 100);
    proc.mig_device = read_u32(e, "mig_device", p, 6);
    std::string type = read_string(e, "type", p, 16).value_or("compute");
    if (type == "compute") proc.kind = GpuProcess::Kind::compute;
    else if (type == "graphics") proc.kind = GpuProcess::Kind::graphics;
    else if (type == "mps") proc.kind = GpuProcess::Kind::mps;
    else fail(child(p, "type"), "expected \"compute\", \"graphics\" or \"mps\", got \"" + type + "\"");
    out.push_back(proc);
  }
  return out;
}

std::vector<NvLink> parse_nvlinks(const json& obj, const std::string& parent) {
  std::vector<NvLink> out;
  const json* v = member(obj, "nvlinks");
  if (!v) return out;
  std::string path = child(parent, "nvlinks");
  if (!v->is_array()) expected(path, "an array of links", *v);
  if (v->size() > 18) fail(path, "more than NVML_NVLINK_MAX_LINKS (18) links");
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string p = element(path, i);
    const json& e = (*v)[i];
    if (!e.is_object()) expected(p, "an object", e);
    NvLink link;
    link.active = read_bool(e, "active", p).value_or(false);
    if (auto remote = read_string(e, "remote_bus_id", p, 32)) {
      link.remote = parse_bus_id(*remote);
      if (!link.remote) fail(child(p, "remote_bus_id"), "expected \"DDDDDDDD:BB:DD.F\" in hex, got \"" + *remote + "\"");
    }
    link.remote_device_id = static_cast<std::uint32_t>(
        read_hex_or_u64(e, "remote_device_id", p, k_u32_max).value_or(link.remote_device_id));
    out.push_back(link);
  }
  return out;
}

std::vector<MigDevice> parse_mig_devices(const json& obj, const std::string& parent, const Gpu& gpu) {
  std::vector<MigDevice> out;
  const json* v = member(obj, "mig_devices");
  if (!v) return out;
  std::string path = child(parent, "mig_devices");
  if (!v->is_array()) expected(path, "an array of MIG devices", *v);
  if (v->size() > 7) fail(path, "more than 7 MIG devices");
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string p = element(path, i);
    const json& e = (*v)[i];
    if (!e.is_object()) expected(p, "an object", e);
    MigDevice m;
    m.uuid = require_string(e, "uuid", p, k_uuid_len);
    m.profile = require_string(e, "profile", p, 32);
    m.gpu_instance_id = read_u32(e, "gpu_instance_id", p).value_or(static_cast<unsigned>(i + 1));
    m.compute_instance_id = read_u32(e, "compute_instance_id", p).value_or(0);
    m.slices = read_u32(e, "slices", p, 8).value_or(1);
    m.multiprocessor_count = read_u32(e, "multiprocessor_count", p).value_or(0);
    auto total = read_u64(e, "memory_total_bytes", p);
    if (!total) fail(child(p, "memory_total_bytes"), "missing (required)");
    m.memory_total_bytes = *total;
    m.memory_used_bytes = read_u64(e, "memory_used_bytes", p).value_or(0);
    if (m.memory_used_bytes > m.memory_total_bytes) fail(child(p, "memory_used_bytes"), "larger than memory_total_bytes");
    if (gpu.memory_total_bytes && m.memory_total_bytes > *gpu.memory_total_bytes)
      fail(child(p, "memory_total_bytes"), "larger than the GPU's memory");
    out.push_back(std::move(m));
  }
  return out;
}

void parse_client_facts(const json& obj, const std::string& path, Gpu& gpu) {
  ClientFacts& c = gpu.client;
  c.brand = read_int(obj, "brand", path);
  c.architecture = read_u32(obj, "architecture", path);
  if (auto cc = read_string(obj, "compute_capability", path, 16)) {
    unsigned major = 0, minor = 0;
    char dot = 0;
    if (std::sscanf(cc->c_str(), "%u%c%u", &major, &dot, &minor) != 3 || dot != '.' || major > 99 || minor > 9)
      fail(child(path, "compute_capability"), "expected \"MAJOR.MINOR\" like \"9.0\", got \"" + *cc + "\"");
    c.cc_major = static_cast<int>(major);
    c.cc_minor = static_cast<int>(minor);
  }
  c.vbios_version = read_string(obj, "vbios_version", path, 32);
  c.board_part_number = read_string(obj, "board_part_number", path, 80);
  c.inforom_image_version = read_string(obj, "inforom_image_version", path, 16);
  c.board_id = read_u32(obj, "board_id", path);
  c.power_default_limit_mw = read_u32(obj, "power_default_limit_mw", path);
  c.power_min_limit_mw = read_u32(obj, "power_min_limit_mw", path);
  c.power_max_limit_mw = read_u32(obj, "power_max_limit_mw", path);
  if (const json* app = read_object(obj, "applications_clocks_mhz", path)) {
    c.app_graphics_mhz = read_u32(*app, "graphics", child(path, "applications_clocks_mhz"));
    c.app_mem_mhz = read_u32(*app, "mem", child(path, "applications_clocks_mhz"));
  }
  if (const json* app = read_object(obj, "default_applications_clocks_mhz", path)) {
    c.default_app_graphics_mhz = read_u32(*app, "graphics", child(path, "default_applications_clocks_mhz"));
    c.default_app_mem_mhz = read_u32(*app, "mem", child(path, "default_applications_clocks_mhz"));
  }
  if (const json* sup = read_object(obj, "supported_clocks_mhz", path)) {
    c.supported_mem_mhz = parse_mhz_list(*sup, "mem", child(path, "supported_clocks_mhz"));
    c.supported_graphics_mhz = parse_mhz_list(*sup, "graphics", child(path, "supported_clocks_mhz"));
  }
  c.encoder_util = read_u32(obj, "encoder_util", path, 100);
  c.decoder_util = read_u32(obj, "decoder_util", path, 100);
  if (const json* pcie = read_object(obj, "pcie", path)) {
    c.pcie_tx_kbps = read_u32(*pcie, "tx_kbps", child(path, "pcie"));
    c.pcie_rx_kbps = read_u32(*pcie, "rx_kbps", child(path, "pcie"));
    c.pcie_replay_counter = read_u32(*pcie, "replay_counter", child(path, "pcie"));
  }
  c.mig_mode = read_bool(obj, "mig_mode", path);
  c.mig_mode_pending = read_bool(obj, "mig_mode_pending", path);
  if (!c.mig_mode_pending) c.mig_mode_pending = c.mig_mode;
  if (c.mig_mode_pending && !c.mig_mode) fail(child(path, "mig_mode_pending"), "given without mig_mode");
  c.mig_devices = parse_mig_devices(obj, path, gpu);
  if (!c.mig_devices.empty() && !c.mig_mode.value_or(false))
    fail(child(path, "mig_devices"), "MIG devices need \"mig_mode\": true");
  c.numa_node = read_u32(obj, "numa_node", path, 1023);
  c.cpus = parse_cpu_list(obj, "cpu_affinity", path);
  c.nvlinks = parse_nvlinks(obj, path);
  c.multiprocessor_count = read_u32(obj, "multiprocessor_count", path);
  c.num_gpu_cores = read_u32(obj, "num_gpu_cores", path);
  c.memory_bus_width = read_u32(obj, "memory_bus_width", path);
  c.bar1_total_bytes = read_u64(obj, "bar1_total_bytes", path);
  c.memory_reserved_bytes = read_u64(obj, "memory_reserved_bytes", path);
  if (c.memory_reserved_bytes && gpu.memory_total_bytes &&
      *c.memory_reserved_bytes + gpu.memory_used_bytes > *gpu.memory_total_bytes)
    fail(child(path, "memory_reserved_bytes"), "reserved + used is larger than memory_total_bytes");
  c.compute_mode = read_int(obj, "compute_mode", path);
  if (c.compute_mode && (*c.compute_mode < 0 || *c.compute_mode > 3))
    fail(child(path, "compute_mode"), "expected 0..3 (nvmlComputeMode_t)");
  c.processes = parse_processes(obj, path);
  for (std::size_t i = 0; i < c.processes.size(); ++i)
    if (c.processes[i].mig_device && *c.processes[i].mig_device >= c.mig_devices.size())
      fail(element(child(path, "processes"), i) + ".mig_device", "not an index into mig_devices");
  if (const json* inforom = read_object(obj, "inforom_versions", path)) {
    std::string p = child(path, "inforom_versions");
    c.inforom_versions = {read_string(*inforom, "oem", p, 16), read_string(*inforom, "ecc", p, 16),
                          read_string(*inforom, "power", p, 16)};
  }
  c.inforom_checksum = read_u32(obj, "inforom_checksum", path);
  c.inforom_corrupted = read_bool(obj, "inforom_corrupted", path).value_or(false);
  c.display = read_bool(obj, "display_mode", path);
  c.virtualization_mode = read_int(obj, "virtualization_mode", path);
  c.ecc_default = read_bool(obj, "ecc_mode_default", path);
  c.supported_event_reasons =
      read_hex_or_u64(obj, "supported_clock_event_reasons", path, std::numeric_limits<std::uint64_t>::max());
  if (const json* pages = read_object(obj, "retired_pages", path)) {
    std::string p = child(path, "retired_pages");
    std::array<std::vector<unsigned long long>, 2> lists;
    const char* keys[] = {"single_bit", "double_bit"};
    for (int k = 0; k < 2; ++k) {
      const json* list = member(*pages, keys[k]);
      if (!list) continue;
      if (!list->is_array()) expected(child(p, keys[k]), "an array of page addresses", *list);
      if (list->size() > 1024) fail(child(p, keys[k]), "more than 1024 pages");
      for (std::size_t i = 0; i < list->size(); ++i)
        lists[k].push_back(as_u64((*list)[i], element(child(p, keys[k]), i), std::numeric_limits<std::uint64_t>::max()));
    }
    c.retired_pages = lists;
  }
  c.accounting_mode = read_bool(obj, "accounting_mode", path);
  c.multi_gpu_board = read_bool(obj, "multi_gpu_board", path);
  c.irq = read_u32(obj, "irq", path);
  c.nvlink_version = read_u32(obj, "nvlink_version", path);
  c.gsp_firmware = read_bool(obj, "gsp_firmware", path);
  c.pcie_switch = read_string(obj, "pcie_switch", path, 64);
  if (auto state = read_string(obj, "fabric_state", path, 16)) {
    const char* names[] = {"not_supported", "not_started", "in_progress", "completed"};
    auto it = std::find(std::begin(names), std::end(names), *state);
    if (it == std::end(names))
      fail(child(path, "fabric_state"), "expected not_supported, not_started, in_progress or completed, got \"" + *state + "\"");
    c.fabric_state = static_cast<int>(it - std::begin(names));
  }
  c.remap_banks = read_u32(obj, "remap_banks", path);
}

// "<prefix>_ms" or "<prefix>_sample" (not both); an empty Moment when neither.
Moment parse_moment(const json& obj, const std::string& path, std::string_view prefix) {
  Moment m;
  m.ms = read_u64(obj, std::string(prefix) + "_ms", path);
  m.sample = read_u64(obj, std::string(prefix) + "_sample", path);
  if (m.ms && m.sample)
    fail(path, "give " + std::string(prefix) + "_ms or " + std::string(prefix) + "_sample, not both");
  return m;
}

// A reading's value in a change: an integer, a "0x..." string, or null (set only).
std::optional<double> change_value(const json& obj, std::string_view key, const std::string& path,
                                   const Reading& reading) {
  auto v = read_hex_or_u64(obj, key, path, reading.max);
  return v ? std::optional<double>(static_cast<double>(*v)) : std::nullopt;
}

Change parse_change(const json& obj, const std::string& path, const Reading& reading) {
  if (!obj.is_object()) expected(path, "an object", obj);
  Change c;
  if (obj.contains("set")) {
    c.kind = Change::Kind::set;
    c.from = parse_moment(obj, path, "at");
    if (!c.from.ms && !c.from.sample) fail(path, "\"set\" needs at_ms or at_sample");
    c.value = change_value(obj, "set", path, reading);
  } else if (obj.contains("ramp_to")) {
    c.kind = Change::Kind::ramp;
    c.from = parse_moment(obj, path, "from");
    c.to = parse_moment(obj, path, "to");
    bool ms = c.from.ms && c.to.ms, samples = c.from.sample && c.to.sample;
    if (!ms && !samples) fail(path, "a ramp needs from_ms and to_ms, or from_sample and to_sample");
    if (ms ? *c.to.ms < *c.from.ms : *c.to.sample < *c.from.sample) fail(path, "the ramp ends before it starts");
    c.value = change_value(obj, "ramp_to", path, reading);
    if (!c.value) fail(child(path, "ramp_to"), "expected a number, got null");
  } else if (obj.contains("noise")) {
    c.kind = Change::Kind::noise;
    c.amplitude = read_u64(obj, "noise", path, k_u32_max).value_or(0);
    c.seed = read_u64(obj, "seed", path).value_or(0);
    c.period_ms = read_u64(obj, "period_ms", path).value_or(0);
  } else {
    fail(path, "expected \"set\", \"ramp_to\" or \"noise\"");
  }
  return c;
}

std::vector<Timeline> parse_over_time(const json& gpu, const std::string& path, const Gpu& parsed) {
  std::vector<Timeline> out;
  const json* obj = read_object(gpu, "over_time", path);
  if (!obj) return out;
  std::string p = child(path, "over_time");
  for (const auto& [key, list] : obj->items()) {
    const Reading* r = find_reading(key);
    if (!r) fail(child(p, key), "not a reading that can change (one of: " + reading_keys() + ")");
    if (!list.is_array()) expected(child(p, key), "an array of changes", list);
    Timeline t{r, r->get(parsed), {}};
    for (std::size_t i = 0; i < list.size(); ++i)
      t.changes.push_back(parse_change(list[i], element(child(p, key), i), *r));
    out.push_back(std::move(t));
  }
  return out;
}

bool timed(const Moment& m) { return m.ms.has_value(); }

Gpu parse_gpu(const json& obj, const std::string& path) {
  if (!obj.is_object()) expected(path, "an object", obj);
  Gpu gpu;
  parse_identity(obj, path, gpu);
  parse_thermal_and_power(obj, path, gpu);
  parse_load(obj, path, gpu);
  parse_health(obj, path, gpu);
  parse_client_facts(obj, path, gpu);
  gpu.event_types =
      read_hex_or_u64(obj, "event_types", path, std::numeric_limits<std::uint64_t>::max()).value_or(gpu.event_types);
  gpu.over_time = parse_over_time(obj, path, gpu);
  return gpu;
}

std::vector<Gpu> parse_gpus(const json& root) {
  std::vector<Gpu> gpus;
  const json* list = member(root, "gpus");
  if (!list) return gpus;
  if (!list->is_array()) expected("gpus", "an array", *list);
  if (list->size() > k_max_gpus) fail("gpus", "more than " + std::to_string(k_max_gpus) + " GPUs");
  std::set<std::string> uuids;
  for (std::size_t i = 0; i < list->size(); ++i) {
    gpus.push_back(parse_gpu((*list)[i], element("gpus", i)));
    if (!uuids.insert(gpus.back().uuid).second) fail(element("gpus", i) + ".uuid", "duplicate UUID");
  }
  return gpus;
}

// The vocabulary of one library's faults: its call names and return-code names.
struct CallNames {
  bool (*known)(std::string_view);
  std::optional<int> (*code)(std::string_view);
};
constexpr CallNames k_nvml_names{is_known_call, parse_return_name};
constexpr CallNames k_cuda_names{is_known_cuda_call, parse_cuda_result_name};

std::optional<int> parse_return(const json& obj, const std::string& path, const CallNames& names = k_nvml_names,
                                std::string_view key = "return") {
  const json* v = member(obj, key);
  if (!v) return std::nullopt;
  std::string p = child(path, key);
  if (v->is_string()) {
    auto code = names.code(v->get<std::string>());
    if (!code) fail(p, "unknown return code \"" + v->get<std::string>() + "\"");
    return code;
  }
  return read_int(obj, key, path);
}

Fault parse_fault(const json& obj, const std::string& path, std::size_t gpu_count,
                  const CallNames& names = k_nvml_names) {
  if (!obj.is_object()) expected(path, "an object", obj);
  Fault fault;
  auto call = read_string(obj, "call", path, 128);
  if (!call) fail(child(path, "call"), "missing (required)");
  fault.call = *call == "*" ? *call : normalize_call(*call);
  if (fault.call != "*" && !names.known(fault.call)) {
    fail(child(path, "call"), "\"" + *call + "\" is not a call the simulator exports");
  }
  fault.gpu = read_u32(obj, "gpu", path);
  if (fault.gpu && *fault.gpu >= gpu_count) {
    fail(child(path, "gpu"),
         std::to_string(*fault.gpu) + " is not an index into gpus (" + std::to_string(gpu_count) + " listed)");
  }
  fault.return_code = parse_return(obj, path, names);
  fault.hang = read_bool(obj, "hang", path).value_or(false);
  fault.crash = read_bool(obj, "crash", path).value_or(false);
  if (!fault.return_code && !fault.hang && !fault.crash)
    fail(path, "needs \"return\", \"hang\": true or \"crash\": true");
  fault.after_calls = read_u64(obj, "after_calls", path).value_or(0);
  fault.after_ms = read_u64(obj, "after_ms", path).value_or(0);
  fault.at = parse_moment(obj, path, "at");
  if (&names == &k_cuda_names && (fault.at.ms || fault.at.sample))
    fail(path, "at_ms and at_sample apply to NVML faults only");
  fault.loaded_at = std::chrono::steady_clock::now();
  return fault;
}

std::vector<Fault> parse_faults(const json& root, std::size_t gpu_count, const CallNames& names = k_nvml_names,
                                const std::string& parent = "") {
  std::vector<Fault> faults;
  const json* list = member(root, "faults");
  if (!list) return faults;
  std::string path = child(parent, "faults");
  if (!list->is_array()) expected(path, "an array", *list);
  for (std::size_t i = 0; i < list->size(); ++i)
    faults.push_back(parse_fault((*list)[i], element(path, i), gpu_count, names));
  return faults;
}

// The "cuda" section. Without an init_return, cuInit follows the first
// system-wide nvmlInit fault, as both libraries share one kernel driver.
CudaSection parse_cuda(const json& root, const Scenario& scenario) {
  CudaSection cuda;
  cuda.driver_version = scenario.cuda_driver_version;
  std::optional<int> init_return;
  if (const json* obj = read_object(root, "cuda", "")) {
    if (auto v = read_int(*obj, "driver_version", "cuda")) cuda.driver_version = v;
    cuda.init_delay = std::chrono::milliseconds(read_u32(*obj, "init_delay_ms", "cuda").value_or(0));
    cuda.faults = parse_faults(*obj, scenario.gpus.size(), k_cuda_names, "cuda");
    init_return = parse_return(*obj, "cuda", k_cuda_names, "init_return");
  }
  if (init_return) {
    cuda.faults.push_back(Fault{"cuInit", std::nullopt, init_return, false});
  } else if (const Fault* f = find_fault(scenario.faults, "nvmlInit", std::nullopt)) {
    int code = f->return_code ? cuda_result_for_nvml_init(*f->return_code) : 0;
    if (f->hang || code != 0) cuda.faults.push_back(Fault{"cuInit", std::nullopt, code, f->hang});
  }
  for (const Fault& f : scenario.faults) f.matched = 0;  // that look-up was not a call
  return cuda;
}

std::filesystem::path parse_state_file(const json& root, const std::filesystem::path& file) {
  auto name = read_string(root, "state_file", "", 4096);
  if (!name) return std::filesystem::path(file.string() + ".state");
  if (name->empty()) fail("state_file", "empty");
  std::filesystem::path path(*name);
  return path.is_absolute() ? path : file.parent_path() / path;
}

std::optional<FailureModel> parse_failure_model(const json& root, const std::filesystem::path& file,
                                                std::size_t gpu_count) {
  const json* fm = member(root, "failure_model");
  if (!fm) return std::nullopt;
  if (!fm->is_object()) expected("failure_model", "an object", *fm);
  FailureModel m;
  m.lose_after_cycles = read_u64(*fm, "lose_after_cycles", "failure_model").value_or(0);
  m.lose_gpu = read_u32(*fm, "lose_gpu", "failure_model");
  if (m.lose_gpu && *m.lose_gpu >= gpu_count)
    fail("failure_model.lose_gpu", "no GPU with index " + std::to_string(*m.lose_gpu));
  m.cold_init_delay = std::chrono::milliseconds(read_u32(*fm, "cold_init_delay_ms", "failure_model").value_or(0));
  if (auto log = read_string(*fm, "kernel_log", "failure_model", 4096)) {
    std::filesystem::path path(*log);
    m.kernel_log = path.is_absolute() ? path : file.parent_path() / path;
  }
  return m;
}

std::filesystem::path relative_to(const std::filesystem::path& file, const std::string& name) {
  std::filesystem::path path(name);
  return path.is_absolute() ? path : file.parent_path() / path;
}

std::vector<XidEvent> parse_xid_events(const json& root, std::size_t gpu_count) {
  std::vector<XidEvent> out;
  const json* list = member(root, "xid_events");
  if (!list) return out;
  if (!list->is_array()) expected("xid_events", "an array", *list);
  for (std::size_t i = 0; i < list->size(); ++i) {
    std::string path = element("xid_events", i);
    const json& obj = (*list)[i];
    if (!obj.is_object()) expected(path, "an object", obj);
    XidEvent e;
    auto gpu = read_u32(obj, "gpu", path);
    if (!gpu) fail(child(path, "gpu"), "missing (required)");
    if (*gpu >= gpu_count) fail(child(path, "gpu"), std::to_string(*gpu) + " is not an index into gpus");
    e.gpu = *gpu;
    auto xid = read_u64(obj, "xid", path, 0xffffffff);
    if (!xid) fail(child(path, "xid"), "missing (required)");
    e.xid = *xid;
    e.at = parse_moment(obj, path, "at");
    if (!e.at.ms && !e.at.sample) fail(path, "needs at_ms or at_sample");
    e.pid = read_int(obj, "pid", path);
    e.process = read_string(obj, "process", path, 256);
    e.message = read_string(obj, "message", path, 4096);
    out.push_back(std::move(e));
  }
  return out;
}

bool uses_clock(const Scenario& s) {
  for (const Fault& f : s.faults)
    if (timed(f.at)) return true;
  for (const XidEvent& e : s.xid_events)
    if (timed(e.at)) return true;
  for (const Gpu& g : s.gpus)
    for (const Timeline& t : g.over_time)
      for (const Change& c : t.changes)
        if (timed(c.from) || c.period_ms > 0) return true;
  return false;
}

Scenario parse_root(const json& root, const std::filesystem::path& file) {
  if (!root.is_object()) fail("top level", "expected an object, got " + describe(root));
  Scenario scenario;
  scenario.file = file;
  scenario.driver_version = read_string(root, "driver_version", "", k_version_len);
  scenario.nvml_version = read_string(root, "nvml_version", "", k_version_len);
  scenario.cuda_driver_version = read_int(root, "cuda_driver_version", "");
  scenario.init_delay = std::chrono::milliseconds(read_u32(root, "init_delay_ms", "").value_or(0));
  scenario.state_file = parse_state_file(root, file);
  scenario.gpus = parse_gpus(root);
  scenario.faults = parse_faults(root, scenario.gpus.size());
  scenario.cuda = parse_cuda(root, scenario);
  scenario.failure_model = parse_failure_model(root, file, scenario.gpus.size());
  scenario.xid_events = parse_xid_events(root, scenario.gpus.size());
  if (auto log = read_string(root, "kernel_log", "", 4096)) scenario.kernel_log = relative_to(file, *log);
  if (!scenario.kernel_log && scenario.failure_model) scenario.kernel_log = scenario.failure_model->kernel_log;
  scenario.uses_clock = uses_clock(scenario);
  scenario.lost.assign(scenario.gpus.size(), false);
  scenario.xid_logged.assign(scenario.xid_events.size(), false);
  return scenario;
}

// nlohmann's what() starts with "[json.exception.parse_error.101] "; drop it.
std::string without_exception_tag(const std::string& what) {
  std::size_t close = what.find("] ");
  return what.rfind("[json.exception.", 0) == 0 && close != std::string::npos ? what.substr(close + 2) : what;
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view text, const std::filesystem::path& file) {
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    return make_error("invalid JSON: " + without_exception_tag(e.what()));
  }
  try {
    return parse_root(root, file);
  } catch (const ParseError& e) {
    return make_error(e.what());
  }
}

Result<Scenario> load_scenario(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(std::string("cannot open for reading: ") + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error("read error");
  return parse_scenario(text.str(), file);
}

}  // namespace gd::sim
