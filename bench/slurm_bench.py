#!/usr/bin/env python3
"""Measures `gpudoctor slurm-health` against a real one-box Slurm cluster
(munged + slurmctld + slurmd from tests/e2e/slurm_cluster.py; issue targets
in brackets):

  - healthy simulated 8xH100 node, median of 20                [<= 50 ms]
    next to its peers in the same run: `gpudoctor check` on the same root
    and one `scontrol show node` (what slurm-health adds to a check)
  - NVML hung in a per-GPU call, --timeout 2, median of 5      [<= timeout + 0.1 s]
    (the node is drained on the first run; later runs find our drain)

Usage: bench/slurm_bench.py [BUILD_DIR]   (root; hyperfine; slurmctld, slurmd, munge)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import sim_node  # noqa: E402
from slurm_cluster import SlurmCluster, missing_prerequisites  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "build"))
GD = os.path.join(BUILD, "gpudoctor")
SIM = os.path.join(BUILD, "sim")


def hyperfine(cmd, env, runs, tmp, name):
    out = os.path.join(tmp, name + ".json")
    subprocess.run(["hyperfine", "-N", "-i", "--warmup", "2" if runs > 5 else "0", "--runs", str(runs),
                    "--export-json", out, cmd], env=env, check=True, capture_output=True)
    r = json.load(open(out))["results"][0]
    return r


def fmt(r):
    ms = lambda v: f"{v * 1000:.1f}"
    return f"{ms(r['median'])} ms median (min {ms(r['min'])}, max {ms(r['max'])}, n={len(r['times'])})"


def main():
    missing = missing_prerequisites()
    if missing or not shutil.which("hyperfine"):
        print("slurm_bench: cannot run: " + "; ".join(missing or ["hyperfine not installed"]))
        return 1
    with tempfile.TemporaryDirectory(prefix="gd-slurm-bench-") as tmp:
        healthy, h_scen, _ = sim_node.make(os.path.join(tmp, "healthy"), SIM, scenario="healthy-8xh100")
        hung, g_scen, _ = sim_node.make(os.path.join(tmp, "hung"), SIM, scenario="nvml-hang-gpu")
        os.makedirs(os.path.join(tmp, "cluster"))
        name = socket.gethostname().split(".")[0]
        with SlurmCluster(os.path.join(tmp, "cluster"), node=name) as c:
            c.wait_idle(timeout=30)
            env = dict(c.env, GPUDOCTOR_SIM_SCENARIO=h_scen)
            health = hyperfine(f"{GD} slurm-health --yes --root {healthy}", env, 20, tmp, "health")
            check = hyperfine(f"{GD} check --root {healthy} --no-color", env, 20, tmp, "check")
            scontrol = hyperfine(f"{shutil.which('scontrol', path=env['PATH'])} show node {name} -o", env, 20, tmp,
                                 "scontrol")
            print(f"slurm-health, healthy 8xH100:       {fmt(health)}")
            print(f"  check on the same root:           {fmt(check)}")
            print(f"  scontrol show node:               {fmt(scontrol)}")
            print(f"  slurm-health / (check + scontrol): {health['median'] / (check['median'] + scontrol['median']):.2f}")
            env = dict(c.env, GPUDOCTOR_SIM_SCENARIO=g_scen)
            g = hyperfine(f"{GD} slurm-health --yes --timeout 2 --root {hung}", env, 5, tmp, "hung")
            print(f"slurm-health, NVML hung, --timeout 2: {fmt(g)} (target <= 2100 ms)")
            state = c.node_info()
            print(f"  node after: State={state.get('State')} Reason={state.get('Reason', '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
