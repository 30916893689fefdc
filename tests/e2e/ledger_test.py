#!/usr/bin/env python3
"""End-to-end test of the health ledger on the simulator, through the real binary.

Usage: ledger_test.py GPUDOCTOR SIM_DIR

A 4xV100 node (a copy of tests/scenarios/healthy-4xv100-azure with the NVML
simulator installed by the real ldconfig) loses GPU bd71 (Xid 79 in its
kernel log, NVML GPU_IS_LOST), is "rebooted" (a new boot id and a new
'Linux version' line in the log, the fault gone), loses it again, is
rebooted again, and finally gets a new card (another serial). Between the
steps: `ledger update` (writes), `check` (must not write, shows the latch),
`ledger` (lists), `ledger ack`, `watch` (/metrics' gpudoctor_ledger_latched),
two writers at once, a malformed ledger.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

import sim_node

GD, SIM_DIR = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
failures, passed = [], 0
LOG_HEAD = "Dec  1 06:00:00 node kernel: [    0.000000] Linux version 5.4.0-137-generic (buildd@lcy02-amd64-009)\n"
XID79 = ("Dec  1 09:12:44 node kernel: [11564.118271] NVRM: Xid (PCI:BD71:00:00): 79, pid=4410, name=python3, "
         "GPU has fallen off the bus.\n")


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


class Node:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root, self.scenario, self.env = sim_node.make(tmp, SIM_DIR, persistence=True)  # only the loss matters
        self.doc = json.load(open(self.scenario))
        self.log = os.path.join(self.root, "var/log/kern.log")
        os.makedirs(os.path.dirname(self.log), exist_ok=True)
        self.uuid = self.doc["gpus"][3]["uuid"]
        open(self.log, "w").write(self.log_head())
        self.boot("a0000000-0000-4000-8000-000000000001", new_log=False)
        self.lose(False)
        self.ledger = os.path.join(self.root, "var/lib/gpudoctor/ledger.json")

    def boot(self, boot_id, new_log=True):
        path = os.path.join(self.root, "proc/sys/kernel/random/boot_id")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, "w").write(boot_id + "\n")
        if new_log:
            open(self.log, "a").write(self.log_head().replace("Dec  1 06", "Dec  2 06"))

    def log_head(self):
        # The boot line, then the driver's "GPU at PCI" line for bd71 (the UUID the ledger keeps while it is lost).
        return LOG_HEAD + f"Dec  1 06:00:11 node kernel: [   11.3] NVRM: GPU at PCI:bd71:00:00: {self.uuid}\n"

    def lose(self, lost):
        self.doc["faults"] = [{"call": "*", "gpu": 3, "return": "GPU_IS_LOST"}] if lost else []
        if lost:
            open(self.log, "a").write(XID79)
        sim_node.write_scenario(self.scenario, self.doc)

    def swap(self, serial, uuid):
        self.doc["gpus"][3]["serial"] = serial
        self.doc["gpus"][3]["uuid"] = self.uuid = uuid
        sim_node.write_scenario(self.scenario, self.doc)

    def gd(self, *args, timeout=120):
        a = list(args)
        if a[0] in ("check", "watch") or a[:2] == ["ledger", "update"]:
            a += ["--kernel-log", self.log]
        return subprocess.run([GD] + a + ["--root", self.root], env=self.env, capture_output=True, text=True,
                              timeout=timeout)

    def entries(self):
        return json.load(open(self.ledger))["entries"]

    def entry(self, fid):
        return next((e for e in self.entries() if e["id"] == fid), None)


with tempfile.TemporaryDirectory() as tmp:
    n = Node(tmp)
    healthy = n.gd("ledger", "update")
    check("a healthy node: exit 0", healthy.returncode == 0, healthy.stdout + healthy.stderr)
    npd = n.gd("check", "--format", "npd")
    check("check --format npd on a healthy node: exit 0", npd.returncode == 0 and len(npd.stdout.strip()) <= 80,
          repr(npd.stdout))
    check("a healthy node gets no ledger and no state dir", not os.path.exists(os.path.dirname(n.ledger)))

    # 1. Boot A: bd71 falls off the bus.
    n.lose(True)
    up = n.gd("ledger", "update")
    check("loss: ledger update exits 2", up.returncode == 2, up.stdout + up.stderr)
    check("loss: raised", "raised: xid.fallen_off_bus@" in up.stdout, up.stdout)
    e = n.entry("xid.fallen_off_bus")
    check("loss: a hardware latch, open, seen now", e and e["latch"] == "hardware" and e["state"] == "open"
          and e["seen_now"], json.dumps(e))
    npd = n.gd("check", "--format", "npd")
    check("check --format npd: exit 1, one line of at most 80 characters", npd.returncode == 1
          and len(npd.stdout.strip()) <= 80 and npd.stdout.count("\n") == 1 and "fell_off_bus" in npd.stdout,
          repr(npd.stdout) + str(len(npd.stdout.strip())))
    nag = n.gd("check", "--format", "nagios")
    check("check --format nagios: exit 2, GPUDOCTOR CRITICAL line", nag.returncode == 2
          and nag.stdout.startswith("GPUDOCTOR CRITICAL - "), nag.stdout)
    check("ledger file mode 0640", os.stat(n.ledger).st_mode & 0o777 == 0o640, oct(os.stat(n.ledger).st_mode))

    # 2. Reboot into B, the GPU answers again; `check` is a query: it shows the latch, writes nothing.
    n.lose(False)
    n.boot("b0000000-0000-4000-8000-000000000002")
    before = open(n.ledger).read()
    mtime = os.stat(n.ledger).st_mtime_ns
    c = n.gd("check", "--json")
    doc = json.loads(c.stdout)
    latched = [f for f in doc["findings"] if f["id"] == "ledger.latched"]
    check("after the reboot check exits 2 on the latch", c.returncode == 2, c.stdout[-2000:])
    check("check names the latch and its boot", any(
        "xid.fallen_off_bus on bd71" in x["summary"] and "latched since boot -1" in x["summary"]
        and "not yet verified" in x["summary"] for x in latched),
          json.dumps([x["summary"] for x in latched]))
    check("check never writes the ledger", open(n.ledger).read() == before and os.stat(n.ledger).st_mtime_ns == mtime)
    text = n.gd("check")
    check("check's text shows the latch", "ledger.latched" in text.stdout and "latched since boot -1" in text.stdout,
          text.stdout[-3000:])

    # 3. The re-check after the reboot passes: cleared, saying how.
    up = n.gd("ledger", "update")
    e = n.entry("xid.fallen_off_bus")
    check("reboot + passing re-check clears it", e and e["state"] == "cleared"
          and "re-check passed after reboot" in e["cleared_how"], up.stdout + json.dumps(e))
    check("cleared: ledger update exits 0", up.returncode == 0, up.stdout + up.stderr)
    c = n.gd("check", "--json")
    check("cleared: no latch in check", not [f for f in json.loads(c.stdout)["findings"] if f["id"] == "ledger.latched"])

    # 4. It falls off again in boot B, then reboot C: a reboot alone no longer clears it.
    n.lose(True)
    n.gd("ledger", "update")
    e = n.entry("xid.fallen_off_bus")
    check("second loss reopens, counted twice", e and e["state"] == "open" and e["occurrences"] == 2, json.dumps(e))
    n.lose(False)
    n.boot("c0000000-0000-4000-8000-000000000003")
    up = n.gd("ledger", "update")
    e = n.entry("xid.fallen_off_bus")
    check("after the second reboot it stays latched: needs hardware", e and e["state"] == "open"
          and "needs hardware" in e["escalation"], up.stdout + json.dumps(e))
    lst = n.gd("ledger")
    check("ledger lists it with its escalation, exit 2", lst.returncode == 2 and "needs hardware" in lst.stdout,
          lst.stdout + lst.stderr)
    js = json.loads(n.gd("ledger", "--json").stdout)
    check("ledger --json has key and status", js["worst_open"] == "critical" and any(
        x["key"].startswith("xid.fallen_off_bus@") and "needs hardware" in x["status"] for x in js["entries"]),
        json.dumps(js)[:2000])

    # 5. /metrics: watch shows the latch as gpudoctor_ledger_latched.
    prom = os.path.join(tmp, "m.prom")
    w = n.gd("watch", "--nvml", os.path.join(n.root, "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.460.32.03"),
             "--max-ticks", "2", "--interval", "200ms", "--no-listen", "--db", os.path.join(tmp, "h.db"),
             "--textfile", prom, "-q")
    metrics = open(prom).read() if os.path.exists(prom) else ""
    check("watch exports the latch", w.returncode == 0 and 'gpudoctor_ledger_latched{id="xid.fallen_off_bus"'
          in metrics and 'latch="hardware"' in metrics, w.stderr + metrics[-1500:])
    check("watch exports gpudoctor_inventory_changes_total", "gpudoctor_inventory_changes_total 0" in metrics)

    # 6. A new card in the slot (another serial) is the repair a reboot was not.
    n.swap("0323124309999", "GPU-00005eed-0003-4c1e-9d2b-0000deadbeef")
    n.boot("d0000000-0000-4000-8000-000000000004")
    up = n.gd("ledger", "update")
    e = n.entry("xid.fallen_off_bus")
    check("a swapped card clears it", e and e["state"] == "cleared" and "card replaced" in e["cleared_how"],
          up.stdout + json.dumps(e))

    # 7. Acknowledge: needs a reason, is recorded.
    n.lose(True)
    n.gd("ledger", "update")
    bad = n.gd("ledger", "ack", "xid.fallen_off_bus", "--reason", " ")
    check("ack without a reason is refused", bad.returncode == 3 and "reason" in bad.stderr, bad.stderr)
    none = n.gd("ledger", "ack", "xid.memory", "--reason", "x")
    check("ack of nothing open is refused", none.returncode == 3, none.stderr)
    ack = n.gd("ledger", "ack", "all", "--reason", "GPU taken out of service, RMA 77")
    e = n.entry("xid.fallen_off_bus")
    check("ack closes it with the reason", ack.returncode == 0 and e["state"] == "acknowledged"
          and "RMA 77" in e["cleared_how"], ack.stdout + ack.stderr + json.dumps(e))

    # 8. Two writers at once: both finish, the file stays a valid ledger.
    results = []

    def one():
        results.append(n.gd("ledger", "update").returncode)
    threads = [threading.Thread(target=one) for _ in range(3)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    check("three concurrent writers all finish", sorted(results) == [2, 2, 2], str(results))
    check("the ledger is still valid JSON", json.load(open(n.ledger))["kind"] == "gpudoctor-ledger")

    # 9. A malformed ledger: check says so (no crash, no false clear), a writer keeps it aside.
    open(n.ledger, "w").write('{"kind": "gpudoctor-ledger", "schema": 1, "entries": [{"id": 7')
    c = n.gd("check", "--json")
    probs = [f for f in json.loads(c.stdout)["findings"] if f["id"] == "probe.problems"]
    check("a malformed ledger is a named problem", probs and any("ledger.json" in x for x in probs[0]["evidence"]),
          json.dumps(probs)[:1500])
    up = n.gd("ledger", "update")
    aside = [f for f in os.listdir(os.path.dirname(n.ledger)) if f.startswith("ledger.json.corrupt-")]
    check("a writer keeps the malformed file aside and says so", aside and "corrupt-" in up.stderr,
          up.stderr + str(aside))

print(f"ledger e2e: {passed} passed, {len(failures)} failed")
for f in failures:
    print("FAIL", f)
sys.exit(1 if failures else 0)
