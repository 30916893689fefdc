#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/fuzz_*.cpp, clang, ASan+UBSan) into
# build-fuzz/ and runs each for SECONDS (default 60) from a seed corpus made of
# the repository's own inputs, as many at once as there are cores; prints
# executions and crashes per target and exits 1 on any crash (the crashing
# input is left in build-fuzz/crash-*).
# Usage: bench/fuzz.sh [SECONDS]      CI runs a short smoke: bench/fuzz.sh 20
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH="${1:-60}"
OUT=build-fuzz
CXX=clang++ cmake -S . -B "$OUT" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGD_FUZZ=ON >/dev/null
cmake --build "$OUT" --target fuzzers nvml_sim cuda_sim -j "$(nproc)" >/dev/null

seed() {  # seed DIR FILES...: one corpus file per input, capped at 64 KiB each
  local dir=$1; shift
  rm -rf "$dir"; mkdir -p "$dir"
  local i=0
  for f in "$@"; do
    [ -f "$f" ] || continue
    head -c 65536 "$f" > "$dir/seed-$i"; i=$((i + 1))
  done
}
# (each block of the driver-message corpus is a seed of its own)
rm -rf "$OUT/corpus/kernel_log"; mkdir -p "$OUT/corpus/kernel_log"
awk -v dir="$OUT/corpus/kernel_log" 'BEGIN{n=0} /^$/{n++; next} !/^(#|=>)/{print > (dir "/block-" n)}' \
  tests/corpus/driver-messages.log
seed "$OUT/corpus/driver_files" tests/scenarios/*/root/proc/driver/nvidia/version \
  tests/scenarios/*/root/proc/modules tests/scenarios/*/root/etc/ld.so.conf
seed "$OUT/corpus/snapshot_json" tests/scenarios/*/nvml.json tests/scenarios/*/scenario.json
if [ -x build/gpudoctor ]; then  # a real snapshot, when the main build is there
  GPUDOCTOR_SIM_SCENARIO=tests/scenarios/healthy-8xh100/nvml.json build/gpudoctor collect \
    --root tests/scenarios/healthy-8xh100/root > "$OUT/corpus/snapshot_json/collect.json" 2>/dev/null || true
fi
seed "$OUT/corpus/text" tests/corpus/driver-messages.log docs/xid-catalog.md
seed "$OUT/corpus/processes" tests/scenarios/*/root/proc/[0-9]*/stat tests/scenarios/*/root/proc/[0-9]*/stack \
  tests/scenarios/*/root/proc/[0-9]*/wchan /proc/self/stat /proc/1/stat
# ld.so.cache as the real ldconfig writes it (over a scenario root holding the simulator), and ELF files.
cache_root="$OUT/ldcache-root"; rm -rf "$cache_root"
mkdir -p "$cache_root/etc" "$cache_root/usr/lib/x86_64-linux-gnu"
cp tests/scenarios/healthy-8xh100/root/etc/ld.so.conf "$cache_root/etc/" 2>/dev/null || true
cp -r tests/scenarios/healthy-8xh100/root/etc/ld.so.conf.d "$cache_root/etc/" 2>/dev/null || true
for lib in "$OUT"/sim/libnvidia-ml.so.1 "$OUT"/sim/libcuda.so.1; do
  [ -f "$lib" ] && cp "$lib" "$cache_root/usr/lib/x86_64-linux-gnu/$(basename "$lib" .1).460.32.03"
done
ldconfig -r "$cache_root" 2>/dev/null || true
seed "$OUT/corpus/libs" "$cache_root/etc/ld.so.cache" /etc/ld.so.cache "$OUT"/sim/libnvidia-ml.so.1 \
  "$OUT"/sim/libcuda.so.1 /usr/lib/x86_64-linux-gnu/libdl.so.2
seed "$OUT/corpus/container" tests/scenarios/*/root/etc/nvidia-container-runtime/config.toml \
  tests/scenarios/*/root/etc/docker/daemon.json tests/scenarios/*/root/etc/cdi/* \
  tests/scenarios/*/root/etc/containerd/config.toml tests/scenarios/*/root/var/lib/kubelet/config.yaml \
  tests/scenarios/*/root/proc/1/cgroup
seed "$OUT/corpus/sim_scenario" tests/scenarios/*/nvml.json
seed "$OUT/corpus/nvidia_smi" tests/corpus/nvidia-smi/*
mkdir -p "$OUT/corpus/bundle"
if [ -x build/gpudoctor ]; then  # a real bundle (collect --bundle on the simulator), when the main build is there
  GPUDOCTOR_SIM_SCENARIO=tests/scenarios/healthy-8xh100/nvml.json build/gpudoctor collect \
    --root tests/scenarios/healthy-8xh100/root --bundle "$OUT/corpus/bundle/collect.tar.gz" --redact \
    --db "$OUT/no-history.db" 2>/dev/null || true
fi

# Inputs that once crashed a target stay in its corpus (tests/corpus/fuzz/TARGET/).
for d in tests/corpus/fuzz/*/; do
  [ -d "$d" ] && mkdir -p "$OUT/corpus/$(basename "$d")" && cp "$d"* "$OUT/corpus/$(basename "$d")/" 2>/dev/null || true
done

# The targets run side by side, one per core; each reports when all are done.
run_one() {  # run_one BIN: runs one target, leaves its result in BIN.result
  local bin=$1 name; name=$(basename "$bin")
  if (cd "$OUT" && "./$name" -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 "corpus/${name#fuzz_}") > "$OUT/$name.log" 2>&1; then
    echo ok > "$OUT/$name.result"
  else
    echo "CRASH (see $OUT/$name.log)" > "$OUT/$name.result"
  fi
}
jobs_max=$(nproc)
targets=()
for bin in "$OUT"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  mkdir -p "$OUT/corpus/${name#fuzz_}"
  rm -f "$OUT/$name.result"
  targets+=("$bin")
  while (( $(jobs -rp | wc -l) >= jobs_max )); do wait -n || true; done
  run_one "$bin" &
done
wait
status=0
for bin in "${targets[@]}"; do
  name=$(basename "$bin")
  result=$(cat "$OUT/$name.result" 2>/dev/null || echo "no result")
  [[ $result == ok ]] || status=1
  runs=$(grep -m1 'stat::number_of_executed_units' "$OUT/$name.log" | awk '{print $2}')
  echo "fuzz: $name: ${runs:-?} executions in ${SECONDS_EACH} s: $result"
done
exit $status
