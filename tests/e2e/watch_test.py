#!/usr/bin/env python3
"""End-to-end test of `gpudoctor watch` with real parts.

Usage: watch_test.py GPUDOCTOR SIM_LIB SOURCE_DIR [PART ...]   (parts: prometheus kill9 kill9_packing hang full_disk
       volume;
       default: all but volume, which ctest runs as its own test, watch_e2e_volume)
1. watch on the simulated healthy 8xH100 node (1 s interval) serves /metrics;
   `promtool check metrics` passes on it; a real Prometheus started here on
   loopback scrapes it and a PromQL query returns the simulated temperature.
2. kill -9 during heavy writes (64 GPUs, 100 ms): the database reopens and
   passes PRAGMA integrity_check; every event `gpudoctor events` showed before
   the kill is still there.
   Then kill -9 while the daemon packs a 48-hour backlog of finished hours:
   integrity_check passes and every row is counted exactly once.
3. NVML hangs mid-run (fault after N calls): /metrics keeps answering with
   gpudoctor_nvml_up 0; when the simulator recovers the daemon does too.
4. A file-size limit on the daemon (a full disk): sampling and serving go on,
   gpudoctor_history_write_ok 0.
5. A GPU heats up (a ramp), throttles (HW slowdown + HW thermal bits set at a
   time) and falls off the bus (GPU_IS_LOST and an Xid 79 at a time): the
   history shows the rising temperature, the events the thermal finding, the
   gpu_lost and one xid event (seen through NVML events and the kernel log);
   /metrics shows gpudoctor_gpu_lost 1 and the Xid counter.
6. Xid lines appended to a followed --kernel-log file (with binary junk, a
   1 MB line, then a rotation) become xid events and counter increments.
7. A real small filesystem (tmpfs, mounted here; we need root): filled up
   mid-run, then read-only: sampling and /metrics go on, write_ok 0 and the
   history.write_failed finding is served; when space returns / the volume is
   remounted read-write, writing resumes and the rows buffered meanwhile land.
8. Pages of the database overwritten under the daemon: its integrity check
   (--integrity-check-interval 1s here) moves the file aside and starts a new one.
Skips part 1's Prometheus step (not the rest) when prometheus is not installed,
and part 7 (reported as SKIPPED with the reason) when mounting is not permitted.
"""
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
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sim_node import free_port, get, wait_for  # noqa: E402 - beside this file

GD, SIM, SRC = sys.argv[1], sys.argv[2], sys.argv[3]
ONLY = sys.argv[4:]
SCEN = os.path.join(SRC, "tests/scenarios/healthy-8xh100")
failures, passed, skipped = [], 0, []


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def scenario(tmp, gpus=None, faults=None, extra=None, gpu0=None):
    d = json.load(open(os.path.join(SCEN, "nvml.json")))
    if gpus:
        base = d["gpus"][0]
        d["gpus"] = []
        for i in range(gpus):
            g = dict(base)
            g["uuid"] = f"GPU-{i:08x}-0000-0000-0000-000000000000"
            g["bus_id"] = f"00000000:{(i // 32) + 1:02X}:{i % 32:02X}.0"
            g["minor"] = i
            d["gpus"].append(g)
    d["faults"] = faults or []
    d.update(extra or {})
    d["gpus"][0].update(gpu0 or {})
    path = os.path.join(tmp, "nvml.json")
    with open(path + ".new", "w") as f:
        json.dump(d, f)
    os.replace(path + ".new", path)
    return path, d


def start_watch(tmp, port, interval, extra=(), preexec=None, db=None):
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(tmp, "nvml.json"))
    args = [GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", interval,
            "--db", db or os.path.join(tmp, "history.db"), "--listen", f"127.0.0.1:{port}", *extra]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "watch.log"), "a"),
                            preexec_fn=preexec)


def metric(text, line_start):
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return None


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        return None


def part_prometheus(tmp):
    _, scen = scenario(tmp)
    port = free_port()
    w = start_watch(tmp, port, "1s", ["--textfile", os.path.join(tmp, "gpu.prom")])
    try:
        text = wait_for(lambda: (t := get(f"http://127.0.0.1:{port}/metrics")) and "\ngpudoctor_nvml_up 1\n" in t and t, 15)
        check("metrics served", text is not None, open(os.path.join(tmp, "watch.log")).read()[-500:])
        if not text:
            return
        temp0 = scen["gpus"][0]["temperature_c"]
        check("temperature in /metrics",
              metric(text, 'gpudoctor_gpu_temperature_celsius{gpu="0000:18:00.0"') == temp0, text[:300])
        pt = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
        check("promtool check metrics", pt.returncode == 0, pt.stdout + pt.stderr)
        prom_file = open(os.path.join(tmp, "gpu.prom")).read()
        pt = subprocess.run(["promtool", "check", "metrics"], input=prom_file, capture_output=True, text=True)
        check("promtool on --textfile", pt.returncode == 0 and "gpudoctor_nvml_up" in prom_file, pt.stderr)
        if not shutil.which("prometheus"):
            print("skip: prometheus not installed", file=sys.stderr)
            return
        pport = free_port()
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: gpudoctor\n"
                    f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n")
        prom = subprocess.Popen(["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={tmp}/tsdb",
                                 f"--web.listen-address=127.0.0.1:{pport}"],
                                stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prom.log"), "w"))
        try:
            q = urllib.parse.quote('gpudoctor_gpu_temperature_celsius{gpu="0000:18:00.0"}')

            def query():
                r = json.loads(get(f"http://127.0.0.1:{pport}/api/v1/query?query={q}"))
                res = r["data"]["result"]
                return res and res
            res = wait_for(query, 60, 0.5)
            check("prometheus scraped watch", bool(res), open(os.path.join(tmp, "prom.log")).read()[-800:])
            if res:
                check("PromQL returns the simulated temperature", float(res[0]["value"][1]) == temp0, str(res))
                check("labels uuid and model", res[0]["metric"].get("uuid") == scen["gpus"][0]["uuid"]
                      and res[0]["metric"].get("model") == scen["gpus"][0]["name"], str(res[0]["metric"]))
        finally:
            prom.terminate()
            prom.wait(timeout=20)
    finally:
        check("clean stop on SIGTERM", stop(w) == 0)
    ev = subprocess.run([GD, "events", "--db", os.path.join(tmp, "history.db"), "--format", "json"],
                        capture_output=True, text=True)
    types = [e["type"] for e in json.loads(ev.stdout or "[]")]
    check("events start/added/stop", "daemon_start" in types and "gpu_added" in types and "daemon_stop" in types,
          str(types))
    hist = subprocess.run([GD, "history", "--db", os.path.join(tmp, "history.db"), "--gpu", "0000:18:00.0",
                           "--metric", "temp_celsius", "--format", "csv"], capture_output=True, text=True)
    lines = hist.stdout.strip().splitlines()
    check("history csv", hist.returncode == 0 and len(lines) >= 2 and lines[1].endswith(f",{temp0}"), hist.stdout[:300])
    db = os.path.join(tmp, "history.db")

    def hist_cmd(*args):
        return subprocess.run([GD, "history", "--db", db, "--gpu", "0000:18:00.0", *args], capture_output=True,
                              text=True)
    raw = hist_cmd("--metric", "temp_celsius", "--resolution", "raw", "--format", "csv").stdout.splitlines()
    check("history --resolution raw: one value per metric", raw[:1] == ["time,gpu,temp_celsius"]
          and raw[-1].endswith(f",0000:18:00.0,{temp0}"), str(raw[:3]))
    minute = hist_cmd("--metric", "temp_celsius", "--resolution", "minute", "--format", "json")
    rows = json.loads(minute.stdout or "[]")
    check("history --resolution minute: roll-ups of the current hour", minute.returncode == 0 and rows and all(
        r["resolution"] == "minute" and r["temp_celsius_max"] == temp0 and r["ts"] % 60 == 0 for r in rows),
        minute.stdout[:300] + minute.stderr)
    summ = hist_cmd("--metric", "temp_celsius", "--metric", "power_milliwatts", "--summary", "--format", "csv")
    sl = summ.stdout.splitlines()
    check("history --summary", summ.returncode == 0 and sl[0] == "gpu,metric,samples,min,avg,max" and len(sl) == 3
          and sl[1].startswith("0000:18:00.0,temp_celsius,") and sl[1].endswith(f",{temp0},{temp0}"), summ.stdout)
    bad = hist_cmd("--metric", "temperature")
    check("history --metric unknown: exit 3 with the names", bad.returncode == 3 and "temp_celsius" in bad.stderr,
          bad.stderr)
    bad = hist_cmd("--resolution", "second")
    check("history --resolution bad: refused", bad.returncode != 0 and "resolution" in bad.stderr, bad.stderr)


def part_kill9(tmp):
    scenario(tmp, gpus=64)
    port = free_port()
    db = os.path.join(tmp, "history.db")
    for round_ in range(3):
        w = start_watch(tmp, port, "100ms", ["--timeout", "5"])
        time.sleep(1.5 + 0.37 * round_)
        ev = subprocess.run([GD, "events", "--db", db, "--format", "json"], capture_output=True, text=True)
        acked = {e["id"] for e in json.loads(ev.stdout or "[]")}
        w.send_signal(signal.SIGKILL)
        w.wait()
        con = sqlite3.connect(db)
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        n = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
        ids = {r[0] for r in con.execute("SELECT id FROM events")}
        con.close()
        check(f"kill -9 round {round_}: integrity_check", ok == "ok", ok)
        check(f"kill -9 round {round_}: samples written", n >= 64, str(n))
        check(f"kill -9 round {round_}: acknowledged events kept", acked <= ids, str(acked - ids))


def part_kill9_packing(tmp):
    """kill -9 while the daemon packs a backlog of finished hours: every row is counted exactly once after."""
    scenario(tmp)
    port = free_port()
    db = os.path.join(tmp, "history.db")
    w = start_watch(tmp, port, "100ms", ["--max-ticks", "1", "--no-listen"])
    check("packing: first run", w.wait(timeout=30) == 0)
    con = sqlite3.connect(db)
    gpus = [r[0] for r in con.execute("SELECT id FROM gpus ORDER BY id")]
    cols = [r[1] for r in con.execute("PRAGMA table_info(samples)")][2:]
    hours = 48
    t0 = (int(time.time()) // 3600 - hours - 2) * 3600
    rows = [(t0 + 10 * k, g, 20 + (k * 7 + g) % 61) + (None,) * (len(cols) - 1)
            for k in range(hours * 360) for g in gpus]
    con.executemany(f"INSERT INTO samples(ts, gpu, {', '.join(cols)}) VALUES({', '.join('?' * (len(cols) + 2))})",
                    rows)
    con.commit()
    con.close()
    expect = {}
    for _, g, t, *_ in rows:
        expect[g] = expect.get(g, 0) + 1
    for round_ in range(3):
        w = start_watch(tmp, port, "100ms", ["--timeout", "5", "--no-listen"])
        time.sleep(0.5 + 0.3 * round_)
        w.send_signal(signal.SIGKILL)
        w.wait()
        con = sqlite3.connect(db)
        ok = con.execute("PRAGMA integrity_check").fetchone()[0]
        left = con.execute("SELECT COUNT(*) FROM samples WHERE ts < ?", (t0 + hours * 3600,)).fetchone()[0]
        blocks = con.execute("SELECT COUNT(*) FROM blocks WHERE kind = 0").fetchone()[0]
        con.close()
        check(f"kill -9 while packing, round {round_}: integrity_check", ok == "ok", ok)
        out = subprocess.run([GD, "history", "--db", db, "--since", f"@{t0}", "--until", f"@{t0 + hours * 3600 - 1}",
                              "--metric", "temp_celsius", "--resolution", "hour", "--summary", "--format", "json"],
                             capture_output=True, text=True)
        got = {e["gpu"]: e["samples"] for e in json.loads(out.stdout or "[]")}
        check(f"kill -9 while packing, round {round_}: every row counted once ({left} rows still to pack, "
              f"{blocks} raw blocks)", sorted(got.values()) == sorted(expect.values()) and len(got) == len(gpus),
              f"{got} {out.stderr}")
    check("kill -9 while packing: the kills hit a backlog being packed", left < hours * 360 * len(gpus),
          f"{left} rows left")


def part_hang(tmp):
    # 8 GPUs: 8 temperature calls per sample; the 4th sample hangs.
    scenario(tmp, faults=[{"call": "nvmlDeviceGetTemperature", "hang": True, "after_calls": 24}])
    port = free_port()
    w = start_watch(tmp, port, "1s", ["--timeout", "0.5"])
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        down = wait_for(lambda: "\ngpudoctor_nvml_up 0\n" in get(url), 20)
        check("nvml_up 0 while NVML hangs", bool(down))
        t0 = time.time()
        for _ in range(5):
            t = get(url, timeout=1)
        check("/metrics answers during the hang", "gpudoctor_nvml_up" in t and time.time() - t0 < 2)
        scenario(tmp)  # the driver recovers
        up = wait_for(lambda: "\ngpudoctor_nvml_up 1\n" in get(url), 20)
        check("recovers when NVML answers again", bool(up))
        workers = metric(get(url), "gpudoctor_nvml_worker_starts_total")
        check("one replacement worker per hang (with back-off)", workers is not None and 2 <= workers <= 4, str(workers))
    finally:
        check("clean stop after hang", stop(w) == 0)
    ev = subprocess.run([GD, "events", "--db", os.path.join(tmp, "history.db"), "--type", "nvml_hung", "--type",
                         "nvml_answering", "--format", "json"], capture_output=True, text=True)
    types = [e["type"] for e in json.loads(ev.stdout or "[]")]
    check("nvml_hung then nvml_answering recorded", types[:2] == ["nvml_hung", "nvml_answering"], str(types))


def part_full_disk(tmp):
    scenario(tmp)
    port = free_port()
    limit = 96 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    w = start_watch(tmp, port, "200ms", ["--timeout", "2"], preexec=small_files)
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        full = wait_for(lambda: "\ngpudoctor_history_write_ok 0\n" in get(url), 40)
        check("write failure reported", bool(full), open(os.path.join(tmp, "watch.log")).read()[-400:])
        n1 = metric(get(url), "gpudoctor_watch_samples_total")
        time.sleep(1)
        t = get(url)
        check("sampling continues with a full disk", metric(t, "gpudoctor_watch_samples_total") > n1
              and "\ngpudoctor_nvml_up 1\n" in t)
    finally:
        check("alive on a full disk", w.poll() is None)
        stop(w)


def run_cmd(args):
    r = subprocess.run(args, capture_output=True, text=True)
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def db_rows(db, since, until):
    """Raw rows gpudoctor history returns for [since, until] (unix s)."""
    r = subprocess.run([GD, "history", "--db", db, "--since", f"@{since}", "--until", f"@{until}", "--metric",
                        "temp_celsius", "--resolution", "raw", "--format", "json"], capture_output=True, text=True)
    return json.loads(r.stdout or "[]") if r.returncode == 0 else None


def landed(db, since, until):
    """True when the database has rows of all 8 GPUs for (nearly) every second of [since, until] (>= 2 s)."""
    rows = db_rows(db, since, until)
    if rows is None or until - since < 1:
        return False
    per_second = {}
    for r in rows:
        per_second.setdefault(r["ts"], set()).add(r["gpu"])
    full = [ts for ts, gpus in per_second.items() if len(gpus) == 8]
    return len(full) >= 0.8 * (until - since + 1)


def part_tmpfs_volume(tmp):
    vol = os.path.join(tmp, "vol")
    os.makedirs(vol)
    ok, err = run_cmd(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", vol])
    if not ok:
        skipped.append(f"tmpfs full/read-only volume: mount not permitted ({err})")
        return
    db = os.path.join(vol, "history.db")
    url = None
    w = None

    def m(name):
        return metric(get(url), name)

    def finding_served():
        return 'gpudoctor_finding_active{id="history.write_failed"' in get(url)
    try:
        scenario(tmp)
        port = free_port()
        url = f"http://127.0.0.1:{port}/metrics"
        w = start_watch(tmp, port, "200ms", ["--timeout", "2"], db=db)
        check("tmpfs: writing at start", bool(wait_for(lambda: m("gpudoctor_watch_samples_total") >= 3
                                                        and m("gpudoctor_history_write_ok") == 1, 20)))
        # Fill the volume until the kernel says ENOSPC.
        fill = os.path.join(vol, "fill")
        # Unbuffered: a buffered writer keeps the short write's rest and raises ENOSPC again when it closes.
        with open(fill, "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\xa5" * 65536)
            except OSError:
                pass
        check("tmpfs full: history_write_ok 0", bool(wait_for(lambda: m("gpudoctor_history_write_ok") == 0, 20)),
              open(os.path.join(tmp, "watch.log")).read()[-400:])
        full_from = int(time.time()) + 1
        check("tmpfs full: history.write_failed finding served", bool(wait_for(finding_served, 10)))
        n1 = m("gpudoctor_watch_samples_total")
        time.sleep(3)
        t = get(url)
        full_until = int(time.time()) - 1
        check("tmpfs full: sampling and serving go on", metric(t, "gpudoctor_watch_samples_total") >= n1 + 5
              and "\ngpudoctor_nvml_up 1\n" in t, t[:200])
        check("tmpfs full: still failing, rows wait in memory", metric(t, "gpudoctor_history_write_ok") == 0
              and (metric(t, "gpudoctor_history_pending_rows") or 0) >= 8 * 5)
        os.remove(fill)  # space returns
        check("tmpfs freed: writing resumes", bool(wait_for(lambda: m("gpudoctor_history_write_ok") == 1
                                                           and m("gpudoctor_history_pending_rows") == 0, 20)))
        check("tmpfs freed: finding cleared", bool(wait_for(lambda: not finding_served(), 10)))
        check("tmpfs freed: the rows sampled while full landed", landed(db, full_from, full_until))
        check("tmpfs full: clean stop", stop(w) == 0)
        w = None
        ev = subprocess.run([GD, "events", "--db", db, "--type", "finding_raised", "--type", "finding_cleared",
                             "--format", "json"], capture_output=True, text=True)
        hist = [(e["type"], e["detail"].get("id")) for e in json.loads(ev.stdout or "[]")]
        check("tmpfs: finding raised and cleared events", ("finding_raised", "history.write_failed") in hist
              and ("finding_cleared", "history.write_failed") in hist, str(hist))
        # Read-only: the kernel refuses remount,ro while a process holds a file open for writing (EBUSY), so
        # the daemon starts on the read-only volume and the volume is remounted read-write mid-run.
        ok, err = run_cmd(["mount", "-o", "remount,ro", vol])
        check("tmpfs: remount read-only", ok, err)
        w = start_watch(tmp, port, "200ms", ["--timeout", "2"], db=db)
        check("read-only: history_write_ok 0", bool(wait_for(lambda: m("gpudoctor_history_write_ok") == 0
                                                             and m("gpudoctor_watch_samples_total") >= 3, 20)))
        check("read-only: history.write_failed finding served", bool(wait_for(finding_served, 10)))
        ro_from = int(time.time()) + 1
        time.sleep(3)
        t = get(url)
        ro_until = int(time.time()) - 1
        check("read-only: sampling and serving go on, rows wait", "\ngpudoctor_nvml_up 1\n" in t
              and metric(t, "gpudoctor_history_write_ok") == 0
              and (metric(t, "gpudoctor_history_pending_rows") or 0) >= 8 * 5, t[:300])
        ok, err = run_cmd(["mount", "-o", "remount,rw", vol])
        check("tmpfs: remount read-write", ok, err)
        check("read-write again: writing resumes", bool(wait_for(lambda: m("gpudoctor_history_write_ok") == 1
                                                                and m("gpudoctor_history_pending_rows") == 0, 20)))
        check("read-write again: finding cleared", bool(wait_for(lambda: not finding_served(), 10)))
        check("read-write again: the rows sampled while read-only landed", landed(db, ro_from, ro_until))
    finally:
        if w is not None:
            stop(w)
        ok, err = run_cmd(["umount", vol])
        if not ok:
            run_cmd(["umount", "-l", vol])


def events_of(tmp, *types):
    args = [GD, "events", "--db", os.path.join(tmp, "history.db"), "--format", "json"]
    for t in types:
        args += ["--type", t]
    out = subprocess.run(args, capture_output=True, text=True)
    return json.loads(out.stdout or "[]")


def part_heat_throttle_lost(tmp):
    bus = "0000:18:00.0"
    scenario(tmp, gpu0={"temperature_c": 40, "clock_event_reasons": 0, "over_time": {
        "temperature_c": [{"ramp_to": 90, "from_ms": 0, "to_ms": 4000}],
        "clock_event_reasons": [{"set": "0x48", "at_ms": 3000}]}},
        faults=[{"call": "*", "gpu": 0, "return": "GPU_IS_LOST", "at_ms": 5500}],
        extra={"kernel_log": "kern.log", "xid_events": [{"gpu": 0, "xid": 79, "at_ms": 5500}]})
    open(os.path.join(tmp, "kern.log"), "w").close()
    port = free_port()
    w = start_watch(tmp, port, "500ms", ["--timeout", "2", "--kernel-log", os.path.join(tmp, "kern.log")])
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        lost = wait_for(lambda: (t := get(url)) and f'\ngpudoctor_gpu_lost{{gpu="{bus}"}} 1\n' in t and t, 30)
        check("gpudoctor_gpu_lost 1 after the GPU falls off", bool(lost), open(os.path.join(tmp, "watch.log")).read()[-800:])
        counted = wait_for(lambda: (t := get(url)) and f'gpudoctor_xid_errors_total{{gpu="{bus}",xid="79"}} 1\n' in t and t, 10)
        check("Xid 79 counted once (NVML event + kernel log line)", bool(counted),
              "\n".join(l for l in get(url).splitlines() if "xid" in l))
        if counted:
            pt = subprocess.run(["promtool", "check", "metrics"], input=counted, capture_output=True, text=True)
            check("promtool check metrics with the Xid counter", pt.returncode == 0, pt.stdout + pt.stderr)
    finally:
        check("clean stop after the GPU was lost", stop(w) == 0)
    hist = subprocess.run([GD, "history", "--db", os.path.join(tmp, "history.db"), "--gpu", bus, "--metric",
                           "temp_celsius", "--since", "10m", "--format", "json"], capture_output=True, text=True)
    temps = [r["temp_celsius"] for r in json.loads(hist.stdout or "[]") if r["temp_celsius"] is not None]
    check("history shows the temperature rising", len(temps) >= 3 and temps == sorted(temps) and temps[0] < 60
          and temps[-1] >= 80, str(temps))
    ev = events_of(tmp)
    raised = [e for e in ev if e["type"] == "finding_raised" and e["gpu"] == bus]
    ids = [e["detail"]["id"] for e in raised]
    check("finding_raised thermal.throttled (critical)", any(e["detail"]["id"] == "thermal.throttled"
          and e["detail"]["severity"] == "critical" for e in raised), str(ids))
    check("finding_raised thermal.hot", "thermal.hot" in ids, str(ids))
    types = [(e["type"], e["gpu"]) for e in ev]
    check("gpu_lost event", ("gpu_lost", bus) in types, str(types))
    xids = [e for e in ev if e["type"] == "xid"]
    wlog = open(os.path.join(tmp, "watch.log")).read()
    check("NVML Xid events registered (so the Xid came both ways)", "NVML Xid events: registered on 8 GPUs" in wlog,
          wlog[-600:])
    check("one xid event for the Xid 79", len(xids) == 1 and xids[0]["gpu"] == bus and xids[0]["detail"]["code"] == 79,
          str(xids))
    check("fallen_off_bus event from the kernel log", ("fallen_off_bus", bus) in types, str(types))
    order = [e["detail"]["id"] if e["type"] == "finding_raised" else e["type"] for e in ev
             if e["gpu"] == bus and e["type"] in ("finding_raised", "gpu_lost")]
    check("hot and throttled before lost", "gpu_lost" in order and "thermal.throttled" in order
          and order.index("thermal.throttled") < order.index("gpu_lost")
          and order.index("thermal.hot") < order.index("gpu_lost"), str(order))
    # No data is not "cleared": the lost GPU's thermal findings stay raised.
    cleared = [e["detail"]["id"] for e in ev if e["type"] == "finding_cleared" and e["gpu"] == bus]
    check("a lost GPU's findings are not cleared", not any(i.startswith("thermal.") for i in cleared), str(cleared))
    lost_ev = [e for e in ev if e["type"] == "gpu_lost" and e["gpu"] == bus]
    check("gpu_lost carries its evidence", lost_ev and ("nvml_errors" in lost_ev[0]["detail"] or "handles_failed" in lost_ev[0]["detail"] or "not_listed_by_nvml" in lost_ev[0]["detail"])
          and "persistence_mode" in lost_ev[0]["detail"], str(lost_ev))
    check("finding_raised carries its evidence", raised and all(e["detail"].get("evidence") for e in raised),
          str(raised[:1]))
    # A restart does not record the same loss again.
    w = start_watch(tmp, free_port(), "500ms", ["--timeout", "2", "--max-ticks", "4"])
    check("restart: clean exit", w.wait(timeout=60) == 0)
    again = [e for e in events_of(tmp, "gpu_lost") if e["gpu"] == bus]
    check("restart: the loss is recorded once", len(again) == 1, str(again))
    bad = subprocess.run([GD, "history", "--db", os.path.join(tmp, "history.db"), "--gpu", "0000:99:00.0"],
                         capture_output=True, text=True)
    check("history --gpu absent says so", bad.returncode == 3 and "no such GPU" in bad.stderr, bad.stderr)


def part_followed_kernel_log(tmp):
    scenario(tmp)
    log = os.path.join(tmp, "kern.log")
    with open(log, "w") as f:
        f.write("[   10.000000] NVRM: Xid (PCI:0000:2a:00): 48, pid=1, name=old, before watch started\n")
    port = free_port()
    w = start_watch(tmp, port, "300ms", ["--timeout", "2", "--kernel-log", log])
    url = f"http://127.0.0.1:{port}/metrics"
    series = 'gpudoctor_xid_errors_total{gpu="0000:2a:00.0",xid="48"}'
    try:
        check("metrics served", wait_for(lambda: "\ngpudoctor_nvml_up 1\n" in get(url), 20))
        with open(log, "ab") as f:
            f.write(bytes(range(256)) * 64 + b"\n")
            f.write(b"y" * (1 << 20) + b"\n")
            f.write(b"[   20.000000] NVRM: Xid (PCI:0000:2a:00): 48, pid=4242, name=train.py, An uncorrectable "
                    b"double bit error (DBE) has been detected on GPU in the framebuffer at partition 1.\n")
        one = wait_for(lambda: metric(get(url), series) == 1, 10)
        check("Xid line appended to the followed file counted (the old one not)", bool(one),
              "\n".join(l for l in get(url).splitlines() if "xid" in l))
        os.rename(log, log + ".1")
        with open(log, "w") as f:
            f.write("[   30.000000] NVRM: Xid (PCI:0000:2a:00): 48, pid=4243, name=train.py, again after rotation\n")
        two = wait_for(lambda: metric(get(url), series) == 2, 10)
        check("Xid line in the rotated-in file counted", bool(two))
        # 30 MB of noise before the next Xid: drained within a tick or two, not one MiB a tick (30 ticks).
        with open(log, "ab") as f:
            f.write((b"[   31.000000] eth0: a noisy driver line that repeats and repeats and repeats\n") * 400000)
            f.write(b"[   32.000000] NVRM: Xid (PCI:0000:2a:00): 48, pid=4244, name=train.py, behind 30 MB\n")
        t0 = time.monotonic()
        three = wait_for(lambda: metric(get(url), series) == 3, 10)
        took = time.monotonic() - t0
        check("Xid behind 30 MB of noise counted within 3 s at a 300 ms interval", bool(three) and took < 3,
              f"{took:.1f} s")
        check("daemon alive after junk and rotation", w.poll() is None)
    finally:
        check("clean stop", stop(w) == 0)
    xids = events_of(tmp, "xid")
    check("three xid events with code, pid and process",
          [(e["gpu"], e["detail"]["code"], e["detail"].get("pid"), e["detail"].get("process")) for e in xids]
          == [("0000:2a:00.0", 48, 4242, "train.py"), ("0000:2a:00.0", 48, 4243, "train.py"),
              ("0000:2a:00.0", 48, 4244, "train.py")], str(xids))


def part_hostile_http(tmp):
    """Read-only endpoints: other methods are 405 before a body is read; an endless body does not grow the daemon;
    a second daemon on the same port or database is refused."""
    scenario(tmp)
    port = free_port()
    w = start_watch(tmp, port, "500ms", ["--timeout", "2"])
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        check("metrics served", wait_for(lambda: "\ngpudoctor_nvml_up 1\n" in get(url), 20))
        for method in ("POST", "PUT", "DELETE"):
            req = urllib.request.Request(url, method=method, data=b"x" * 1000 if method != "DELETE" else None)
            try:
                urllib.request.urlopen(req, timeout=3)
                code, allow = 200, ""
            except urllib.error.HTTPError as e:
                code, allow = e.code, e.headers.get("Allow", "")
            check(f"{method} is 405 with Allow: GET, HEAD", code == 405 and allow == "GET, HEAD", f"{code} {allow}")
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        t0, sent = time.monotonic(), 0
        try:
            while time.monotonic() - t0 < 15:
                s.sendall(b"100000\r\n" + b"a" * 0x100000 + b"\r\n")
                sent += 1
        except OSError:
            pass
        s.close()
        took = time.monotonic() - t0
        rss_kb = int([l for l in open(f"/proc/{w.pid}/status") if l.startswith("VmHWM")][0].split()[1])
        check("an endless chunked POST is cut off within 10 s", took < 10, f"{took:.1f} s, {sent} MiB sent")
        check("and the daemon's peak RSS stays under 64 MB", rss_kb < 64 * 1024, f"{rss_kb} kB")
        check("scrapes still answered", "\ngpudoctor_nvml_up 1\n" in get(url))
        # 300 idle and 300 slowloris connections (more than the 512 the server keeps: the oldest waiting ones are
        # evicted) must not starve scrapes (cpp-httplib's 8 workers answered 0 of 8 under 40 slowloris).
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2048)), hard))
        held = []
        for k in range(600):
            c = socket.create_connection(("127.0.0.1", port))
            if k % 2:
                c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-slow: ")
            held.append(c)
        answered = sum(1 for _ in range(50) if "\ngpudoctor_nvml_up 1\n" in get(url))
        for c in held:
            c.close()
        check("50 of 50 scrapes answered while 600 idle/slowloris connections are held", answered == 50, str(answered))
        big = socket.create_connection(("127.0.0.1", port))
        big.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-big: " + b"a" * 20000 + b"\r\n\r\n")
        reply = big.recv(100)
        big.close()
        check("a request head over 8 KiB is 431", reply.startswith(b"HTTP/1.1 431"), repr(reply[:40]))
        twin = subprocess.run([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", "1s",
                               "--db", os.path.join(tmp, "other.db"), "--listen", f"127.0.0.1:{port}"],
                              env=dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(tmp, "nvml.json")),
                              capture_output=True, text=True, timeout=20)
        check("a second daemon on the same port exits 3", twin.returncode == 3, twin.stderr[-300:])
        same_db = subprocess.run([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM, "--interval", "1s",
                                  "--db", os.path.join(tmp, "history.db"), "--listen", f"127.0.0.1:{free_port()}"],
                                 env=dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(tmp, "nvml.json")),
                                 capture_output=True, text=True, timeout=20)
        check("a second daemon on the same database exits 3 naming the first",
              same_db.returncode == 3 and f"pid {w.pid}" in same_db.stderr, same_db.stderr[-300:])
    finally:
        check("clean stop", stop(w) == 0)


def part_corrupt_pages(tmp):
    """Pages of the database overwritten under the running daemon: its integrity check (every second here,
    --integrity-check-interval) moves the file aside, starts a new one, records history_moved_aside and goes on
    writing; nothing is written around the corruption."""
    scenario(tmp, gpus=8)
    port = free_port()
    db = os.path.join(tmp, "history.db")
    w = start_watch(tmp, port, "200ms", ["--timeout", "5", "--integrity-check-interval", "1s"])
    try:
        wait_for(lambda: metric(get(f"http://127.0.0.1:{port}/metrics"), "gpudoctor_watch_samples_total ") >= 5, 10)
        # Move the pages from the -wal into the file (the daemon's next write then starts the wal afresh, and
        # every page it does not rewrite is read from the file).
        con = sqlite3.connect(db, timeout=5)
        con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        con.close()
        time.sleep(0.5)
        size = os.path.getsize(db)
        check("corrupt pages: the file holds pages to corrupt", size > 4 * 4096, str(size))
        with open(db, "r+b") as f:  # every page but the header page: b-tree pages become garbage
            f.seek(4096)
            f.write(bytes([0x5A]) * (size - 4096))
            f.flush()
            os.fsync(f.fileno())
        aside = wait_for(lambda: [n for n in os.listdir(tmp) if n.startswith("history.db.corrupt-")], 10)
        check("corrupt pages: the file is moved aside within the check interval", bool(aside), str(os.listdir(tmp)))
        def fresh_ok():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
                ok = con.execute("PRAGMA integrity_check").fetchone()[0]
                n = con.execute("SELECT COUNT(*) FROM samples").fetchone()[0]
                moved = con.execute("SELECT COUNT(*) FROM events WHERE type = 'history_moved_aside'").fetchone()[0]
                con.close()
                return (ok, n, moved) if ok == "ok" and n > 0 and moved > 0 else None
            except sqlite3.Error:
                return None
        got = wait_for(fresh_ok, 10)
        check("corrupt pages: a new database passes integrity_check, takes samples and records history_moved_aside",
              bool(got), str(got))
        page = get(f"http://127.0.0.1:{port}/metrics")
        check("corrupt pages: history_write_ok back to 1", metric(page, "gpudoctor_history_write_ok ") == 1.0)
        check("corrupt pages: the daemon kept running", w.poll() is None)
        log = open(os.path.join(tmp, "watch.log")).read()
        check("corrupt pages: the log says why", "failed its check" in log or "is corrupt" in log, log[-400:])
    finally:
        check("corrupt pages: clean stop", stop(w) == 0)


PARTS = {"prometheus": part_prometheus, "hostile_http": part_hostile_http, "kill9": part_kill9, "kill9_packing": part_kill9_packing, "hang": part_hang, "full_disk": part_full_disk,
         "heat_throttle_lost": part_heat_throttle_lost, "followed_kernel_log": part_followed_kernel_log,
         "corrupt_pages": part_corrupt_pages, "volume": part_tmpfs_volume}
for name in ONLY or [n for n in PARTS if n != "volume"]:
    part = PARTS[name]
    with tempfile.TemporaryDirectory() as tmp:
        try:
            part(tmp)
        except Exception as e:  # noqa: BLE001 - report and go on with the next part
            check(part.__name__, False, repr(e))

print(f"watch e2e: {passed} passed, {len(failures)} failed, {len(skipped)} skipped")
for f in failures:
    print("  " + f)
for sk in skipped:
    print("  SKIPPED " + sk)
# 77: ctest's SKIP_RETURN_CODE, only when nothing ran at all.
sys.exit(1 if failures else 77 if skipped and not passed else 0)
