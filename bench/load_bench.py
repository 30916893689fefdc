#!/usr/bin/env python3
"""`watch` under load: 64 simulated GPUs sampled every second while a client scrapes /metrics
1,000 times a second, first alone, then with 1,000 idle connections held open.

Usage: bench/load_bench.py [BUILD_DIR] [SECONDS_PER_PHASE] [RATE]   (default build 300 1000)

The simulated node is healthy-8xh100's tree with the scenario's GPUs copied to 64 (distinct bus
ids, UUIDs, serials, minors). The client is open-loop: scrape i is due at start + i / RATE on one
keep-alive connection (reconnecting if the server closes it); a scrape that starts late counts
its lateness in its latency, so a stalled server cannot hide behind a slowed client. Printed per
phase: scrapes answered / due, failures, p50/p99/max latency; the daemon's samples and missed
ticks (from its own counters, against the seconds elapsed) and the history rows written; its RSS
each 30 s (flat means the last minute's max is within 2 MB of the first minute's). Exit 1 when a
sample was missed, a scrape failed, or memory grew.
Issue 14's targets: no missed samples, flat memory, p99 reported.
"""
import copy, json, os, resource, socket, sqlite3, subprocess, sys, tempfile, threading, time

build = sys.argv[1] if len(sys.argv) > 1 else "build"
seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 300
rate = float(sys.argv[3]) if len(sys.argv) > 3 else 1000
IDLE = 1000
GPUS = 64
src = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, IDLE + 512)), hard))


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def scenario_64(path):
    doc = json.load(open(os.path.join(src, "tests/scenarios/healthy-8xh100/nvml.json")))
    base = doc["gpus"]
    gpus = []
    for i in range(GPUS):
        g = copy.deepcopy(base[i % len(base)])
        g["bus_id"] = f"00000000:{0x10 + i:02x}:00.0"
        g["uuid"] = f"GPU-00004100-0000-4c1e-9d2b-{i:012x}"
        g["serial"] = f"{1323116640000 + i}"
        g["minor"] = i
        gpus.append(g)
    doc["gpus"] = gpus
    json.dump(doc, open(path, "w"))


class Scraper:
    """One keep-alive connection; scrape() returns the body length."""
    def __init__(self, port):
        self.port, self.sock, self.buf = port, None, b""

    def _connect(self):
        self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.buf = b""

    def scrape(self):
        for attempt in (0, 1):
            try:
                if self.sock is None:
                    self._connect()
                self.sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
                return self._response()
            except (OSError, ConnectionError):
                if self.sock: self.sock.close()
                self.sock = None
                if attempt: raise
        raise OSError("unreachable")

    def _response(self):
        while b"\r\n\r\n" not in self.buf:
            d = self.sock.recv(262144)
            if not d: raise ConnectionError("closed before the head")
            self.buf += d
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 200"): raise ConnectionError(lines[0].decode(errors="replace"))
        length, close = None, False
        for l in lines[1:]:
            k, _, v = l.partition(b":")
            if k.strip().lower() == b"content-length": length = int(v)
            if k.strip().lower() == b"connection" and v.strip().lower() == b"close": close = True
        if length is None: raise ConnectionError("no Content-Length")
        chunks, have = [rest], len(rest)
        while have < length:
            d = self.sock.recv(262144)
            if not d: raise ConnectionError("closed in the body")
            chunks.append(d); have += len(d)
        body = b"".join(chunks)
        self.buf = body[length:]
        if close:
            self.sock.close(); self.sock = None
        return length


def page(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(262144)
        if not d: break
        data += d
    s.close()
    return data.decode(errors="replace").splitlines()


def metric(port, name):
    for line in page(port):
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.split()[-1])
    return None


def rss_kb(pid):
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS"): return int(l.split()[1])
    return 0


def history_rows(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        tables = [r[0] for r in c.execute("select name from sqlite_master where type='table'")]
        out = {t: c.execute(f"select count(*) from {t}").fetchone()[0] for t in tables}
        c.close()
        return out
    except sqlite3.Error as e:
        return {"error": str(e)}


def cpu_steal_and_idle():
    f = open("/proc/stat").readline().split()[1:]
    v = list(map(int, f))
    return v[7] if len(v) > 7 else 0, sum(v)


def phase(name, port, pid, idle):
    stop = threading.Event()
    socks = []
    for _ in range(idle):
        socks.append(socket.create_connection(("127.0.0.1", port)))
    # The server closes idle connections after its idle timeout (15 s): the holder opens each closed one again,
    # so 1,000 stay open for the whole phase (reconnects counted).
    reopened = [0]
    def hold():
        while not stop.is_set():
            for k, s in enumerate(socks):
                if not _alive(s):
                    s.close()
                    try:
                        socks[k] = socket.create_connection(("127.0.0.1", port), timeout=2)
                        reopened[0] += 1
                    except OSError:
                        pass
            stop.wait(1.0)
    samples0 = metric(port, "gpudoctor_watch_samples_total")
    missed0 = metric(port, "gpudoctor_watch_missed_ticks_total")
    rss = []
    def watch_rss():
        while not stop.is_set():
            rss.append((time.monotonic(), rss_kb(pid)))
            stop.wait(1.0)
    t = threading.Thread(target=watch_rss); t.start()
    holder = threading.Thread(target=hold) if idle else None
    if holder: holder.start()
    steal0, total0 = cpu_steal_and_idle()
    sc = Scraper(port)
    lat, service, late_at, failed, size, due = [], [], [], 0, 0, 0
    start = time.monotonic()
    end = start + seconds
    i = 0
    while True:
        t_due = start + i / rate
        if t_due >= end: break
        now = time.monotonic()
        if now < t_due: time.sleep(t_due - now)
        try:
            t_start = time.monotonic()
            size = sc.scrape()
            t_end = time.monotonic()
            lat.append(t_end - t_due)  # from when it was due: lateness counts
            service.append(t_end - t_start)  # the server's answer alone
            if t_end - t_start > 0.1: late_at.append((round(t_start - start, 1), round((t_end - t_start) * 1000)))
        except (OSError, ConnectionError, ValueError):
            failed += 1
        i += 1
    elapsed = time.monotonic() - start
    due = i
    stop.set(); t.join()
    if holder: holder.join()
    steal1, total1 = cpu_steal_and_idle()
    samples1 = metric(port, "gpudoctor_watch_samples_total")
    missed1 = metric(port, "gpudoctor_watch_missed_ticks_total")
    alive = sum(1 for s in socks if _alive(s))
    for s in socks: s.close()
    lat.sort(); service.sort()
    q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
    qs = lambda p: service[min(len(service) - 1, int(p * len(service)))] * 1000 if service else float("nan")
    first = [r for ts, r in rss if ts - start <= 60]
    last = [r for ts, r in rss if ts >= end - 60]
    grew = (max(last) - max(first)) / 1024 if first and last else float("nan")
    samples = samples1 - samples0 if samples0 is not None and samples1 is not None else None
    missed = missed1 - missed0 if missed0 is not None and missed1 is not None else None
    print(f"{name}: {len(lat)}/{due} scrapes answered ({failed} failed) in {elapsed:.0f} s = "
          f"{len(lat) / elapsed:.0f}/s of {rate:.0f}/s due, body {size / 1024:.0f} KiB; latency from due time "
          f"p50 {q(0.5):.2f} ms, p99 {q(0.99):.2f} ms, max {lat[-1] * 1000 if lat else float('nan'):.1f} ms")
    print(f"{name}: daemon ticks {samples:.0f} in {elapsed:.0f} s, missed {missed:.0f}; idle connections still "
          f"open at the end {alive}/{idle}; RSS first minute max {max(first) / 1024:.1f} MB, last minute max "
          f"{max(last) / 1024:.1f} MB (grew {grew:+.1f} MB), all samples {min(r for _, r in rss) / 1024:.1f}-"
          f"{max(r for _, r in rss) / 1024:.1f} MB", flush=True)
    print(f"{name}: answer time alone (send to last byte) p50 {qs(0.5):.2f} ms, p99 {qs(0.99):.2f} ms, max "
          f"{service[-1] * 1000 if service else float('nan'):.1f} ms; answers over 100 ms: {len(late_at)} "
          f"{late_at[:8]} (s into the phase, ms); idle connections reopened after the server's idle timeout: "
          f"{reopened[0]}; CPU steal {100 * (steal1 - steal0) / max(1, total1 - total0):.1f} %", flush=True)
    ok = failed == 0 and missed == 0 and samples is not None and samples >= elapsed - 2 and grew <= 2.0
    return ok


def _alive(s):
    try:
        s.setblocking(False)
        d = s.recv(1)
        return d != b""  # b"" = closed by the server
    except BlockingIOError:
        return True
    except OSError:
        return False


def main():
    tmp = tempfile.mkdtemp(prefix="gd-load-")
    scen = os.path.join(tmp, "nvml.json")
    scenario_64(scen)
    port = free_port()
    db = os.path.join(tmp, "h.db")
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scen)
    w = subprocess.Popen([os.path.join(build, "gpudoctor"), "watch", "--no-ledger",
                          "--root", os.path.join(src, "tests/scenarios/healthy-8xh100/root"),
                          "--nvml", os.path.join(build, "sim/libnvidia-ml.so.1"), "--interval", "1s",
                          "--db", db, "--listen", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "watch.err"), "w"))
    ok = True
    try:
        for _ in range(100):
            try:
                Scraper(port).scrape(); break
            except (OSError, ConnectionError):
                time.sleep(0.1)
        time.sleep(3)  # a few ticks in: every GPU sampled once
        gpus = sum(1 for l in page(port) if l.startswith("gpudoctor_gpu_temperature_celsius{"))
        print(f"load: watch on {GPUS} simulated GPUs ({gpus} temperature series on the page), interval 1 s, "
              f"{seconds:.0f} s per phase, {rate:.0f} scrapes/s due", flush=True)
        ok &= phase("alone", port, w.pid, 0)
        ok &= phase(f"with {IDLE} idle connections", port, w.pid, IDLE)
        print(f"history database after both phases: {history_rows(db)}")
        if w.poll() is not None:
            print(f"the daemon exited ({w.returncode})"); ok = False
    finally:
        w.terminate(); w.wait(10)
    print("load: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
