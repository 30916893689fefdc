#!/usr/bin/env bash
# Measures `gpudoctor import nvidia-smi DIR` over 30 days of per-minute dumps of 8 GPUs (43,200 files
# in the newer table layout, as the seed's shell loop wrote them: nvidia-smi-<unix time>.log), against
# `cat DIR/* > /dev/null` (reading the same files) in the same run. Issue 12's target: <= 10 s.
# Usage: bench/import_bench.sh [BUILD_DIR] [DAYS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
DAYS="${2:-30}"
GD="$PWD/$BUILD/gpudoctor"
dir=$(mktemp -d /tmp/gd-import-bench-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir "$dir/d"
python3 - "$dir/d" "$DAYS" <<'PY'
import os, sys, time
out, days = sys.argv[1], int(sys.argv[2])
now = int(time.time())
start = now - days * 86400 + 3600  # inside the raw retention (30 days)
head = ("+---------------------------------------------------------------------------------------+\n"
        "| NVIDIA-SMI 535.104.05             Driver Version: 535.104.05   CUDA Version: 12.2     |\n"
        "|-----------------------------------------+----------------------+----------------------+\n"
        "| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |\n"
        "| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |\n"
        "|                                         |                      |               MIG M. |\n"
        "|=========================================+======================+======================|\n")
buses = ["18", "2A", "3A", "5D", "9A", "AB", "BA", "DB"]
for m in range(days * 1440):
    t = start + 60 * m
    rows = []
    for i, b in enumerate(buses):
        temp, power, util = 30 + (m + i) % 50, 70 + (m * 7 + i) % 600, (m + 3 * i) % 101
        rows.append(f"|   {i}  NVIDIA H100 80GB HBM3          On  | 00000000:{b}:00.0 Off |                    0 |\n"
                    f"| N/A   {temp}C    P0             {power}W / 700W |  {util * 800}MiB / 81559MiB |    {util}%      Default |\n"
                    "|                                         |                      |             Disabled |\n"
                    "+-----------------------------------------+----------------------+----------------------+\n")
    with open(os.path.join(out, f"nvidia-smi-{t}.log"), "w") as f:
        f.write(time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t)) + "       \n" + head + "".join(rows))
PY
files=$(ls "$dir/d" | wc -l)
bytes=$(du -sb "$dir/d" | cut -f1)
sync
echo "dumps: $files files, $((bytes / 1000000)) MB, in $dir/d"
# cat first (it also brings the files into the page cache for both), then each twice, the second timed.
(cd "$dir/d" && cat ./* > /dev/null)
t0=$(date +%s.%N); (cd "$dir/d" && cat ./* > /dev/null); t1=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$dir/rss" "$GD" import nvidia-smi "$dir/d" --db "$dir/warm.db" --json > /dev/null
t2=$(date +%s.%N); "$GD" import nvidia-smi "$dir/d" --db "$dir/h.db" --json > "$dir/report.json"; t3=$(date +%s.%N)
python3 - "$dir/report.json" "$t0" "$t1" "$t2" "$t3" "$bytes" "$(cat "$dir/rss")" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t0, t1, t2, t3, b = map(float, sys.argv[2:7])
print(f"peak RSS of the first import: {int(sys.argv[7]) / 1024:.0f} MB")
cat, imp = t1 - t0, t3 - t2
print(f"cat DIR/* > /dev/null: {cat:.2f} s")
print(f"gpudoctor import nvidia-smi DIR: {imp:.2f} s ({b / 1e6 / imp:.0f} MB/s; {imp / cat:.1f}x cat; target <= 10 s) — "
      f"{r['samples']} samples of {r['gpus']} GPUs, {r['hours_packed']} hours packed, skipped {r['skipped_count']}")
PY
