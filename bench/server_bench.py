#!/usr/bin/env python3
"""Scrape latency of `gpudoctor watch`'s /metrics while hostile clients hold connections.

Usage: bench/server_bench.py [BUILD_DIR] [N]   (default build, N = 1000)
Starts a watch on the simulator (8 GPUs, 1 s interval, loopback), then for each load
(none, N idle connections, N slowloris connections sending a header line every second)
scrapes /metrics 500 times in a row and prints p50/p99/max and the daemon's peak RSS (VmHWM).
Targets (issue 14): p99 <= 5 ms under 1,000 idle or slowloris connections, RSS <= 32 MB.
"""
import os, resource, socket, subprocess, sys, tempfile, threading, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * n + 256)), hard))

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def scrape(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass
    s.close()

tmp = tempfile.mkdtemp()
port = free_port()
env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(src, "tests/scenarios/healthy-8xh100/nvml.json"))
w = subprocess.Popen([os.path.join(build, "gpudoctor"), "watch", "--no-ledger", "--root", os.path.join(src, "tests/scenarios/healthy-8xh100/root"),
                      "--nvml", os.path.join(build, "sim/libnvidia-ml.so.1"), "--interval", "1s",
                      "--db", os.path.join(tmp, "h.db"), "--listen", f"127.0.0.1:{port}"],
                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
try:
    for _ in range(100):
        try:
            scrape(port); break
        except OSError:
            time.sleep(0.1)
    for load in ("none", "idle", "slowloris"):
        socks, stop = [], False
        if load != "none":
            for _ in range(n):
                s = socket.create_connection(("127.0.0.1", port))
                if load == "slowloris":
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
        def drip():
            while not stop:
                for s in socks:
                    try:
                        s.sendall(b"X-a: b\r\n")
                    except OSError:
                        pass
                time.sleep(1)
        t = threading.Thread(target=drip) if load == "slowloris" else None
        if t: t.start()
        lat, failed = [], 0
        for _ in range(500):
            t0 = time.perf_counter()
            try:
                scrape(port); lat.append(time.perf_counter() - t0)
            except OSError:
                failed += 1
        stop = True
        if t: t.join()
        for s in socks: s.close()
        lat.sort()
        hwm = [l for l in open(f"/proc/{w.pid}/status") if l.startswith("VmHWM")][0].split()[1]
        q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
        print(f"{load:9} x{n if load != 'none' else 0:<5}: {len(lat)}/500 answered, p50 {q(0.5):.2f} ms, "
              f"p99 {q(0.99):.2f} ms, max {lat[-1]*1000 if lat else float('nan'):.2f} ms; daemon VmHWM {int(hwm)/1024:.1f} MB")
        time.sleep(1.5)
finally:
    w.terminate(); w.wait(10)
