#include "gd/importer/nvidia_smi.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include <fmt/format.h>

#include "gd/model/bus_id.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::importer {

namespace {

using util::starts_with;
using util::trim;

constexpr std::size_t k_max_named = 20;

void skip(SmiParse& out, std::string text) {
  if (out.skipped.size() < k_max_named) out.skipped.push_back(util::printable(text, 200));
  ++out.skipped_count;
}

// ---- values -------------------------------------------------------------------

// nvidia-smi's words for "no value": the field is left unset.
bool absent(std::string_view v) {
  v = trim(v);
  if (v.size() >= 2 && v.front() == '[' && v.back() == ']') v = v.substr(1, v.size() - 2);
  return v.empty() || v == "N/A" || v == "Not Supported" || v == "Unknown Error" || v == "Insufficient Permissions" ||
         v == "ERR!" || v == "Not Available" || starts_with(v, "Requested functionality");
}

// "35.12 W", "16160MiB", "34 C", "16x": the number and the unit after it.
std::optional<double> number(std::string_view v, std::string_view& unit) {
  v = trim(v);
  std::size_t i = 0;
  if (i < v.size() && v[i] == '-') ++i;
  std::size_t digits = 0;
  while (i < v.size() && ((v[i] >= '0' && v[i] <= '9') || v[i] == '.')) ++i, ++digits;
  if (digits == 0 || digits > 24) return std::nullopt;
  std::string num(v.substr(0, i));
  char* end = nullptr;
  double d = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return std::nullopt;
  unit = trim(v.substr(i));
  return d;
}

// The number when its unit is one of `units` ("" always accepted: nounits).
std::optional<double> number_in(std::string_view v, std::initializer_list<std::string_view> units) {
  if (absent(v)) return std::nullopt;
  std::string_view unit;
  auto d = number(v, unit);
  if (!d || *d < 0) return std::nullopt;
  if (unit.empty()) return d;
  for (auto u : units)
    if (unit == u) return d;
  return std::nullopt;
}

// "16160 MiB" -> bytes.
std::optional<double> mib(std::string_view v) {
  auto d = number_in(v, {"MiB"});
  if (!d) return std::nullopt;
  return *d * 1048576.0;
}

// (negative, NaN and out-of-range values are no value: converting them would be undefined. Found by fuzz_nvidia_smi.)
std::optional<unsigned> whole(std::optional<double> d) {
  if (!d || !(*d >= 0) || *d > 4e9) return std::nullopt;
  return static_cast<unsigned>(*d + 0.5);
}

std::optional<bool> yes_no(std::string_view v) {
  v = trim(v);
  if (v == "Enabled" || v == "On" || v == "Yes" || v == "Active" || v == "1") return true;
  if (v == "Disabled" || v == "Off" || v == "No" || v == "Not Active" || v == "0") return false;
  return std::nullopt;
}

// ---- one table of fields: --query-gpu names and -q paths ----------------------

using Setter = bool (*)(model::NvmlGpu&, std::string_view);

struct SmiField {
  std::string_view csv;    // --query-gpu names, '|' between aliases
  std::string_view query;  // `nvidia-smi -q` paths (section/key), '|' between the generations' spellings
  Setter set;
};

// A number into an integer field only when it fits (a double out of range converts to undefined behaviour).
template <class T, class V>
bool fits(V v) {
  if constexpr (std::is_floating_point_v<V> && std::is_integral_v<T>)
    return v >= 0 && v < static_cast<V>(std::numeric_limits<T>::max());
  else
    return true;
}

template <class T, class V>
bool put(std::optional<T>& field, std::optional<V> v) {
  if (!v || !fits<T>(*v)) return false;
  field = static_cast<T>(*v);
  return true;
}

template <class T>
bool add(std::optional<T>& field, std::optional<double> v) {  // a total made of parts (SRAM + DRAM)
  if (!v || !fits<T>(*v)) return false;
  field = field.value_or(0) + static_cast<T>(*v);
  return true;
}

std::optional<unsigned> recovery_action(std::string_view v) {
  v = trim(v);
  static constexpr std::array<std::string_view, 5> k_names = {"None", "GPU Reset", "Node Reboot", "Drain P2P",
                                                              "Drain and Reset"};
  for (unsigned i = 0; i < k_names.size(); ++i)
    if (v == k_names[i]) return i;
  if (auto n = util::parse_u64(v); n && *n < k_names.size()) return static_cast<unsigned>(*n);
  return std::nullopt;
}

const std::vector<SmiField>& fields() {
  using G = model::NvmlGpu;
  using V = std::string_view;
  static const std::vector<SmiField> k_fields = {
      {"name|gpu_name", "Product Name", [](G& g, V v) { return !absent(v) && (g.name = util::printable(trim(v), 96), true); }},
      {"serial|gpu_serial", "Serial Number",
       [](G& g, V v) { return !absent(v) && (g.serial = util::printable(trim(v), 64), true); }},
      {"uuid|gpu_uuid", "GPU UUID", [](G& g, V v) { return !absent(v) && (g.uuid = util::printable(trim(v), 64), true); }},
      {"", "Minor Number", [](G& g, V v) { return put(g.minor, whole(number_in(v, {}))); }},
      {"persistence_mode", "Persistence Mode", [](G& g, V v) { return put(g.persistence_mode, yes_no(v)); }},
      {"temperature.gpu", "Temperature/GPU Current Temp",
       [](G& g, V v) { return put(g.temp_celsius, whole(number_in(v, {"C"}))); }},
      {"", "Temperature/GPU Slowdown Temp",
       [](G& g, V v) { return put(g.temp_slowdown_celsius, whole(number_in(v, {"C"}))); }},
      {"", "Temperature/GPU Shutdown Temp",
       [](G& g, V v) { return put(g.temp_shutdown_celsius, whole(number_in(v, {"C"}))); }},
      {"power.draw|power.draw.average",
       "Power Readings/Power Draw|GPU Power Readings/Power Draw|GPU Power Readings/Average Power Draw",
       [](G& g, V v) { return put(g.power_watts, number_in(v, {"W"})); }},
      {"enforced.power.limit|power.limit",
       "Power Readings/Enforced Power Limit|GPU Power Readings/Enforced Power Limit|Power Readings/Power Limit|"
       "GPU Power Readings/Current Power Limit",
       [](G& g, V v) { return !g.power_limit_watts && put(g.power_limit_watts, number_in(v, {"W"})); }},
      {"memory.total", "FB Memory Usage/Total",
       [](G& g, V v) { return put(g.mem_total_bytes, mib(v)); }},
      {"memory.used", "FB Memory Usage/Used",
       [](G& g, V v) { return put(g.mem_used_bytes, mib(v)); }},
      {"utilization.gpu", "Utilization/Gpu", [](G& g, V v) { return put(g.util_gpu_percent, whole(number_in(v, {"%"}))); }},
      {"utilization.memory", "Utilization/Memory",
       [](G& g, V v) { return put(g.util_mem_percent, whole(number_in(v, {"%"}))); }},
      {"clocks.current.graphics|clocks.gr", "Clocks/Graphics",
       [](G& g, V v) { return put(g.clock_graphics_mhz, whole(number_in(v, {"MHz"}))); }},
      {"clocks.current.sm|clocks.sm", "Clocks/SM", [](G& g, V v) { return put(g.clock_sm_mhz, whole(number_in(v, {"MHz"}))); }},
      {"clocks.current.memory|clocks.mem", "Clocks/Memory",
       [](G& g, V v) { return put(g.clock_mem_mhz, whole(number_in(v, {"MHz"}))); }},
      {"clocks.max.graphics|clocks.max.gr", "Max Clocks/Graphics",
       [](G& g, V v) { return put(g.clock_graphics_max_mhz, whole(number_in(v, {"MHz"}))); }},
      {"clocks.max.memory|clocks.max.mem", "Max Clocks/Memory",
       [](G& g, V v) { return put(g.clock_mem_max_mhz, whole(number_in(v, {"MHz"}))); }},
      {"clocks_event_reasons.active|clocks_throttle_reasons.active", "",
       [](G& g, V v) { return put(g.clock_event_reasons, util::parse_hex(trim(v))); }},
      {"pstate", "Performance State", [](G& g, V v) {
         v = trim(v);
         return v.size() >= 2 && v[0] == 'P' && put(g.pstate, util::parse_u64(v.substr(1)));
       }},
      {"fan.speed", "Fan Speed", [](G& g, V v) { return put(g.fan_percent, whole(number_in(v, {"%"}))); }},
      {"ecc.mode.current", "ECC Mode/Current", [](G& g, V v) { return put(g.ecc_enabled, yes_no(v)); }},
      {"ecc.errors.corrected.volatile.total",
       "ECC Errors/Volatile/Single Bit/Total|ECC Errors/Volatile/SRAM Correctable|ECC Errors/Volatile/DRAM Correctable",
       [](G& g, V v) { return add(g.ecc_corrected_volatile, number_in(v, {})); }},
      {"ecc.errors.uncorrected.volatile.total",
       "ECC Errors/Volatile/Double Bit/Total|ECC Errors/Volatile/SRAM Uncorrectable|ECC Errors/Volatile/DRAM "
       "Uncorrectable|ECC Errors/Volatile/SRAM Uncorrectable Parity|ECC Errors/Volatile/SRAM Uncorrectable SEC-DED",
       [](G& g, V v) { return add(g.ecc_uncorrected_volatile, number_in(v, {})); }},
      {"ecc.errors.uncorrected.aggregate.total",
       "ECC Errors/Aggregate/Double Bit/Total|ECC Errors/Aggregate/SRAM Uncorrectable|ECC Errors/Aggregate/DRAM "
       "Uncorrectable|ECC Errors/Aggregate/SRAM Uncorrectable Parity|ECC Errors/Aggregate/SRAM Uncorrectable SEC-DED",
       [](G& g, V v) { return add(g.ecc_uncorrected_aggregate, number_in(v, {})); }},
      {"retired_pages.pending", "Retired Pages/Pending Page Blacklist|Retired Pages/Pending",
       [](G& g, V v) { return put(g.retired_pages_pending, yes_no(v)); }},
      {"remapped_rows.correctable", "Remapped Rows/Correctable Error",
       [](G& g, V v) { return put(g.remapped_rows_correctable, whole(number_in(v, {}))); }},
      {"remapped_rows.uncorrectable", "Remapped Rows/Uncorrectable Error",
       [](G& g, V v) { return put(g.remapped_rows_uncorrectable, whole(number_in(v, {}))); }},
      {"remapped_rows.pending", "Remapped Rows/Pending", [](G& g, V v) { return put(g.remapped_rows_pending, yes_no(v)); }},
      {"remapped_rows.failure", "Remapped Rows/Remapping Failure Occurred",
       [](G& g, V v) { return put(g.remapped_rows_failure, yes_no(v)); }},
      {"gpu_recovery_action", "GPU Recovery Action", [](G& g, V v) { return put(g.recovery_action, recovery_action(v)); }},
      {"pcie.link.gen.current|pcie.link.gen.gpucurrent",
       "PCI/GPU Link Info/PCIe Generation/Current|PCI/GPU Link Info/PCIe Generation/Device Current",
       [](G& g, V v) { return put(g.pcie_gen, whole(number_in(v, {}))); }},
      {"pcie.link.gen.max|pcie.link.gen.gpumax",
       "PCI/GPU Link Info/PCIe Generation/Max|PCI/GPU Link Info/PCIe Generation/Device Max",
       [](G& g, V v) { return put(g.pcie_max_gen, whole(number_in(v, {}))); }},
      {"pcie.link.width.current", "PCI/GPU Link Info/Link Width/Current",
       [](G& g, V v) { return put(g.pcie_width, whole(number_in(v, {"x"}))); }},
      {"pcie.link.width.max", "PCI/GPU Link Info/Link Width/Max",
       [](G& g, V v) { return put(g.pcie_max_width, whole(number_in(v, {"x"}))); }},
  };
  return k_fields;
}

bool listed(std::string_view list, std::string_view name) {
  for (auto alt : util::split(list, '|'))
    if (alt == name) return true;
  return false;
}

const SmiField* csv_field(std::string_view name) {
  for (const auto& f : fields())
    if (!f.csv.empty() && listed(f.csv, name)) return &f;
  return nullptr;
}

const SmiField* query_field(std::string_view path) {
  for (const auto& f : fields())
    if (!f.query.empty() && listed(f.query, path)) return &f;
  return nullptr;
}

// `-q`'s clock event reasons ("Clocks Throttle Reasons" before R535, "Clocks Event Reasons" from it): NVML's bits.
std::optional<std::uint64_t> reason_bit(std::string_view path) {
  for (std::string_view section : {"Clocks Throttle Reasons/", "Clocks Event Reasons/"}) {
    if (!starts_with(path, section)) continue;
    static constexpr std::pair<std::string_view, std::uint64_t> k_bits[] = {
        {"Idle", 0x1},          {"Applications Clocks Setting", 0x2}, {"SW Power Cap", 0x4},
        {"HW Slowdown", 0x8},   {"Sync Boost", 0x10},                  {"SW Thermal Slowdown", 0x20},
        {"HW Thermal Slowdown", 0x40}, {"HW Power Brake Slowdown", 0x80}, {"Display Clock Setting", 0x100}};
    for (const auto& [name, bit] : k_bits)
      if (path.substr(section.size()) == name) return bit;
  }
  return std::nullopt;
}

// ---- whole-dump messages -------------------------------------------------------

std::optional<SmiDump::State> dump_message(std::string_view t) {
  if (t == "No devices were found") return SmiDump::State::no_devices;
  if (starts_with(t, "NVIDIA-SMI has failed") || starts_with(t, "Unable to determine the device handle") ||
      starts_with(t, "Failed to initialize NVML") || starts_with(t, "Unable to query number of GPUs"))
    return SmiDump::State::failed;
  return std::nullopt;
}

std::string_view line_at(std::string_view text, std::size_t& pos) {
  std::size_t nl = text.find('\n', pos);
  std::string_view l = text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
  pos = nl == std::string_view::npos ? text.size() : nl + 1;
  if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
  return l;
}

// ---- the default table ----------------------------------------------------------

// "|   0  Tesla V100-PCIE...  Off  | 00005B0A:00:00.0 Off |                  Off |" -> cells between the bars.
std::vector<std::string_view> cells(std::string_view t) {
  std::vector<std::string_view> out;
  for (auto c : util::split(t, '|')) out.push_back(trim(c));
  if (!out.empty() && out.front().empty()) out.erase(out.begin());
  if (!out.empty() && out.back().empty()) out.pop_back();
  return out;
}

void parse_table(std::string_view text, SmiParse& out) {
  SmiDump cur;
  bool open = false;              // cur holds a dump begun
  model::NvmlGpu* gpu = nullptr;  // the GPU whose second row comes next
  bool processes = false;         // inside the "Processes:" table
  auto flush = [&] {
    if (open) {
      if (cur.state == SmiDump::State::gpus && cur.gpus.empty()) {
        // A date line and part of the table, but no GPU row: cut short (nothing to compare with the others).
        skip(out, fmt::format("line {}: a dump that lists no GPU (cut short): read as an empty dump", cur.line));
        cur.state = SmiDump::State::empty;
      }
      out.dumps.push_back(std::move(cur));
    }
    cur = SmiDump{};
    open = false;
    gpu = nullptr;
    processes = false;
  };
  auto begin = [&](std::size_t line) {
    flush();
    cur.line = line;
    open = true;
  };
  std::size_t process_rows = 0, pos = 0, n = 0;
  while (pos < text.size()) {
    std::string_view raw = line_at(text, pos);
    ++n;
    std::string_view t = trim(raw);
    if (t.empty()) continue;
    if (auto ts = util::parse_ctime(t)) {  // "Thu May 26 03:11:57 2022": a dump's first line
      begin(n);
      cur.unix_ms = *ts * 1000;
      continue;
    }
    if (auto state = dump_message(t)) {
      if (!open || !cur.gpus.empty() || cur.state != SmiDump::State::gpus) begin(n);
      cur.state = *state;
      cur.message = util::printable(t, 200);
      continue;
    }
    if (t[0] == '+' || t[0] == '=') {  // a rule between rows
      if (t.find_first_not_of("+-=") != std::string_view::npos) skip(out, fmt::format("line {}: not a table rule", n));
      gpu = nullptr;
      continue;
    }
    if (t[0] != '|') {
      skip(out, fmt::format("line {}: not part of an nvidia-smi table: {}", n, t));
      continue;
    }
    if (!open) begin(n);  // a table without its date line
    auto c = cells(t);
    if (processes) {  // "|    1   N/A  N/A    412233      C   python3     79000MiB |" (one cell)
      if (!c.empty() && !c[0].empty() && c[0][0] >= '0' && c[0][0] <= '9') ++process_rows;
      continue;
    }
    if (c.size() == 1) {
      if (auto at = c[0].find("Driver Version:"); at != std::string_view::npos) {
        auto rest = util::split_ws(c[0].substr(at + 15));
        if (!rest.empty()) cur.driver_version = util::printable(rest[0], 32);
      } else if (starts_with(c[0], "Processes:")) {
        processes = true;
      }
      continue;
    }
    if (c.size() < 3) continue;
    auto left = util::split_ws(c[0]);
    auto mid = util::split_ws(c[1]);
    if (!left.empty() && util::parse_u64(left[0]) && !mid.empty() && model::normalize_bus_id(mid[0])) {
      // "0  Tesla V100-PCIE...  Off" | "00005B0A:00:00.0 Off" | "Off"
      model::NvmlGpu g;
      g.index = static_cast<unsigned>(std::min<std::uint64_t>(*util::parse_u64(left[0]), 1u << 20));
      g.bus_id = model::normalize_bus_id(mid[0]);
      if (left.size() >= 2) {
        std::string_view last = left.back();
        std::size_t name_end = left.size();
        if (auto pm = yes_no(last)) {
          g.persistence_mode = pm;
          --name_end;
        }
        std::string name;
        for (std::size_t i = 1; i < name_end; ++i) name += (i > 1 ? " " : "") + std::string(left[i]);
        if (!name.empty()) g.name = util::printable(name, 96);
      }
      std::string_view ecc = c[2];
      if (auto count = util::parse_u64(ecc)) g.ecc_uncorrected_volatile = *count, g.ecc_enabled = true;
      else if (ecc == "Off") g.ecc_enabled = false;
      if (std::any_of(cur.gpus.begin(), cur.gpus.end(), [&](const auto& o) { return o.bus_id == g.bus_id; })) {
        skip(out, fmt::format("line {}: GPU {} listed twice in one dump", n, *g.bus_id));
        gpu = nullptr;
        continue;
      }
      cur.gpus.push_back(std::move(g));
      gpu = &cur.gpus.back();
      continue;
    }
    if (gpu && !left.empty()) {
      // "N/A   31C    P0    35W / 250W" | "0MiB / 16160MiB" | "2%      Default"
      for (std::size_t i = 0; i < left.size(); ++i) {
        std::string_view w = left[i], unit;
        if (w == "/" && i > 0 && i + 1 < left.size()) {
          put(gpu->power_watts, number_in(left[i - 1], {"W"}));
          put(gpu->power_limit_watts, number_in(left[i + 1], {"W"}));
          continue;
        }
        auto d = number(w, unit);
        if (d && unit == "C") put(gpu->temp_celsius, whole(d));
        else if (d && unit == "%" && i == 0) put(gpu->fan_percent, whole(d));
        else if (w.size() >= 2 && w[0] == 'P' && util::parse_u64(w.substr(1))) put(gpu->pstate, util::parse_u64(w.substr(1)));
      }
      for (std::size_t i = 0; i < mid.size(); ++i)
        if (mid[i] == "/" && i > 0 && i + 1 < mid.size()) {
          put(gpu->mem_used_bytes, mib(mid[i - 1]));
          put(gpu->mem_total_bytes, mib(mid[i + 1]));
        }
      auto right = util::split_ws(c[2]);
      if (!right.empty()) put(gpu->util_gpu_percent, whole(number_in(right[0], {"%"})));
      gpu = nullptr;  // (the third row, MIG mode, holds nothing the history keeps)
      continue;
    }
  }
  flush();
  if (process_rows)
    skip(out, fmt::format("{} row(s) of the Processes table: not imported (the history keeps GPUs, not processes)",
                          process_rows));
}

// ---- nvidia-smi -q ------------------------------------------------------------

void parse_query(std::string_view text, SmiParse& out) {
  SmiDump cur;
  bool open = false;
  cur.format = SmiFormat::query;
  model::NvmlGpu* gpu = nullptr;
  std::vector<std::pair<std::size_t, std::string>> sections;  // (indent, name) above the current line
  auto flush = [&] {
    if (open) out.dumps.push_back(std::move(cur));
    cur = SmiDump{};
    cur.format = SmiFormat::query;
    open = false;
    gpu = nullptr;
    sections.clear();
  };
  std::size_t pos = 0, n = 0;
  while (pos < text.size()) {
    std::string_view raw = line_at(text, pos);
    ++n;
    std::string_view t = trim(raw);
    if (t.empty()) continue;
    if (t.find("NVSMI LOG") != std::string_view::npos) {
      flush();
      cur.line = n;
      open = true;
      continue;
    }
    if (!open) {
      flush();
      cur.line = n;
      open = true;
    }
    if (auto state = dump_message(t)) {
      cur.state = *state;
      cur.message = util::printable(t, 200);
      continue;
    }
    std::size_t indent = raw.find_first_not_of(" \t");
    auto colon = t.find(" : ");
    std::string_view key = trim(colon == std::string_view::npos ? t : t.substr(0, colon));
    std::string_view value = colon == std::string_view::npos ? std::string_view() : trim(t.substr(colon + 3));
    if (colon == std::string_view::npos && t.back() == ':') key = trim(t.substr(0, t.size() - 1));
    if (indent == 0 && starts_with(t, "GPU ") && colon == std::string_view::npos) {
      if (auto bus = model::normalize_bus_id(t.substr(4))) {
        if (std::any_of(cur.gpus.begin(), cur.gpus.end(), [&](const auto& g) { return g.bus_id == bus; })) {
          skip(out, fmt::format("line {}: GPU {} listed twice in one dump", n, *bus));
          gpu = nullptr;
        } else {
          model::NvmlGpu g;
          g.index = static_cast<unsigned>(cur.gpus.size());
          g.bus_id = bus;
          cur.gpus.push_back(std::move(g));
          gpu = &cur.gpus.back();
        }
        sections.clear();
        continue;
      }
    }
    while (!sections.empty() && sections.back().first >= indent) sections.pop_back();
    if (colon == std::string_view::npos) {  // a section heading
      sections.emplace_back(indent, std::string(key));
      continue;
    }
    if (!gpu) {
      if (key == "Timestamp") {
        if (auto ts = util::parse_ctime(value)) cur.unix_ms = *ts * 1000;
      } else if (key == "Driver Version" && !absent(value)) {
        cur.driver_version = util::printable(value, 32);
      }
      continue;
    }
    // Sections below the GPU's own level: "Temperature/GPU Current Temp". A line's path starts at the first
    // section deeper than the GPU line (indent 0).
    std::string path;
    for (const auto& [ind, name] : sections) path += name + "/";
    path += key;
    if (auto bit = reason_bit(path)) {
      if (auto active = yes_no(value)) gpu->clock_event_reasons = gpu->clock_event_reasons.value_or(0) | (*active ? *bit : 0);
      continue;
    }
    if (const auto* f = query_field(path)) {
      if (!f->set(*gpu, value) && !absent(value) && value != "None")
        skip(out, fmt::format("line {}: {} = {}: not a value gpudoctor reads", n, path, value));
      continue;
    }
    // (any other path: most of -q is fields the history has no column for, not named one by one)
  }
  flush();
}

// ---- --query-gpu CSV ----------------------------------------------------------

// "power.draw [W]" -> "power.draw"
std::string_view field_name(std::string_view header) {
  header = trim(header);
  if (auto b = header.find(" ["); b != std::string_view::npos) header = header.substr(0, b);
  return header;
}

std::optional<std::int64_t> csv_time_ms(std::string_view v) {
  // "2022/05/29 03:04:47.123" (local time)
  v = trim(v);
  if (v.size() < 19 || v[4] != '/' || v[7] != '/') return std::nullopt;
  std::string iso(v.substr(0, 19));
  iso[4] = iso[7] = '-';
  auto s = util::parse_iso_time(iso);
  if (!s) return std::nullopt;
  std::int64_t ms = 0;
  if (v.size() > 20 && v[19] == '.') {
    auto frac = v.substr(20, 3);
    for (char c : frac) {
      if (c < '0' || c > '9') return std::nullopt;
      ms = ms * 10 + (c - '0');
    }
    for (std::size_t i = frac.size(); i < 3; ++i) ms *= 10;
  }
  return *s * 1000 + ms;
}

// A header line: every cell a field name ("power.draw [W]": lowercase, digits, '.', '_'), at least one with a
// letter. Data cells have capitals, spaces, '/', ':' or only digits.
bool is_header(const std::vector<std::string_view>& cols) {
  bool letter = false;
  for (auto c : cols) {
    std::string_view f = field_name(c);
    if (f.empty()) return false;
    for (char ch : f) {
      bool lower = ch >= 'a' && ch <= 'z';
      letter = letter || lower;
      if (!lower && !(ch >= '0' && ch <= '9') && ch != '.' && ch != '_') return false;
    }
  }
  return letter;
}

void parse_csv(std::string_view text, const std::vector<std::string>& given, SmiParse& out) {
  std::vector<std::string> names = given;
  bool header_seen = false;
  std::size_t pos = 0, n = 0, rows_without_fields = 0;
  std::vector<const SmiField*> setters;
  std::optional<std::size_t> col_time, col_bus, col_index, col_driver;
  auto bind = [&] {
    setters.assign(names.size(), nullptr);
    col_time = col_bus = col_index = col_driver = std::nullopt;
    for (std::size_t i = 0; i < names.size(); ++i) {
      std::string_view f = names[i];
      if (f == "timestamp") col_time = i;
      else if (f == "pci.bus_id" || f == "gpu_bus_id") col_bus = i;
      else if (f == "index") col_index = i;
      else if (f == "driver_version") col_driver = i;
      else if (!(setters[i] = csv_field(f)) && f != "count")
        skip(out, fmt::format("field {}: not a field gpudoctor imports", f));
    }
    if (!col_bus) skip(out, "no pci.bus_id field: rows cannot be placed on a GPU and are not imported");
  };
  if (!names.empty()) bind();
  SmiDump* cur = nullptr;
  while (pos < text.size()) {
    std::string_view raw = line_at(text, pos);
    ++n;
    std::string_view t = trim(raw);
    if (t.empty()) continue;
    auto cols = util::split(t, ',');
    if (is_header(cols)) {
      // a header line (each -l run of nvidia-smi prints its own)
      std::vector<std::string> h;
      for (auto c : cols) h.emplace_back(field_name(c));
      if (!header_seen || h != names) {
        names = std::move(h);
        bind();
      }
      header_seen = true;
      continue;
    }
    if (auto state = dump_message(t)) {
      SmiDump d;
      d.format = SmiFormat::csv;
      d.state = *state;
      d.message = util::printable(t, 200);
      d.line = n;
      out.dumps.push_back(std::move(d));
      cur = nullptr;
      continue;
    }
    if (names.empty()) {
      ++rows_without_fields;
      continue;
    }
    if (cols.size() != names.size()) {
      skip(out, fmt::format("line {}: {} values for {} fields", n, cols.size(), names.size()));
      continue;
    }
    if (!col_bus) continue;
    auto bus = model::normalize_bus_id(trim(cols[*col_bus]));
    if (!bus) {
      skip(out, fmt::format("line {}: pci.bus_id {} is not a bus id", n, trim(cols[*col_bus])));
      continue;
    }
    std::optional<std::int64_t> ms;
    if (col_time) {
      ms = csv_time_ms(cols[*col_time]);
      if (!ms) {
        skip(out, fmt::format("line {}: timestamp {} is not nvidia-smi's form (YYYY/MM/DD HH:MM:SS.mmm)", n,
                              trim(cols[*col_time])));
        continue;
      }
    }
    // Rows of one query share its timestamp (nvidia-smi stamps each query once): one dump per timestamp; a GPU
    // seen again in the same dump starts the next (a CSV without timestamps).
    bool same = cur && cur->unix_ms == ms &&
                std::none_of(cur->gpus.begin(), cur->gpus.end(), [&](const auto& g) { return g.bus_id == bus; });
    if (!same) {
      SmiDump d;
      d.format = SmiFormat::csv;
      d.unix_ms = ms;
      d.line = n;
      out.dumps.push_back(std::move(d));
      cur = &out.dumps.back();
    }
    model::NvmlGpu g;
    g.bus_id = bus;
    g.index = static_cast<unsigned>(cur->gpus.size());
    if (col_index)
      if (auto i = util::parse_u64(trim(cols[*col_index]))) g.index = static_cast<unsigned>(std::min<std::uint64_t>(*i, 1u << 20));
    if (col_driver && !absent(cols[*col_driver])) cur->driver_version = util::printable(trim(cols[*col_driver]), 32);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (!setters[i]) continue;
      std::string_view v = trim(cols[i]);
      if (!setters[i]->set(g, v) && !absent(v))
        skip(out, fmt::format("line {}: {} = {}: not a value gpudoctor reads", n, names[i], v));
    }
    cur->gpus.push_back(std::move(g));
  }
  if (rows_without_fields)
    skip(out, fmt::format("{} CSV row(s) without a header: pass the --query-gpu list they were written with "
                          "(--query-gpu FIELDS)",
                          rows_without_fields));
}

SmiFormat detect(std::string_view text, bool fields_given) {
  if (text.find("NVSMI LOG") != std::string_view::npos) return SmiFormat::query;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::string_view t = trim(line_at(text, pos));
    if (t.empty()) continue;
    if (dump_message(t)) {  // says nothing of the format, unless a CSV's field list was given
      if (fields_given) return SmiFormat::csv;
      continue;
    }
    if (t[0] == '|' || t[0] == '+' || util::parse_ctime(t)) return SmiFormat::table;
    if (starts_with(t, "timestamp") || starts_with(t, "index") || starts_with(t, "name") ||
        starts_with(t, "pci.bus_id") || std::count(t.begin(), t.end(), ',') >= 1)
      return SmiFormat::csv;
    return SmiFormat::table;
  }
  return fields_given ? SmiFormat::csv : SmiFormat::table;
}

}  // namespace

std::string_view smi_format_name(SmiFormat f) {
  switch (f) {
    case SmiFormat::table: return "table";
    case SmiFormat::query: return "query";
    case SmiFormat::csv: return "csv";
  }
  return "table";
}

SmiParse parse_nvidia_smi(std::string_view text, const std::vector<std::string>& csv_fields) {
  SmiParse out;
  if (trim(text).empty()) {  // the loop's nvidia-smi wrote nothing: it hung and was killed, or failed silently
    SmiDump d;
    d.state = SmiDump::State::empty;
    d.line = 1;
    out.dumps.push_back(std::move(d));
    return out;
  }
  switch (detect(text, !csv_fields.empty())) {
    case SmiFormat::table: parse_table(text, out); break;
    case SmiFormat::query: parse_query(text, out); break;
    case SmiFormat::csv: parse_csv(text, csv_fields, out); break;
  }
  return out;
}

std::vector<std::string> smi_csv_fields() {
  std::vector<std::string> out = {"timestamp", "index", "pci.bus_id", "driver_version"};
  for (const auto& f : fields())
    for (auto alt : util::split(f.csv, '|'))
      if (!alt.empty()) out.emplace_back(alt);
  return out;
}

}  // namespace gd::importer
