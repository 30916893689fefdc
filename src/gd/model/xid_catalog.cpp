#include "gd/model/xid_catalog.hpp"

#include <algorithm>
#include <utility>

namespace gd::model {

namespace {

using A = XidAction;
constexpr Severity W = Severity::warning;
constexpr Severity C = Severity::critical;

// Sorted by code. Severity: critical when the GPU or node needs a reset, a
// reboot or repair; warning when the application must be restarted or the
// event is informational. Actions follow NVIDIA's "immediate action" column.
constexpr XidInfo k_xids[] = {
    {8, 8, "FIFO_ERROR_IDLE_TIMEOUT", "GPU stopped processing (channel idle timeout)", W, A::restart_app,
     "Restart the application; if it repeats on the same GPU, reset the GPU", "RESTART_APP", "CONTACT_SUPPORT"},
    {13, 13, "GR_EXCEPTION", "graphics engine exception (out-of-bounds access or illegal instruction)", W,
     A::restart_app, "Fix or restart the application; repeats on the same GPU across jobs call for a DCGM diag", "RESTART_APP", "WORKFLOW_XID_13"},
    {31, 31, "FIFO_ERROR_MMU_ERR_FLT", "GPU memory page fault (MMU fault)", W, A::restart_app,
     "Usually an application bug: restart it; investigate the GPU only if it repeats across applications", "RESTART_APP", "WORKFLOW_XID_31"},
    {32, 32, "PBDMA_ERROR", "invalid or corrupted push buffer stream", W, A::restart_app, "Restart the application", "RESTART_APP", "CHECK_APP"},
    {43, 43, "RESETCHANNEL_VERIF_ERROR", "GPU stopped processing: a channel was reset (application fault)", W,
     A::ignore, "No action for the GPU: the application that caused it was stopped", "IGNORE", "CONTACT_SUPPORT"},
    {45, 45, "PREEMPTIVE_REMOVAL", "preemptive cleanup after an earlier error or an application abort", W, A::ignore,
     "Follow the Xid that caused it (\"caused by previous Xid N\"); alone it only means a process was killed", "WORKFLOW_XID_45", ""},
    {46, 46, "GPU_TIMEOUT_ERROR", "GPU stopped processing", C, A::reset_gpu,
     "Drain the GPU and reset it (nvidia-smi -r), reboot if the reset fails", "RESET_GPU", "CONTACT_SUPPORT"},
    {48, 48, "GPU_ECC_DBE", "double-bit (uncorrectable) ECC memory error", C, A::reset_gpu,
     "Drain the GPU and reset it to retire the page or remap the row; replace the card if remapping fails", "WORKFLOW_XID_48", ""},
    {61, 61, "PMU_BREAKPOINT", "internal micro-controller breakpoint or warning", C, A::reset_gpu,
     "Reset the GPU; contact support if it repeats", "CONTACT_SUPPORT", ""},
    {62, 62, "PMU_HALT_ERROR", "internal micro-controller halt", C, A::reset_gpu,
     "Drain the GPU and reset it (reboot if the reset fails)", "RESET_GPU", "CONTACT_SUPPORT"},
    {63, 63, "INFOROM_DRAM_RETIREMENT_EVENT", "memory page retirement or row remap recorded", W, A::reset_gpu,
     "Schedule a GPU reset at a convenient time to apply the pending remap", "IGNORE", "IGNORE"},
    {64, 64, "INFOROM_DRAM_RETIREMENT_FAILURE", "memory page retirement or row remap failed", C, A::inspect_hardware,
     "Drain the GPU; a remap failure is a criterion for replacing the card (RMA)", "RESET_GPU", "CONTACT_SUPPORT"},
    {68, 68, "NVDEC0_ERROR", "video decoder exception", W, A::restart_app, "Restart the application", "RESTART_APP", "CONTACT_SUPPORT"},
    {74, 74, "NVLINK_ERROR", "NVLink error", C, A::reset_gpu,
     "Check nvidia-smi nvlink -s / -e, reset the GPU; inspect the NVLink hardware if it persists", "WORKFLOW_NVLINK_ERR", "CONTACT_SUPPORT"},
    {79, 79, "GPU_HAS_FALLEN_OFF_THE_BUS", "GPU has fallen off the bus (lost on PCIe)", C, A::reboot,
     "Drain and reboot the node; if it recurs inspect power, cooling, seating and the system BIOS", "RESTART_BM", "CONTACT_SUPPORT"},
    {92, 92, "EXCESSIVE_SBE_INTERRUPTS", "high rate of single-bit (correctable) ECC errors", W, A::ignore,
     "Monitor the ECC error trend", "IGNORE", "CONTACT_SUPPORT"},
    {94, 94, "CONTAINED_ERROR", "contained (poisoned) memory error", W, A::restart_app,
     "Restart the affected application; reset the GPU at a convenient time to remap the row", "RESTART_APP", "IGNORE"},
    {95, 95, "UNCONTAINED_ERROR", "uncontained memory error", C, A::reset_gpu,
     "Drain the GPU and reset it (reboot if the reset fails)", "RESET_GPU", "IGNORE"},
    {109, 109, "CTXSW_TIMEOUT_ERROR", "context switch timeout", W, A::reset_gpu,
     "Often an application hang: restart it; reset the GPU if it repeats", "RESET_GPU", "CONTACT_SUPPORT"},
    {110, 110, "SEC_FAULT_ERROR", "security fault", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", "INVESTIGATE_SW"},
    {119, 119, "GSP_RPC_TIMEOUT", "GSP firmware RPC timeout", C, A::reset_gpu,
     "Drain the GPU and reset it (nvidia-smi may hang until then); update the driver if it recurs", "RESET_GPU", "INVESTIGATE_SW"},
    {120, 120, "GSP_ERROR", "GSP firmware error", C, A::reset_gpu,
     "Drain the GPU and reset it; update the driver if it recurs", "RESET_GPU", "INVESTIGATE_SW"},
    {121, 121, "C2C_ERROR", "chip-to-chip (Grace CPU to GPU) link error", W, A::ignore,
     "Watch for repeats; contact support if they continue", "IGNORE", "CONTACT_SUPPORT"},
    {136, 136, "ALI_TRAINING_FAIL", "NVLink link training failed", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", "INVESTIGATE_LINK_SI"},
    {140, 140, "UNRECOVERABLE_ECC_ERROR_ESCAPE", "unrecovered ECC error", C, A::reset_gpu,
     "Drain the GPU and reset it", "RESET_GPU", "CONTACT_SUPPORT"},
    {143, 143, "GPU_INIT_ERROR", "GPU initialisation error", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", "CONTACT_SUPPORT"},
    {144, 150, "NVLINK5_ERROR", "NVLink5 error (SAW/RLW/TLW/TREX/NVLPW_CTRL/NETIR/MSE unit)", C, A::reset_gpu,
     "Act when the message says Fatal: reset the GPU; non-fatal subcodes need watching only", "WORKFLOW_NVLINK5_ERR", ""},
    {154, 154, "GPU_RECOVERY_ACTION_CHANGED", "the driver changed the GPU's recovery action", C, A::reset_gpu,
     "Do exactly what the message states (GPU reset, node reboot, drain)", "XID_154", ""},
    {155, 155, "NVLINK_SW_DEFINED", "NVLink software-defined error", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", ""},
    {156, 156, "RESOURCE_RETIREMENT_EVENT", "a GPU resource was retired", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", ""},
    {157, 157, "RESOURCE_RETIREMENT_FAILURE", "retiring a GPU resource failed", W, A::ignore,
     "Watch for repeats; contact support if they continue", "IGNORE", ""},
    {158, 158, "GPU_FATAL_TIMEOUT", "fatal GPU timeout", C, A::reset_gpu, "Reset the GPU", "RESET_GPU", ""},
};

constexpr XidInfo k_fallen_off = {
    79,
    79,
    "GPU_HAS_FALLEN_OFF_THE_BUS",
    "GPU has fallen off the bus and does not respond (no Xid number)",
    C,
    A::reboot,
    "Drain and reboot the node; if it recurs inspect power, cooling, seating and the system BIOS"};
constexpr XidInfo k_api_mismatch = {0,
                                    0,
                                    "API_MISMATCH",
                                    "driver user space and kernel module versions differ",
                                    C,
                                    A::reboot,
                                    "Reboot (or unload and reload the nvidia modules) so both run the same version"};
constexpr XidInfo k_rm_init_failed = {
    0,
    0,
    "RM_INIT_ADAPTER_FAILED",
    "the driver could not initialise the GPU (RmInitAdapter failed)",
    C,
    A::reboot,
    "Reboot; if it persists check the GSP firmware files, BIOS settings and the card"};

// The kernel's stall reports, kept only when they are inside the driver.
constexpr XidInfo k_hung_task = {
    0, 0, "HUNG_TASK_IN_DRIVER", "a task was blocked inside the NVIDIA driver (uninterruptible sleep)", C,
    A::reboot,
    "The task cannot be killed and a GPU reset is refused while it holds the GPU: drain the node and reboot"};
constexpr XidInfo k_soft_lockup = {
    0, 0, "SOFT_LOCKUP_IN_DRIVER", "a CPU was stuck inside the NVIDIA driver without scheduling (soft lockup)", C,
    A::reboot, "Drain the node and reboot; a driver stuck on PCIe accesses does not recover by itself"};
constexpr XidInfo k_hard_lockup = {
    0, 0, "HARD_LOCKUP_IN_DRIVER", "a CPU was stuck inside the NVIDIA driver with interrupts off (hard lockup)", C,
    A::reboot, "Drain the node and reboot; inspect the GPU's PCIe link and power if it recurs"};
constexpr XidInfo k_rcu_stall = {
    0, 0, "RCU_STALL_IN_DRIVER", "a CPU stalled RCU while inside the NVIDIA driver", C, A::reboot,
    "Drain the node and reboot; the driver holds a CPU that the rest of the kernel waits for"};

constexpr std::pair<XidAction, std::string_view> k_action_names[] = {
    {A::ignore, "ignore"},       {A::restart_app, "restart app"}, {A::investigate, "investigate"},
    {A::reset_gpu, "reset GPU"}, {A::reboot, "reboot"},           {A::inspect_hardware, "inspect hardware"},
};

}  // namespace

std::span<const XidInfo> xid_table() { return k_xids; }

XidInfo xid_info(int code) {
  auto it = std::find_if(std::begin(k_xids), std::end(k_xids),
                         [code](const XidInfo& x) { return code >= x.first && code <= x.last; });
  if (it != std::end(k_xids)) return *it;
  return XidInfo{code,
                 code,
                 "UNKNOWN",
                 "not in gpudoctor's Xid catalogue",
                 Severity::warning,
                 A::investigate,
                 "Look the code up in NVIDIA's Xid catalogue (docs.nvidia.com/deploy/xid-errors)"};
}

std::string_view xid_action_name(XidAction a) {
  for (const auto& [e, name] : k_action_names)
    if (e == a) return name;
  return "?";
}

XidInfo kernel_event_info(KernelEventKind kind, std::optional<int> xid) {
  switch (kind) {
    case KernelEventKind::fallen_off_bus: return xid ? xid_info(*xid) : k_fallen_off;
    case KernelEventKind::api_mismatch: return k_api_mismatch;
    case KernelEventKind::rm_init_failed: return k_rm_init_failed;
    case KernelEventKind::hung_task: return k_hung_task;
    case KernelEventKind::soft_lockup: return k_soft_lockup;
    case KernelEventKind::hard_lockup: return k_hard_lockup;
    case KernelEventKind::rcu_stall: return k_rcu_stall;
    case KernelEventKind::xid: break;
  }
  return xid_info(xid.value_or(0));
}

}  // namespace gd::model
