#!/usr/bin/env python3
"""`gpudoctor import` through the real binary, on the seed author's own kind of input: a folder of
per-minute `nvidia-smi` dumps (the seed's 450-era table) ending in a dump the hung nvidia-smi never
wrote and one that says "No devices were found"; then `-q` dumps, a noheader CSV, a kernel log, a
re-import (nothing twice), bad inputs (named, exit 3) and a running `watch` holding the database.

Usage: import_test.py GPUDOCTOR SIM_DIR
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

GD = os.path.abspath(sys.argv[1])
SIM_DIR = os.path.abspath(sys.argv[2])
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sim_node  # noqa: E402

CORPUS = os.path.join(os.path.dirname(HERE), "corpus", "nvidia-smi")
failures, passed = [], 0


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def gd(*args, timeout=60, env=None):
    return subprocess.run([GD, *args], capture_output=True, text=True, timeout=timeout, env=env)


def ctime(t):
    return time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(t))


def events(db, *extra):
    r = gd("events", "--db", db, "--since", "30d", "--format", "json", *extra)
    return json.loads(r.stdout) if r.returncode == 0 else []


tmp = tempfile.mkdtemp(prefix="gd-import-")
try:
    table = open(os.path.join(CORPUS, "table-450-seed.txt")).read().split("\n", 1)[1]  # without its date line
    logs = os.path.join(tmp, "nvidia-smi-logs")
    os.mkdir(logs)
    start = int(time.time()) - 3 * 3600
    minutes = 120
    for i in range(minutes):  # the seed's loop: nvidia-smi > nvidia-smi-$(date +%s).log; sleep 60
        t = start + 60 * i
        temp = 31 + i % 5
        text = table.replace("31C", f"{temp}C", 1)
        with open(os.path.join(logs, f"nvidia-smi-{t}.log"), "w") as f:
            f.write(ctime(t) + "       \n" + text)
    hung = start + 60 * minutes
    open(os.path.join(logs, f"nvidia-smi-{hung}.log"), "w").close()  # killed while hung: nothing written
    with open(os.path.join(logs, f"nvidia-smi-{hung + 660}.log"), "w") as f:
        f.write("No devices were found\n")

    db = os.path.join(tmp, "history.db")
    r = gd("import", "nvidia-smi", logs, "--db", db, "--json")
    check("seed folder exits 0", r.returncode == 0, r.stdout + r.stderr)
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    check("every file read", rep.get("files_read") == minutes + 2, rep)
    check("dumps by kind", rep.get("dumps") == {"table": minutes, "empty": 1, "no_devices": 1}, rep.get("dumps"))
    check("a sample per GPU per dump", rep.get("samples") == 4 * minutes, rep.get("samples"))
    check("time from the header, else the file name",
          rep.get("time_from") == {"header": minutes, "file name": 2}, rep.get("time_from"))
    check("nothing skipped", rep.get("skipped_count") == 0, rep.get("skipped"))
    ev = events(db)
    kinds = {}
    for e in ev:
        kinds[e["type"]] = kinds.get(e["type"], 0) + 1
    check("events: added, empty, no devices, lost",
          kinds == {"gpu_added": 4, "nvidia_smi_empty": 1, "nvidia_smi_no_devices": 1, "gpu_lost": 4}, kinds)
    lost = [e for e in ev if e["type"] == "gpu_lost"]
    check("the loss is at the No-devices dump", all(abs(e["ts_ms"] / 1000 - (hung + 660)) < 1 for e in lost),
          [e["ts_ms"] for e in lost])
    check("the loss carries its evidence and source",
          all(e["detail"].get("persistence_mode") == "off" and e["detail"].get("source") == "nvidia-smi table"
              and e["detail"].get("file", "").endswith(f"nvidia-smi-{hung + 660}.log") for e in lost), lost[:1])
    h = gd("history", "--db", db, "--since", "4h", "--summary", "--metric", "temp_celsius", "--format", "json")
    check("history answers from the import", h.returncode == 0, h.stderr)
    text = h.stdout
    check("max temperature is the dumps' 35 C", "35" in text and "5b0a:00:00.0" in text, text[:400])

    # The same folder again: samples replaced, no event twice.
    r2 = gd("import", "nvidia-smi", logs, "--db", db, "--json")
    rep2 = json.loads(r2.stdout) if r2.returncode == 0 else {}
    check("re-import records no event twice", rep2.get("events") == {} and rep2.get("events_already") == 6, rep2)
    check("re-import keeps one sample per GPU and minute",
          len(events(db)) == 10, len(events(db)))

    # nvidia-smi -q of the same GPUs with UUIDs and a persistence change, then the CSV log of one GPU.
    q = open(os.path.join(CORPUS, "query-460-v100.txt")).read()
    qdir = os.path.join(tmp, "q")
    os.mkdir(qdir)
    with open(os.path.join(qdir, "q.log"), "w") as f:
        for i, pm in enumerate(["Disabled", "Enabled"]):
            f.write(q.replace("Sun May 29 03:04:47 2022", ctime(start + 30 + 60 * i))
                    .replace("Persistence Mode                      : Disabled",
                             f"Persistence Mode                      : {pm}"))
    r = gd("import", "nvidia-smi", qdir, "--db", db, "--json")
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    check("-q dumps", rep.get("dumps") == {"query": 2} and rep.get("samples") == 2, rep)
    check("-q persistence change is an event", rep.get("events", {}).get("persistence_changed") == 1, rep.get("events"))

    csv = os.path.join(tmp, "gpu.csv")
    with open(csv, "w") as f:
        for i in range(3):
            stamp = time.strftime("%Y/%m/%d %H:%M:%S", time.localtime(start + 45 + 60 * i))
            f.write(f"{stamp}.250, 00009E65:00:00.0, {60 + i}, 41.5\n")
    r = gd("import", "nvidia-smi", csv, "--db", db)
    check("a noheader CSV without --query-gpu is exit 3, and says what to pass",
          r.returncode == 3 and "--query-gpu" in r.stdout, r.stdout + r.stderr)
    r = gd("import", "nvidia-smi", csv, "--db", db, "--query-gpu", "timestamp,pci.bus_id,temperature.gpu,power.draw",
           "--json")
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    check("the CSV with its field list", rep.get("dumps") == {"csv": 3} and rep.get("samples") == 3, rep)
    h = gd("history", "--db", db, "--since", "4h", "--gpu", "9e65:00:00.0", "--metric", "temp_celsius", "--summary")
    check("the CSV's 62 C is in the history", "62" in h.stdout, h.stdout)

    # A kernel log's Xid (syslog stamps carry wall time).
    kl = os.path.join(tmp, "kern.log")
    stamp = time.strftime("%b %e %H:%M:%S", time.localtime(hung + 600))
    with open(kl, "w") as f:
        f.write(f"{stamp} node kernel: [ 5000.123456] NVRM: Xid (PCI:9e65:00:00): 79, pid=1234, name=python, "
                "GPU has fallen off the bus.\n")
        f.write("[ 5001.000000] NVRM: Xid (PCI:9e65:00:00): 79, pid=1234, name=python, no wall time\n")
    r = gd("import", "kernel-log", kl, "--db", db, "--json")
    rep = json.loads(r.stdout) if r.returncode == 0 else {}
    check("kernel-log: the Xid with a time is recorded", rep.get("events") == {"xid": 1}, rep)
    check("kernel-log: the one without a time is named", any("wall-clock" in s for s in rep.get("skipped", [])),
          rep.get("skipped"))
    xe = events(db, "--type", "xid")
    check("xid event on its GPU", len(xe) == 1 and xe[0]["gpu"] == "9e65:00:00.0" and xe[0]["detail"].get("code") == 79,
          xe)

    # Bad inputs: named, exit 3, what was good still imported.
    bad = os.path.join(tmp, "bad")
    os.mkdir(bad)
    with open(os.path.join(bad, "junk.log"), "wb") as f:
        f.write(b"\x00\xff garbage \x1b[31m\n| 0 | not | a table |\n")
    os.mkdir(os.path.join(bad, "subdir"))
    r = gd("import", "nvidia-smi", bad, os.path.join(tmp, "missing"), "--db", db)
    check("bad input exits 3", r.returncode == 3, r.stdout + r.stderr)
    check("a missing path is named", "missing: No such file or directory" in r.stdout, r.stdout)
    check("the subdirectory is named", "subdirectories are not read" in r.stdout, r.stdout)
    check("the report is printable", "\x1b" not in r.stdout, repr(r.stdout[:300]))

    # A running watch holds the database: import refuses and leaves it alone.
    node = os.path.join(tmp, "node")
    os.mkdir(node)
    root, scenario, env = sim_node.make(node, SIM_DIR)
    wdb = os.path.join(tmp, "watch.db")
    port = sim_node.free_port()
    w = subprocess.Popen([GD, "watch", "--root", root, "--db", wdb, "--interval", "1", "--listen", f"127.0.0.1:{port}"],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sim_node.wait_for(lambda: os.path.exists(wdb + ".lock"), 10)
        time.sleep(1)
        r = gd("import", "nvidia-smi", logs, "--db", wdb)
        check("import refuses while watch holds the database", r.returncode == 3 and "another --db" in r.stderr,
              r.stdout + r.stderr)
    finally:
        w.send_signal(signal.SIGTERM)
        w.wait(timeout=10)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"import: {passed} checks passed, {len(failures)} failed")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
