#!/usr/bin/env bash
# Measures `gpudoctor check` on the seed's container (tests/scenarios/libs-seed-container),
# its root prepared exactly as tests/run_scenarios.py does (libraries, ldconfig -r, stale steps):
#   - wall time, median of 20 [<= 50 ms]
#   - each probe's own duration (the libs probe is the linker audit), from `check --json`, median of 20
# Usage: bench/libs_bench.sh [BUILD_DIR]   (needs hyperfine, cc, ldconfig)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$BUILD" "$tmp" <<'PY'
import json, os, shutil, subprocess, sys
sys.path.insert(0, "tests")
import run_scenarios as rs
build, tmp = sys.argv[1:]
src = os.path.join(rs.SCENARIOS, "libs-seed-container")
cfg = json.load(open(os.path.join(src, "scenario.json")))
root = os.path.join(tmp, "root")
shutil.copytree(os.path.join(src, "root"), root, symlinks=True)
shutil.copy(os.path.join(src, "nvml.json"), os.path.join(tmp, "nvml.json"))
version = json.load(open(os.path.join(src, "nvml.json")))["driver_version"]
rs.add_libraries(root, cfg, f"{build}/sim/libcuda.so.1", tmp)
rs.install_cuda(root, f"{build}/sim/libcuda.so.1", version)
subprocess.run(["ldconfig", "-r", root], check=True, stderr=subprocess.DEVNULL)  # install_nvml, quietly
shutil.copy(f"{build}/sim/libnvidia-ml.so.1", os.path.join(root, f"usr/lib/x86_64-linux-gnu/libnvidia-ml.so.{version}"))
subprocess.run(["ldconfig", "-r", root], check=True, stderr=subprocess.DEVNULL)
rs.after_ldconfig(root, cfg["after_ldconfig"])
PY

export GPUDOCTOR_SIM_SCENARIO="$tmp/nvml.json"
GD="$BUILD/gpudoctor check --root $tmp/root --no-color"
hyperfine -N --warmup 3 --runs 20 -i --export-json "$tmp/h.json" "$GD" >/dev/null 2>&1
for i in $(seq 20); do "$BUILD/gpudoctor" check --root "$tmp/root" --json >"$tmp/run$i.json" || true; done
python3 - "$tmp" <<'PY'
import glob, json, statistics, sys
r = json.load(open(sys.argv[1] + "/h.json"))["results"][0]
ms = lambda v: f"{v * 1000:.1f}"
print(f"check, seed container: {ms(r['median'])} ms median (min {ms(r['min'])}, max {ms(r['max'])}, n={len(r['times'])})")
runs = [json.load(open(f))["probes"] for f in glob.glob(sys.argv[1] + "/run*.json")]
for name in sorted({p["name"] for run in runs for p in run}):
    t = [p["duration_ms"] for run in runs for p in run if p["name"] == name]
    print(f"  probe {name:13} {statistics.median(t):7.2f} ms median (min {min(t):.2f}, max {max(t):.2f}, n={len(t)})")
PY
