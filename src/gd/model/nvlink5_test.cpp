#include "gd/model/nvlink5.hpp"

#include <gtest/gtest.h>

namespace gd::model {
namespace {

// Lines as public reports and NVIDIA's catalogue print them (docs/kernel-log.md, "NVLink5 Xids").
TEST(Nvlink5, ParsesTheMessageFields) {
  auto m = parse_nvlink5("149, NETIR_LINK_EVT  Fatal   XC0 i0 Link 01 (0x021425c6 0x00000000 0x00000000 0x00000000 "
                         "0x00000000 0x00000000)");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->unit, "NETIR_LINK_EVT");
  EXPECT_EQ(m->fatal, true);
  EXPECT_EQ(m->link, 1u);
  EXPECT_EQ(m->intr_info, 0x021425c6u);
  EXPECT_EQ(m->error_status, 0u);
  auto n = parse_nvlink5("145, RLW_REMAP Nonfatal XC0 i0 Link 00 (0x00000004 0x00000001 0x00000000 0x00000000)");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->fatal, false);
  EXPECT_EQ(n->link, 0u);
  EXPECT_EQ(n->error_status, 1u);
  // Early R565 builds: one register in brackets.
  auto o = parse_nvlink5("149, NETIR_LINK_EVT Fatal XC 1 i 2 Link 01 [0x0000000a]");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->intr_info, 0xau);
  EXPECT_FALSE(o->error_status);
  EXPECT_FALSE(parse_nvlink5(""));
  auto garbage = parse_nvlink5("150, MSE (0xZZ 0x1)");
  ASSERT_TRUE(garbage);
  EXPECT_FALSE(garbage->intr_info);
}

TEST(Nvlink5, LinkDownReasonSelectsTheInvestigation) {
  // 0x021425c6 on R570 (V1): NETIR_LINK_EVT, reason 33 (bits 25:20) -> the peer is the source.
  auto m = parse_nvlink5("149, NETIR_LINK_EVT Fatal XC0 i0 Link 01 (0x021425c6 0x00000000)");
  auto d = decode_nvlink5(149, *m, 570);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->encoding, Nvlink5Encoding::v1);
  EXPECT_EQ(d->reason, 33u);
  EXPECT_EQ(d->row->unit, "NETIR_LINK_EVT/NETIR_LINK_DOWN");
  EXPECT_EQ(d->immediate(), "RESET_GPU");
  EXPECT_EQ(d->row->investigatory, "INVESTIGATE_PEER_DEVICE");
  EXPECT_EQ(d->row->severity, "Link Fatal");
  // Reason 22 (0x016415c6, a fault injected on purpose): software or user.
  auto inj = decode_nvlink5(149, *parse_nvlink5("149, NETIR_LINK_EVT Fatal XC0 i0 Link 00 (0x016415c6)"), 570);
  ASSERT_TRUE(inj);
  EXPECT_EQ(inj->row->investigatory, "INVESTIGATE_SW_USER");
  // Reason 40: IGNORE, investigate the host.
  Nvlink5Message host{"NETIR_LINK_DOWN", true, 3u, (40u << 20) | 17u, 0u};
  auto h = decode_nvlink5(149, host, 580);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->encoding, Nvlink5Encoding::v2);
  EXPECT_EQ(h->immediate(), "IGNORE");
  EXPECT_EQ(h->row->investigatory, "INVESTIGATE_HOST");
  // A reason the sheet does not list: no row.
  Nvlink5Message odd{"NETIR_LINK_DOWN", true, 3u, (9u << 20) | 17u, 0u};
  EXPECT_FALSE(decode_nvlink5(149, odd, 580));
}

TEST(Nvlink5, TheDriverVersionPicksTheEncoding) {
  // 0x82 is RLW_REMAP under V1 (subcode 4 in bits 9:5 over unit 2); under V2 it is subcode 2, no row.
  auto fatal = parse_nvlink5("145, RLW_REMAP Fatal XC1 i0 Link 10 (0x00000082 0x00000040 0x0 0x0 0x0 0x0)");
  auto v1 = decode_nvlink5(145, *fatal, 570);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->row->unit, "RLW_REMAP");
  EXPECT_EQ(v1->immediate(), "RESET_GPU");
  EXPECT_EQ(v1->row->severity, "Fatal");
  EXPECT_FALSE(decode_nvlink5(145, *fatal, 575));
  // Unknown version: the one encoding that matches.
  auto guessed = decode_nvlink5(145, *fatal, std::nullopt);
  ASSERT_TRUE(guessed);
  EXPECT_TRUE(guessed->encoding_guessed);
  EXPECT_EQ(guessed->encoding, Nvlink5Encoding::v1);
  // 0x04 on R575+: RLW_REMAP, status 0x1 -> follow the Xid 154.
  auto eval = decode_nvlink5(145, *parse_nvlink5("145, RLW_REMAP Nonfatal XC0 i0 Link 00 (0x00000004 0x00000001)"), 580);
  ASSERT_TRUE(eval);
  EXPECT_EQ(eval->immediate(), "XID_154_EVAL");
  EXPECT_EQ(eval->row->severity, "Non-fatal");
  EXPECT_FALSE(decode_nvlink5(145, *parse_nvlink5("145, RLW_REMAP Nonfatal (0x00000004 0x00000001)"), 570));
}

TEST(Nvlink5, StatusBitsAndPromotion) {
  // SAW_MVB (V2 subcode 1): 0x2 fatal, 0x4 nothing; both bits set -> the worse row.
  Nvlink5Message saw{"SAW_MVB", std::nullopt, 0u, 0x1u, 0x6u};
  auto d = decode_nvlink5(144, saw, 580);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->row->status, 0x2u);
  EXPECT_EQ(d->immediate(), "RESET_GPU");
  saw.error_status = 0x4u;
  EXPECT_EQ(decode_nvlink5(144, saw, 580)->immediate(), "IGNORE");
  // RLW_RXPIPE status 0x1 is IGNORE unless the action-2 bit (V2: bit 7; V1: bit 10) is set.
  Nvlink5Message rx{"RLW_RXPIPE", false, 2u, 0x06u, 0x1u};
  auto quiet = decode_nvlink5(145, rx, 580);
  ASSERT_TRUE(quiet);
  EXPECT_FALSE(quiet->promoted);
  EXPECT_EQ(quiet->immediate(), "IGNORE");
  rx.intr_info = 0x86u;
  auto promoted = decode_nvlink5(145, rx, 580);
  ASSERT_TRUE(promoted);
  EXPECT_TRUE(promoted->promoted);
  EXPECT_EQ(promoted->immediate(), "RESET_GPU");
  rx.intr_info = (1u << 10) | (6u << 5) | 2u;
  EXPECT_TRUE(decode_nvlink5(145, rx, 560)->promoted);
  // The V1 TLW_RX rows for pipe 0 and pipe 1 share a pattern; the printed unit picks neither wrongly.
  Nvlink5Message tlw{"TLW_RX", true, 1u, (10u << 5) | 3u, 0x4u};
  auto t = decode_nvlink5(146, tlw, 570);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->immediate(), "RESET_GPU");
  // Not an NVLink5 Xid, or no IntrInfo: nothing.
  EXPECT_FALSE(decode_nvlink5(79, tlw, 570));
  EXPECT_FALSE(decode_nvlink5(146, Nvlink5Message{"TLW_RX", true, 1u, std::nullopt, std::nullopt}, 570));
}

TEST(Nvlink5, EveryRowIsReachable) {
  // Each row is found again from its own pattern, under both encodings (no row is shadowed by an earlier one,
  // except the V1 TLW pipe-1 rows, which V1 cannot tell from pipe 0).
  for (const auto& r : nvlink5_table()) {
    Nvlink5Message m{std::string(r.unit.substr(0, r.unit.find('/'))), std::nullopt, 0u, r.v2, r.status.value_or(0)};
    auto d = decode_nvlink5(r.xid, m, 580);
    ASSERT_TRUE(d) << r.xid << " " << r.unit;
    EXPECT_EQ(d->row->immediate, r.immediate) << r.xid << " " << r.unit;
    EXPECT_EQ(d->row->investigatory, r.investigatory) << r.xid << " " << r.unit;
    m.intr_info = r.v1;
    auto d1 = decode_nvlink5(r.xid, m, 570);
    ASSERT_TRUE(d1) << r.xid << " " << r.unit;
    EXPECT_EQ(d1->row->immediate, r.immediate) << r.xid << " " << r.unit;
  }
}

}  // namespace
}  // namespace gd::model
