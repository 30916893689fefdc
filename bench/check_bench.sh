#!/usr/bin/env bash
# Measures `gpudoctor check` on the simulator (issue targets in brackets):
#   - wall time on the healthy 8-GPU scenario, median of 20   [<= 50 ms]
#   - wall time when NVML hangs in a per-GPU call, --timeout 2 [<= 3 s]
#   - peak RSS of check (gpudoctor + its NVML worker)          [<= 15 MB]
# Usage: bench/check_bench.sh [BUILD_DIR]   (needs hyperfine and GNU time)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
GD="$BUILD/gpudoctor"
SIM="$BUILD/sim/libnvidia-ml.so.1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

prepare() {  # scenario name -> prepared root in $tmp/<name>
  local name=$1 ver
  cp -a "tests/scenarios/$name" "$tmp/$name"
  ver=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["driver_version"])' "$tmp/$name/nvml.json")
  cp "$SIM" "$tmp/$name/root/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.$ver"
  if [[ -f "$BUILD/sim/libcuda.so.1" ]]; then
    cp "$BUILD/sim/libcuda.so.1" "$tmp/$name/root/usr/lib/x86_64-linux-gnu/libcuda.so.$ver"
  fi
  ldconfig -r "$tmp/$name/root"
}

median_ms() {  # hyperfine JSON -> "median ms (min, max, n)"
  python3 - "$1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ms = lambda v: f"{v * 1000:.1f}"
print(f"{ms(r['median'])} ms median (min {ms(r['min'])}, max {ms(r['max'])}, n={len(r['times'])})")
PY
}

prepare healthy-8xh100
prepare nvml-hang-gpu

export GPUDOCTOR_SIM_SCENARIO="$tmp/healthy-8xh100/nvml.json"
hyperfine -N --warmup 3 --runs 20 -i --export-json "$tmp/h.json" \
  "$GD check --root $tmp/healthy-8xh100/root --no-color" >/dev/null 2>&1
echo "check, healthy 8xH100:        $(median_ms "$tmp/h.json")"

rss=$(/usr/bin/time -f %M "$GD" check --root "$tmp/healthy-8xh100/root" --no-color 2>&1 >/dev/null | tail -1)
echo "peak RSS, healthy 8xH100:     $((rss / 1024)).$(((rss % 1024) * 10 / 1024)) MB ($rss KB, GNU time %M)"

export GPUDOCTOR_SIM_SCENARIO="$tmp/nvml-hang-gpu/nvml.json"
hyperfine -N --runs 5 -i --export-json "$tmp/g.json" \
  "$GD check --root $tmp/nvml-hang-gpu/root --timeout 2 --no-color" >/dev/null 2>&1
echo "check, NVML hung, --timeout 2: $(median_ms "$tmp/g.json")"
