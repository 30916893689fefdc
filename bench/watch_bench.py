#!/usr/bin/env python3
"""Measures `gpudoctor watch` on the simulator (docs/performance.md, "## watch").

Usage: bench/watch_bench.py BUILD_DIR [cpu] [share] [scrape] [db] [--quick]
Prints one line per figure. Needs wrk for the scrape throughput (falls back to
a Python keep-alive loop for latency).
"""
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1]
GD = os.path.join(BUILD, "gpudoctor")
SIM = os.path.join(BUILD, "sim", "libnvidia-ml.so.1")
SRC = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCEN = os.path.join(SRC, "tests/scenarios/healthy-8xh100")
QUICK = "--quick" in sys.argv


def scenario(tmp, n):
    d = json.load(open(os.path.join(SCEN, "nvml.json")))
    base = d["gpus"][0]
    d["gpus"] = []
    for i in range(n):
        g = dict(base, uuid=f"GPU-{i:08x}-0000-0000-0000-000000000000", bus_id=f"00000000:{i + 1:02X}:00.0", minor=i)
        d["gpus"].append(g)
    path = os.path.join(tmp, f"nvml-{n}.json")
    json.dump(d, open(path, "w"))
    return path


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run_watch(tmp, n, ticks, interval, extra=()):
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scenario(tmp, n))
    args = [GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", interval, "--db",
            os.path.join(tmp, f"h{n}.db"), "--max-ticks", str(ticks), "-q", *extra]
    c0 = children_cpu()
    t0 = time.time()
    subprocess.run(args, env=env, check=True)
    return children_cpu() - c0, time.time() - t0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_per_sample(tmp):
    for n in (8, 64):
        many = 50 if QUICK else 300
        cpu1, _ = run_watch(tmp, n, 1, "100ms", ["--no-listen"])
        cpun, _ = run_watch(tmp, n, many, "100ms", ["--no-listen"])
        print(f"cpu per sample, {n} GPUs: {(cpun - cpu1) / (many - 1) * 1000:.2f} ms "
              f"(daemon + NVML worker, {many} ticks at 100 ms minus a 1-tick run)")


def proc_cpu(pid):
    """CPU time of one process in seconds: the sum over its threads of
    /proc/PID/task/TID/schedstat's first field (nanoseconds on a CPU), finer
    than /proc/PID/stat's utime + stime (10 ms ticks); exited threads are not
    counted, and the daemon's threads live as long as it does."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def proc_tree(pid):
    out = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            for child in f.read().split():
                out += proc_tree(int(child))
    return out


def vm_hwm_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def daemon_share(tmp):
    """Steady state: CPU of the daemon and its worker (schedstat) over a minute
    after a 5 s warm-up; peak RSS from each process's own VmHWM (the
    children's ru_maxrss would include this Python process, which the forked
    child carries until its exec)."""
    secs = 20 if QUICK else 60
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scenario(tmp, 8))
    c0_all = children_cpu()
    p = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", "1s",
                          "--db", os.path.join(tmp, "share.db"), "--listen", f"127.0.0.1:{free_port()}", "-q"], env=env)
    t_start = time.time()
    try:
        time.sleep(5)
        pids = proc_tree(p.pid)
        c0, t0 = [proc_cpu(x) for x in pids], time.time()
        time.sleep(secs)
        c1, wall = [proc_cpu(x) for x in pids], time.time() - t0
        cpu = sum(c1) - sum(c0)
        rss = max(vm_hwm_mb(x) for x in pids)
        split = ", ".join(f"{b - a:.3f} s" for a, b in zip(c0, c1))
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    total, total_wall = children_cpu() - c0_all, time.time() - t_start
    print(f"daemon CPU share at 1 s, 8 GPUs, steady state: {cpu / wall * 100:.3f} % of one core ({cpu:.3f} s CPU in "
          f"{wall:.1f} s after a 5 s warm-up, daemon + worker: {split}; /proc/PID/task/*/schedstat)")
    print(f"  including start and stop: {total / total_wall * 100:.3f} % ({total:.3f} s CPU in {total_wall:.1f} s)")
    print(f"peak RSS (VmHWM) of the largest process, daemon or worker: {rss:.1f} MB")


def scrape(tmp):
    port = free_port()
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scenario(tmp, 8))
    p = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", "1s",
                          "--db", os.path.join(tmp, "s.db"), "--listen", f"127.0.0.1:{port}", "-q"], env=env)
    try:
        time.sleep(2)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        lat = []
        for _ in range(2000):
            t0 = time.perf_counter()
            conn.request("GET", "/metrics")
            body = conn.getresponse().read()
            lat.append(time.perf_counter() - t0)
        lat.sort()
        print(f"scrape latency (Python keep-alive loop, 2000 GETs, {len(body)} bytes): "
              f"p50 {lat[1000] * 1e3:.3f} ms, p99 {lat[1980] * 1e3:.3f} ms")
        if shutil.which("wrk"):
            out = subprocess.run(["wrk", "-t2", "-c8", "-d5s", "--latency", f"http://127.0.0.1:{port}/metrics"],
                                 capture_output=True, text=True).stdout
            rps = [l for l in out.splitlines() if "Requests/sec" in l]
            p99 = [l for l in out.splitlines() if l.strip().startswith("99%")]
            print(f"wrk -t2 -c8 -d5s: {rps[0].split()[-1] if rps else '?'} scrapes/s, p99 {p99[0].split()[-1] if p99 else '?'}")
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()


def median_ms(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    return times[len(times) // 2], times[-1], out


def db_size(tmp):
    """30 days x 8 GPUs x 10 s of raw samples (every metric the daemon stores, varying readings), written through
    the store's own write path ten minutes per transaction and packed hour by hour by Store::maintain, as the
    daemon does (gd-store-bench generate); then the size and the query of issue 5."""
    db = os.path.join(tmp, "bench.db")
    days = 3 if QUICK else 30
    gen = subprocess.run([os.path.join(BUILD, "gd-store-bench"), "generate", db, str(days)], check=True,
                         capture_output=True, text=True).stdout.strip()
    print(gen)
    size = os.path.getsize(db) + (os.path.getsize(db + "-wal") if os.path.exists(db + "-wal") else 0)
    samples = days * 8640 * 8
    con = sqlite3.connect(db)
    kinds = {0: "raw", 1: "minute roll-ups", 2: "hour roll-ups"}
    parts = ", ".join(f"{kinds[k]} {b / 1e6:.1f} MB in {n} blocks ({r} rows)" for k, n, r, b in con.execute(
        "SELECT kind, COUNT(*), SUM(rows), SUM(length(data)) FROM blocks GROUP BY kind ORDER BY kind"))
    raw_bytes = con.execute("SELECT SUM(length(data)) FROM blocks WHERE kind = 0").fetchone()[0]
    hot = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
    try:
        pages = dict(con.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"))
        pages_txt = f"; pages: blocks {pages.get('blocks', 0) / 1e6:.1f} MB, its index " \
                    f"{pages.get('sqlite_autoindex_blocks_1', 0) / 1e6:.2f} MB"
    except sqlite3.OperationalError:
        pages_txt = ""
    per_col = raw_column_bytes(con)
    con.close()
    print(f"database for {days} days x 8 GPUs x 10 s ({samples} samples x {len(METRICS)} metrics, raw kept "
          f"{days} days): {size / 1e6:.1f} MB file = {size / samples:.1f} bytes per GPU sample "
          f"(raw blocks alone {raw_bytes / samples:.1f} B/sample); payload: {parts}; {hot} rows unpacked{pages_txt}")
    print("raw bytes per GPU sample by column: " + ", ".join(f"{c} {b / samples:.2f}" for c, b in per_col if b / samples >= 0.05)
          + ", the other columns < 0.05 each")
    print(subprocess.run([os.path.join(BUILD, "gd-store-bench"), "query", db, "20"], check=True,
                         capture_output=True, text=True).stdout.strip())

    def cli_query():
        ev = json.loads(subprocess.run([GD, "events", "--db", db, "--type", "gpu_lost", "--since", "@1000000000",
                                        "--format", "json"], capture_output=True, text=True, check=True).stdout)
        e = ev[-1]["ts_ms"] // 1000
        return subprocess.run([GD, "history", "--db", db, "--since", f"@{e - 3600}", "--until", f"@{e - 1}",
                               "--metric", "temp_celsius", "--resolution", "raw", "--summary", "--format", "csv"],
                              capture_output=True, text=True, check=True).stdout
    med, worst, out = median_ms(cli_query, 5)
    print(f"same question with the CLI (gpudoctor events --type gpu_lost + gpudoctor history --summary, two "
          f"processes, median of 5): {med:.0f} ms, worst {worst:.0f} ms; answer: "
          + " ".join(f"{l.split(',')[0]}={l.split(',')[5]}" for l in out.splitlines()[1:]))


def raw_column_bytes(con):
    """Bytes per column stream over all raw blocks, from each block's header (block_codec.cpp: varints format,
    rows, columns, then one length per stream, timestamps first)."""
    def varints(b, pos, n):
        out = []
        for _ in range(n):
            v = shift = 0
            while True:
                x = b[pos]
                pos += 1
                v |= (x & 0x7f) << shift
                shift += 7
                if not x & 0x80:
                    break
            out.append(v)
        return out, pos
    names = ["ts"] + METRICS
    total = [0] * len(names)
    for (data,) in con.execute("SELECT data FROM blocks WHERE kind = 0"):
        (_, _, ncols), pos = varints(data, 0, 3)
        lens, _ = varints(data, pos, ncols + 1)
        for i, n in enumerate(lens):
            total[i] += n
    return sorted(zip(names, total), key=lambda x: -x[1])


METRICS = ["temp_celsius", "power_milliwatts", "power_limit_milliwatts", "energy_millijoules", "util_gpu_percent",
           "util_mem_percent", "mem_used_bytes", "mem_total_bytes", "clock_sm_mhz", "clock_mem_mhz",
           "clock_graphics_mhz", "clock_event_reasons", "pstate", "fan_percent", "pcie_gen", "pcie_width",
           "persistence_mode", "ecc_corrected_volatile", "ecc_uncorrected_volatile", "ecc_uncorrected_aggregate",
           "remapped_rows_correctable", "remapped_rows_uncorrectable", "remapped_rows_failure",
           "retired_pages_pending"]


PARTS = {"cpu": cpu_per_sample, "share": daemon_share, "scrape": scrape, "db": db_size}
only = [a for a in sys.argv[2:] if a in PARTS] or list(PARTS)
with tempfile.TemporaryDirectory() as tmp:
    for name in only:
        PARTS[name](tmp)
