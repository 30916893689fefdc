#!/usr/bin/env bash
# `gpudoctor check` on the simulated healthy 8xH100 node versus NVIDIA's own
# client `gpustat --json` (Debian's, through pynvml) on the same node, in the
# same hyperfine run: the ratio check/gpustat [target <= 0.2x]. Also the
# simulator's coverage of what pynvml, gpustat, nvtop and Slurm's gpu_nvml.so
# bind (their symbols exported by build/sim/libnvidia-ml.so.1).
# Usage: bench/clients_bench.sh [BUILD_DIR]   (needs hyperfine, scripts/fetch-nvidia done)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
GD="$PWD/$BUILD/gpudoctor"
SIM="$PWD/$BUILD/sim/libnvidia-ml.so.1"
NV="$PWD/$BUILD/nvidia/root"
[[ -f "$NV/usr/lib/python3/dist-packages/pynvml.py" ]] || { echo "run scripts/fetch-nvidia first" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

name=healthy-8xh100
cp -a "tests/scenarios/$name" "$tmp/$name"
ver=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["driver_version"])' "$tmp/$name/nvml.json")
cp "$SIM" "$tmp/$name/root/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.$ver"
cp "$BUILD/sim/libcuda.so.1" "$tmp/$name/root/usr/lib/x86_64-linux-gnu/libcuda.so.$ver"
ldconfig -r "$tmp/$name/root"
export GPUDOCTOR_SIM_SCENARIO="$tmp/$name/nvml.json"
export XDG_RUNTIME_DIR="$tmp/run"
mkdir -m 700 "$XDG_RUNTIME_DIR"
export PYTHONPATH="$NV/usr/lib/python3/dist-packages"
# gpustat reads the same scenario file through gpudoctor sim (which only sets two variables and execs).
hyperfine -N --warmup 3 --runs 20 -i --export-json "$tmp/r.json" \
  "$GD check --root $tmp/$name/root --no-color" \
  "$GD sim $GPUDOCTOR_SIM_SCENARIO -- /usr/bin/python3 $NV/usr/bin/gpustat --json" >/dev/null 2>&1
python3 - "$tmp/r.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
ms = lambda v: f"{v * 1000:.1f} ms"
check, gpustat = r[0], r[1]
print(f"check (8xH100, all probes)  median {ms(check['median'])} (min {ms(check['min'])}, max {ms(check['max'])})")
print(f"gpustat --json (same node)  median {ms(gpustat['median'])} (min {ms(gpustat['min'])}, max {ms(gpustat['max'])})")
print(f"ratio check/gpustat: {check['median'] / gpustat['median']:.2f}x (target <= 0.2x)")
PY

# Coverage: what each client binds or imports, and what the simulator exports.
nm -D --defined-only "$SIM" | grep -o ' nvml[A-Za-z0-9_]*' | tr -d ' ' | sort -u >"$tmp/sim"
nm -D --undefined-only "$NV/usr/lib/x86_64-linux-gnu/slurm-wlm/gpu_nvml.so" | grep -o 'nvml[A-Za-z0-9_]*' | sort -u >"$tmp/slurm"
strings "$NV/usr/bin/nvtop" | grep -E '^nvml[A-Z][A-Za-z0-9_]*$' | sort -u >"$tmp/nvtop"
grep -o '_nvmlGetFunctionPointer("nvml[A-Za-z0-9_]*")' "$NV/usr/lib/python3/dist-packages/pynvml.py" |
  grep -o 'nvml[A-Za-z0-9_]*' | sort -u >"$tmp/pynvml"
# gpustat's calls, as pynvml resolves them (its wrappers use the _v3 process queries, _v2 count/handle/init).
grep -o 'N\.nvml[A-Za-z0-9_]*' -r "$NV/usr/lib/python3/dist-packages/gpustat/core.py" | sed 's/N\.//' | sort -u |
  sed -e 's/^nvmlDeviceGet\(Compute\|Graphics\)RunningProcesses$/&_v3/' -e 's/^nvmlDeviceGetCount$/&_v2/' \
      -e 's/^nvmlDeviceGetHandleByIndex$/&_v2/' -e 's/^nvmlInit$/&_v2/' >"$tmp/gpustat"
cat "$tmp/slurm" "$tmp/nvtop" "$tmp/pynvml" "$tmp/gpustat" | sort -u >"$tmp/all"
# What NVIDIA's own 535 library exports: a name a client binds that the real
# library lacks (pynvml binds some from later drivers) is FUNCTION_NOT_FOUND
# there too, so the simulator's real semantics are to lack it as well.
nm -D --defined-only "$NV/usr/lib/x86_64-linux-gnu/nvidia/current/libnvidia-ml.so.1" |
  grep -o ' nvml[A-Za-z0-9_]*' | tr -d ' ' | sort -u >"$tmp/real"
for c in slurm nvtop gpustat pynvml all; do
  comm -12 "$tmp/$c" "$tmp/real" >"$tmp/$c.real"
  printf '%-8s %3d of %3d symbols exported (it binds %d; the rest are not in the real library)\n' "$c" \
    "$(comm -12 "$tmp/$c.real" "$tmp/sim" | wc -l)" "$(wc -l <"$tmp/$c.real")" "$(wc -l <"$tmp/$c")"
done
echo "bound by a client, absent from the real 535 library (and from the simulator):" \
  "$(comm -23 "$tmp/all" "$tmp/real" | tr '\n' ' ')"
echo "bound by a client, in the real library, missing from the simulator:" \
  "$(comm -23 "$tmp/all.real" "$tmp/sim" | tr '\n' ' ')"
