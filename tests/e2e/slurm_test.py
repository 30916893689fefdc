#!/usr/bin/env python3
"""slurm-health and slurm-repair on a real one-box Slurm cluster.

Usage: slurm_test.py GPUDOCTOR SIM_DIR

munged + slurmctld + slurmd run on localhost (tests/e2e/slurm_cluster.py,
all state in a temp dir); slurmd runs `gpudoctor slurm-health --yes` as its
HealthCheckProgram every INTERVAL seconds on a simulated 4xV100 node (the
NVML/CUDA simulator under the driver's names in a --root, the real ldconfig).
The GPUs and the kernel log are the only things simulated; Slurm, scontrol,
squeue, munge and ldconfig are real.

A. GPU bd71 falls off the bus (Xid 79, NVML GPU_IS_LOST): drained with our
   reason within two health intervals; slurm-repair cannot fix it and
   escalates ("needs reboot"), which later health checks keep; the GPU
   answering again in the same boot does not resume it; a reboot followed by
   a passing re-check does.
B. An admin drains the node, then its linker cache goes stale: slurm-health
   and slurm-repair leave the admin's drain and reason alone, also after the
   problem is gone; the admin resumes it.
C. The linker cache goes stale under a running job (the seed's 0-byte
   libcuda): drained (MIXED+DRAIN); slurm-repair waits while the job runs and
   changes nothing; once the job has ended it runs ldconfig, re-checks and
   resumes the node, which stays resumed.

Prints the measured drain and resume latencies. Exit 77 (skipped) when this
machine cannot run the cluster (not root, Slurm or munge not installed).
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sim_node  # noqa: E402
from slurm_cluster import SlurmCluster, missing_prerequisites  # noqa: E402

DEPLOY = os.path.join(os.path.dirname(os.path.dirname(HERE)), "deploy", "slurm")
GD, SIM_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
INTERVAL = 2  # HealthCheckInterval, seconds
failures, passed = [], 0
LOG_HEAD = "Dec  1 06:00:00 node kernel: [    0.000000] Linux version 5.4.0-137-generic (buildd@lcy02-amd64-009)\n"
XID79 = ("Dec  1 09:12:44 node kernel: [11564.118271] NVRM: Xid (PCI:BD71:00:00): 79, pid=4410, name=python3, "
         "GPU has fallen off the bus.\n")
LIB = "usr/lib/x86_64-linux-gnu"
LOST = r"(gpu\.fell_off_bus|xid\.fallen_off_bus)@bd71:00:00\.0"  # NVML and the kernel log each raise one


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", flush=True)


class Node:
    """The simulated GPU node slurm-health looks at (its --root)."""

    def __init__(self, tmp):
        self.root, self.scenario, self.env = sim_node.make(tmp, SIM_DIR, persistence=True)
        self.doc = json.load(open(self.scenario))
        self.log = os.path.join(self.root, "var/log/kern.log")
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        open(self.log, "w").write(LOG_HEAD)
        self.boot_n = 0
        self.reboot(new_log=False)
        self.ledger = os.path.join(self.root, "var/lib/gpudoctor/ledger.json")
        self.lib = os.path.join(self.root, LIB)

    def reboot(self, new_log=True):
        self.boot_n += 1
        path = os.path.join(self.root, "proc/sys/kernel/random/boot_id")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(f"a0000000-0000-4000-8000-{self.boot_n:012d}\n")
        if new_log:
            open(self.log, "a").write(LOG_HEAD.replace("Dec  1", f"Dec  {1 + self.boot_n}"))

    def lose_gpu(self, lost):
        self.doc["faults"] = [{"call": "*", "gpu": 3, "return": "GPU_IS_LOST"}] if lost else []
        if lost:
            open(self.log, "a").write(XID79)
        sim_node.write_scenario(self.scenario, self.doc)

    def break_libs(self):
        """The seed's container: libcuda.so.1 still leads to a 0-byte file, the real one sits beside it."""
        real = os.path.join(self.lib, f"libcuda.so.{sim_node.DRIVER}")
        os.rename(real, real + "x")
        open(real, "w").close()

    def heal_libs_by_hand(self):
        real = os.path.join(self.lib, f"libcuda.so.{sim_node.DRIVER}")
        os.replace(real + "x", real)
        subprocess.run(["ldconfig", "-r", self.root], check=True)

    def libcuda_target(self):
        return os.readlink(os.path.join(self.lib, "libcuda.so.1"))

    def entries(self):
        if not os.path.exists(self.ledger):
            return []
        return json.load(open(self.ledger))["entries"]


class Health:
    """Runs of one of deploy/slurm's scripts (as slurmd starts it: a wrapper
    adds the cluster's SLURM_CONF, the simulator's scenario and a defaults
    file that points the script at this build and the node's --root), and
    what each run printed."""

    def __init__(self, cluster, node, tmp, script="gpudoctor-health-check"):
        self.out = os.path.join(tmp, script + ".log")
        defaults = os.path.join(tmp, script + ".defaults")
        open(defaults, "w").write(f"GPUDOCTOR={GD}\nGPUDOCTOR_SLURM_OPTS='--root {node.root} --kernel-log {node.log}'\n")
        body = (f"export GPUDOCTOR_SIM_SCENARIO={node.scenario} GPUDOCTOR_DEFAULTS={defaults}\n"
                f"exec >>{self.out} 2>&1\n"
                "echo \"=== start $(date +%s.%N)\"\n"
                f"{os.path.join(DEPLOY, script)}\n"
                "echo \"=== rc=$? end $(date +%s.%N)\"\n")
        self.path = cluster.write_wrapper(os.path.join(tmp, script), body=body)

    def runs(self):
        """[(start, end, rc, output)] of every finished run."""
        if not os.path.exists(self.out):
            return []
        text = open(self.out).read()
        return [(float(m.group(1)), float(m.group(4)), int(m.group(3)), m.group(2))
                for m in re.finditer(r"=== start ([\d.]+)\n(.*?)=== rc=(\d+) end ([\d.]+)\n", text, re.S)]

    def wait_runs(self, cluster, n, what):
        """Waits until n more runs have finished; returns them."""
        before = len(self.runs())
        cluster.wait_for(lambda: len(self.runs()) >= before + n, n * INTERVAL + 15, what)
        return self.runs()[before:]


def gd(node, cluster, *args):
    env = dict(cluster.env, GPUDOCTOR_SIM_SCENARIO=node.scenario)
    return subprocess.run([GD] + list(args) + ["--root", node.root, "--kernel-log", node.log, "--timeout", "5"],
                          env=env, capture_output=True, text=True, timeout=120)


def reason(cluster):
    r = cluster.node_info().get("Reason", "")
    return re.sub(r" \[[^]]*\]$", "", r)


def drained(cluster):
    return "DRAIN" in cluster.state_flags()


def main():
    missing = missing_prerequisites()
    if missing:
        print("slurm_test: skipped: " + "; ".join(missing))
        return 77
    timings = {}
    with tempfile.TemporaryDirectory(prefix="gd-slurm-") as tmp:
        node = Node(os.path.join(tmp, "node"))
        workdir = os.path.join(tmp, "cluster")
        os.makedirs(workdir)
        name = socket.gethostname().split(".")[0]
        # The cluster's slurm.conf is written on start: the wrapper only needs its path.
        cluster = SlurmCluster(workdir, health_interval=INTERVAL, node=name)
        health = Health(cluster, node, tmp)
        cluster.health_program = health.path
        with cluster:
            run_phases(cluster, node, health, timings)
            durations = [end - start for start, end, _, _ in health.runs()]
        epilog_phase(tmp, name, timings)
    if durations:
        durations.sort()
        timings["slurm-health run, median (s)"] = durations[len(durations) // 2]
        timings["slurm-health run, max (s)"] = durations[-1]
    for k, v in timings.items():
        print(f"  {k}: {v:.2f}")
    print(f"slurm: {passed} passed, {len(failures)} failed")
    for f in failures:
        print("  FAIL", f)
    return 1 if failures else 0


def run_phases(cluster, node, health, timings):
    cluster.wait_idle(timeout=30)
    first = health.wait_runs(cluster, 2, "two health checks on the healthy node")
    check("healthy: slurm-health exits 0", all(rc == 0 for _, _, rc, _ in first), first)
    check("healthy: not drained", not drained(cluster), cluster.node_info())
    check("healthy: no ledger file", not os.path.exists(node.ledger))

    # A. The GPU falls off the bus.
    t0 = time.time()
    node.lose_gpu(True)
    cluster.wait_for(lambda: drained(cluster) and re.match("gpudoctor: " + LOST, reason(cluster)),
                     3 * INTERVAL + 10, "drained for the lost GPU")
    timings["GPU lost -> DRAIN with our reason (s)"] = lat = time.time() - t0
    check(f"drained within two health intervals ({lat:.1f} s)", lat <= 2 * INTERVAL + 0.5, lat)
    r = reason(cluster)
    check("reason: ours, printable, at most 120 characters", len(r) <= 120 and r.isprintable(), repr(r))
    run = gd(node, cluster, "slurm-repair", "--yes")
    check("slurm-repair on a lost GPU: exit 2, escalated", run.returncode == 2 and "left drained" in run.stdout,
          (run.returncode, run.stdout, run.stderr))
    check("escalated reason: needs reboot", re.match("gpudoctor: needs reboot: " + LOST, reason(cluster)),
          reason(cluster))
    health.wait_runs(cluster, 2, "health checks after the escalation")
    check("health checks keep the escalated reason", reason(cluster).startswith("gpudoctor: needs reboot:"),
          reason(cluster))
    node.lose_gpu(False)  # answers again, same boot: the Xid in this boot's log still stands
    later = health.wait_runs(cluster, 2, "health checks with the GPU answering again")
    check("GPU answering again in the same boot: still drained", drained(cluster), cluster.node_info())
    check("... slurm-health still says critical", later and later[-1][2] == 2, later)
    t1 = time.time()
    node.reboot()
    cluster.wait_for(lambda: not drained(cluster), 3 * INTERVAL + 10, "resumed after the reboot")
    timings["reboot (verified re-check) -> resumed (s)"] = lat = time.time() - t1
    check(f"resumed within two health intervals of the reboot ({lat:.1f} s)", lat <= 2 * INTERVAL + 0.5, lat)
    lost = [e for e in node.entries() if e["id"] in ("gpu.fell_off_bus", "xid.fallen_off_bus")]
    check("ledger: both cleared by the re-check after the reboot", len(lost) == 2 and all(
          e["state"] == "cleared" and "reboot" in e.get("cleared_how", "") for e in lost), lost)
    check("resumed: reason gone", reason(cluster) in ("", "(null)", "none"), reason(cluster))

    # B. An admin's drain is never ours to lift.
    cluster.drain("maintenance: PSU swap")
    node.break_libs()
    runs = health.wait_runs(cluster, 2, "health checks on the admin-drained node")
    check("admin drain: slurm-health says it leaves it alone", "already drained by someone else" in runs[-1][3],
          runs[-1][3])
    check("admin drain: reason unchanged", reason(cluster) == "maintenance: PSU swap", reason(cluster))
    run = gd(node, cluster, "slurm-repair", "--yes")
    check("admin drain: slurm-repair does nothing", run.returncode == 0 and "nothing to repair" in run.stdout,
          (run.returncode, run.stdout, run.stderr))
    check("admin drain: slurm-repair changed no file", node.libcuda_target() == f"libcuda.so.{sim_node.DRIVER}"
          and os.path.getsize(os.path.join(node.lib, f"libcuda.so.{sim_node.DRIVER}")) == 0)
    node.heal_libs_by_hand()
    health.wait_runs(cluster, 2, "health checks after the admin's own repair")
    check("admin drain: still drained with the admin's reason once healthy",
          drained(cluster) and reason(cluster) == "maintenance: PSU swap", (cluster.node_info(), reason(cluster)))
    cluster.resume()
    cluster.wait_idle()
    health.wait_runs(cluster, 2, "health checks after the admin resumed")
    check("admin resumed a healthy node: stays resumed", not drained(cluster), cluster.node_info())

    # C. The seed's stale library under a running job.
    job = cluster.submit_sleep(12)
    cluster.wait_for(lambda: any(j["id"] == job and j["state"] == "RUNNING" for j in cluster.jobs_on_node()), 15,
                     "the job running")
    t2 = time.time()
    node.break_libs()
    cluster.wait_for(lambda: drained(cluster) and reason(cluster).startswith("gpudoctor: "), 3 * INTERVAL + 10,
                     "drained for the stale library")
    timings["stale library -> DRAIN (s)"] = time.time() - t2
    check("stale library: drained while the job runs (MIXED+DRAIN)", "MIXED" in cluster.state_flags()
          or "ALLOCATED" in cluster.state_flags(), cluster.node_info())
    check("stale library: reason names a library problem", re.match(r"gpudoctor: (libs|cuda)\.", reason(cluster)),
          reason(cluster))
    run = gd(node, cluster, "slurm-repair", "--yes")
    check("running job: slurm-repair waits (exit 1)", run.returncode == 1 and "waiting" in run.stdout
          and str(job) in run.stdout, (run.returncode, run.stdout, run.stderr))
    check("running job: nothing repaired yet", node.libcuda_target() == f"libcuda.so.{sim_node.DRIVER}")
    check("running job: still drained", drained(cluster))
    cluster.wait_for(lambda: not cluster.jobs_on_node(), 30, "the job to end")
    t3 = time.time()
    deadline = t3 + 20
    while True:  # the node may still be COMPLETING for a moment after squeue drops the job
        run = gd(node, cluster, "slurm-repair", "--yes")
        if run.returncode != 1 or time.time() > deadline:
            break
        time.sleep(0.5)
    check("job ended: slurm-repair repairs and resumes (exit 0)", run.returncode == 0
          and "re-check passed, resumed" in run.stdout, (run.returncode, run.stdout, run.stderr))
    check("job ended: ldconfig ran (the link leads to the real library)",
          node.libcuda_target() == f"libcuda.so.{sim_node.DRIVER}x", node.libcuda_target())
    cluster.wait_for(lambda: not drained(cluster), 10, "resumed after the repair")
    timings["job end -> resumed by slurm-repair (s)"] = time.time() - t3
    after = health.wait_runs(cluster, 2, "health checks after the repair")
    check("repaired: stays resumed", not drained(cluster), cluster.node_info())
    check("repaired: slurm-health is no longer critical", after and after[-1][2] in (0, 1), after)
    open_libs = [e for e in node.entries() if e["state"] == "open" and e["severity"] == "critical"]
    check("ledger: no open critical problem", not open_libs, open_libs)


def epilog_phase(tmp, name, timings):
    """D. No health program, only deploy/slurm/gpudoctor-epilog: the GPU is lost during a job; the node drains
    as the job ends, with our reason (not "Epilog error")."""
    node = Node(os.path.join(tmp, "node-epilog"))
    workdir = os.path.join(tmp, "cluster-epilog")
    os.makedirs(workdir)
    cluster = SlurmCluster(workdir, node=name)
    epilog = Health(cluster, node, tmp, "gpudoctor-epilog")
    cluster.extra_conf = f"Epilog={epilog.path}"
    with cluster:
        cluster.wait_idle(timeout=30)
        job = cluster.submit_sleep(4)
        cluster.wait_for(lambda: any(j["id"] == job for j in cluster.jobs_on_node()), 15, "the job running")
        node.lose_gpu(True)
        time.sleep(1)
        check("epilog: not drained while the job runs (no health program)", not drained(cluster), cluster.node_info())
        cluster.wait_for(lambda: not cluster.jobs_on_node(), 30, "the job to end")
        t0 = time.time()
        cluster.wait_for(lambda: drained(cluster), 15, "drained by the epilog")
        timings["job end -> DRAIN by the epilog (s)"] = time.time() - t0
        check("epilog: drained with our reason", re.match("gpudoctor: " + LOST, reason(cluster)), reason(cluster))
        runs = epilog.runs()
        check("epilog: ran once and exited 0", len(runs) == 1 and runs[0][2] == 0, runs)


if __name__ == "__main__":
    sys.exit(main())
