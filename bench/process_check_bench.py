#!/usr/bin/env python3
"""The processes probe inside `gpudoctor check`, on a simulated node with N processes.

Usage: bench/process_check_bench.py [BUILD_DIR] [N] [RUNS]   (defaults: build 10000 7)

A 4xV100 node root (tests/e2e/sim_node.py: the NVML simulator, the real ldconfig) gets N more
processes shaped like bench/process_bench.cpp's (a stat file and three fd links each; one in a
hundred holds /dev/nvidia0, one in a thousand sleeps in D inside the driver). `check --root ROOT
--json` then runs RUNS times with NVML answering (only processes in D are looked at closely) and
RUNS times with NVML hanging in one call (every process's open files read, as check does when
NVML did not answer); printed: the probe's own `duration_ms` from each report (median, min, max).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import sim_node  # noqa: E402


def add_processes(root, n):
    first = 1000
    for pid in range(first, first + n):
        d = os.path.join(root, "proc", str(pid))
        os.makedirs(os.path.join(d, "fd"))
        blocked = pid % 1000 == 7
        with open(os.path.join(d, "stat"), "w") as f:
            f.write(f"{pid} (worker{pid % 97}) {'D' if blocked else 'S'} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 5 3 0 0 "
                    f"20 0 1 0 {pid * 10} 1000 200 18446744073709551615 1 1 0\n")
        with open(os.path.join(d, "wchan"), "w") as f:
            f.write("os_acquire_rwlock_write" if blocked else "0")
        if blocked:
            with open(os.path.join(d, "stack"), "w") as f:
                f.write("[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]\n")
        for fd, target in enumerate(["/dev/null", "socket:[1234]", "/var/log/x.log"]):
            os.symlink(target, os.path.join(d, "fd", str(fd)))
        if pid % 100 == 3 or blocked:
            os.symlink("/dev/nvidia0", os.path.join(d, "fd", "3"))


def probe_ms(gd, root, env, runs, timeout):
    """The processes probe's duration_ms in each of `runs` checks, and what `collect` (the same probes) found."""
    out = []
    for _ in range(runs + 1):  # (the first warms the tree's dentries)
        r = subprocess.run([gd, "check", "--root", root, "--json", "--timeout", str(timeout)], env=env,
                           capture_output=True, text=True, timeout=120)
        out.append(next(p["duration_ms"] for p in json.loads(r.stdout)["probes"] if p["name"] == "processes"))
    r = subprocess.run([gd, "collect", "--root", root, "--timeout", str(timeout)], env=env, capture_output=True,
                       text=True, timeout=120)
    snap = json.loads(r.stdout)
    return out[1:], snap["nvml"]["state"], snap["processes"]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    gd = os.path.abspath(os.path.join(build, "gpudoctor"))
    for need in (gd, os.path.join(build, "sim", "libnvidia-ml.so.1")):
        if not os.path.isfile(need):
            sys.exit(f"process_check_bench: {need} not found: build first (scripts/setup), or name the build dir")
    with tempfile.TemporaryDirectory(prefix="gd-process-check-") as tmp:
        root, scenario, env = sim_node.make(tmp, os.path.abspath(os.path.join(build, "sim")), persistence=True)
        add_processes(root, n)
        doc = json.load(open(scenario))
        print(f"processes: {n} added to a simulated 4xV100 node root, {os.cpu_count()} cores, {runs} runs each")
        for label, faults, timeout in [("NVML answered", [], 5),
                                       ("NVML hung in nvmlDeviceGetTemperature",
                                        [{"call": "nvmlDeviceGetTemperature", "gpu": 0, "hang": True}], 0.5)]:
            sim_node.write_scenario(scenario, dict(doc, faults=faults))
            ms, nvml, procs = probe_ms(gd, root, env, runs, timeout)
            print(f"{label}: processes probe {statistics.median(ms):.1f} ms (min {min(ms):.1f}, max {max(ms):.1f})")
            print(f"  (collect: NVML {nvml}; {procs['processes']} processes, {len(procs['tasks'])} tasks kept, "
                  f"{procs['uninterruptible']} in D; {procs['holders_note']})")


if __name__ == "__main__":
    main()
