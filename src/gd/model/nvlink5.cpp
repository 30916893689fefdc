#include "gd/model/nvlink5.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

namespace gd::model {

namespace {

// IntrInfo under the masks: V1 = reason 25:20 | subcode 9:5 | unit 4:0; V2 = reason 25:20 | subcode 6:0.
constexpr std::uint32_t v1(unsigned sub, unsigned unit, unsigned reason = 0) { return reason << 20 | sub << 5 | unit; }
constexpr std::uint32_t v2(unsigned sub, unsigned reason = 0) { return reason << 20 | sub; }

constexpr std::string_view CS = "CONTACT_SUPPORT", IG = "IGNORE", RG = "RESET_GPU", EV = "XID_154_EVAL";
constexpr std::string_view NF = "Non-fatal", F = "Fatal", LF = "Link Fatal";
constexpr std::string_view none = "local: none; remote: none";
constexpr std::string_view fatal_hw = "local: Xid 48, application crash (Xid 45); remote: possible packet loss";
constexpr std::string_view xc = "local: cross-contained application crash (Xid 45); remote: none";
constexpr std::string_view poison = "local: will lead to Xid 48 and poison or Xid 94/95; remote: none";
constexpr std::string_view poison_remote = "local: Xid 48; remote: will lead to poison or Xid 94";
constexpr std::string_view tlw_fatal = "local: Xid 48, possible packet loss; remote: possible packet loss";
constexpr std::string_view link_loss = "local and remote: possible or delayed packet loss";
constexpr std::string_view peer = "local and remote: possible or delayed packet loss; the other end of the link is the source";

constexpr auto SW = std::optional<std::uint32_t>{0x80000000u};
constexpr std::optional<std::uint32_t> S(std::uint32_t s) { return s; }
constexpr std::optional<std::uint32_t> any = std::nullopt;

// NVIDIA's "XID 144-150 Decode" sheet, row for row (docs/kernel-log.md, "NVLink5 Xids").
constexpr Nvlink5Row k_rows[] = {
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x1), IG, CS, NF, poison},
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x2), RG, CS, F, fatal_hw},
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x4), IG, IG, NF, none},
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x8), IG, CS, NF, poison_remote},
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x10), RG, CS, F, fatal_hw},
    {144, "SAW_MVB", v1(1, 1), v2(1), S(0x20), IG, IG, NF, none},
    {145, "RLW_CTRL", v1(3, 2), v2(3), SW, IG, CS, NF, none},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x1), EV, CS, NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x2), EV, CS, NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x4), EV, "CHECK_NVLINK_FAILURE_FLOW", NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x8), EV, "CHECK_NVLINK_FAILURE_FLOW", NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x10), EV, "CHECK_NVLINK_FAILURE_FLOW", NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x20), EV, "CHECK_NVLINK_FAILURE_FLOW", NF, xc},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x40), RG, CS, F, fatal_hw},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x80), RG, CS, F, fatal_hw},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x100), IG, IG, NF, none},
    {145, "RLW_REMAP", v1(4, 2), v2(4), S(0x200), IG, IG, NF, none},
    {145, "RLW_REMAP", v1(4, 2), v2(4), SW, IG, CS, NF, none},
    {145, "RLW_RSPCOL", v1(5, 2), v2(5), S(0x1), IG, IG, NF, none},
    {145, "RLW_RSPCOL", v1(5, 2), v2(5), S(0x2), RG, CS, F, fatal_hw},
    {145, "RLW_RSPCOL", v1(5, 2), v2(5), SW, IG, CS, NF, none},
    {145, "RLW_RXPIPE", v1(6, 2), v2(6), S(0x1), IG, CS, "Non-fatal*", "local: none; remote: packet loss", true},
    {145, "RLW_RXPIPE", v1(6, 2), v2(6), S(0x2), IG, CS, "Non-fatal*", "local: none; remote: packet loss", true},
    {145, "RLW_RXPIPE", v1(6, 2), v2(6), S(0x4), IG, CS, "Non-fatal*", "local: packet loss; remote: none", true},
    {145, "RLW_RXPIPE", v1(6, 2), v2(6), S(0x8), IG, CS, NF, none},
    {145, "RLW_RXPIPE", v1(6, 2), v2(6), SW, IG, CS, NF, none},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x1), RG, CS, F, fatal_hw},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x2), IG, IG, NF, none},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x4), EV, IG, NF, xc},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x8), EV, IG, NF, xc},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x10), RG, CS, F, fatal_hw},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), S(0x20), RG, CS, F, fatal_hw},
    {145, "RLW_SRC_TRACK", v1(7, 2), v2(7), SW, IG, CS, NF, none},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), S(0x1), IG, IG, NF, none},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), S(0x2), RG, CS, F, fatal_hw},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), S(0x10000), IG, IG, NF, none},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), S(0x20000), RG, CS, F, fatal_hw},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), S(0x100000), RG, CS, F, fatal_hw},
    {145, "RLW_TAGSTATE", v1(8, 2), v2(8), SW, IG, CS, NF, none},
    {146, "TLW_CTRL", v1(9, 3), v2(9), S(0x1), IG, IG, NF, none},
    {146, "TLW_CTRL", v1(9, 3), v2(9), S(0x2), IG, CS, NF, poison_remote},
    {146, "TLW_CTRL", v1(9, 3), v2(9), S(0x4), RG, CS, F, tlw_fatal},
    {146, "TLW_CTRL", v1(9, 3), v2(9), SW, IG, CS, NF, none},
#define GD_TLW(name, s1, s2)                                   \
  {146, name, v1(s1, 3), v2(s2), S(0x1), IG, IG, NF, none},     \
      {146, name, v1(s1, 3), v2(s2), S(0x2), IG, CS, NF, poison}, \
      {146, name, v1(s1, 3), v2(s2), S(0x4), RG, CS, F, tlw_fatal}, {146, name, v1(s1, 3), v2(s2), SW, IG, CS, NF, none}
    GD_TLW("TLW_RX/TLW_RX_PIPE0", 10, 10),
    GD_TLW("TLW_RX/TLW_RX_PIPE1", 10, 11),
    GD_TLW("TLW_TX/TLW_TX_PIPE0", 11, 12),
    GD_TLW("TLW_TX/TLW_TX_PIPE1", 11, 13),
#undef GD_TLW
    {147, "TREX", v1(12, 4), v2(14), S(0x1), IG, CS, NF, "not in production code"},
    {147, "TREX", v1(12, 4), v2(14), SW, IG, CS, NF, none},
    {148, "NVLPW_CTRL/NVLPW", v1(0, 5), v2(15), SW, IG, CS, NF, none},
    {149, "NETIR/NETIR_INT", v1(0, 6), v2(24), any, RG, "SYMPATHETIC_REPORT_SOLO", LF, link_loss},
#define GD_DOWN(reason, imm, inv, sev, eff) \
  {149, "NETIR_LINK_EVT/NETIR_LINK_DOWN", v1(14, 6, reason), v2(17, reason), any, imm, inv, sev, eff}
    GD_DOWN(0, RG, "SYMPATHETIC_REPORT_SOLO", LF, link_loss),
    GD_DOWN(1, RG, "REPORT_ISSUE (if seen >1 per day)", LF, link_loss),
    GD_DOWN(2, RG, "INVESTIGATE_LINK_SI", LF, link_loss),
    GD_DOWN(4, RG, "INVESTIGATE_LINK_SI", LF, link_loss),
    GD_DOWN(10, RG, "INVESTIGATE_LINK_SI", LF, link_loss),
    GD_DOWN(15, RG, "INVESTIGATE_SW_USER", LF, link_loss),
    GD_DOWN(16, RG, "INVESTIGATE_SW_USER_LINK_SI", LF, link_loss),
    GD_DOWN(17, RG, "INVESTIGATE_SW_USER", LF, link_loss),
    GD_DOWN(18, RG, "INVESTIGATE_SW_USER_LINK_SI", LF, link_loss),
    GD_DOWN(21, RG, "INVESTIGATE_PEER_DEVICE", LF, link_loss),
    GD_DOWN(22, RG, "INVESTIGATE_SW_USER", LF, link_loss),
    GD_DOWN(32, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(33, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(34, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(35, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(36, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(37, RG, "INVESTIGATE_PEER_DEVICE", LF, peer),
    GD_DOWN(38, IG, "INVESTIGATE_SW/USER", LF, link_loss),
    GD_DOWN(40, IG, "INVESTIGATE_HOST", F, "local: fatal; remote: possible or delayed packet loss"),
    GD_DOWN(42, RG, "INVESTIGATE_LINK_SI_AND_CABLES", "Link Fatal?", link_loss),
    GD_DOWN(43, RG, "INVESTIGATE_LINK_SI_AND_CABLES", "Link Fatal?", link_loss),
#undef GD_DOWN
    {149, "NETIR_BER_EVENT", v1(17, 6), v2(19), S(0x0), IG, "INVESTIGATE_LINK_SI_AND_CABLES", NF, none},
    {149, "NETIR_BER_EVENT", v1(17, 6), v2(19), S(0x1), IG, "INVESTIGATE_LINK_SI_AND_CABLES", NF, none},
    {149, "NETIR_BER_EVENT", v1(17, 6), v2(19), S(0x2), IG, "INVESTIGATE_LINK_SI_AND_CABLES", NF, none},
    {149, "NETIR_BER_EVENT", v1(17, 6), v2(19), S(0x3), IG, "INVESTIGATE_LINK_SI_AND_CABLES", NF, none},
    {149, "NETIR_MFDE_EVENT", v1(18, 6), v2(20), S(0x1), RG, CS, "Fatal**", "local: fatal; remote: possible or delayed packet loss"},
    {149, "NETIR_MFDE_EVENT", v1(18, 6), v2(20), S(0x3), IG, IG, NF, none},
    {149, "NETIR_MFDE_EVENT", v1(18, 6), v2(20), S(0x4), RG, CS, "Fatal**", "local: fatal; remote: possible or delayed packet loss"},
    {149, "NETIR_MFDE_EVENT", v1(18, 6), v2(20), S(0x5), RG, CS, "Fatal**", "local: fatal; remote: possible or delayed packet loss"},
    {149, "NETIR_MFDE_EVENT", v1(18, 6), v2(20), S(0x7), RG, CS, "Fatal**", "local: fatal; remote: possible or delayed packet loss"},
    {150, "MSE Degraded", 0, 0, S(0x0), RG, CS, F, "local: fatal; remote: none"},
    {150, "MSE Degraded", 0, 0, S(0xFFFFFFFFu), RG, CS, F, "local: fatal; remote: none"},
    {150, "MSE_WATCHDOG", 0, 0, S(0x0), RG, CS, F, "local: fatal; remote: none"},
};

int rank(std::string_view immediate) {
  if (immediate == RG) return 3;
  if (immediate == EV) return 2;
  return 1;
}

std::optional<std::uint32_t> hex_word(std::string_view s) {
  if (s.size() < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return std::nullopt;
  s.remove_prefix(2);
  if (s.empty() || s.size() > 8 || !std::all_of(s.begin(), s.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
    return std::nullopt;
  return static_cast<std::uint32_t>(std::strtoul(std::string(s).c_str(), nullptr, 16));
}

bool unit_char(char c) { return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'; }

// True when the row's catalogue name ("TLW_RX/TLW_RX_PIPE0") includes the printed unit.
bool names(const Nvlink5Row& r, std::string_view unit) {
  if (unit.empty()) return false;
  std::string_view n = r.unit;
  while (!n.empty()) {
    auto slash = n.find('/');
    if (n.substr(0, slash) == unit) return true;
    if (slash == std::string_view::npos) break;
    n.remove_prefix(slash + 1);
  }
  return false;
}

// The best row among those whose IntrInfo pattern matches under one encoding.
const Nvlink5Row* best_row(int xid, std::uint32_t intr, std::uint32_t status, std::string_view unit, Nvlink5Encoding enc) {
  std::uint32_t masked = intr & (enc == Nvlink5Encoding::v1 ? k_nvlink5_mask_v1 : k_nvlink5_mask_v2);
  const Nvlink5Row* exact = nullptr;
  const Nvlink5Row* by_bit = nullptr;
  for (const auto& r : k_rows) {
    if (r.xid != xid || (enc == Nvlink5Encoding::v1 ? r.v1 : r.v2) != masked) continue;
    if (!r.status || *r.status == status) {
      if (!exact || (names(r, unit) && !names(*exact, unit))) exact = &r;
    } else if (*r.status != 0 && (*r.status & (*r.status - 1)) == 0 && (status & *r.status)) {
      if (!by_bit || rank(r.immediate) > rank(by_bit->immediate)) by_bit = &r;  // several bits set: the worst
    }
  }
  return exact ? exact : by_bit;
}

}  // namespace

std::span<const Nvlink5Row> nvlink5_table() { return k_rows; }

std::optional<Nvlink5Message> parse_nvlink5(std::string_view m) {
  // Past "NVRM: Xid (PCI:...): " and "NNN, " when the text still has them.
  if (auto xid = m.find("Xid ("); xid != std::string_view::npos)
    if (auto close = m.find("): ", xid); close != std::string_view::npos) m.remove_prefix(close + 3);
  if (auto comma = m.find(", "); comma != std::string_view::npos && comma <= 4 &&
                                 std::all_of(m.begin(), m.begin() + static_cast<long>(comma), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
    m.remove_prefix(comma + 2);
  Nvlink5Message out;
  std::size_t i = 0;
  while (i < m.size() && m[i] == ' ') ++i;
  std::size_t j = i;
  while (j < m.size() && unit_char(m[j])) ++j;
  if (j > i && j - i <= 48) out.unit = std::string(m.substr(i, j - i));
  std::string_view rest = m.substr(j);
  auto word = [&](std::string_view w) {
    for (auto at = rest.find(w); at != std::string_view::npos; at = rest.find(w, at + 1)) {
      bool left = at == 0 || rest[at - 1] == ' ';
      bool right = at + w.size() == rest.size() || rest[at + w.size()] == ' ';
      if (left && right) return true;
    }
    return false;
  };
  if (word("Fatal")) out.fatal = true;
  else if (word("Nonfatal") || word("Non-fatal")) out.fatal = false;
  if (auto at = rest.find("Link "); at != std::string_view::npos) {
    std::size_t k = at + 5, n = 0;
    while (k + n < rest.size() && n < 3 && std::isdigit(static_cast<unsigned char>(rest[k + n]))) ++n;
    if (n) out.link = static_cast<unsigned>(std::strtoul(std::string(rest.substr(k, n)).c_str(), nullptr, 10));
  }
  // The registers: "(0x... 0x... ...)" (or "[0x...]" in early R565 builds).
  auto open = rest.find_first_of("([");
  if (open != std::string_view::npos) {
    std::string_view regs = rest.substr(open + 1);
    regs = regs.substr(0, regs.find_first_of(")]"));
    std::optional<std::uint32_t>* slot[] = {&out.intr_info, &out.error_status};
    std::size_t filled = 0;
    while (!regs.empty() && filled < 2) {
      auto sp = regs.find_first_not_of(' ');
      if (sp == std::string_view::npos) break;
      regs.remove_prefix(sp);
      auto end = regs.find(' ');
      auto w = hex_word(regs.substr(0, end));
      if (!w) break;
      *slot[filled++] = w;
      if (end == std::string_view::npos) break;
      regs.remove_prefix(end);
    }
  }
  if (out.unit.empty() && !out.fatal && !out.intr_info) return std::nullopt;
  return out;
}

std::optional<Nvlink5Decode> decode_nvlink5(int xid, const Nvlink5Message& m, std::optional<int> driver_major) {
  if (xid < 144 || xid > 150 || !m.intr_info) return std::nullopt;
  std::uint32_t intr = *m.intr_info, status = m.error_status.value_or(0);
  Nvlink5Decode d;
  d.reason = (intr >> 20) & 0x3F;
  if (driver_major) {
    d.encoding = *driver_major < 575 ? Nvlink5Encoding::v1 : Nvlink5Encoding::v2;
    d.row = best_row(xid, intr, status, m.unit, d.encoding);
  } else {
    const Nvlink5Row* a = best_row(xid, intr, status, m.unit, Nvlink5Encoding::v1);
    const Nvlink5Row* b = best_row(xid, intr, status, m.unit, Nvlink5Encoding::v2);
    d.encoding_guessed = true;
    // Both matching: the one that names the printed unit, else the worse.
    bool take_a = a && (!b || (names(*a, m.unit) && !names(*b, m.unit)) ||
                        (names(*a, m.unit) == names(*b, m.unit) && rank(a->immediate) >= rank(b->immediate)));
    d.row = take_a ? a : b;
    d.encoding = take_a ? Nvlink5Encoding::v1 : Nvlink5Encoding::v2;
  }
  if (!d.row) return std::nullopt;
  if (d.row->promotable) d.promoted = intr & (d.encoding == Nvlink5Encoding::v1 ? 1u << 10 : 1u << 7);
  return d;
}

}  // namespace gd::model
