#include "gd/model/xid_catalog.hpp"

#include <gtest/gtest.h>

namespace gd::model {
namespace {

TEST(XidCatalog, KnownCodes) {
  auto x79 = xid_info(79);
  EXPECT_EQ(x79.mnemonic, "ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS");
  EXPECT_EQ(x79.immediate, "RESTART_BM");
  EXPECT_EQ(x79.investigatory, "CONTACT_SUPPORT");
  EXPECT_EQ(x79.severity, Severity::critical);
  EXPECT_EQ(x79.action, XidAction::reboot);
  EXPECT_EQ(xid_info(48).action, XidAction::reset_gpu);
  EXPECT_EQ(xid_info(64).action, XidAction::inspect_hardware);
  EXPECT_EQ(xid_info(13).severity, Severity::warning);
  EXPECT_EQ(xid_info(13).action, XidAction::restart_app);
  EXPECT_EQ(xid_info(43).action, XidAction::ignore);
  EXPECT_EQ(xid_info(119).mnemonic, "GSP_RPC_TIMEOUT");
}

TEST(XidCatalog, NvidiasLateCatalogue) {
  const char* nvlink5[] = {"NVLINK_SAW_ERROR", "NVLINK_RLW_ERROR", "NVLINK_TLW_ERROR", "NVLINK_TREX_ERROR",
                           "NVLINK_NVLPW_CTRL_ERROR", "NVLINK_NETIR_ERROR", "NVLINK_MSE_ERROR"};
  for (int code = 144; code <= 150; ++code) {
    EXPECT_EQ(xid_info(code).mnemonic, nvlink5[code - 144]) << code;
    EXPECT_EQ(xid_info(code).immediate, "WORKFLOW_NVLINK5_ERR");
  }
  // The codes the issue names, each with its mnemonic; 162-172 have no bucket yet.
  for (int code : {54, 78, 137, 140, 141, 142, 143, 151, 152, 153, 155, 156, 157, 158, 159, 160, 161, 162, 163, 164,
                   165, 166, 167, 168, 169, 170, 171, 172}) {
    auto x = xid_info(code);
    EXPECT_NE(x.mnemonic, "UNKNOWN") << code;
    EXPECT_EQ(x.first, code);
    if (code >= 162) EXPECT_TRUE(x.immediate.empty() && x.investigatory.empty()) << code;
    else EXPECT_FALSE(x.immediate.empty()) << code;
  }
  EXPECT_EQ(xid_info(54).immediate, "CHECK_MECHANICALS");
  EXPECT_EQ(xid_info(78).immediate, "UPDATE_SWFW");
  EXPECT_EQ(xid_info(151).immediate, "RESTART_VM");
  EXPECT_EQ(xid_info(159).immediate, "CHECK_UVM");
  EXPECT_EQ(xid_info(159).investigatory, "SYMPATHETIC_REPORT_SOLO");
  EXPECT_EQ(xid_info(137).investigatory, "XID_137_FLOW");
  EXPECT_EQ(xid_info(171).mnemonic, "UNCORRECTABLE_DRAM_ERROR");
  EXPECT_EQ(xid_info(172).mnemonic, "UNCORRECTABLE_SRAM_ERROR");
  EXPECT_EQ(xid_info(106).severity, Severity::ok);  // SMBPBI test message
  EXPECT_EQ(xid_info(155).mnemonic, "NVLINK_SW_DEFINED_ERROR");
  EXPECT_EQ(xid_info(156).mnemonic, "RESOURCE_RETIREMENT_EVENT");
  EXPECT_EQ(xid_info(157).action, XidAction::ignore);
  EXPECT_EQ(xid_info(158).mnemonic, "GPU_FATAL_TIMEOUT");
}

TEST(XidCatalog, UnknownCodes) {
  for (int code : {0, 1, 9, 47, 173, 999, -5, 100000}) {
    auto x = xid_info(code);
    EXPECT_EQ(x.mnemonic, "UNKNOWN") << code;
    EXPECT_EQ(x.first, code);
    EXPECT_EQ(x.severity, Severity::warning);
    EXPECT_EQ(x.action, XidAction::investigate);
  }
}

TEST(XidCatalog, TableIsSortedWithoutOverlapsAndComplete) {
  int last = 0;
  for (const auto& x : xid_table()) {
    EXPECT_GT(x.first, last) << x.first;
    EXPECT_LE(x.first, x.last);
    EXPECT_FALSE(x.meaning.empty());
    EXPECT_FALSE(x.advice.empty());
    EXPECT_NE(xid_action_name(x.action), "?");
    last = x.last;
  }
}

TEST(XidCatalog, KernelEventsWithoutXid) {
  EXPECT_EQ(kernel_event_info(KernelEventKind::fallen_off_bus, std::nullopt).action, XidAction::reboot);
  EXPECT_EQ(kernel_event_info(KernelEventKind::fallen_off_bus, std::nullopt).severity, Severity::critical);
  EXPECT_EQ(kernel_event_info(KernelEventKind::api_mismatch, std::nullopt).mnemonic, "API_MISMATCH");
  EXPECT_EQ(kernel_event_info(KernelEventKind::rm_init_failed, std::nullopt).severity, Severity::critical);
  EXPECT_EQ(kernel_event_info(KernelEventKind::xid, 31).mnemonic, "ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT");
}

TEST(XidCatalog, ActionNames) {
  EXPECT_EQ(xid_action_name(XidAction::restart_app), "restart app");
  EXPECT_EQ(xid_action_name(XidAction::reset_gpu), "reset GPU");
  EXPECT_EQ(xid_action_name(XidAction::reboot), "reboot");
  EXPECT_EQ(xid_action_name(XidAction::inspect_hardware), "inspect hardware");
  EXPECT_EQ(xid_action_name(XidAction::ignore), "ignore");
}

}  // namespace
}  // namespace gd::model
