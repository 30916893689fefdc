#!/usr/bin/env python3
"""The seed's method side by side with `gpudoctor watch`'s history (docs/performance.md, "Side by side").

Usage: bench/seed_compare.py BUILD_DIR [--days N] [--keep DIR]

1. gd-store-bench fills a history database with N days (default 3) of 8 simulated H100s at 10 s, through the
   store's write and hourly maintain paths (the same generator as bench/watch_bench.py's 30-day figure), with a
   gpu_lost event E in the middle.
2. The same readings are read back (`gpudoctor history --resolution raw --metric all --format csv`) and written
   the seed's way: one file log-<unix time> per sample holding what `nvidia-smi` (its default table) prints
   for the 8 GPUs.
3. Bytes per sample: text (apparent and allocated on disk) vs the database file.
4. "Max temperature per GPU in the hour before E", answered both ways, median of 5, answers compared:
   - seed: pick the hour's files by name (ls | awk) and scan them with awk;
   - gpudoctor: `gpudoctor events --type gpu_lost` + `gpudoctor history --summary` (two processes), and
     in-process (gd-store-bench query).
The text dump of 30 days is 259,200 files (~1.2 GB); N days is a proportional slice, reported per sample.
"""
import calendar
import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
GD = os.path.join(BUILD, "gpudoctor")
DAYS = int(sys.argv[sys.argv.index("--days") + 1]) if "--days" in sys.argv else 3
KEEP = sys.argv[sys.argv.index("--keep") + 1] if "--keep" in sys.argv else None
GPUS = 8


def smi_text(ts, rows):
    """What `nvidia-smi` (535, default table) prints for these GPU rows."""
    out = [time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(ts)) + "       ",
           "+---------------------------------------------------------------------------------------+",
           "| NVIDIA-SMI 535.129.03             Driver Version: 535.129.03   CUDA Version: 12.2     |",
           "|-----------------------------------------+----------------------+----------------------+",
           "| GPU  Name                 Persistence-M | Bus-Id        Disp.A | Volatile Uncorr. ECC |",
           "| Fan  Temp   Perf          Pwr:Usage/Cap |         Memory-Usage | GPU-Util  Compute M. |",
           "|                                         |                      |               MIG M. |",
           "|=========================================+======================+======================|"]
    procs = []
    for i, r in enumerate(rows):
        pers = "On" if r["persistence_mode"] == "1" else "Off"
        bus = "0000" + r["gpu"].upper()
        temp = f"{r['temp_celsius']}C"
        perf = f"P{r['pstate']}"
        pwr = f"{int(r['power_milliwatts']) // 1000}W / {int(r['power_limit_milliwatts']) // 1000}W"
        mem = f"{int(r['mem_used_bytes']) >> 20}MiB / {int(r['mem_total_bytes']) >> 20}MiB"
        util = f"{r['util_gpu_percent']}%"
        out.append(f"| {i:>3}  {'NVIDIA H100 80GB HBM3':<27}{pers:>7}  | {bus:<16} Off | {r['ecc_uncorrected_volatile']:>20} |")
        out.append(f"| N/A  {temp:>4}    {perf:<3} {pwr:>25} | {mem:>20} | {util:>8}      Default |")
        out.append("|                                         |                      |             Disabled |")
        out.append("+-----------------------------------------+----------------------+----------------------+")
        if int(r["util_gpu_percent"]) > 0:
            procs.append(f"|  {i:>3}   N/A  N/A   {41000 + i:>8}      C   python3 train.py{' ' * 24}"
                         f"{(int(r['mem_used_bytes']) >> 20) - 8:>7}MiB |")
    out += ["", "+---------------------------------------------------------------------------------------+",
            "| Processes:                                                                            |",
            "|  GPU   GI   CI        PID   Type   Process name                            GPU Memory |",
            "|        ID   ID                                                             Usage      |",
            "|=======================================================================================|"]
    out += procs or ["|  No running processes found                                                           |"]
    out.append("+---------------------------------------------------------------------------------------+")
    return "\n".join(out) + "\n"


# The seed's question over its files: select the hour by file name, then scan.
AWK_SCAN = r"""/^\|  +[0-9]+  NVIDIA/ { g = $2; getline; t = $3; sub("C", "", t); t += 0;
  if (!(g in m) || t > m[g]) m[g] = t } END { for (g in m) print g, m[g] }"""


def median_ms(fn, runs=5):
    times, out = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], out


def main():
    tmp = KEEP or tempfile.mkdtemp(prefix="gd-seed-")
    os.makedirs(tmp, exist_ok=True)
    db = os.path.join(tmp, "history.db")
    for f in (db, db + "-wal", db + "-shm"):
        if os.path.exists(f):
            os.remove(f)
    print(subprocess.run([os.path.join(BUILD, "gd-store-bench"), "generate", db, str(DAYS)], check=True,
                         capture_output=True, text=True).stdout.strip())
    dump = subprocess.run([GD, "history", "--db", db, "--since", "@1000000000", "--until", "now", "--resolution", "raw",
                           "--metric", "all", "--format", "csv"], check=True, capture_output=True, text=True).stdout
    by_ts = {}
    for r in csv.DictReader(io.StringIO(dump)):
        ts = calendar.timegm(time.strptime(r["time"], "%Y-%m-%dT%H:%M:%SZ"))
        by_ts.setdefault(ts, []).append(r)
    logs = os.path.join(tmp, "logs")
    shutil.rmtree(logs, ignore_errors=True)
    os.makedirs(logs)
    text_bytes = 0
    for ts, rows in by_ts.items():
        t = smi_text(ts, rows)
        text_bytes += len(t)
        with open(os.path.join(logs, f"log-{ts}"), "w") as f:
            f.write(t)
    samples = len(by_ts) * GPUS
    du_kb = int(subprocess.run(["du", "-sk", logs], capture_output=True, text=True).stdout.split()[0])
    db_bytes = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    print(f"{len(by_ts)} samples of {GPUS} GPUs ({DAYS} days at 10 s), the same readings both ways:")
    print(f"  nvidia-smi text: {text_bytes / samples:.0f} bytes per GPU sample ({text_bytes / 1e6:.1f} MB in "
          f"{len(by_ts)} files; {du_kb * 1024 / samples:.0f} B/sample allocated on disk, du {du_kb / 1024:.1f} MiB)")
    print(f"  history database: {db_bytes / samples:.1f} bytes per GPU sample ({db_bytes / 1e6:.2f} MB, raw + "
          f"minute + hour roll-ups)")
    print(f"  ratio: text is {text_bytes / db_bytes:.0f}x the database ({du_kb * 1024 / db_bytes:.0f}x on disk)")

    ev = json.loads(subprocess.run([GD, "events", "--db", db, "--type", "gpu_lost", "--since", "@1000000000",
                                    "--format", "json"], check=True, capture_output=True, text=True).stdout)
    e = ev[-1]["ts_ms"] // 1000

    def seed():
        sel = f"ls {logs} | awk -F- '$2 >= {e - 3600} && $2 < {e} {{ print \"{logs}/\" $0 }}' | xargs awk '{AWK_SCAN}'"
        out = subprocess.run(["sh", "-c", sel], check=True, capture_output=True, text=True).stdout
        return {f"0000:{int(g) + 1:02x}:00.0": int(t) for g, t in (l.split() for l in out.splitlines())}

    def ours():
        evs = json.loads(subprocess.run([GD, "events", "--db", db, "--type", "gpu_lost", "--since", "@1000000000",
                                         "--format", "json"], check=True, capture_output=True, text=True).stdout)
        e2 = evs[-1]["ts_ms"] // 1000
        out = subprocess.run([GD, "history", "--db", db, "--since", f"@{e2 - 3600}", "--until", f"@{e2 - 1}",
                              "--metric", "temp_celsius", "--resolution", "raw", "--summary", "--format", "csv"],
                             check=True, capture_output=True, text=True).stdout
        return {l.split(",")[0]: int(l.split(",")[5]) for l in out.splitlines()[1:]}

    seed_ms, seed_ans = median_ms(seed)
    our_ms, our_ans = median_ms(ours)
    inproc = subprocess.run([os.path.join(BUILD, "gd-store-bench"), "query", db, "20"], check=True,
                            capture_output=True, text=True).stdout.strip()
    print(f"max temperature per GPU in the hour before E (median of 5, warm page cache):")
    print(f"  seed (ls | awk by file name, then awk over the hour's {360} files): {seed_ms:.1f} ms")
    print(f"  gpudoctor events + history --summary (two processes): {our_ms:.1f} ms "
          f"({seed_ms / our_ms:.2f}x the seed's speed)")
    print(f"  {inproc}")
    print(f"  answers agree: {seed_ans == our_ans} ({our_ans})")
    if seed_ans != our_ans:
        print(f"  seed's answer: {seed_ans}")
        sys.exit(1)
    if not KEEP:
        shutil.rmtree(tmp)


main()
