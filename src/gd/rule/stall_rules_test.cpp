// driver.stuck_tasks, kernel_log.driver_stall, and the "why" section that
// nvml.hung and cuda.hung share.
#include <gtest/gtest.h>

#include "gd/rule/hang_causes.hpp"
#include "gd/rule/rule.hpp"

namespace gd::rule {
namespace {

using model::Finding;
using model::KernelEvent;
using model::KernelEventKind;
using model::Severity;

const char* k_buses[] = {"0000:18:00.0", "0000:3b:00.0"};

model::Snapshot node() {
  model::Snapshot s;
  s.driver.nvidia_loaded = true;
  s.nvml.state = model::NvmlState::ok;
  s.nvml.init_return = 0;
  s.persistenced.process_alive = true;
  s.persistenced.pid_file = true;
  for (unsigned i = 0; i < 2; ++i) {
    model::DriverGpu d;
    d.bus_id = k_buses[i];
    d.minor = i;
    s.driver.gpus.push_back(d);
    model::NvmlGpu g;
    g.index = i;
    g.bus_id = k_buses[i];
    g.minor = i;
    g.persistence_mode = true;
    s.nvml.gpus.push_back(g);
  }
  s.kernel_log.source = "file kern.log";
  s.processes.read = true;
  s.processes.processes = 300;
  return s;
}

model::GpuTask task(int pid, const char* comm, const char* state, std::vector<std::string> devices, bool in_driver) {
  model::GpuTask t;
  t.pid = pid;
  t.comm = comm;
  t.state = state;
  t.devices = std::move(devices);
  t.in_driver = in_driver;
  if (in_driver) {
    t.wchan = "os_acquire_rwlock_write";
    t.stack = {"os_acquire_rwlock_write+0x31/0x40 [nvidia]", "rm_ioctl+0x63/0xb0 [nvidia]"};
  }
  return t;
}

KernelEvent hung_task(int pid, int boot) {
  KernelEvent e;
  e.kind = KernelEventKind::hung_task;
  e.pid = pid;
  e.process = "nvidia-smi";
  e.stalled_s = 122;
  e.boot = boot;
  e.timestamp = "2543.161616";
  e.message = "INFO: task nvidia-smi:" + std::to_string(pid) + " blocked for more than 122 seconds.";
  e.driver_frames = {"os_acquire_rwlock_write+0x31/0x40 [nvidia]"};
  return e;
}

KernelEvent xid(int code, const char* bus, std::optional<int> pid = std::nullopt) {
  KernelEvent e;
  e.kind = KernelEventKind::xid;
  e.xid = code;
  e.bus_id = bus;
  e.pid = pid;
  e.boot = 0;
  e.timestamp = "100.0";
  e.message = "NVRM: Xid (PCI:" + std::string(bus).substr(0, 10) + "): " + std::to_string(code) + ", ...";
  return e;
}

std::vector<Finding> run(void (*rule)(const RuleInput&, std::vector<Finding>&), const model::Snapshot& s) {
  std::vector<Finding> out;
  rule(RuleInput{s, std::nullopt}, out);
  return out;
}

bool has(const std::vector<std::string>& lines, std::string_view text) {
  for (const auto& l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

TEST(StuckTasks, NamesTheTaskItsGpuAndWhatItMeans) {
  auto s = node();
  s.processes.tasks = {task(1200, "python3", "S", {"/dev/nvidia1", "/dev/nvidiactl"}, false),
                       task(48211, "nvidia-smi", "D", {"/dev/nvidia1", "/dev/nvidiactl"}, true)};
  s.kernel_log.events = {hung_task(48211, 0)};
  auto fs = run(rule_driver_stuck_tasks, s);
  ASSERT_EQ(fs.size(), 1u);
  const auto& f = fs[0];
  EXPECT_EQ(f.severity, Severity::critical);
  EXPECT_EQ(f.gpu, "0000:3b:00.0");
  EXPECT_EQ(f.summary, "1 process(es) stuck inside the NVIDIA driver on GPU 0000:3b:00.0: nvidia-smi (pid 48211)");
  EXPECT_TRUE(has(f.evidence, "pid 48211 nvidia-smi: state D, waiting in os_acquire_rwlock_write, at "
                              "os_acquire_rwlock_write+0x31/0x40 [nvidia], holding /dev/nvidia1 /dev/nvidiactl "
                              "(GPU 0000:3b:00.0)"));
  EXPECT_TRUE(has(f.evidence, "blocked for more than 122 seconds"));
  EXPECT_TRUE(has(f.evidence, "also holding it: python3 (pid 1200, state S)"));
  EXPECT_NE(f.cause.find("kill -9"), std::string::npos);
  EXPECT_TRUE(f.needs_reboot);
}

TEST(StuckTasks, AThreadInTheDriverIsNamedWithItsProcess) {
  auto s = node();
  auto t = task(1200, "python3", "S", {"/dev/nvidia1", "/dev/nvidiactl"}, true);
  t.thread_tid = 1203;
  t.thread_comm = "pt_autograd_0";
  s.processes.tasks = {t};
  auto fs = run(rule_driver_stuck_tasks, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].summary, "1 process(es) stuck inside the NVIDIA driver on GPU 0000:3b:00.0: python3 (pid 1200)");
  EXPECT_TRUE(has(fs[0].evidence, "pid 1200 python3: its thread 1203 (pt_autograd_0) in state D, the main thread S, "
                                  "waiting in os_acquire_rwlock_write"));
  s.nvml.state = model::NvmlState::hung;
  s.nvml.hung_call = "nvmlDeviceGetTemperature";
  auto why = hang_causes(s);
  auto stuck = std::find_if(why.begin(), why.end(), [](const HangCause& c) { return c.name == "tasks stuck in the driver"; });
  ASSERT_NE(stuck, why.end());
  EXPECT_TRUE(stuck->found);
  EXPECT_TRUE(has(stuck->evidence, "now: python3 (pid 1200): its thread 1203 (pt_autograd_0) in D state"));
}

TEST(StuckTasks, ATaskInDOutsideTheDriverIsNotTheDrivers) {
  auto s = node();
  s.processes.tasks = {task(600, "jbd2/nvme0n1p2-", "D", {}, false)};
  EXPECT_TRUE(run(rule_driver_stuck_tasks, s).empty());
}

TEST(DriverStall, ThisBootIsCriticalAnEarlierOneAWarningAndThePidFindsTheGpu) {
  auto s = node();
  s.kernel_log.events = {hung_task(77, -1), xid(31, k_buses[0], 4242), hung_task(4242, 0)};
  auto fs = run(rule_kernel_log_driver_stall, s);
  ASSERT_EQ(fs.size(), 2u);
  EXPECT_EQ(fs[0].severity, Severity::critical);
  EXPECT_NE(fs[0].summary.find("this boot: hung task nvidia-smi (pid 4242), blocked for 122 s"), std::string::npos);
  EXPECT_EQ(fs[0].gpu, "0000:18:00.0");  // the Xid of the same pid names it
  EXPECT_TRUE(has(fs[0].evidence, "in the driver at: os_acquire_rwlock_write+0x31/0x40 [nvidia]"));
  EXPECT_EQ(fs[1].severity, Severity::warning);
  EXPECT_NE(fs[1].summary.find("previous boot"), std::string::npos);
  EXPECT_FALSE(fs[1].needs_reboot);
}

model::Snapshot hung_nvml() {
  auto s = node();
  s.nvml.state = model::NvmlState::hung;
  s.nvml.hung_call = "nvmlDeviceGetTemperature";
  s.nvml.hung_gpu = 1;
  s.nvml.hung_bus_id = k_buses[1];
  s.nvml.timeout_s = 10;
  s.nvml.elapsed_ms = 10000;
  s.nvml.gpus.resize(1);
  return s;
}

TEST(HangWhy, AGspTimeoutIsNamedWithItsEvidenceAndRecovery) {
  auto s = hung_nvml();
  s.kernel_log.events = {xid(119, k_buses[1])};
  auto fs = run(rule_nvml_hung, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(fs[0].cause.find("Why it hangs: GSP RPC timeout (Xid 119/120)."), std::string::npos) << fs[0].cause;
  EXPECT_TRUE(has(fs[0].evidence, "why: GSP RPC timeout (Xid 119/120): kernel log, this boot"));
  EXPECT_NE(fs[0].fix.front().find("GSP firmware stopped answering"), std::string::npos);
  EXPECT_FALSE(has(fs[0].evidence, "ruled out"));
}

TEST(HangWhy, StuckTasksAndARecoveryActionTogether) {
  auto s = hung_nvml();
  s.processes.tasks = {task(48211, "nvidia-smi", "D", {"/dev/nvidia1"}, true)};
  s.kernel_log.events = {xid(154, k_buses[1])};
  auto fs = run(rule_nvml_hung, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_NE(fs[0].cause.find("a pending recovery action (NVML field 230, Xid 154); tasks stuck in the driver"),
            std::string::npos)
      << fs[0].cause;
  EXPECT_TRUE(has(fs[0].evidence, "why: tasks stuck in the driver: now: nvidia-smi (pid 48211) in D state"));
}

TEST(HangWhy, NoKnownCauseSaysWhatWasRuledOut) {
  auto s = hung_nvml();
  auto fs = run(rule_nvml_hung, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].cause.rfind("None of the known causes", 0), 0u) << fs[0].cause;
  EXPECT_TRUE(has(fs[0].evidence, "ruled out: GSP RPC timeout (Xid 119/120): no Xid 119 or 120 in the kernel log"));
  EXPECT_TRUE(has(fs[0].evidence, "ruled out: tasks stuck in the driver: no process of 300 is in D state"));
  EXPECT_TRUE(has(fs[0].evidence, "ruled out: an init storm with persistence off: nvidia-persistenced is running"));
}

TEST(HangWhy, CudaSharesIt) {
  auto s = node();
  s.cuda.state = model::CudaState::hung;
  s.cuda.hung_call = "cuInit";
  s.cuda.timeout_s = 10;
  s.kernel_log.events = {xid(79, k_buses[0])};
  auto fs = run(rule_cuda_hung, s);
  ASSERT_EQ(fs.size(), 1u);
  EXPECT_EQ(fs[0].summary, "CUDA did not answer within 10 s: cuInit never returned");
  EXPECT_NE(fs[0].cause.find("Why it hangs: a GPU fallen off the bus."), std::string::npos) << fs[0].cause;
  EXPECT_TRUE(has(fs[0].fix, "systemctl status nvidia-fabricmanager"));
}

TEST(HangWhy, AnInitStormWithPersistenceOff) {
  auto s = hung_nvml();
  s.persistenced = {};
  s.nvml.gpus[0].persistence_mode = false;
  s.kernel_log.init_marks = {{k_buses[0], 0, 6}};
  auto causes = hang_causes(s);
  ASSERT_EQ(causes.size(), 6u);
  EXPECT_TRUE(causes[5].found);
  EXPECT_TRUE(has(causes[5].evidence, "a GPU was initialised 6 times this boot"));
}

}  // namespace
}  // namespace gd::rule
