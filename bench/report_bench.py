#!/usr/bin/env python3
"""Measures `gpudoctor report` and watch's live page (docs/performance.md, "report").

1. A 2 h window of 8 GPUs sampled every second (57,600 samples, packed into hourly blocks as watch does):
   `report --out FILE.html` wall time (median of RUNS) against `history --format csv` of the same window (the
   floor: reading the same rows), the page's size, and its first render in headless Chromium.
2. A week of 10 s samples of 8 GPUs under a running watch: the live page's first render in headless Chromium
   (window.gdReport.renderedAt: ms from navigation start to the end of the first render), for the default 2 h
   view and the 7-day view, median of RUNS page loads, each in a new tab.

Usage: bench/report_bench.py BUILD_DIR [RUNS]
"""
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "e2e"))
import browser  # noqa: E402
from sim_node import free_port, get, wait_for  # noqa: E402

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 21
GD = os.path.join(BUILD, "gpudoctor")
STORE = os.path.join(BUILD, "gd-store-bench")


def timed(cmd, out=subprocess.DEVNULL):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=out, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def median_of(cmd, out=subprocess.DEVNULL):
    for _ in range(3):
        timed(cmd, out)  # warm-up
    return statistics.median(timed(cmd, out) for _ in range(RUNS))


def render_ms(b, url):
    page = b.open(url, width=1300, height=2200)
    if not page.wait("window.gdReport && window.gdReport.rendered >= 1", 30):
        raise RuntimeError(f"{url}: not rendered: {page.errors}")
    st = json.loads(page.eval("JSON.stringify(window.gdReport)"))
    if page.errors:
        raise RuntimeError(f"{url}: console errors {page.errors}")
    return st["renderedAt"], st


tmp = tempfile.mkdtemp(prefix="gd-report-bench-")
try:
    print(f"cpu: {open('/proc/cpuinfo').read().split('model name')[1].split(':')[1].splitlines()[0].strip()}, "
          f"{os.cpu_count()} cores; runs: {RUNS}")
    db = os.path.join(tmp, "2h.db")
    out = subprocess.run([STORE, "generate", db, str(2 / 24), "8", "1"], capture_output=True, text=True, check=True)
    event = int(re.search(r"gpu_lost at (\d+)", out.stdout).group(1))
    start = event - 3600 - 1234
    around = start + 6000  # the window [around - 100 min, around + 20 min) = the 2 h of samples
    html = os.path.join(tmp, "r.html")
    rep = median_of([GD, "report", "--db", db, "--around", f"@{around}", "--out", html])
    floor = median_of([GD, "history", "--db", db, "--since", f"@{start}", "--until", f"@{start + 7200}",
                       "--format", "csv", "--metric", "all"])
    size = os.path.getsize(html)
    js = subprocess.run([GD, "report", "--db", db, "--around", f"@{around}", "--format", "json"],
                        capture_output=True, check=True).stdout
    doc = json.loads(js)
    samples = sum(len(g["ts"]) for g in doc["gpus"])
    print(f"report, 2 h x 8 GPUs at 1 s ({samples} samples): median {rep * 1000:.0f} ms (target <= 500 ms); "
          f"peer: `history --format csv --metric all` of the same window {floor * 1000:.0f} ms (report/history {rep / floor:.2f}); "
          f"page {size / 1e6:.2f} MB (target <= 3 MB); JSON {len(js) / 1e6:.2f} MB")
    if browser.find():
        with browser.Browser() as b:
            times = [render_ms(b, "file://" + html)[0] for _ in range(5)]
            _, st = render_ms(b, "file://" + html)
        print(f"  its first render in headless Chromium: median {statistics.median(times):.0f} ms of 5 loads "
              f"({st['charts']} charts, {st['points']} points)")

    # 2. A week under a running watch.
    week = os.path.join(tmp, "week.db")
    out = subprocess.run([STORE, "generate", week, "7", "8", "10"], capture_output=True, text=True, check=True)
    print("  " + out.stdout.strip())
    port = free_port()
    open(os.path.join(tmp, "no-libnvidia-ml.so.1"), "w").close()  # NVML fails to load: the page shows that finding
    w = subprocess.Popen([GD, "watch", "--root", os.path.join(SRC, "tests/scenarios/healthy-8xh100/root"),
                          "--no-ledger", "--nvml", os.path.join(tmp, "no-libnvidia-ml.so.1"), "--interval", "10s",
                          "--db", week, "--listen", f"127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "watch.log"), "w"))
    try:
        if not wait_for(lambda: get(f"http://127.0.0.1:{port}/metrics"), 30):
            raise RuntimeError("watch did not serve: " + open(os.path.join(tmp, "watch.log")).read()[-500:])
        if browser.find():
            with browser.Browser() as b:
                for view in ("", "#7d"):
                    url = f"http://127.0.0.1:{port}/{view}"
                    render_ms(b, url)  # the first load fills the server's 10 s cache for this window; then
                    time.sleep(10.5)   # each measured load after its expiry pays the history query too
                    times, st = [], None
                    for _ in range(5):
                        ms, st = render_ms(b, url)
                        times.append(ms)
                        time.sleep(10.5)
                    if view == "#7d":  # pan and zoom: every chart redrawn for a day, an hour, then the week
                        page = b.open(url, width=1300, height=2200)
                        page.wait("window.gdReport && window.gdReport.rendered >= 1", 30)
                        now = int(time.time())
                        zooms = [page.eval(f"gdZoom({now - span}, {now - span // 2})") for span in
                                 (86400, 3600, 7 * 86400)] + [page.eval(f"gdZoom({now - 3 * 86400 - i * 3600}, "
                                                                          f"{now - 2 * 86400 - i * 3600})")
                                                              for i in range(10)]
                        print(f"  pan/zoom of the 7-day view (all 6 charts redrawn): median {statistics.median(zooms):.0f}"
                              f" ms, max {max(zooms):.0f} ms over {len(zooms)} steps")
                    print(f"live page {view or '(2 h)'} with a week of history: first render median "
                          f"{statistics.median(times):.0f} ms of 5 (max {max(times):.0f}; target <= 1000 ms; "
                          f"{st['charts']} charts, {st['points']} points)")
        t0 = time.perf_counter()
        body = get(f"http://127.0.0.1:{port}/api/report/7d", timeout=30)
        print(f"  /api/report/7d: {len(body) / 1e6:.2f} MB ({(time.perf_counter() - t0) * 1000:.0f} ms, cached or not)")
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=30)
finally:
    shutil.rmtree(tmp, ignore_errors=True)
