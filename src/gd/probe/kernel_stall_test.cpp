// The kernel's stall reports (hung tasks, soft/hard lockups, RCU stalls):
// kept as events only when their RIP or call trace is inside the NVIDIA
// driver. The lines follow the formats of kernel/hung_task.c,
// kernel/watchdog.c, kernel/watchdog_perf.c and kernel/rcu/tree_stall.h.
#include <gtest/gtest.h>

#include "gd/probe/kernel_log.hpp"

namespace gd::probe {
namespace {

constexpr std::int64_t k_now = 1'795'000'000;

model::KernelLog parse(std::string_view text) {
  return parse_kernel_log(text, *parse_since("all", k_now), k_now);
}

// Kernels >= 5.14 print "task:NAME state:D ..." after the first line.
constexpr const char* k_hung_in_driver =
    "[ 2543.161616] INFO: task nvidia-smi:48211 blocked for more than 122 seconds.\n"
    "[ 2543.161630]       Tainted: P           OE      6.1.0-13-amd64 #1 Debian 6.1.55-1\n"
    "[ 2543.161633] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n"
    "[ 2543.161635] task:nvidia-smi      state:D stack:0     pid:48211 ppid:48190  flags:0x00004006\n"
    "[ 2543.161640] Call Trace:\n"
    "[ 2543.161642]  <TASK>\n"
    "[ 2543.161645]  __schedule+0x351/0xa20\n"
    "[ 2543.161652]  schedule+0x5d/0xe0\n"
    "[ 2543.161655]  rwsem_down_write_slowpath+0x34e/0x6b0\n"
    "[ 2543.161660]  os_acquire_rwlock_write+0x31/0x40 [nvidia]\n"
    "[ 2543.161700]  _nv042409rm+0x10/0x40 [nvidia]\n"
    "[ 2543.161710]  ? rm_ioctl+0x63/0xb0 [nvidia]\n"
    "[ 2543.161720]  nvidia_ioctl+0x5c9/0x8c0 [nvidia]\n"
    "[ 2543.161730]  __x64_sys_ioctl+0x8d/0xd0\n"
    "[ 2543.161735]  do_syscall_64+0x58/0xc0\n"
    "[ 2543.161740]  entry_SYSCALL_64_after_hwframe+0x64/0xce\n"
    "[ 2543.161745] RIP: 0033:0x7f1c2a9e5b5b\n"
    "[ 2543.161750] RSP: 002b:00007ffd6a1d1e48 EFLAGS: 00000246 ORIG_RAX: 0000000000000010\n"
    "[ 2543.161755]  </TASK>\n";

TEST(KernelStall, AHungTaskInsideTheDriverIsAnEvent) {
  auto log = parse(k_hung_in_driver);
  ASSERT_EQ(log.events.size(), 1u);
  const auto& e = log.events[0];
  EXPECT_EQ(e.kind, model::KernelEventKind::hung_task);
  EXPECT_EQ(e.process, "nvidia-smi");
  EXPECT_EQ(e.pid, 48211);
  EXPECT_EQ(e.stalled_s, 122.0);
  EXPECT_EQ(e.message, "INFO: task nvidia-smi:48211 blocked for more than 122 seconds.");
  EXPECT_EQ(e.timestamp, "2543.161616");
  ASSERT_EQ(e.driver_frames.size(), 4u);
  EXPECT_EQ(e.driver_frames[0], "os_acquire_rwlock_write+0x31/0x40 [nvidia]");
  EXPECT_EQ(e.driver_frames[2], "rm_ioctl+0x63/0xb0 [nvidia]");
  EXPECT_EQ(e.rip, "0x7f1c2a9e5b5b");  // user space: the syscall it entered
  EXPECT_EQ(log.stalls_elsewhere, 0u);
}

TEST(KernelStall, AHungTaskElsewhereIsNotBlamedOnTheDriver) {
  auto log = parse(
      "[  967.221400] INFO: task jbd2/nvme0n1p2-:612 blocked for more than 120 seconds.\n"
      "[  967.221411]       Not tainted 5.10.0-26-amd64 #1 Debian 5.10.197-1\n"
      "[  967.221416] task:jbd2/nvme0n1p2- state:D stack:    0 pid:  612 ppid:     2 flags:0x00004000\n"
      "[  967.221420] Call Trace:\n"
      "[  967.221430]  __schedule+0x282/0x870\n"
      "[  967.221440]  jbd2_journal_commit_transaction+0x1b4/0x1a90 [jbd2]\n"
      "[  967.221450]  kthread+0x11b/0x140\n"
      "[  967.221460]  ret_from_fork+0x22/0x30\n"
      "[  968.000000] NVRM: Xid (PCI:0000:3b:00): 31, pid=77, name=python3, Ch 00000010\n");
  ASSERT_EQ(log.events.size(), 1u);  // only the Xid: the report ended at the NVRM line
  EXPECT_EQ(log.events[0].kind, model::KernelEventKind::xid);
  EXPECT_EQ(log.stalls_elsewhere, 1u);
}

TEST(KernelStall, SoftLockupWithItsRipInTheDriver) {
  auto log = parse(
      "[86012.345678] watchdog: BUG: soft lockup - CPU#17 stuck for 26s! [python3:99120]\n"
      "[86012.345690] Modules linked in: nvidia_uvm(POE) nvidia_drm(POE) nvidia_modeset(POE) nvidia(POE) ext4\n"
      "[86012.345700] CPU: 17 PID: 99120 Comm: python3 Tainted: P           OEL     5.15.0-91-generic #101-Ubuntu\n"
      "[86012.345705] Hardware name: Supermicro SYS-4029GP-TRT/X11DPG-OT-CPU, BIOS 3.4 11/09/2020\n"
      "[86012.345710] RIP: 0010:os_io_read_dword+0x8/0x10 [nvidia]\n"
      "[86012.345715] Code: 00 00 48 89 d0 c3 0f 1f 40 00 0f 1f 44 00 00 48 8b 07 c3 66 90 0f 1f 44 00 00 8b 07 <c3>\n"
      "[86012.345720] RSP: 0018:ffffb2f0a3b47a28 EFLAGS: 00000286\n"
      "[86012.345725] RAX: 00000000ffffffff RBX: ffff9f1d4a400000 RCX: 0000000000000000\n"
      "[86012.345730] Call Trace:\n"
      "[86012.345732]  <IRQ>\n"
      "[86012.345735]  ? watchdog_timer_fn+0x1b4/0x220\n"
      "[86012.345740]  </IRQ>\n"
      "[86012.345742]  <TASK>\n"
      "[86012.345745]  _nv011486rm+0x52/0x90 [nvidia]\n"
      "[86012.345750]  ? rm_gpu_ops_get_gpu_info+0x4f/0x70 [nvidia]\n"
      "[86012.345755]  uvm_va_space_register_gpu+0x12f/0x260 [nvidia_uvm]\n"
      "[86012.345760]  </TASK>\n"
      "[86013.000000] EXT4-fs (nvme0n1p2): re-mounted. Opts: errors=remount-ro.\n");
  ASSERT_EQ(log.events.size(), 1u);
  const auto& e = log.events[0];
  EXPECT_EQ(e.kind, model::KernelEventKind::soft_lockup);
  EXPECT_EQ(e.cpu, 17);
  EXPECT_EQ(e.stalled_s, 26.0);
  EXPECT_EQ(e.process, "python3");
  EXPECT_EQ(e.pid, 99120);
  EXPECT_EQ(e.rip, "os_io_read_dword+0x8/0x10 [nvidia]");
  ASSERT_EQ(e.driver_frames.size(), 3u);
  EXPECT_EQ(e.driver_frames[2], "uvm_va_space_register_gpu+0x12f/0x260 [nvidia_uvm]");
}

TEST(KernelStall, HardLockupAndRcuStallInSyslogWithOtherProgramsInterleaved) {
  auto log = parse(
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100000] NMI watchdog: Watchdog detected hard LOCKUP on cpu 5\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100010] CPU: 5 PID: 3321 Comm: nvidia-persiste Tainted: P  OE 6.1.0 #1\n"
      "Nov 27 03:10:00 gpu7 sshd[777]: Accepted publickey for ops from 10.0.0.4 port 51022 ssh2\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100020] RIP: 0010:_nv012345rm+0x1c/0x30 [nvidia]\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100030] Call Trace:\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100040]  <NMI>\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100050]  </NMI>\n"
      "Nov 27 03:10:00 gpu7 kernel: [ 9001.100060]  os_delay_us+0x38/0x50 [nvidia]\n"
      "Nov 27 03:10:01 gpu7 kernel: [ 9001.100070] ---[ end trace 0000000000000000 ]---\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000000] rcu: INFO: rcu_preempt self-detected stall on CPU\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000010] rcu: \t5-....: (21002 ticks this GP) idle=5a4/1/0x4000000000000000\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000020] \t(t=21003 jiffies g=772517 q=3311)\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000030] CPU: 5 PID: 3321 Comm: nvidia-persiste Tainted: P  OE 6.1.0 #1\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000040] RIP: 0010:os_io_read_dword+0x8/0x10 [nvidia]\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000050] Call Trace:\n"
      "Nov 27 03:11:00 gpu7 kernel: [ 9060.000060]  _nv000745rm+0x1b/0x40 [nvidia]\n"
      "Nov 27 03:11:01 gpu7 kernel: [ 9061.000000] usb 1-1: new high-speed USB device number 3\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].kind, model::KernelEventKind::hard_lockup);
  EXPECT_EQ(log.events[0].cpu, 5);
  EXPECT_EQ(log.events[0].pid, 3321);
  EXPECT_EQ(log.events[0].process, "nvidia-persiste");
  EXPECT_EQ(log.events[0].driver_frames, std::vector<std::string>{"os_delay_us+0x38/0x50 [nvidia]"});
  EXPECT_EQ(log.events[1].kind, model::KernelEventKind::rcu_stall);
  EXPECT_EQ(log.events[1].cpu, 5);
  EXPECT_EQ(log.events[1].rip, "os_io_read_dword+0x8/0x10 [nvidia]");
  EXPECT_EQ(log.events[1].driver_frames.size(), 1u);
}

TEST(KernelStall, OldKernelsFramesWithAddresses) {
  auto log = parse(
      "[ 600.0] INFO: task python:2222 blocked for more than 120 seconds.\n"
      "[ 600.0] python          D ffff88103f2d4580     0  2222   2100 0x00000000\n"
      "[ 600.0] Call Trace:\n"
      "[ 600.0]  [<ffffffff8168c169>] schedule+0x29/0x70\n"
      "[ 600.0]  [<ffffffffa0e3b1d2>] os_acquire_mutex+0x32/0x50 [nvidia]\n"
      "[ 600.0]  [<ffffffff81697809>] system_call_fastpath+0x16/0x1b\n"
      "[ 601.0] NVRM: Xid (PCI:0000:04:00): 79, pid=2222, name=python, GPU has fallen off the bus.\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].kind, model::KernelEventKind::hung_task);
  EXPECT_EQ(log.events[0].driver_frames, std::vector<std::string>{"os_acquire_mutex+0x32/0x50 [nvidia]"});
  EXPECT_EQ(log.events[1].xid, 79);
}

TEST(KernelStall, AReportIsBoundedAndEndsAtTheNextBoot) {
  std::string text = "[ 100.0] INFO: task worker:1 blocked for more than 240 seconds.\n[ 100.0] Call Trace:\n";
  text += "[ 100.0]  nv_wait+0x1/0x2 [nvidia]\n";
  for (int i = 0; i < 5000; ++i) text += "[ 100.0]  deep_frame+0x1/0x2\n";
  text += "[   0.000000] Linux version 6.1.0-13-amd64\n";
  text += "[   5.0] INFO: task other:2 blocked for more than 120 seconds.\n[   5.0] Call Trace:\n";
  text += "[   5.0]  nv_wait+0x1/0x2 [nvidia_modeset]\n";
  auto log = parse(text);
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].boot, -1);
  EXPECT_EQ(log.events[1].boot, 0);
  EXPECT_EQ(log.events[1].process, "other");
}

TEST(KernelStall, JournalRecordsFormReportsToo) {
  KernelLogParser parser(*parse_since("all", k_now), k_now);
  parser.feed_record("INFO: task nvidia-smi:10 blocked for more than 122 seconds.", 0, 1'795'000'000'000'000);
  parser.feed_record("Call Trace:", 0, 1'795'000'000'000'001);
  parser.feed_record(" os_acquire_rwlock_write+0x31/0x40 [nvidia]", 0, 1'795'000'000'000'002);
  parser.feed_record(" </TASK>", 0, 1'795'000'000'000'003);
  auto log = parser.finish();
  ASSERT_EQ(log.events.size(), 1u);
  EXPECT_EQ(log.events[0].unix_s, 1'795'000'000);
}

TEST(KernelLogXidCode, OnlyAWholeDecimalNumberIsACode) {
  auto log = parse(
      "[1.0] NVRM: Xid (PCI:0000:01:00): 0x4f, hex is not NVIDIA's format\n"
      "[2.0] NVRM: Xid (PCI:0000:01:00): 79abc, trailing letters\n"
      "[3.0] NVRM: Xid (PCI:0000:01:00): 1234567, too long for a code\n"
      "[4.0] NVRM: Xid (PCI:0000:01:00): 79\n"
      "[5.0] NVRM: Xid (PCI:0000:01:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].xid, 79);
  EXPECT_EQ(log.events[1].xid, 154);
}

TEST(KernelLogApiMismatch, BothVersionsAreFields) {
  auto log = parse(
      "[10.0] NVRM: API mismatch: the client has the version 535.54.03, but\n"
      "[10.0] NVRM: this kernel module has the version 530.30.02.  Please\n"
      "[11.0] NVRM: API mismatch: the client 'kwin_wayland' (pid 1005)\n"
      "[11.0] NVRM: has the version 595.84, but this kernel module has\n"
      "[11.0] NVRM: the version 595.80.\n");
  ASSERT_EQ(log.events.size(), 2u);
  EXPECT_EQ(log.events[0].client_version, "535.54.03");
  EXPECT_EQ(log.events[0].module_version, "530.30.02");
  EXPECT_EQ(log.events[1].client_version, "595.84");
  EXPECT_EQ(log.events[1].module_version, "595.80");
}

}  // namespace
}  // namespace gd::probe
