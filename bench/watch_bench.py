#!/usr/bin/env python3
"""Measures `gpudoctor watch` on the simulator (docs/performance.md, "## watch").

Usage: bench/watch_bench.py BUILD_DIR [--quick]
Prints one line per figure. Needs wrk for the scrape throughput (falls back to
a Python keep-alive loop for latency).
"""
import http.client
import json
import os
import random
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
    args = [GD, "watch", "--root", os.path.join(SCEN, "root"), "--nvml", SIM, "--interval", interval, "--db",
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
    p = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--nvml", SIM, "--interval", "1s",
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
    p = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--nvml", SIM, "--interval", "1s",
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


def db_size(tmp):
    db = os.path.join(tmp, "h8.db")  # schema made by gpudoctor itself (cpu_per_sample ran on it)
    if os.path.exists(db):
        os.remove(db)
    for side in ("-wal", "-shm"):
        if os.path.exists(db + side):
            os.remove(db + side)
    run_watch(tmp, 8, 1, "1s", ["--no-listen"])
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("DELETE FROM samples")
    gpus = [r[0] for r in con.execute("SELECT id FROM gpus ORDER BY id")]
    cols = [r[1] for r in con.execute("PRAGMA table_info(samples)")][2:]
    days = 3 if QUICK else 30
    start = int(time.time()) - days * 86400
    rnd = random.Random(1)
    ph = ",".join("?" * (len(cols) + 2))
    sql = f"INSERT INTO samples(ts,gpu,{','.join(cols)}) VALUES({ph})"
    energy = [10**9] * len(gpus)
    t0 = time.time()
    con.execute("BEGIN")
    for k in range(days * 8640):
        ts = start + 10 * k
        rows = []
        for gi, g in enumerate(gpus):
            busy = (k // 360 + gi) % 3 != 0
            temp = (62 if busy else 34) + rnd.randint(-3, 3)
            power = (520000 if busy else 70000) + rnd.randint(-20000, 20000)
            energy[gi] += power * 10
            v = dict(temp_celsius=temp, power_milliwatts=power, power_limit_milliwatts=700000,
                     energy_millijoules=energy[gi], util_gpu_percent=rnd.randint(90, 100) if busy else 0,
                     util_mem_percent=rnd.randint(30, 60) if busy else 0,
                     mem_used_bytes=(60 << 30) + rnd.randint(0, 1 << 28) if busy else 0, mem_total_bytes=85899345920,
                     clock_sm_mhz=1980 if busy else 345, clock_mem_mhz=2619, clock_graphics_mhz=1980 if busy else 345,
                     clock_event_reasons=0 if busy else 1, pstate=0, fan_percent=None, pcie_gen=5, pcie_width=16,
                     persistence_mode=1, ecc_corrected_volatile=0, ecc_uncorrected_volatile=0,
                     ecc_uncorrected_aggregate=0, remapped_rows_correctable=0, remapped_rows_uncorrectable=0,
                     remapped_rows_failure=0, retired_pages_pending=None)
            rows.append((ts, g, *[v[c] for c in cols]))
        con.executemany(sql, rows)
    ev_ts = (start + days * 86400 // 2) * 1000
    con.execute("INSERT INTO events(ts_ms,type,gpu,detail) VALUES(?, 'gpu_lost', '0000:03:00.0', '{}')", (ev_ts,))
    con.execute("COMMIT")
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    size = os.path.getsize(db) / 1e6
    print(f"database for {days} days x 8 GPUs x 10 s ({days * 8640 * 8} rows, {len(cols)} metrics): {size:.1f} MB "
          f"(generated in {time.time() - t0:.0f} s)")
    con = sqlite3.connect(db)
    q = ("SELECT g.bus_id, MAX(s.temp_celsius) FROM samples s JOIN gpus g ON g.id = s.gpu "
         "WHERE s.ts >= ? AND s.ts < ? GROUP BY s.gpu ORDER BY g.bus_id")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        e = con.execute("SELECT ts_ms FROM events WHERE type = 'gpu_lost' ORDER BY id DESC LIMIT 1").fetchone()[0] // 1000
        res = con.execute(q, (e - 3600, e)).fetchall()
        times.append(time.perf_counter() - t0)
    times.sort()
    print(f"max temperature per GPU in the hour before event E: median {times[10] * 1e3:.2f} ms, "
          f"worst {times[-1] * 1e3:.2f} ms ({len(res)} GPUs; same SQL as Store::max_per_gpu)")
    t0 = time.perf_counter()
    out = subprocess.run([GD, "history", "--db", db, "--since", f"@{e - 3600}", "--until", f"@{e}", "--metric",
                          "temp_celsius", "--format", "csv"], capture_output=True, text=True).stdout
    print(f"`gpudoctor history` of that hour (all GPUs, csv, {len(out.splitlines()) - 1} rows): "
          f"{(time.perf_counter() - t0) * 1e3:.0f} ms wall incl. process start")


PARTS = {"cpu": cpu_per_sample, "share": daemon_share, "scrape": scrape, "db": db_size}
only = [a for a in sys.argv[2:] if a in PARTS] or list(PARTS)
with tempfile.TemporaryDirectory() as tmp:
    for name in only:
        PARTS[name](tmp)
