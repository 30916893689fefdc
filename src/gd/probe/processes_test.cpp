#include "gd/probe/processes.hpp"

#include <chrono>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::probe {
namespace {

// A /proc/PID tree: stat, wchan, stack, and fd links to `devices`.
void add_process(const testing::TempRoot& r, int pid, std::string_view comm, char state,
                 std::vector<std::string> devices = {}, std::string_view wchan = "0", std::string_view stack = "") {
  std::string dir = fmt::format("/proc/{}", pid);
  r.write(dir + "/stat", fmt::format("{} ({}) {} 1 {} {} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 250000 1000 200 "
                                     "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0\n",
                                     pid, comm, state, pid, pid));
  r.write(dir + "/wchan", wchan);
  if (!stack.empty()) r.write(dir + "/stack", stack);
  r.mkdir(dir + "/fd");
  r.link("/dev/null", dir + "/fd/0");
  for (std::size_t i = 0; i < devices.size(); ++i) r.link(devices[i], fmt::format("{}/fd/{}", dir, 3 + i));
}

TEST(ProcStat, ParsesNamesWithSpacesAndParentheses) {
  auto st = parse_proc_stat("4242 (my (odd) name) D 1 4242 4242 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 987654 0 0\n");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->pid, 4242);
  EXPECT_EQ(st->comm, "my (odd) name");
  EXPECT_EQ(st->state, "D");
  EXPECT_EQ(st->ppid, 1);
  EXPECT_EQ(st->start_ticks, 987654u);
  EXPECT_FALSE(parse_proc_stat("garbage"));
  EXPECT_FALSE(parse_proc_stat("12 (x) "));          // truncated: no state
  EXPECT_FALSE(parse_proc_stat("0 (x) S 1"));        // pid 0 is not a process
  EXPECT_FALSE(parse_proc_stat("12 (x) SLEEPING 1"));  // a state is one letter
  // The state alone (what most processes need) refuses exactly what the parse refuses.
  for (std::string_view text : {"4242 (my (odd) name) D 1 4242", "12 (x) S", "12 (x) R\n", "garbage", "12 (x) ",
                                "0 (x) S 1", "12 (x) SLEEPING 1", "(x) S 1", "12x (y) S 1", "99999999999 (x) S 1",
                                "12 x) S 1", ""}) {
    auto st = parse_proc_stat(text);
    auto state = proc_stat_state(text);
    ASSERT_EQ(st.has_value(), state.has_value()) << text;
    if (st) {
      EXPECT_EQ(st->state, std::string(1, *state)) << text;
    }
  }
}

TEST(ProcStack, FramesAndTheDriversOnes) {
  auto frames = parse_proc_stack(
      "[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]\n[<0>] rm_ioctl+0x63/0xb0 [nvidia]\n"
      "[<0>] __x64_sys_ioctl+0x8d/0xd0\n");
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0], "os_acquire_rwlock_write+0x31/0x40 [nvidia]");
  EXPECT_TRUE(frame_in_driver(frames[0]));
  EXPECT_FALSE(frame_in_driver(frames[2]));
  EXPECT_TRUE(frame_in_driver("uvm_va_block_make_resident+0x1/0x2 [nvidia_uvm]"));
  EXPECT_FALSE(frame_in_driver("jbd2_journal_commit_transaction+0x1/0x2 [jbd2]"));
  EXPECT_TRUE(wchan_in_driver("os_acquire_rwlock_write"));
  EXPECT_TRUE(wchan_in_driver("_nv042409rm"));
  EXPECT_FALSE(wchan_in_driver("io_schedule"));
  EXPECT_FALSE(wchan_in_driver("jbd2_log_wait_commit"));
}

TEST(ProcessesProbe, FindsTasksStuckInTheDriverAndTheHoldersOfEachGpu) {
  testing::TempRoot r;
  add_process(r, 1, "systemd", 'S');
  add_process(r, 1200, "python3", 'S', {"/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-uvm"});
  add_process(r, 48211, "nvidia-smi", 'D', {"/dev/nvidiactl", "/dev/nvidia1"}, "os_acquire_rwlock_write",
              "[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]\n[<0>] rm_ioctl+0x63/0xb0 [nvidia]\n");
  add_process(r, 600, "jbd2/nvme0n1p2-", 'D', {}, "jbd2_journal_commit_transaction",
              "[<0>] jbd2_journal_commit_transaction+0x1b4/0x1a90 [jbd2]\n");
  add_process(r, 700, "cat", 'D', {}, "io_schedule");
  r.write("/proc/self", "not a pid");  // ignored: not a number
  r.mkdir("/proc/sys");
  ProcessesOptions o;
  o.boot_time_unix_s = 1'795'000'000;
  auto info = read_processes(r.host(), o);
  EXPECT_TRUE(info.read);
  EXPECT_EQ(info.processes, 5u);
  EXPECT_EQ(info.uninterruptible, 3u);
  ASSERT_EQ(info.tasks.size(), 4u);  // pid order: 600, 700, 1200, 48211
  EXPECT_EQ(info.tasks[0].pid, 600);
  EXPECT_FALSE(info.tasks[0].in_driver);  // D in the file system: not the driver's
  EXPECT_FALSE(info.tasks[1].in_driver);
  EXPECT_EQ(info.tasks[2].comm, "python3");
  EXPECT_EQ(info.tasks[2].state, "S");
  EXPECT_EQ(info.tasks[2].devices, (std::vector<std::string>{"/dev/nvidia-uvm", "/dev/nvidia0", "/dev/nvidiactl"}));
  const auto& stuck = info.tasks[3];
  EXPECT_EQ(stuck.pid, 48211);
  EXPECT_EQ(stuck.state, "D");
  EXPECT_TRUE(stuck.in_driver);
  EXPECT_EQ(stuck.wchan, "os_acquire_rwlock_write");
  EXPECT_EQ(stuck.stack.size(), 2u);
  EXPECT_EQ(stuck.started_unix_s, 1'795'000'000 + 2500);  // 250000 ticks at USER_HZ 100
}

TEST(ProcessesProbe, WithoutTheHolderScanOnlyTasksInDAreLookedAt) {
  testing::TempRoot r;
  add_process(r, 1200, "python3", 'S', {"/dev/nvidia0"});
  add_process(r, 1300, "hung", 'D', {"/dev/nvidia0"}, "schedule");  // holds the GPU while in D
  ProcessesOptions o;
  o.scan_holders = false;
  auto info = read_processes(r.host(), o);
  ASSERT_EQ(info.tasks.size(), 1u);
  EXPECT_EQ(info.tasks[0].pid, 1300);
  EXPECT_TRUE(info.tasks[0].in_driver);
  EXPECT_FALSE(info.holders_scanned);
}

// A CUDA process whose worker thread sleeps in D inside the driver while its main thread waits in S: found
// among the holders (the scan reads their threads), not in a process that holds no GPU.
TEST(ProcessesProbe, AThreadInDInsideTheDriverOfAHolderIsFound) {
  testing::TempRoot r;
  auto add_thread = [&](int pid, int tid, std::string_view comm, char state, std::string_view wchan = "0",
                        std::string_view stack = "") {
    std::string dir = fmt::format("/proc/{}/task/{}", pid, tid);
    r.write(dir + "/stat", fmt::format("{} ({}) {} 1 {} {} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 250000\n", tid, comm,
                                       state, pid, pid));
    r.write(dir + "/wchan", wchan);
    if (!stack.empty()) r.write(dir + "/stack", stack);
  };
  add_process(r, 1200, "python3", 'S', {"/dev/nvidiactl", "/dev/nvidia0"}, "futex_wait_queue");
  add_thread(1200, 1200, "python3", 'S', "futex_wait_queue");
  add_thread(1200, 1201, "cuda-EvtHandlr", 'S', "do_poll");
  add_thread(1200, 1203, "pt_autograd_0", 'D', "os_acquire_mutex",
             "[<0>] os_acquire_mutex+0x1f/0x40 [nvidia]\n[<0>] rm_ioctl+0x63/0xb0 [nvidia]\n");
  add_process(r, 1300, "java", 'S');  // no GPU: its threads are not read
  add_thread(1300, 1305, "GC", 'D', "io_schedule");
  ProcessesOptions o;
  auto info = read_processes(r.host(), o);
  EXPECT_EQ(info.uninterruptible, 1u);
  ASSERT_EQ(info.tasks.size(), 1u);
  const auto& t = info.tasks[0];
  EXPECT_EQ(t.pid, 1200);
  EXPECT_EQ(t.state, "S");  // the main thread's
  ASSERT_TRUE(t.thread_tid);
  EXPECT_EQ(*t.thread_tid, 1203);
  EXPECT_EQ(t.thread_comm, "pt_autograd_0");
  EXPECT_TRUE(t.in_driver);
  EXPECT_EQ(t.wchan, "os_acquire_mutex");
  EXPECT_EQ(t.stack.size(), 2u);
  EXPECT_EQ(t.devices, (std::vector<std::string>{"/dev/nvidia0", "/dev/nvidiactl"}));
  // Without the holder scan (NVML answered) only main threads are read.
  o.scan_holders = false;
  EXPECT_TRUE(read_processes(r.host(), o).tasks.empty());
  // A thread dir that is a link (into another process) is not read through.
  testing::TempRoot r2;
  add_process(r2, 1200, "python3", 'S', {"/dev/nvidia0"});
  add_process(r2, 1400, "other", 'D', {}, "os_acquire_mutex", "[<0>] os_acquire_mutex+0x1f/0x40 [nvidia]\n");
  r2.mkdir("/proc/1200/task");
  r2.link("../../1400", "/proc/1200/task/1400");
  auto linked = read_processes(r2.host(), ProcessesOptions{});
  for (const auto& task : linked.tasks) EXPECT_FALSE(task.thread_tid) << task.pid;
}

TEST(ProcessesProbe, GarbageAndMissingFilesAreNamedNotFatal) {
  testing::TempRoot r;
  r.write("/proc/12/stat", "\x01\x02 garbage");
  r.mkdir("/proc/13");  // no stat at all: a process that exited meanwhile
  add_process(r, 14, "ok", 'S');
  auto info = read_processes(r.host(), ProcessesOptions{});
  EXPECT_EQ(info.processes, 1u);
  ASSERT_EQ(info.problems.size(), 1u);
  EXPECT_NE(info.problems[0].find("/proc/12/stat: not in the kernel's format"), std::string::npos);
  testing::TempRoot empty;
  auto none = read_processes(empty.host(), ProcessesOptions{});
  EXPECT_FALSE(none.read);
  EXPECT_EQ(none.problems.size(), 1u);
}

// Many processes are read by several threads, each a run of pids: the answer
// is the one a single thread gives, in pid order, whatever the split.
TEST(ProcessesProbe, SeveralThreadsGiveTheSameAnswerInPidOrder) {
  testing::TempRoot r;
  for (int pid = 100; pid < 400; ++pid) {
    if (pid % 37 == 0)
      add_process(r, pid, "stuck", 'D', {"/dev/nvidia0"}, "os_acquire_rwlock_write");
    else if (pid % 11 == 0)
      add_process(r, pid, "train", 'S', {"/dev/nvidia1"});
    else
      add_process(r, pid, "w", 'S');
  }
  r.write("/proc/250/stat", "garbage");
  ProcessesOptions one;
  one.min_per_thread = 1'000'000;
  auto single = read_processes(r.host(), one);
  ProcessesOptions many;
  many.min_per_thread = 16;
  auto split = read_processes(r.host(), many);
  EXPECT_EQ(single.processes, 299u);
  EXPECT_EQ(split.processes, single.processes);
  EXPECT_EQ(split.uninterruptible, single.uninterruptible);
  EXPECT_EQ(split.problems, single.problems);
  ASSERT_EQ(split.tasks.size(), single.tasks.size());
  ASSERT_GT(single.tasks.size(), 30u);
  for (std::size_t i = 0; i < split.tasks.size(); ++i) {
    EXPECT_EQ(split.tasks[i].pid, single.tasks[i].pid);
    EXPECT_EQ(split.tasks[i].devices, single.tasks[i].devices);
    EXPECT_EQ(split.tasks[i].in_driver, single.tasks[i].in_driver);
    if (i > 0) {
      EXPECT_LT(split.tasks[i - 1].pid, split.tasks[i].pid);
    }
  }
}

TEST(ProcessesProbe, TheTimeBudgetBoundsIt) {
  testing::TempRoot r;
  for (int pid = 100; pid < 400; ++pid) add_process(r, pid, "w", 'S');
  ProcessesOptions o;
  o.deadline = std::chrono::steady_clock::now();  // already spent
  o.min_per_thread = 16;                          // every thread stops
  auto info = read_processes(r.host(), o);
  EXPECT_EQ(info.processes, 0u);
  EXPECT_EQ(info.not_read, 300u);
  ASSERT_EQ(info.problems.size(), 1u);
  EXPECT_NE(info.problems[0].find("300 of 300 processes not read"), std::string::npos);
}

}  // namespace
}  // namespace gd::probe
