#include "gd/model/bus_id.hpp"

#include <cstdint>
#include <vector>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::model {

namespace {

bool is_hex_digit(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

// A field of 1..max_digits hex digits whose value is at most max_value.
std::optional<std::uint32_t> hex_field(std::string_view s, std::size_t max_digits, std::uint32_t max_value) {
  if (s.empty() || s.size() > max_digits) return std::nullopt;
  for (char c : s)
    if (!is_hex_digit(c)) return std::nullopt;
  auto v = util::parse_hex(s);
  if (!v || *v > max_value) return std::nullopt;
  return static_cast<std::uint32_t>(*v);
}

bool strip_pci_prefix(std::string_view& s) {
  if (s.size() < 4 || util::to_lower(s.substr(0, 4)) != "pci:") return false;
  s.remove_prefix(4);
  return true;
}

}  // namespace

std::optional<std::string> normalize_bus_id(std::string_view text) {
  std::string_view s = util::trim(text);
  bool kernel_form = strip_pci_prefix(s);
  auto parts = util::split(s, ':');
  if (parts.size() != 2 && parts.size() != 3) return std::nullopt;
  std::string_view domain = parts.size() == 3 ? parts[0] : "0";
  std::string_view bus = parts[parts.size() - 2];
  std::string_view dev_fn = parts.back();
  std::string_view fn = "0";
  auto dot = dev_fn.find('.');
  if (dot != std::string_view::npos) {
    fn = dev_fn.substr(dot + 1);
    dev_fn = dev_fn.substr(0, dot);
  } else if (!kernel_form && parts.size() == 2) {
    return std::nullopt;  // "3b:00" could be domain:bus or bus:device
  }
  auto d = hex_field(domain, 8, 0xffffffffu);
  auto b = hex_field(bus, 2, 0xff);
  auto v = hex_field(dev_fn, 2, 0x1f);
  auto f = hex_field(fn, 1, 7);
  if (!d || !b || !v || !f) return std::nullopt;
  return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", *d, *b, *v, *f);
}

}  // namespace gd::model
