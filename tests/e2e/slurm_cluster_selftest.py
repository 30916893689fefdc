#!/usr/bin/env python3
"""Self-test of slurm_cluster.py against the real Slurm and munge on this box.

Usage: slurm_cluster_selftest.py [--interval N] [--keep]

1. A one-box cluster starts in a temp dir with a health program (a shell
   script) at HealthCheckInterval=N (default 2); slurmd runs it at start,
   as root, then every N seconds.  The environment slurmd gives it is
   recorded and printed.
2. When a trigger file appears, the health program runs
   `scontrol update NodeName=$SLURMD_NODENAME State=DRAIN Reason="...: ..."`;
   the node must show DRAIN within 2 intervals, with that reason.
3. With the trigger gone, State=RESUME brings the node back to IDLE, and
   it stays IDLE for 2 more intervals.
4. A sleep job runs on the node (squeue shows it there); draining the node
   then shows DRAINING (MIXED+DRAIN or ALLOCATED+DRAIN) while the job runs
   and DRAINED (IDLE+DRAIN) once it has ended; RESUME makes it IDLE again.
5. stop() with a job still running leaves no daemon, job step or health
   program behind (checked with ps), and nothing was created under the
   system's Slurm and munge directories or the cgroup hierarchies.

Exit 0 when every check passes, 1 when one fails, 77 (skip) when not root or
the slurm/munge programs are absent.  Timings are printed at the end.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import slurm_cluster  # noqa: E402

failures = []
passed = 0
timings = {}


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok   {name}" + (f": {detail}" if detail else ""))
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)
    return ok


# Places a Slurm or munge package would use by default; the harness must
# leave every one of them as it was.
SYSTEM_PATHS = ["/etc/slurm", "/etc/munge", "/var/spool/slurmd", "/var/spool/slurmctld",
                "/var/spool/slurm", "/var/log/slurm", "/var/log/munge", "/var/lib/munge",
                "/run/munge", "/run/slurmd.pid", "/run/slurmctld.pid",
                "/var/run/slurmd.pid", "/var/run/slurmctld.pid"]


def system_snapshot():
    """What exists at the system paths, and every slurm-named cgroup."""
    snap = {}
    for p in SYSTEM_PATHS:
        if os.path.isdir(p):
            entries = []
            for name in sorted(os.listdir(p)):
                try:
                    st = os.lstat(os.path.join(p, name))
                    entries.append((name, st.st_size, int(st.st_mtime)))
                except OSError:
                    pass
            snap[p] = ("dir", tuple(entries))
        elif os.path.lexists(p):
            st = os.lstat(p)
            snap[p] = ("file", st.st_size, int(st.st_mtime))
    cgroups = []
    for root, dirs, _ in os.walk("/sys/fs/cgroup"):
        depth = root.count(os.sep) - "/sys/fs/cgroup".count(os.sep)
        for d in dirs:
            if "slurm" in d.lower():
                cgroups.append(os.path.join(root, d))
        if depth >= 3:
            dirs[:] = []
    snap["cgroups"] = tuple(sorted(cgroups))
    return snap


def live_processes():
    """{pid: (state, comm, args)} from ps, zombies included."""
    out = subprocess.run(["ps", "-eo", "pid=,stat=,comm=,args="], stdout=subprocess.PIPE,
                         text=True, check=True).stdout
    procs = {}
    for line in out.splitlines():
        parts = line.split(None, 3)
        if len(parts) >= 3:
            procs[int(parts[0])] = (parts[1], parts[2], parts[3] if len(parts) > 3 else "")
    return procs


DAEMON_NAMES = ("munged", "slurmctld", "slurmd", "slurmstepd", "slurmscriptd")


def health_script(path, d, cluster):
    """The health program: record the environment slurmd gave it, log each
    run, and drain the node while the trigger file exists."""
    text = f"""#!/bin/sh
# Health program of slurm_cluster_selftest.py.
# First record what slurmd gave us, before changing anything.
/usr/bin/env > {d}/health-env.raw
echo "uid=$(/usr/bin/id -u) cwd=$(pwd)" >> {d}/health-env.raw
{cluster.wrapper_exports().rstrip()}
start=$(date +%s.%N)
if [ -e {d}/trigger-drain ]; then
    date +%s.%N >> {d}/health-drain-calls
    scontrol update NodeName="$SLURMD_NODENAME" State=DRAIN \\
        Reason="gpudoctor-selftest: health check failed" >> {d}/health-scontrol.out 2>&1
fi
echo "$start $(date +%s.%N)" >> {d}/health-runs
exit 0
"""
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o755)


def read_runs(d):
    """[(start, end)] of finished health program runs (wall-clock seconds)."""
    runs = []
    try:
        with open(os.path.join(d, "health-runs")) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    runs.append((float(parts[0]), float(parts[1])))
    except OSError:
        pass
    return runs


def read_floats(path):
    try:
        with open(path) as f:
            return [float(x) for x in f.read().split()]
    except OSError:
        return []


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--interval", type=int, default=2, help="HealthCheckInterval, seconds")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    n = args.interval

    missing = slurm_cluster.missing_prerequisites()
    if missing:
        print("SKIP: cannot run a Slurm cluster here: " + "; ".join(missing))
        return 77

    t_all = time.monotonic()
    d = tempfile.mkdtemp(prefix="gd-slurm-")
    before_sys = system_snapshot()
    before_procs = live_processes()
    health = os.path.join(d, "health.sh")
    cluster = slurm_cluster.SlurmCluster(d, health_program=health, health_interval=n)
    health_script(health, d, cluster)
    ok = False
    try:
        # 1. start; the health program has run once before the node registered.
        t = time.monotonic()
        cluster.start()
        timings["start"] = time.monotonic() - t
        check("start: node IDLE", cluster.is_idle(), cluster.node_info().get("State"))
        check("health program ran at slurmd start", bool(read_runs(d)),
              f"{len(read_runs(d))} runs when start() returned")
        try:
            with open(os.path.join(d, "health-env.raw")) as f:
                raw_env = f.read()
        except OSError:
            raw_env = ""
        print("environment slurmd gives the health program:\n  " +
              raw_env.strip().replace("\n", "\n  "))
        env_keys = {l.split("=", 1)[0] for l in raw_env.splitlines() if "=" in l
                    and not l.startswith("uid=")}
        check("health program env has SLURMD_NODENAME",
              f"SLURMD_NODENAME={cluster.node}" in raw_env.splitlines(), sorted(env_keys))
        check("health program runs as root", "uid=0 " in raw_env, raw_env.splitlines()[-1:])

        # The program keeps running every N seconds.
        cluster.wait_for(lambda: len(read_runs(d)) >= 4, 6 * n + 5, "4 health runs")
        starts = [s for s, _ in read_runs(d)]
        gaps = [b - a for a, b in zip(starts[1:], starts[2:])]   # skip the start-up run
        gaps.sort()
        median = gaps[len(gaps) // 2] if gaps else 0
        timings["health interval (median gap)"] = median
        check("health program reruns every interval",
              gaps and 0.5 * n <= median <= 1.5 * n + 0.5,
              f"gaps {[round(g, 2) for g in gaps]} for HealthCheckInterval={n}")

        # 2. The health program drains the node.
        open(os.path.join(d, "trigger-drain"), "w").close()
        t_trigger = time.time()
        t = time.monotonic()
        info = cluster.wait_for(
            lambda: (lambda i: i if "DRAIN" in i.get("State", "") else None)(cluster.node_info()),
            4 * n + 10, "the health program to drain the node", interval=0.05)
        t_seen = time.time()
        took = time.monotonic() - t
        calls = [c for c in read_floats(os.path.join(d, "health-drain-calls")) if c >= t_trigger]
        timings["trigger -> DRAIN"] = took
        if calls:
            timings["health scontrol call -> DRAIN seen"] = t_seen - calls[0]
        check(f"health program drains within 2 intervals ({2 * n} s)", took <= 2 * n,
              f"{took:.2f} s, State={info.get('State')}")
        check("drain reason is the health program's",
              info.get("Reason", "").startswith("gpudoctor-selftest: health check failed"),
              repr(info.get("Reason")))
        check("sinfo shows drained", cluster.sinfo_state() == "drained", cluster.sinfo_state())

        # 3. Resume, once no health run that saw the trigger can still be going.
        os.unlink(os.path.join(d, "trigger-drain"))
        t_removed = time.time()
        cluster.wait_for(lambda: any(s > t_removed for s, _ in read_runs(d)), 3 * n + 5,
                         "a health run after the trigger was removed")
        t = time.monotonic()
        cluster.resume()
        cluster.wait_for(cluster.is_idle, 10, "the node to be IDLE after RESUME", interval=0.05)
        timings["RESUME -> IDLE"] = time.monotonic() - t
        check("RESUME brings the node back", cluster.is_idle(), cluster.node_info().get("State"))
        time.sleep(2 * n + 0.5)
        check("node stays IDLE with a passing health program", cluster.is_idle(),
              cluster.node_info().get("State"))

        # 4. A running job, then DRAINING, then DRAINED.
        job_len = max(8, 3 * n)
        t = time.monotonic()
        job = cluster.submit_sleep(job_len)
        cluster.wait_for(lambda: any(j["id"] == job and j["state"] == "RUNNING"
                                     for j in cluster.jobs_on_node()),
                         20, f"job {job} to run on {cluster.node}", interval=0.1)
        timings["submit -> RUNNING"] = time.monotonic() - t
        t_running = time.monotonic()
        flags = cluster.state_flags()
        check("job shows in squeue on the node",
              any(j["id"] == job for j in cluster.jobs_on_node()), cluster.jobs_on_node())
        check("node busy with the job", bool(flags & {"MIXED", "ALLOCATED"}), sorted(flags))
        cluster.drain("gpudoctor-selftest: drain with a job running")
        flags = cluster.state_flags()
        sinfo = cluster.sinfo_state()
        check("DRAIN with a running job shows DRAINING",
              "DRAIN" in flags and bool(flags & {"MIXED", "ALLOCATED"}) and sinfo == "draining",
              f"State={'+'.join(sorted(flags))} sinfo={sinfo}")
        check("job keeps running while draining",
              any(j["id"] == job and j["state"] == "RUNNING" for j in cluster.jobs_on_node()),
              cluster.jobs_on_node())
        cluster.wait_for(lambda: not any(j["id"] == job for j in cluster.all_jobs()),
                         job_len + 20, f"job {job} to end", interval=0.1)
        t_ended = time.monotonic()
        cluster.wait_for(lambda: cluster.sinfo_state() == "drained", 10, "DRAINED", interval=0.1)
        timings["job end -> DRAINED"] = time.monotonic() - t_ended
        timings["job run time seen"] = t_ended - t_running
        flags = cluster.state_flags()
        check("node DRAINED after the job ended", flags == {"IDLE", "DRAIN"},
              "+".join(sorted(flags)))
        cluster.resume()
        cluster.wait_for(cluster.is_idle, 10, "IDLE after the second RESUME")
        check("second RESUME brings the node back", cluster.is_idle())

        # 5. stop() with a job running must leave nothing behind.
        job2 = cluster.submit_sleep(300, name="gd-left-running")
        cluster.wait_for(lambda: any(j["id"] == job2 and j["state"] == "RUNNING"
                                     for j in cluster.jobs_on_node()), 20, "the second job to run")
        ok = True
    except slurm_cluster.SlurmError as e:
        check("no harness error", False, str(e))
    finally:
        t = time.monotonic()
        try:
            strays = cluster.stop()
            check("stop", True, f"{len(strays)} stray process(es) killed after the daemons "
                  "exited" + (f": {strays}" if strays else ""))
        except slurm_cluster.SlurmError as e:
            check("stop", False, str(e))
        timings["stop"] = time.monotonic() - t

    left = cluster.stray_processes()
    check("no cluster process left (sessions, marker)", not left, left)
    after_procs = live_processes()
    new_daemons = {pid: v for pid, v in after_procs.items()
                   if pid not in before_procs and v[1] in DAEMON_NAMES and not v[0].startswith("Z")}
    mention = {pid: v for pid, v in after_procs.items()
               if d in v[2] and not v[0].startswith("Z")}
    check("ps: no munged/slurm daemon or job step left", not new_daemons and not mention,
          {**new_daemons, **mention})
    zombies = [pid for pid, v in after_procs.items()
               if pid not in before_procs and v[0].startswith("Z") and v[1] in DAEMON_NAMES]
    if zombies:
        print(f"note: {len(zombies)} exited job step(s) wait as zombies for PID 1 to reap "
              f"them (PID 1 here is {before_procs.get(1, ('', '?'))[1]}): {zombies}")
    after_sys = system_snapshot()
    changed = {k: (before_sys.get(k), after_sys.get(k)) for k in set(before_sys) | set(after_sys)
               if before_sys.get(k) != after_sys.get(k)}
    check("nothing changed outside the temp dir", not changed, changed)

    timings["total"] = time.monotonic() - t_all
    print("timings (s), HealthCheckInterval=%d:" % n)
    for k, v in timings.items():
        print(f"  {k:36s} {v:7.2f}")
    print(f"{passed} passed, {len(failures)} failed")
    if failures or not ok:
        print(f"logs kept in {d}", file=sys.stderr)
        for f in failures:
            print("  " + f, file=sys.stderr)
        return 1
    if args.keep:
        print(f"kept {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
