// NVLink5 Xids 144-150, decoded the way NVIDIA's catalogue ("XID 144-150
// Decode") says: the message names the unit, Fatal/Nonfatal and the link, and
// carries registers; the first (IntrInfo) holds the subcode (bits 9:5 over the
// unit in 4:0 before R575, "V1"; bits 6:0 from R575 on, "V2") and, in bits
// 25:20, a reason (Xid 149's link-down cause); the second is the error status.
// The pair selects a row with NVIDIA's resolution buckets and severity.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace gd::model {

// "149, NETIR_LINK_EVT  Fatal   XC0 i0 Link 01 (0x021425c6 0x00000000 ...)"
struct Nvlink5Message {
  std::string unit;                // the subcode as printed: "NETIR_LINK_EVT"
  std::optional<bool> fatal;       // "Fatal" / "Nonfatal"
  std::optional<unsigned> link;    // "Link 01"
  std::optional<std::uint32_t> intr_info, error_status;  // the first two registers
};

// The fields of an Xid 144-150 message (the whole "NVRM: Xid (PCI:...): 149, ..." line or the text after
// the code); nullopt when it has none of them.
std::optional<Nvlink5Message> parse_nvlink5(std::string_view message);

enum class Nvlink5Encoding { v1, v2 };  // IntrInfo layout: before R575 / from R575 on

struct Nvlink5Row {
  int xid;
  std::string_view unit;               // the catalogue's subcode: "RLW_REMAP", "NETIR_LINK_EVT/NETIR_LINK_DOWN"
  std::uint32_t v1, v2;                // IntrInfo under the masks below
  std::optional<std::uint32_t> status; // the error status this row is for; nullopt: any
  std::string_view immediate;          // "RESET_GPU", "IGNORE", "XID_154_EVAL"
  std::string_view investigatory;      // "CONTACT_SUPPORT", "INVESTIGATE_PEER_DEVICE", ...
  std::string_view severity;           // "Fatal", "Non-fatal", "Link Fatal"
  std::string_view effect;             // local and remote effect, as the catalogue states it
  bool promotable = false;             // "Non-fatal*": IntrInfo bit 10 (V1) / 7 (V2) set promotes it to RESET_GPU
};

inline constexpr std::uint32_t k_nvlink5_mask_v1 = 0x03F003FFu;  // reason 25:20, subcode 9:5, unit 4:0
inline constexpr std::uint32_t k_nvlink5_mask_v2 = 0x03F0007Fu;  // reason 25:20, subcode 6:0

struct Nvlink5Decode {
  const Nvlink5Row* row = nullptr;
  Nvlink5Encoding encoding = Nvlink5Encoding::v2;
  bool promoted = false;       // a promotable row with its promotion bit set: RESET_GPU
  bool encoding_guessed = false;  // no driver version known: the one encoding that matched
  unsigned reason = 0;         // IntrInfo bits 25:20
  std::string_view immediate() const { return promoted ? std::string_view("RESET_GPU") : row->immediate; }
};

// Every row of the decode sheet.
std::span<const Nvlink5Row> nvlink5_table();

// The row for an Xid 144-150 message. driver_major selects the encoding
// (< 575: V1); without it both are tried and a match in only one is taken
// (encoding_guessed). When the error status has several bits, the row of the
// worst bit is taken. nullopt: no IntrInfo, or no row matches.
std::optional<Nvlink5Decode> decode_nvlink5(int xid, const Nvlink5Message& m, std::optional<int> driver_major);

}  // namespace gd::model
