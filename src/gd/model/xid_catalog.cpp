#include "gd/model/xid_catalog.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

namespace gd::model {

namespace {

using A = XidAction;
constexpr Severity W = Severity::warning;
constexpr Severity C = Severity::critical;

constexpr Severity O = Severity::ok;

constexpr std::string_view k_restart = "Restart the application";
constexpr std::string_view k_ignore_watch = "No action for the GPU; contact support if it repeats";
constexpr std::string_view k_nvlink5 =
    "Decoded per message (unit, IntrInfo, error status): act on what the decode says; undecoded, a Fatal one "
    "calls for a GPU reset and a Nonfatal one for watching";

// NVIDIA's Xid catalogue (docs.nvidia.com/deploy/xid-errors, late 2026): every
// code it lists as used on Ampere or newer, plus 61 (Volta and older), sorted by
// code, with NVIDIA's mnemonic and both resolution buckets. Severity: critical
// when the GPU or node needs a reset, a reboot or repair; warning when the
// application must be restarted or the event only needs watching; ok for test
// messages. Actions follow the immediate bucket except where docs/kernel-log.md
// ("The Xid catalogue") says why not; codes 162-172 have no bucket yet, their
// action is gpudoctor's reading of the trigger text.
constexpr XidInfo k_xids[] = {
    {8, 8, "ROBUST_CHANNEL_FIFO_ERROR_IDLE_TIMEOUT", "GPU stopped processing (channel idle timeout)", W, A::restart_app,
     "Restart the application; if it repeats on the same GPU, reset the GPU", "RESTART_APP", "CONTACT_SUPPORT"},
    {11, 11, "ROBUST_CHANNEL_GR_ERROR_MISSING_HW", "invalid or corrupted push buffer stream", W, A::restart_app,
     k_restart, "RESTART_APP", "CHECK_APP/CUDA"},
    {13, 13, "ROBUST_CHANNEL_GR_EXCEPTION", "graphics engine exception (out-of-bounds access or illegal instruction)", W, A::restart_app,
     "Fix or restart the application; repeats on the same GPU across jobs call for a DCGM diag", "RESTART_APP", "WORKFLOW_XID_13"},
    {14, 14, "ROBUST_CHANNEL_FAKE_ERROR", "fake or injected error from user space", W, A::ignore,
     "No action: someone injected it; find out who if that was not planned", "IGNORE", "CONTACT_SUPPORT"},
    {25, 25, "ROBUST_CHANNEL_GR_ILLEGAL_NOTIFY", "invalid or illegal push buffer stream", W, A::restart_app,
     k_restart, "RESTART_APP", "CHECK_APP/CUDA"},
    {31, 31, "ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT", "GPU memory page fault (MMU fault)", W, A::restart_app,
     "Usually an application bug: restart it; investigate the GPU only if it repeats across applications", "RESTART_APP", "WORKFLOW_XID_31"},
    {32, 32, "ROBUST_CHANNEL_PBDMA_ERROR", "invalid or corrupted push buffer stream (DMA controller fault, often PCIe quality)", W, A::restart_app,
     "Restart the application; if it repeats, check the GPU's PCIe link (replays, AER errors)", "RESTART_APP", "CHECK_APP/CUDA"},
    {37, 37, "ROBUST_CHANNEL_FECS_ERR_UNIMP_FIRMWARE_METHOD", "driver firmware error", W, A::ignore,
     k_ignore_watch, "IGNORE", "CHECK_APP/CUDA"},
    {38, 38, "ROBUST_CHANNEL_FECS_ERR_WATCHDOG_TIMEOUT", "driver firmware error (watchdog timeout)", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {39, 39, "ROBUST_CHANNEL_CE0_ERROR", "copy engine exception (CE0)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {40, 40, "ROBUST_CHANNEL_CE1_ERROR", "copy engine exception (CE1)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {41, 41, "ROBUST_CHANNEL_CE2_ERROR", "copy engine exception (CE2)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {43, 43, "ROBUST_CHANNEL_RESETCHANNEL_VERIF_ERROR", "GPU stopped processing: a channel was reset (application fault)", W, A::ignore,
     "No action for the GPU: the application that caused it was stopped", "IGNORE", "CONTACT_SUPPORT"},
    {44, 44, "ROBUST_CHANNEL_GR_FAULT_DURING_CTXSW", "graphics engine fault during a context switch", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {45, 45, "ROBUST_CHANNEL_PREEMPTIVE_REMOVAL", "preemptive cleanup after an earlier error or an application abort", W, A::ignore,
     "Follow the Xid that caused it (\"caused by previous Xid N\"); alone it only means a process was killed", "WORKFLOW_XID_45", "Solo: RESTART_FM / Not solo: IGNORE"},
    {46, 46, "ROBUST_CHANNEL_GPU_TIMEOUT_ERROR", "GPU stopped processing", C, A::reset_gpu,
     "Drain the GPU and reset it (nvidia-smi -r), reboot if the reset fails", "RESET_GPU", "CONTACT_SUPPORT"},
    {48, 48, "ROBUST_CHANNEL_GPU_ECC_DBE", "double-bit (uncorrectable) ECC memory error", C, A::reset_gpu,
     "Drain the GPU and reset it to retire the page or remap the row; replace the card if remapping fails", "WORKFLOW_XID_48", "WORKFLOW_XID_48"},
    {54, 54, "SILENT_RUNNING_PWR_REDUCED_CLOCKING", "auxiliary power is not connected to the GPU board", C, A::inspect_hardware,
     "Check that the board's auxiliary power cables are connected and the card is seated", "CHECK_MECHANICALS", "CONTACT_SUPPORT"},
    {60, 60, "ROBUST_CHANNEL_SEC2_ERROR", "video processor (SEC2) exception", W, A::restart_app,
     k_restart, "RESTART_APP", "INVESTIGATE_SW"},
    {61, 61, "PMU_BREAKPOINT", "internal micro-controller breakpoint or warning (Volta and older; unused since Ampere)", C, A::reset_gpu,
     "Reset the GPU; contact support if it repeats", "CONTACT_SUPPORT", ""},
    {62, 62, "PMU_HALT_ERROR", "internal micro-controller halt", C, A::reset_gpu,
     "Drain the GPU and reset it (reboot if the reset fails)", "RESET_GPU", "CONTACT_SUPPORT"},
    {63, 63, "INFOROM_DRAM_RETIREMENT_EVENT", "memory page retirement or row remap recorded", W, A::reset_gpu,
     "Schedule a GPU reset at a convenient time to apply the pending remap", "IGNORE", "IGNORE"},
    {64, 64, "INFOROM_DRAM_RETIREMENT_FAILURE", "memory page retirement or row remap failed", C, A::inspect_hardware,
     "Drain the GPU; a remap failure is a criterion for replacing the card (RMA)", "RESET_GPU", "CONTACT_SUPPORT"},
    {66, 66, "ROBUST_CHANNEL_FECS_ERR_REG_ACCESS_VIOLATION", "illegal register access by the driver", W, A::ignore,
     k_ignore_watch, "IGNORE", "INVESTIGATE_SW"},
    {67, 67, "ROBUST_CHANNEL_FECS_ERR_VERIF_VIOLATION", "illegal access by the driver", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {68, 68, "ROBUST_CHANNEL_NVDEC0_ERROR", "video decoder exception (NVDEC0)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {69, 69, "ROBUST_CHANNEL_GR_CLASS_ERROR", "graphics engine class error", W, A::restart_app,
     k_restart, "RESTART_APP", "CHECK_APP/CUDA"},
    {70, 70, "ROBUST_CHANNEL_CE3_ERROR", "copy engine exception (CE3)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {71, 71, "ROBUST_CHANNEL_CE4_ERROR", "copy engine exception (CE4)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {72, 72, "ROBUST_CHANNEL_CE5_ERROR", "copy engine exception (CE5)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {74, 74, "NVLINK_ERROR", "NVLink error", C, A::reset_gpu,
     "Check nvidia-smi nvlink -s / -e, reset the GPU; inspect the NVLink hardware if it persists", "WORKFLOW_NVLINK_ERR", "CONTACT_SUPPORT"},
    {75, 75, "ROBUST_CHANNEL_CE6_ERROR", "copy engine exception (CE6)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {76, 76, "ROBUST_CHANNEL_CE7_ERROR", "copy engine exception (CE7)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {77, 77, "ROBUST_CHANNEL_CE8_ERROR", "copy engine exception (CE8)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {78, 78, "VGPU_START_ERROR", "a vGPU could not start (guest and host drivers incompatible, or vGPU type unsupported)", W, A::investigate,
     "Update the host and guest drivers to compatible versions and check the vGPU type against the guest OS and GPU", "UPDATE_SWFW", "UPDATE_SWFW"},
    {79, 79, "ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS", "GPU has fallen off the bus (lost on PCIe)", C, A::reboot,
     "Drain and reboot the node; if it recurs inspect power, cooling, seating and the system BIOS", "RESTART_BM", "CONTACT_SUPPORT"},
    {80, 80, "PBDMA_PUSHBUFFER_CRC_MISMATCH", "corrupted data sent to the GPU", W, A::restart_app,
     k_restart, "RESTART_APP", "CHECK_APP/CUDA"},
    {82, 82, "ROBUST_CHANNEL_NVJPG0_ERROR", "JPEG engine exception (NVJPG0)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {83, 83, "ROBUST_CHANNEL_NVDEC1_ERROR", "video decoder exception (NVDEC1)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {84, 84, "ROBUST_CHANNEL_NVDEC2_ERROR", "video decoder exception (NVDEC2)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {85, 85, "ROBUST_CHANNEL_CE9_ERROR", "copy engine exception (CE9)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {86, 86, "ROBUST_CHANNEL_OFA0_ERROR", "optical flow accelerator exception (OFA0)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {88, 88, "ROBUST_CHANNEL_NVDEC3_ERROR", "video decoder exception (NVDEC3)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {89, 89, "ROBUST_CHANNEL_NVDEC4_ERROR", "video decoder exception (NVDEC4)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {92, 92, "EXCESSIVE_SBE_INTERRUPTS", "high rate of single-bit (correctable) ECC errors", W, A::ignore,
     "Monitor the ECC error trend", "IGNORE", "CONTACT_SUPPORT"},
    {93, 93, "INFOROM_ERASE_LIMIT_EXCEEDED", "the InfoROM could not be updated: its provisioned wear limit is reached", W, A::ignore,
     "Clear the InfoROM erase limit (nvflash --elsessionclear); report it to NVIDIA if that does not help", "IGNORE", "CONTACT_SUPPORT"},
    {94, 94, "ROBUST_CHANNEL_CONTAINED_ERROR", "contained (poisoned) memory error", W, A::restart_app,
     "Restart the affected application; reset the GPU at a convenient time to remap the row", "RESTART_APP", "IGNORE (sympathetic)"},
    {95, 95, "ROBUST_CHANNEL_UNCONTAINED_ERROR", "uncontained memory error", C, A::reset_gpu,
     "Drain the GPU and reset it (reboot if the reset fails)", "RESET_GPU", "IGNORE (sympathetic)"},
    {96, 96, "ROBUST_CHANNEL_NVDEC5_ERROR", "video decoder exception (NVDEC5)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {97, 97, "ROBUST_CHANNEL_NVDEC6_ERROR", "video decoder exception (NVDEC6)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {98, 98, "ROBUST_CHANNEL_NVDEC7_ERROR", "video decoder exception (NVDEC7)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {99, 99, "ROBUST_CHANNEL_NVJPG1_ERROR", "JPEG engine exception (NVJPG1)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {100, 100, "ROBUST_CHANNEL_NVJPG2_ERROR", "JPEG engine exception (NVJPG2)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {101, 101, "ROBUST_CHANNEL_NVJPG3_ERROR", "JPEG engine exception (NVJPG3)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {102, 102, "ROBUST_CHANNEL_NVJPG4_ERROR", "JPEG engine exception (NVJPG4)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {103, 103, "ROBUST_CHANNEL_NVJPG5_ERROR", "JPEG engine exception (NVJPG5)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {104, 104, "ROBUST_CHANNEL_NVJPG6_ERROR", "JPEG engine exception (NVJPG6)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {105, 105, "ROBUST_CHANNEL_NVJPG7_ERROR", "JPEG engine exception (NVJPG7)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {106, 106, "SMBPBI_TEST_MESSAGE", "SMBus post-box interface test message", O, A::ignore,
     "No action: a test message", "IGNORE", "IGNORE"},
    {107, 107, "SMBPBI_TEST_MESSAGE_SILENT", "SMBus post-box interface test message (silent)", O, A::ignore,
     "No action: a test message", "IGNORE", "IGNORE"},
    {108, 108, "NVLINK_REMOTE_TRANSLATION_ERROR", "NVLink remote translation error", W, A::ignore,
     "Usually an illegal peer access by the application: debug it with compute-sanitizer", "IGNORE", "XID_137_FLOW"},
    {109, 109, "ROBUST_CHANNEL_CTXSW_TIMEOUT_ERROR", "context switch timeout", W, A::reset_gpu,
     "Often an application hang: restart it; reset the GPU if it repeats", "RESET_GPU", "CONTACT_SUPPORT"},
    {110, 110, "SEC_FAULT_ERROR", "security fault", C, A::reset_gpu,
     "Revert recent hardware changes and cold-reset the node; contact the vendor if it persists", "RESET_GPU", "INVESTIGATE_SW"},
    {119, 119, "GSP_RPC_TIMEOUT", "GSP firmware RPC timeout", C, A::reset_gpu,
     "Drain the GPU and reset it (nvidia-smi may hang until then); update the driver if it recurs", "RESET_GPU", "INVESTIGATE_SW"},
    {120, 120, "GSP_ERROR", "GSP firmware error", C, A::reset_gpu,
     "Drain the GPU and reset it; update the driver if it recurs", "RESET_GPU", "INVESTIGATE_SW"},
    {121, 121, "C2C_ERROR", "corrected errors on the chip-to-chip (Grace CPU to GPU) link", W, A::ignore,
     "No impact now; reset the GPU in a service window to retrain the link", "IGNORE", "CONTACT_SUPPORT"},
    {126, 126, "ROBUST_CHANNEL_CE10_ERROR", "copy engine exception (CE10)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {127, 127, "ROBUST_CHANNEL_CE11_ERROR", "copy engine exception (CE11)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {128, 128, "ROBUST_CHANNEL_CE12_ERROR", "copy engine exception (CE12)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {129, 129, "ROBUST_CHANNEL_CE13_ERROR", "copy engine exception (CE13)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {130, 130, "ROBUST_CHANNEL_CE14_ERROR", "copy engine exception (CE14)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {131, 131, "ROBUST_CHANNEL_CE15_ERROR", "copy engine exception (CE15)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {132, 132, "ROBUST_CHANNEL_CE16_ERROR", "copy engine exception (CE16)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {133, 133, "ROBUST_CHANNEL_CE17_ERROR", "copy engine exception (CE17)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {134, 134, "ROBUST_CHANNEL_CE18_ERROR", "copy engine exception (CE18)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {135, 135, "ROBUST_CHANNEL_CE19_ERROR", "copy engine exception (CE19)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {136, 136, "ALI_TRAINING_FAIL", "NVLink link training failed", C, A::reset_gpu,
     "Reset the GPU; check the link's signal integrity if it recurs", "RESET_GPU", "INVESTIGATE_LINK_SI"},
    {137, 137, "NVLINK_PRIV_ERR", "NVLink privilege error (illegal peer-to-peer access seen by the remote MMU)", W, A::ignore,
     "Usually the application: debug it with compute-sanitizer or cuda-gdb", "IGNORE", "XID_137_FLOW"},
    {139, 139, "ROBUST_CHANNEL_OFA1_ERROR", "optical flow accelerator exception (OFA1)", W, A::restart_app,
     k_restart, "RESTART_APP", "CONTACT_SUPPORT"},
    {140, 140, "UNRECOVERABLE_ECC_ERROR_ESCAPE", "uncorrectable memory error the driver could not retire or remap", C, A::reset_gpu,
     "Drain the GPU and reset it; contact the vendor if it persists", "RESET_GPU", "CONTACT_SUPPORT"},
    {141, 141, "ROBUST_CHANNEL_FAST_PATH_ERROR", "CUDA fast path error", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {142, 142, "ROBUST_CHANNEL_NVENC3_ERROR", "video encoder exception (NVENC3)", W, A::investigate,
     "Contact support if it repeats", "CONTACT_SUPPORT", ""},
    {143, 143, "GPU_INIT_ERROR", "GPU initialisation error", C, A::reset_gpu,
     "Reset the GPU; contact support if it recurs", "RESET_GPU", "CONTACT_SUPPORT"},
    {144, 144, "NVLINK_SAW_ERROR", "NVLink5 SAW unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {145, 145, "NVLINK_RLW_ERROR", "NVLink5 RLW unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {146, 146, "NVLINK_TLW_ERROR", "NVLink5 TLW unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {147, 147, "NVLINK_TREX_ERROR", "NVLink5 TREX unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {148, 148, "NVLINK_NVLPW_CTRL_ERROR", "NVLink5 NVLPW_CTRL unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {149, 149, "NVLINK_NETIR_ERROR", "NVLink5 NETIR unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {150, 150, "NVLINK_MSE_ERROR", "NVLink5 MSE unit error", C, A::reset_gpu,
     k_nvlink5, "WORKFLOW_NVLINK5_ERR", "WORKFLOW_NVLINK5_ERR"},
    {151, 151, "ROBUST_CHANNEL_KEY_ROTATION_ERROR", "key rotation error (confidential computing)", C, A::reboot,
     "Restart the VM that owns the GPU", "RESTART_VM", "CONTACT_SUPPORT"},
    {152, 152, "ROBUST_CHANNEL_DLA_SMMU_ERROR", "deep learning accelerator SMMU error", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {153, 153, "ROBUST_CHANNEL_DLA_TIMEOUT", "deep learning accelerator timeout", W, A::ignore,
     k_ignore_watch, "IGNORE", "CONTACT_SUPPORT"},
    {154, 154, "GPU_RECOVERY_ACTION_CHANGED", "the driver changed the GPU's recovery action", C, A::reset_gpu,
     "Do exactly what the message states (GPU reset, node reboot, drain)", "XID_154", ""},
    {155, 155, "NVLINK_SW_DEFINED_ERROR", "an NVLink link was taken down on purpose (software-defined, including sleep)", C, A::reset_gpu,
     "If nobody meant to take the link down, find the software or user that did; reset the GPU to bring it back", "RESET_GPU", "INVESTIGATE_SW_USER"},
    {156, 156, "RESOURCE_RETIREMENT_EVENT", "a GPU resource was retired", C, A::reset_gpu,
     "Reset the GPU to apply the retirement", "RESET_GPU", "IGNORE"},
    {157, 157, "RESOURCE_RETIREMENT_FAILURE", "retiring a GPU resource failed (no spare resources left)", W, A::ignore,
     "Workloads may run but the same Xid may return; contact support if it continues", "IGNORE", "CONTACT_SUPPORT"},
    {158, 158, "GPU_FATAL_TIMEOUT", "fatal GPU timeout", C, A::reset_gpu,
     "Drain the GPU and reset it", "RESET_GPU", "CONTACT_SUPPORT"},
    {159, 159, "ROBUST_CHANNEL_CHI_NON_DATA_ERROR", "CHI non-data error on a C2C-connected GPU", W, A::investigate,
     "If UVM or vGPU is in use reset the GPU, otherwise ignore it; usually sympathetic to another Xid", "CHECK_UVM", "SYMPATHETIC_REPORT_SOLO"},
    {160, 160, "CHANNEL_RETIREMENT_EVENT", "a GPU channel was retired", W, A::ignore,
     k_ignore_watch, "IGNORE", "INVESTIGATE_SW"},
    {161, 161, "CHANNEL_RETIREMENT_FAILURE", "retiring a GPU channel failed", W, A::ignore,
     k_ignore_watch, "IGNORE", "INVESTIGATE_SW"},
    {162, 162, "PSHC_REENGAGED", "power-smoothing circuitry engaged again", O, A::ignore,
     "No action", "", ""},
    {163, 163, "PSHC_DISENGAGED", "power-smoothing circuitry disengaged", W, A::investigate,
     "No reset needed; to keep power smoothing, resolve the thermal events (reload the driver or reset the GPU if it timed out)", "", ""},
    {164, 164, "PSHC_LOW_LIFETIME", "power-smoothing circuitry near the end of its lifetime", W, A::inspect_hardware,
     "Plan to replace the GPU if power smoothing is needed; power smoothing will be disabled soon", "", ""},
    {165, 165, "PSHC_ZERO_LIFETIME", "power-smoothing circuitry lifetime exhausted (power swings now reach the facility)", W, A::inspect_hardware,
     "Replace the GPU if power smoothing is needed, or make sure the data centre can absorb the power swings", "", ""},
    {166, 166, "NVLINK_SECURE_CRYPTO_ERR", "confidential-computing traffic before the link was set up for encryption", W, A::investigate,
     "Confidential computing mode only: check the fabric set-up order", "", ""},
    {167, 167, "PCIE_FATAL_TIMEOUT", "fatal PCIe timeout", C, A::reset_gpu,
     "Drain the GPU and reset it; check the PCIe link (AER errors, replays) if it recurs", "", ""},
    {168, 168, "REDUCED_GPU_MEMORY_CAPACITY", "errors in the write-protected region: less GPU memory available", W, A::investigate,
     "Enable ECC (so rows can be remapped) or reboot to retry with a shifted write-protected region", "", ""},
    {169, 169, "SEC2_HALT_ERROR", "internal micro-controller (SEC2) halt", C, A::reset_gpu,
     "Drain the GPU and reset it (reboot if the reset fails)", "", ""},
    {170, 170, "NVLINK_SECURE_OTHER", "interrupt seen in confidential-computing mode", W, A::investigate,
     "Confidential computing mode only: contact support if it repeats", "", ""},
    {171, 171, "UNCORRECTABLE_DRAM_ERROR", "the uncorrectable error of an Xid 48 is in DRAM", C, A::reset_gpu,
     "Qualifies an Xid 48: reset the GPU or reboot so the row is remapped; replace the card if remapping fails", "", ""},
    {172, 172, "UNCORRECTABLE_SRAM_ERROR", "the uncorrectable error of an Xid 48 is in SRAM", C, A::reset_gpu,
     "Qualifies an Xid 48: reset the GPU, then check the SRAM error threshold; above it the card is an RMA case", "", ""},
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


// The driver's event messages without an Xid number (format strings of
// NVIDIA/open-gpu-kernel-modules; docs/kernel-log.md, "Driver messages").
using K = KernelEventKind;
constexpr std::string_view k_gsp_reset =
    "Reset the GPU (sudo nvidia-smi -r, or a reboot) and load the driver again; if it recurs, update the driver "
    "and the VBIOS";
constexpr XidInfo k_gsp_missing_info = {
    0, 0, "GSP_FIRMWARE_MISSING", "the driver found no GSP firmware image for its version", C, A::reboot,
    "Install the GSP firmware files of the loaded driver version (/lib/firmware/nvidia/<version>/gsp_*.bin, from the "
    "same driver package), then reload the driver or reboot"};
constexpr XidInfo k_gsp_boot_info = {0, 0, "GSP_BOOT_FAILED", "GSP firmware failed to boot", C, A::reset_gpu, k_gsp_reset};
constexpr XidInfo k_fullchip_info = {0, 0, "GPU_IN_FULLCHIP_RESET",
                                     "a full-chip GPU reset is in progress: calls to the GPU wait", W, A::investigate,
                                     "Wait for the reset to finish; if calls still hang a minute later, reboot"};
constexpr XidInfo k_reset_refused_info = {0, 0, "GPU_RESET_UNSUPPORTED",
                                          "a GPU reset was refused: FLR is not supported or disabled", W, A::reboot,
                                          "Reboot to recover the GPU: it cannot be reset on its own here"};
constexpr DriverMessageForm k_forms[] = {
    {K::gsp_failed, "gsp_firmware_missing", "", "No firmware image found", k_gsp_missing_info},
    {K::gsp_failed, "gsp_firmware_init", "", "Cannot initialize GSP firmware RM",
     {0, 0, "GSP_FIRMWARE_INIT_FAILED", "the GSP firmware could not be initialised", C, A::reset_gpu, k_gsp_reset}},
    {K::gsp_failed, "gsp_wpr2_up", "", "unexpected WPR2 already up",
     {0, 0, "GSP_WPR2_ALREADY_UP", "GSP cannot boot: the GPU is still in the state of an earlier run (WPR2 up)", C,
      A::reset_gpu, "Reset the GPU (sudo nvidia-smi -r, or a bus reset) or reboot: reloading the driver alone does not clear it"}},
    {K::gsp_failed, "gsp_firmware_missing", "", "need firmware to initialize GSP", k_gsp_missing_info},
    {K::gsp_failed, "gsp_boot_attempts", "", "Max GSP-RM boot attempts exceeded",
     {0, 0, "GSP_BOOT_ATTEMPTS_EXCEEDED", "GSP firmware failed to boot, every attempt", C, A::reset_gpu, k_gsp_reset}},
    {K::gsp_failed, "gsp_version_mismatch", "", "version mismatch: got version",
     {0, 0, "GSP_FIRMWARE_VERSION_MISMATCH", "the GSP firmware is of another version than the driver", C, A::reboot,
      "Install the firmware of the running driver version (a half-upgraded driver: finish the upgrade and reboot)"}},
    {K::gsp_failed, "gsp_boot", "", "Failed to boot GSP", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "GSP-RM entered into ICD", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "Booter failed with non-zero error code", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "GSP-FMC reported an error", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "Fatal GSP-FMC Error", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "Timeout waiting for lockdown release", k_gsp_boot_info},
    {K::gsp_failed, "gsp_boot", "", "Timeout waiting for GSP target mask release", k_gsp_boot_info},
    {K::gsp_failed, "gfw_boot", "", "failed to wait for GFW",
     {0, 0, "GFW_BOOT_INCOMPLETE", "the GPU's own firmware (VBIOS) did not finish booting", C, A::reboot,
      "Power-cycle the node (a warm reboot may not be enough); if it persists, the card or its VBIOS needs service"}},
    {K::probe_failed, "invalid_bar", "BAR", " @ 0x",
     {0, 0, "INVALID_BAR", "the PCI memory region (BAR) the BIOS gave the GPU is invalid", C, A::inspect_hardware,
      "Enable Above 4G decoding (and Resizable BAR where the GPU needs it) in the BIOS, or give the VM enough "
      "64-bit MMIO space"}},
    {K::probe_failed, "probe_failed", "", "probe routine failed for",
     {0, 0, "PROBE_FAILED", "the driver's probe rejected GPUs", C, A::investigate,
      "The lines before it say why (invalid BAR, fallen off the bus, ...)"}},
    {K::probe_failed, "none_initialized", "", "None of the NVIDIA devices were initialized",
     {0, 0, "NO_DEVICE_INITIALIZED", "the driver loaded but initialised no GPU", C, A::investigate,
      "The lines before it say why (invalid BAR, fallen off the bus, a conflicting driver such as nouveau)"}},
    {K::gpu_reset, "fullchip_reset", "", "currently in full-chip reset", k_fullchip_info},
    {K::gpu_reset, "fullchip_reset", "", "NV_ERR_GPU_IN_FULLCHIP_RESET", k_fullchip_info},
    {K::gpu_reset, "reset_not_back", "", "not back on the bus after",
     {0, 0, "GPU_NOT_BACK_AFTER_RESET", "the GPU did not come back on the bus after its reset", C, A::reboot,
      "Reboot (power-cycle) the node; if it recurs inspect the GPU's PCIe link, power and seating"}},
    {K::gpu_reset, "reset_unsupported", "", "Failing early in fullchip reset sequence", k_reset_refused_info},
    {K::gpu_reset, "reset_unsupported", "", "FLR is either not supported or is disabled", k_reset_refused_info},
    {K::gpu_reset, "reset_failed", "", "PCI FLR might have failed",
     {0, 0, "GPU_RESET_FAILED", "a GPU reset (function-level reset) may have failed", C, A::reboot,
      "Reboot the node; the GPU is not known to be in a usable state"}},
    {K::gpu_reset, "needs_reset", "", "The GPU likely needs to be reset",
     {0, 0, "GPU_NEEDS_RESET", "the driver says the GPU needs a reset (repeated GSP RPC errors)", C, A::reset_gpu,
      "Drain the GPU and reset it (sudo nvidia-smi -r), else reboot"}},
    {K::gpu_reset, "removed_in_use", "", "with non-zero usage count",
     {0, 0, "GPU_REMOVED_IN_USE", "the GPU was removed (reset or unbound) while processes still held it", W,
      A::investigate, "Stop the GPU's processes before resetting or unbinding it"}},
    {K::gpu_reset, "removal_failed", "", "Failed removal of device",
     {0, 0, "GPU_REMOVAL_FAILED", "removing the GPU (for a reset or unbind) failed", C, A::reboot, "Reboot the node"}},
};

constexpr std::pair<unsigned, std::string_view> k_rm_stages[] = {
    {0x10, "registry setup"}, {0x11, "system environment"}, {0x20, "GPU manager: allocate GPU"},
    {0x21, "GPU manager: create device"}, {0x22, "GPU manager: attach GPU"}, {0x23, "GPU pre-init"},
    {0x24, "GPU state init"}, {0x25, "GPU load"}, {0x26, "DMA configuration"}, {0x27, "GPU manager: expanded visibility"},
    {0x30, "VBIOS"}, {0x31, "VBIOS POST"}, {0x32, "VBIOS x86 emulation"}, {0x40, "scalability"}, {0x41, "watchdog"},
    {0x42, "USERD BAR1 mapping"}, {0x43, "GPU database registration"}, {0x44, "RM API allocation"},
    {0x45, "GPU info through RM API"}, {0x60, "firmware policy (GSP)"}, {0x61, "firmware fetch (GSP image)"},
    {0x62, "firmware init (GSP boot)"},
};

constexpr std::pair<unsigned, std::string_view> k_nv_status[] = {
    {0x0F, "NV_ERR_GPU_IS_LOST (GPU lost from the bus)"}, {0x10, "NV_ERR_GPU_IN_FULLCHIP_RESET (GPU currently in full-chip reset)"},
    {0x11, "NV_ERR_GPU_NOT_FULL_POWER (GPU not in full power)"}, {0x14, "NV_ERR_I2C_ERROR (I2C error)"},
    {0x17, "NV_ERR_IN_USE (generic busy error)"}, {0x1A, "NV_ERR_INSUFFICIENT_RESOURCES (ran out of a critical resource)"},
    {0x1B, "NV_ERR_INSUFFICIENT_PERMISSIONS (insufficient permissions)"}, {0x1F, "NV_ERR_INVALID_ARGUMENT (invalid argument)"},
    {0x22, "NV_ERR_INVALID_CLASS (class not valid)"}, {0x25, "NV_ERR_INVALID_DATA (invalid data passed)"},
    {0x26, "NV_ERR_INVALID_DEVICE (device not valid)"}, {0x28, "NV_ERR_INVALID_EVENT (invalid event occurred)"},
    {0x38, "NV_ERR_INVALID_OPERATION (operation not valid)"}, {0x3B, "NV_ERR_INVALID_PARAMETER (a parameter is not valid)"},
    {0x40, "NV_ERR_INVALID_STATE (invalid state)"}, {0x45, "NV_ERR_IRQ_NOT_FIRING (IRQ is not firing)"},
    {0x47, "NV_ERR_MEMORY_TRAINING_FAILED (memory training failed)"}, {0x4B, "NV_ERR_MODULE_LOAD_FAILED (module load failed)"},
    {0x51, "NV_ERR_NO_MEMORY (out of memory)"}, {0x54, "NV_ERR_NOT_COMPATIBLE (incompatible types)"},
    {0x55, "NV_ERR_NOT_READY (not ready)"}, {0x56, "NV_ERR_NOT_SUPPORTED (call not supported)"},
    {0x57, "NV_ERR_OBJECT_NOT_FOUND (object not found)"}, {0x59, "NV_ERR_OPERATING_SYSTEM (operating system error)"},
    {0x5F, "NV_ERR_PROTECTION_FAULT (protection fault)"}, {0x60, "NV_ERR_RC_ERROR (generic RC error)"},
    {0x61, "NV_ERR_REJECTED_VBIOS (VBIOS rejected or invalid)"}, {0x62, "NV_ERR_RESET_REQUIRED (reset required)"},
    {0x65, "NV_ERR_TIMEOUT (call timed out)"}, {0x66, "NV_ERR_TIMEOUT_RETRY (timed out, retry later)"},
    {0x6A, "NV_ERR_LIB_RM_VERSION_MISMATCH (library and driver versions differ)"},
    {0x6B, "NV_ERR_PRIV_SEC_VIOLATION (privilege security violation)"}, {0x70, "NV_ERR_FLCN_ERROR (falcon assert or halt)"},
    {0x71, "NV_ERR_FATAL_ERROR (fatal, unrecoverable)"}, {0x72, "NV_ERR_MEMORY_ERROR (memory error)"},
    {0x74, "NV_ERR_NVLINK_INIT_ERROR (NVLink init error)"}, {0x77, "NV_ERR_NVLINK_TRAINING_ERROR (NVLink training error)"},
    {0x79, "NV_ERR_RISCV_ERROR (RISC-V assert or halt)"}, {0x7A, "NV_ERR_FABRIC_MANAGER_NOT_PRESENT (fabric manager not loaded)"},
    {0x7F, "NV_ERR_SECURE_BOOT_FAILED (GFW secure boot failed)"}, {0x81, "NV_ERR_NVLINK_FABRIC_NOT_READY (fabric probe not complete)"},
    {0x82, "NV_ERR_NVLINK_FABRIC_FAILURE (fabric probe failed)"}, {0xFFFF, "NV_ERR_GENERIC (generic error)"},
};

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
    case KernelEventKind::gsp_failed:
    case KernelEventKind::probe_failed:
    case KernelEventKind::gpu_reset:
      for (const auto& f : k_forms)
        if (f.kind == kind) return f.info;  // (an event carries its form: kernel_event_info(event))
      break;
    case KernelEventKind::xid: break;
  }
  return xid_info(xid.value_or(0));
}

XidInfo kernel_event_info(const KernelEvent& e) {
  if (e.form)
    for (const auto& f : k_forms)
      if (f.kind == e.kind && f.form == *e.form) return f.info;
  return kernel_event_info(e.kind, e.xid);
}

std::span<const DriverMessageForm> driver_message_forms() { return k_forms; }

// One pass over the message: a bit per byte pair that starts a needle, then
// the needles starting with it (most NVRM chatter has no such pair at all).
const DriverMessageForm* match_driver_message(std::string_view body) {
  static const auto starts = [] {
    std::array<std::uint64_t, 1024> bits{};
    for (const auto& f : k_forms) {
      unsigned pair = static_cast<unsigned char>(f.needle[0]) << 8 | static_cast<unsigned char>(f.needle[1]);
      bits[pair >> 6] |= std::uint64_t{1} << (pair & 63);
    }
    return bits;
  }();
  for (std::size_t i = 0; i + 1 < body.size(); ++i) {
    unsigned pair = static_cast<unsigned char>(body[i]) << 8 | static_cast<unsigned char>(body[i + 1]);
    if (!(starts[pair >> 6] >> (pair & 63) & 1)) continue;
    std::string_view rest = body.substr(i);
    for (const auto& f : k_forms)
      if (rest.substr(0, f.needle.size()) == f.needle && body.substr(0, f.prefix.size()) == f.prefix) return &f;
  }
  return nullptr;
}

std::string_view rm_init_stage_name(unsigned stage) {
  for (const auto& [v, name] : k_rm_stages)
    if (v == stage) return name;
  return "";
}

std::string_view nv_status_name(unsigned status) {
  for (const auto& [v, name] : k_nv_status)
    if (v == status) return name;
  return "";
}

}  // namespace gd::model
