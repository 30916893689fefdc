#!/usr/bin/env bash
# churn throughput on the simulator, and this machine's floor for launching
# processes at all. Usage: bench/churn_bench.sh [BUILD_DIR] [LAUNCHES]
# Prints launches/s and CPU per launch for: /bin/true (1 and 2 spawners in
# parallel, posix_spawn loop compiled here), the churn child without a
# library, the child with the simulated NVML, and `gpudoctor churn` -j 1 / -j 2
# with its fork server (default) and with --exec.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
N="${2:-2000}"
GD="$BUILD/gpudoctor"
CHILD="$BUILD/gpudoctor-churn-child"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The healthy 4xV100 node, persistence on (no simulated cold-start delay).
cp -a tests/scenarios/healthy-4xv100-azure "$tmp/node"
cp "$BUILD/sim/libnvidia-ml.so.1" "$tmp/node/root/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.460.32.03"
ldconfig -r "$tmp/node/root"
export GPUDOCTOR_SIM_SCENARIO="$tmp/node/nvml.json"
LIB="$tmp/node/root/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1"

cat > "$tmp/spawn.c" <<'C'
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
extern char** environ;
int main(int argc, char** argv) {  /* spawn N times argv[2..], one at a time */
  int n = atoi(argv[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  for (int i = 0; i < n; i++) {
    pid_t p;
    if (posix_spawn(&p, argv[2], &fa, NULL, argv + 2, environ) != 0) return 1;
    int st;
    waitpid(p, &st, 0);
  }
  return 0;
}
C
cc -O2 "$tmp/spawn.c" -o "$tmp/spawn"

# measure LABEL CMD...: runs CMD (which makes N launches); prints launches/s
# and CPU per launch (user+sys of CMD and everything it started).
measure() {
  local label=$1
  shift
  local t0 t1
  t0=$(date +%s.%N)
  /usr/bin/time -f "%U %S" -o "$tmp/cpu" "$@" >/dev/null 2>&1
  t1=$(date +%s.%N)
  python3 - "$label" "$N" "$t0" "$t1" "$tmp/cpu" <<'PY'
import sys
label, n, t0, t1, cpu = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
u, s = map(float, open(cpu).read().split()[-2:])
print(f"{label:<58} {n / (t1 - t0):7.0f}/s  {1000 * (u + s) / n:5.2f} ms CPU per launch")
PY
}

half=$((N / 2))
measure "/bin/true, 1 spawner" "$tmp/spawn" "$N" /bin/true
measure "/bin/true, 2 spawners in parallel" bash -c "'$tmp/spawn' $half /bin/true & '$tmp/spawn' $half /bin/true; wait"
measure "churn child, no library (exec + its own loading)" "$tmp/spawn" "$N" "$CHILD" nvml /nonexistent
measure "churn child with the simulated NVML, 1 spawner" "$tmp/spawn" "$N" "$CHILD" nvml "$LIB"
for j in 1 2; do
  measure "gpudoctor churn -j $j (fork server, the default)" "$GD" churn --root "$tmp/node/root" -n "$N" -j "$j" --no-progress
done
for j in 1 2; do
  measure "gpudoctor churn --exec -j $j (a new executable per launch)" "$GD" churn --root "$tmp/node/root" -n "$N" -j "$j" --exec --no-progress
done
