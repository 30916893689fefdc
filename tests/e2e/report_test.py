#!/usr/bin/env python3
"""`gpudoctor report` and watch's live page through the real binary and a real browser (headless Chromium,
driven over the DevTools protocol: browser.py).

1. The seed author's own input: a folder of per-minute nvidia-smi dumps ending in a dump the hung nvidia-smi
   never wrote and "No devices were found", imported; the report's verdict supports persistence and rules
   heat and a broken card out; its page loads in Chromium with no console error, draws the charts with the
   dumps' points and lists the events (screenshot kept).
2. A truly thermal failure, recorded by watch on the simulator (the temperature ramps, HW thermal slowdown is
   set, the GPU falls off the bus): the verdict supports overheating and rules persistence out.
3. watch's live page at / with its JSON API (/api/findings, /api/report/2h, /7d): rendered in Chromium with
   the current findings and charts, no console error (screenshot kept); with no history (an unwritable --db)
   it says why and still shows the findings.
5. The evidence bundle (collect --bundle --redact) of that node: a standard tar.gz whose members carry no UUID
   or serial of the node; check --from and report --db read it back to the same findings and verdict; with NVML
   hung it still finishes within --timeout. (Run before part 4.)
4. Bad input: no database, an empty history, an unknown event id, a file that is not a history: exit 3 with
   the reason; the history is left byte-identical (a query never writes).

Usage: report_test.py GPUDOCTOR SIM_LIB SOURCE_DIR OUT_DIR
Browser checks are skipped (exit 77 when all else passed) only when no headless Chromium is installed.
"""
import hashlib
import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import browser  # noqa: E402
from sim_node import free_port, get, wait_for  # noqa: E402

GD, SIM, SRC, OUT = (os.path.abspath(a) for a in sys.argv[1:5])
CORPUS = os.path.join(SRC, "tests", "corpus", "nvidia-smi")
SCEN = os.path.join(SRC, "tests", "scenarios", "healthy-8xh100")
failures, passed, skipped = [], 0, []
os.makedirs(OUT, exist_ok=True)
CHROMIUM = browser.find()


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}", file=sys.stderr)


def gd(*args, timeout=60, env=None):
    return subprocess.run([GD, *args], capture_output=True, text=True, timeout=timeout, env=env)


def statuses(doc):
    return {s["name"]: s["status"] for s in doc["verdict"]["suspects"]}


def ctime(t):
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t))


def look(url, shot, wait_for_js="window.gdReport && window.gdReport.rendered >= 1"):
    """Loads url in Chromium; returns (gdReport state, DOM facts, console errors) and saves a screenshot."""
    with browser.Browser(CHROMIUM) as b:
        page = b.open(url, width=1300, height=2200)
        ok = page.wait(wait_for_js, 20)
        state = page.eval("JSON.stringify(window.gdReport || null)")
        dom = page.eval("""JSON.stringify({
            canvases: document.querySelectorAll('canvas').length,
            suspects: Array.from(document.querySelectorAll('tr[data-suspect]')).map(
                r => [r.getAttribute('data-suspect'), r.getAttribute('data-status')]),
            events: Array.from(document.querySelectorAll('tr.gd-event')).map(r => r.getAttribute('data-type')),
            findings: document.querySelector('#gd-findings') ? document.querySelector('#gd-findings').innerText : null,
            text: document.body.innerText.slice(0, 400), text_all: document.body.innerText})""")
        page.screenshot(shot)
        return ok, json.loads(state or "null"), json.loads(dom), list(page.errors)


def check_page(name, ok, state, dom, errors, min_points, min_charts=5):
    check(f"{name}: rendered", ok and state and state.get("rendered", 0) >= 1, state)
    check(f"{name}: no console error", not errors, errors)
    check(f"{name}: charts drawn (a canvas each)", state and state.get("charts", 0) >= min_charts
          and dom["canvases"] >= state.get("charts", 0), (state, dom["canvases"]))
    check(f"{name}: the charts carry the data's points", state and state.get("points", 0) >= min_points,
          (state or {}).get("points"))


tmp = tempfile.mkdtemp(prefix="gd-report-")
try:
    # 1. The seed folder.
    table = open(os.path.join(CORPUS, "table-450-seed.txt")).read().split("\n", 1)[1]
    logs = os.path.join(tmp, "nvidia-smi-logs")
    os.mkdir(logs)
    start = int(time.time()) - 3 * 3600
    minutes = 120
    for i in range(minutes):
        t = start + 60 * i
        with open(os.path.join(logs, f"nvidia-smi-{t}.log"), "w") as f:
            f.write(ctime(t) + "       \n" + table.replace("31C", f"{31 + i % 5}C", 1))
    hung = start + 60 * minutes
    open(os.path.join(logs, f"nvidia-smi-{hung}.log"), "w").close()
    with open(os.path.join(logs, f"nvidia-smi-{hung + 660}.log"), "w") as f:
        f.write("No devices were found\n")
    db = os.path.join(tmp, "seed.db")
    r = gd("import", "nvidia-smi", logs, "--db", db)
    check("seed dumps imported", r.returncode == 0, r.stdout + r.stderr)
    before = hashlib.sha256(open(db, "rb").read()).hexdigest()
    r = gd("report", "--db", db, "--format", "json")
    check("report --format json exits 0", r.returncode == 0, r.stderr)
    doc = json.loads(r.stdout) if r.returncode == 0 else {"verdict": {"suspects": []}, "gpus": [], "events": []}
    st = statuses(doc)
    check("seed: the window is around the loss", doc.get("anchor", {}).get("kind") == "latest_gpu_lost"
          and abs(doc["anchor"]["ts_ms"] / 1000 - (hung + 660)) < 1, doc.get("anchor"))
    check("seed: persistence supported", st.get("persistence") == "supported", st)
    check("seed: overheating ruled out", st.get("thermal") == "ruled_out", st)
    check("seed: a broken card ruled out (all four lost together)", st.get("inventory") == "ruled_out", st)
    check("seed: Xids remain (no kernel log in the history)", st.get("xid") == "remains", st)
    thermal_ev = next((s["evidence"] for s in doc["verdict"]["suspects"] if s["name"] == "thermal"), [])
    check("seed: thermal evidence has the numbers", any("max 35 °C" in e for e in thermal_ev), thermal_ev)
    check("seed: four GPUs, six events", len(doc["gpus"]) == 4 and len(doc["events"]) == 6,
          (len(doc["gpus"]), [e["type"] for e in doc["events"]]))
    html = os.path.join(tmp, "seed.html")
    r = gd("report", "--db", db, "--out", html)
    check("report --out writes the page", r.returncode == 0 and os.path.getsize(html) > 0, r.stderr)
    check("report names the verdict on stderr", "Persistence mode off" in r.stderr, r.stderr)
    page = open(html, encoding="utf-8").read()
    check("the page fetches nothing (no src=, no http link)", "src=" not in page and "https://" not in page.split(
        '<script id="gd-data"')[0], [l for l in page.splitlines() if "src=" in l][:2])
    check("report leaves the history byte-identical, no -wal",
          hashlib.sha256(open(db, "rb").read()).hexdigest() == before and not os.path.exists(db + "-wal"))
    if CHROMIUM:
        ok, state, dom, errors = look("file://" + html, os.path.join(OUT, "report-seed.png"))
        # The 450-era table has temperature, power, utilisation and memory, no clocks and no fan (N/A): 4 charts.
        check_page("seed page", ok, state, dom, errors, 4 * minutes, min_charts=4)
        check("seed page: what the dumps lack is said, not drawn empty", state and state.get("charts") == 4 and
              "Clocks: not in the samples" in dom["text_all"] and "Fan: not in the samples" in dom["text_all"],
              (state, [l for l in dom["text_all"].splitlines() if "not in the samples" in l]))
        check("seed page: every suspect with the JSON's status", sorted(map(tuple, dom["suspects"])) ==
              sorted(st.items()), dom["suspects"])
        check("seed page: the events listed", sorted(dom["events"]) == sorted(e["type"] for e in doc["events"]),
              dom["events"])
    else:
        skipped.append("browser checks: no headless Chromium (apt-get install chromium-headless-shell)")

    # 2. A thermal failure recorded by watch.
    d = json.load(open(os.path.join(SCEN, "nvml.json")))
    d["gpus"][0].update({"temperature_c": 45, "clock_event_reasons": 0, "over_time": {
        "temperature_c": [{"ramp_to": 95, "from_ms": 0, "to_ms": 4000}],
        "clock_event_reasons": [{"set": "0x48", "at_ms": 3000}]}})
    d["faults"] = [{"call": "*", "gpu": 0, "return": "GPU_IS_LOST", "at_ms": 5500}]
    d.update({"kernel_log": "kern.log", "xid_events": [{"gpu": 0, "xid": 79, "at_ms": 5500}]})
    scen = os.path.join(tmp, "nvml.json")
    json.dump(d, open(scen, "w"))
    open(os.path.join(tmp, "kern.log"), "w").close()
    hot_db = os.path.join(tmp, "hot.db")
    port = free_port()
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scen)
    w = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM,
                          "--interval", "500ms", "--timeout", "2", "--db", hot_db, "--kernel-log",
                          os.path.join(tmp, "kern.log"), "--listen", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "watch.log"), "w"))
    try:
        lost = wait_for(lambda: (t := get(f"http://127.0.0.1:{port}/metrics")) and
                        '\ngpudoctor_gpu_lost{gpu="0000:18:00.0"} 1\n' in t, 30)
        check("thermal: watch saw the loss", bool(lost), open(os.path.join(tmp, "watch.log")).read()[-600:])
        api = get(f"http://127.0.0.1:{port}/api/report/2h")
        live = json.loads(api) if api else {}
        check("live API: /api/report/2h is the report document", live.get("kind") == "gpudoctor-report"
              and live.get("encoding") == "chart", str(live)[:300])
        fnd = json.loads(get(f"http://127.0.0.1:{port}/api/findings") or "{}")
        check("live API: /api/findings has the thermal findings", any(f["id"].startswith("thermal.")
              for f in fnd.get("findings", [])), fnd)
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=15)
    r = gd("report", "--db", hot_db, "--format", "json")
    hot = json.loads(r.stdout) if r.returncode == 0 else {"verdict": {"suspects": []}}
    st = statuses(hot)
    check("thermal: report exits 0", r.returncode == 0, r.stderr)
    check("thermal: overheating supported", st.get("thermal") == "supported", st)
    check("thermal: persistence ruled out (on)", st.get("persistence") == "ruled_out", st)
    check("thermal: the loss's own Xid 79 is no cause; the time before watch started is not claimed",
          st.get("xid") == "remains" and any("watch started only at" in e for s in hot["verdict"]["suspects"]
                                             if s["name"] == "xid" for e in s["evidence"]), hot["verdict"])
    check("thermal: the verdicts differ from the seed's", st.get("thermal") != statuses(doc).get("thermal"))
    hot_html = os.path.join(tmp, "hot.html")
    r = gd("report", "--db", hot_db, "--out", hot_html)
    if CHROMIUM and r.returncode == 0:
        ok, state, dom, errors = look("file://" + hot_html, os.path.join(OUT, "report-thermal.png"))
        check_page("thermal page", ok, state, dom, errors, 8 * 5)
        check("thermal page: overheating supported", ["thermal", "supported"] in dom["suspects"], dom["suspects"])
    hot_ev = next((s["evidence"] for s in hot["verdict"]["suspects"] if s["name"] == "thermal"), [])
    check("thermal: evidence names the HW thermal reason and the threshold",
          any("HW thermal 0x40" in e and "slowdown at" in e for e in hot_ev), hot_ev)

    # 3. The live page.
    live_db = os.path.join(tmp, "live.db")
    port = free_port()
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(SCEN, "nvml.json"))
    w = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM,
                          "--interval", "1s", "--db", live_db, "--listen", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "live.log"), "w"))
    try:
        up = wait_for(lambda: (t := get(f"http://127.0.0.1:{port}/metrics")) and "gpudoctor_history_write_ok 1" in t, 20)
        check("live: watch serves", bool(up), open(os.path.join(tmp, "live.log")).read()[-600:])
        time.sleep(3)  # a few ticks in the history
        index = get(f"http://127.0.0.1:{port}/") or ""
        check("live: / is the page", "<title>gpudoctor watch" in index, index[:200])
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/report/1y", timeout=5)
            code = 200
        except urllib.error.HTTPError as e:
            code = e.code
        check("live: an unknown window is refused (404)", code == 404, code)
        if CHROMIUM:
            ok, state, dom, errors = look(f"http://127.0.0.1:{port}/", os.path.join(OUT, "live-2h.png"))
            check_page("live page", ok, state, dom, errors, 8 * 3)
            check("live page: the current findings shown", dom["findings"] and "Current findings" in dom["findings"],
                  dom["findings"])
            with browser.Browser(CHROMIUM) as b:  # a zoom survives the page's refresh
                page = b.open(f"http://127.0.0.1:{port}/")
                page.wait("window.gdReport && window.gdReport.rendered >= 1", 20)
                now = int(time.time())
                page.eval(f"gdZoom({now - 3}, {now - 1})")
                page.eval("gdRefresh()")
                refreshed = page.wait("window.gdReport.rendered >= 2", 20)
                scale = page.eval("JSON.stringify(gdScale())")
                kept = json.loads(scale or "null")
                check("live page: a zoom is kept across a refresh", refreshed and kept and
                      abs(kept["min"] - (now - 3)) < 0.01 and abs(kept["max"] - (now - 1)) < 0.01, (refreshed, kept))
                check("live page: no console error through the refresh", not page.errors, page.errors)
            ok, state, dom, errors = look(f"http://127.0.0.1:{port}/#7d", os.path.join(OUT, "live-7d.png"))
            check_page("live page, 7 days", ok, state, dom, errors, 8)
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=15)

    # 3b. The live page with no history (the database cannot be written): the error and the current findings.
    port = free_port()
    w = subprocess.Popen([GD, "watch", "--root", os.path.join(SCEN, "root"), "--no-ledger", "--nvml", SIM,
                          "--interval", "1s", "--db", "/proc/gd-no-such/history.db", "--listen", f"127.0.0.1:{port}"],
                         env=dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(SCEN, "nvml.json")),
                         stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "nohist.log"), "w"))
    try:
        up = wait_for(lambda: (t := get(f"http://127.0.0.1:{port}/api/findings")) and "history.write_failed" in t, 20)
        check("no history: /api/findings has history.write_failed", bool(up))
        if CHROMIUM and up:
            ok, state, dom, errors = look(f"http://127.0.0.1:{port}/", os.path.join(OUT, "live-no-history.png"),
                                          "window.gdReport && window.gdReport.error")
            check("no history: the page says why and still shows the findings", ok and "no history database" in
                  dom["text_all"] and "history.write_failed" in (dom["findings"] or ""), dom["text_all"][:300])
            check("no history: no error but the 503 it was answered", all("503" in e for e in errors), errors)
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=15)

    # 5. The evidence bundle: the thermal node's history, redacted; then a wedged driver.
    bundle = os.path.join(tmp, "evidence.tar.gz")
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=scen)
    r = gd("collect", "--root", os.path.join(SCEN, "root"), "--nvml", SIM, "--bundle", bundle, "--redact",
           "--db", hot_db, env=env)
    check("bundle: written", r.returncode == 0 and os.path.exists(bundle), r.stderr)
    members = {}
    if os.path.exists(bundle):
        with tarfile.open(bundle) as t:  # Python's own tar reader: the archive is a standard one
            for m in t.getmembers():
                members[m.name] = t.extractfile(m).read()
    check("bundle: manifest, snapshot, findings, history, report",
          {"manifest.json", "snapshot.json", "findings.json", "history.db", "report.html"} <= set(members), list(members))
    man = json.loads(members.get("manifest.json", b"{}"))
    check("bundle: the manifest names what was skipped and why", man.get("kind") == "gpudoctor-bundle" and
          any(x["what"] == "kernel log" and x["why"] for x in man.get("skipped", [])), man.get("skipped"))
    real = [g["uuid"] for g in d["gpus"]] + [g.get("serial", "") for g in d["gpus"] if len(g.get("serial", "")) >= 4]
    leaked = [(name, x) for name, data in members.items() for x in real if x and x.encode() in data]
    leaked += [(name, x.lower()) for name, data in members.items() for x in real if x.startswith("GPU-")
               and x.lower().encode() in data]
    check("bundle --redact: no UUID or serial of the node in any member (the history database included)",
          not leaked, leaked[:4])
    check("bundle --redact: consistent (a UUID is replaced by the same one everywhere)",
          b"GPU-00000000-0000-0000-0000-000000000001" in members.get("snapshot.json", b"") and
          b"GPU-00000000-0000-0000-0000-000000000001" in members.get("history.db", b""))
    direct = gd("check", "--root", os.path.join(SCEN, "root"), "--nvml", SIM, "--json", env=env)
    from_bundle = gd("check", "--from", bundle, "--json")
    check("check --from BUNDLE: same findings and exit code as on the node",
          from_bundle.returncode == direct.returncode and
          sorted(f["id"] for f in json.loads(from_bundle.stdout or "{}").get("findings", [])) ==
          sorted(f["id"] for f in json.loads(direct.stdout or "{}").get("findings", [])),
          (from_bundle.returncode, direct.returncode, from_bundle.stderr[-300:]))
    r = gd("report", "--db", bundle, "--format", "json")
    rb = json.loads(r.stdout) if r.returncode == 0 else {"verdict": {"suspects": []}}
    check("report --db BUNDLE: the same verdict as from the history", statuses(rb) == statuses(hot), (statuses(rb), r.stderr))
    check("report --db BUNDLE: the redacted host", rb.get("host", "").startswith("node-"), rb.get("host"))
    hang = os.path.join(tmp, "hang.json")
    dh = json.load(open(os.path.join(SRC, "tests/scenarios/nvml-hang-gpu/nvml.json")))
    json.dump(dh, open(hang, "w"))
    t0 = time.time()
    r = gd("collect", "--root", os.path.join(SRC, "tests/scenarios/nvml-hang-gpu/root"), "--nvml", SIM, "--timeout", "2",
           "--bundle", os.path.join(tmp, "hang.tar.gz"), "--db", hot_db, env=dict(os.environ, GPUDOCTOR_SIM_SCENARIO=hang))
    took = time.time() - t0
    check("bundle with NVML hung: finished within --timeout 2 (+0.5 s to start and write)", r.returncode == 0 and took < 2.5,
          (r.returncode, round(took, 2), r.stderr[-300:]))
    hb = gd("check", "--from", os.path.join(tmp, "hang.tar.gz"), "--json")
    check("bundle with NVML hung: its snapshot says nvml.hung", "nvml.hung" in hb.stdout, hb.stdout[:300])
    broken = os.path.join(tmp, "broken.tar.gz")
    open(broken, "wb").write(open(bundle, "rb").read()[:300])
    r = gd("check", "--from", broken)
    check("a truncated bundle: exit 3, named", r.returncode == 3 and "broken.tar.gz" in r.stderr, r.stderr)
    r = gd("report", "--db", broken)
    check("a truncated bundle to report: exit 3, named", r.returncode == 3 and "broken.tar.gz" in r.stderr, r.stderr)

    # 4. Bad input.
    r = gd("report", "--db", os.path.join(tmp, "none.db"))
    check("no database: exit 3, named", r.returncode == 3 and "none.db" in r.stderr, (r.returncode, r.stderr))
    check("no database: nothing created", not os.path.exists(os.path.join(tmp, "none.db")))
    empty = os.path.join(tmp, "empty.db")
    gd("import", "nvidia-smi", os.path.join(tmp, "nothing-here"), "--db", empty)  # creates an empty history
    r = gd("report", "--db", empty)
    check("empty history: exit 3, said", r.returncode == 3 and "empty" in r.stderr, (r.returncode, r.stderr))
    r = gd("report", "--db", db, "--around", "987654")
    check("unknown event id: exit 3, said", r.returncode == 3 and "no event with id 987654" in r.stderr, r.stderr)
    notdb = os.path.join(tmp, "notes.txt")
    open(notdb, "w").write("not a database\n" * 100)
    r = gd("report", "--db", notdb)
    check("not a history: exit 3, file unchanged", r.returncode == 3 and open(notdb).read() == "not a database\n" * 100,
          r.stderr)
    mfd, sfd = pty.openpty()  # standard output a terminal: no megabytes of HTML onto it
    t = subprocess.run([GD, "report", "--db", db], stdout=sfd, stderr=subprocess.PIPE, text=True, timeout=30)
    os.close(sfd)
    os.close(mfd)
    check("the page onto a terminal: refused, --out named", t.returncode == 3 and "--out" in t.stderr, t.stderr)
    r = gd("report", "--db", db, "--window", "0s")
    check("a bad window: exit with usage error", r.returncode != 0 and "window" in r.stderr, r.stderr)
    r = gd("report", "--db", db, "--out", os.path.join(tmp, "no", "such", "dir", "r.html"))
    check("an unwritable --out: exit 3, named", r.returncode == 3 and "r.html" in r.stderr, r.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"report_e2e: {passed} checks passed, {len(failures)} failed")
for s in skipped:
    print(f"SKIPPED {s}")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 77 if skipped else 0)
