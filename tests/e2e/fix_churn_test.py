#!/usr/bin/env python3
"""End-to-end tests of `fix` and `churn` on the simulator.

Usage: fix_churn_test.py GPUDOCTOR SIM_DIR

`systemctl` is the one component replaced by a stand-in here: a test must not
enable or start units on the machine that runs it, and CI has no systemd
managing units. The stand-in (put first on PATH) records its argv and exits 0;
everything else (ldconfig, the NVML simulator, the state file) is real.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time

import sim_node

GD, SIM_DIR = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
failures, passed = [], 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def node(tmp, persistence=False, unit=None, lose_after=None):
    """A 4xV100 node without nvidia-persistenced running; returns (root, env)."""
    def edit(doc):
        if lose_after:
            doc["failure_model"] = {"lose_after_cycles": lose_after, "cold_init_delay_ms": 1, "kernel_log": "kern.log"}

    root, _, env = sim_node.make(tmp, SIM_DIR, persistence=persistence, keep_run=False, edit=edit)
    if unit is not None:
        os.makedirs(os.path.join(root, "lib/systemd/system"), exist_ok=True)
        open(os.path.join(root, "lib/systemd/system/nvidia-persistenced.service"), "w").write(unit)
    return root, env


def gd(args, env, **kw):
    return subprocess.run([GD] + args, env=env, capture_output=True, text=True, timeout=300, **kw)


def findings(root, env):
    out = json.loads(gd(["check", "--root", root, "--json"], env).stdout)
    return {(f["id"], f["severity"]) for f in out["findings"]}


# 1. No unit installed: persistence through NVML, visible to the next check; idempotent.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp)
    check("persistence.off before", ("persistence.off", "warning") in findings(root, env))
    dry = gd(["fix", "--root", root], env)
    check("dry run exit 0", dry.returncode == 0, dry.stderr)
    check("dry run names the NVML action", "nvmlDeviceSetPersistenceMode" in dry.stdout, dry.stdout)
    check("dry run changes nothing", not os.path.exists(os.path.join(tmp, "nvml.json.state")))
    first = gd(["fix", "--root", root, "--yes", "--only", "persistence.off", "--json"], env)
    doc = json.loads(first.stdout)
    check("fix --yes performs and verifies", doc["actions"] and doc["actions"][0]["finding_after"] == "fixed"
          and doc["actions"][0]["performed"], first.stdout)
    check("persistence ok after fix", ("persistence.off", "ok") in findings(root, env))
    state = open(os.path.join(tmp, "nvml.json.state")).read()
    second = gd(["fix", "--root", root, "--yes", "--only", "persistence.off", "--json"], env)
    check("second fix --yes plans nothing", json.loads(second.stdout)["actions"] == [], second.stdout)
    check("second fix --yes changes nothing", open(os.path.join(tmp, "nvml.json.state")).read() == state)

# 2. Ubuntu-style unit with --no-persistence-mode: drop-in + systemctl through the stand-in.
with tempfile.TemporaryDirectory() as tmp:
    unit = ("[Unit]\nDescription=NVIDIA Persistence Daemon\n[Service]\nType=forking\n"
            "ExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --no-persistence-mode --verbose\n")
    root, env = node(tmp, unit=unit)
    bindir = os.path.join(tmp, "bin")
    os.makedirs(bindir)
    log = os.path.join(tmp, "systemctl.log")
    stand_in = os.path.join(bindir, "systemctl")
    open(stand_in, "w").write(f'#!/bin/sh\nprintf "%s\\n" "$*" >> {log}\nexit 0\n')
    os.chmod(stand_in, stat.S_IRWXU)
    env["PATH"] = bindir + ":" + env["PATH"]
    r = gd(["fix", "--root", root, "--yes", "--only", "persistence.off", "--json"], env)
    doc = json.loads(r.stdout)
    dropin = os.path.join(root, "etc/systemd/system/nvidia-persistenced.service.d/10-gpudoctor-persistence.conf")
    check("drop-in written", os.path.exists(dropin), r.stdout)
    if os.path.exists(dropin):
        text = open(dropin).read()
        check("drop-in resets and replaces ExecStart without the flag",
              "ExecStart=\nExecStart=/usr/bin/nvidia-persistenced --user nvidia-persistenced --verbose\n" in text, text)
    calls = open(log).read().splitlines() if os.path.exists(log) else []
    check("systemctl called by argv inside the root", calls == [f"--root={root} enable nvidia-persistenced"], calls)
    # The stand-in starts no daemon, so the finding honestly remains.
    check("report says still present", any(a["finding_after"] == "still present" for a in doc["actions"]), r.stdout)
    snap = json.loads(gd(["collect", "--root", root], env).stdout)
    check("unit no longer starts without persistence", not snap["persistenced"]["unit_no_persistence_mode"],
          snap["persistenced"])

# 3. Without root on the live node: a clear refusal, nothing changed.
if os.geteuid() == 0 and shutil.which("setpriv"):
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", GD, "fix", "--yes"],
                       capture_output=True, text=True, timeout=120)
    check("non-root fix --yes refused", r.returncode == 3 and "needs root" in r.stderr, (r.returncode, r.stderr))

# 4. churn: persistence off loses a GPU at the chosen cycle, writes Xid 79, stops early.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, lose_after=60)
    r = gd(["churn", "--root", root, "-n", "400", "-j", "2", "--json"], env)
    doc = json.loads(r.stdout)
    check("churn exit 2 on a lost GPU", r.returncode == 2, r.returncode)
    check("churn names the lost GPU", doc["lost"] == ["bd71:00:00.0"], doc.get("lost"))
    check("churn stops early", doc["stopped_early"] and doc["launched"] < 400, doc["launched"])
    check("verdict", "persistence off" in doc["verdict"] and "bd71:00:00.0 lost after" in doc["verdict"],
          doc["verdict"])
    kern = open(os.path.join(tmp, "kern.log")).read() if os.path.exists(os.path.join(tmp, "kern.log")) else ""
    check("Xid 79 appended", "NVRM: Xid (PCI:bd71:00:00): 79," in kern, kern)
    after = findings(root, env)
    check("check names the fallen GPU", ("gpu.fell_off_bus", "critical") in after, after)
    # fix --yes before the reboot: persistence goes on, the lost GPU stays lost; the cause must stay the one of
    # the moment of the loss (persistence off), told with both times, never "replace the card".
    os.makedirs(os.path.join(root, "proc/sys/kernel/random"), exist_ok=True)
    open(os.path.join(root, "proc/stat"), "w").write(f"cpu 0 0 0 0\nbtime {int(time.time() - time.monotonic())}\n")
    open(os.path.join(root, "proc/sys/kernel/random/boot_id"), "w").write("0b2a6f1e-1111-2222-3333-444455556666\n")
    klog = ["--kernel-log", os.path.join(tmp, "kern.log")]
    f = gd(["fix", "--root", root, "--yes", "--only", "persistence.off"] + klog, env)
    rec_path = os.path.join(root, "var/lib/gpudoctor/changes.jsonl")
    recs = [json.loads(l) for l in open(rec_path)] if os.path.exists(rec_path) else []
    check("fix records its change under the node's state dir", len(recs) == 1 and recs[0]["finding"] ==
          "persistence.off" and recs[0]["boot_id"] == "0b2a6f1e-1111-2222-3333-444455556666", (f.stdout, recs))
    if os.path.exists(rec_path):
        check("change record is 0640", stat.S_IMODE(os.stat(rec_path).st_mode) == 0o640, oct(os.stat(rec_path).st_mode))
    doc = json.loads(gd(["check", "--root", root, "--json"] + klog, env).stdout)
    lost = [x for x in doc["findings"] if x["id"] == "gpu.fell_off_bus" and x["severity"] == "critical"]
    cause = lost[0]["cause"] if lost else ""
    check("after fix: the cause is still persistence off at the loss", "while persistence was off" in cause and
          "gpudoctor fix turned persistence on at" in cause and "power delivery" not in cause, cause)
    check("after fix: no 'replace the card'", lost and not any("replace" in x for x in lost[0]["fix"]),
          lost[0]["fix"] if lost else doc)

# 5. churn with persistence on: nothing counts, nothing is lost.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, persistence=True, lose_after=60)
    r = gd(["churn", "--root", root, "-n", "200", "-j", "2", "--json"], env)
    doc = json.loads(r.stdout)
    check("persistence on: no loss", r.returncode == 0 and doc["lost"] == [] and doc["launched"] == 200,
          (r.returncode, doc.get("lost"), doc.get("launched")))
    check("persistence on: verdict", doc["verdict"].startswith("persistence on"), doc["verdict"])

# 6. churn --mode cuda: cuInit + context + allocation per process through the fake libcuda.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, persistence=True)
    r = gd(["churn", "--root", root, "--mode", "cuda", "-n", "60", "-j", "2", "--json"], env)
    doc = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("cuda mode runs every launch", r.returncode == 0 and doc.get("succeeded") == 60, (r.returncode, r.stderr, doc))
    nv = json.load(open(os.path.join(tmp, "nvml.json")))
    nv["cuda"] = {"init_return": 100}
    json.dump(nv, open(os.path.join(tmp, "nvml.json"), "w"))
    r = gd(["churn", "--root", root, "--mode", "cuda", "-n", "4", "-j", "2", "--json"], env)
    doc = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("cuda mode names CUresult codes as CUDA's", doc.get("failures_by_code") == {"CUDA_ERROR_NO_DEVICE": 4},
          (r.stdout[:300], r.stderr[-300:]))

# 7. /dev/char links on a cgroup-v2 Docker host: created inside the root, verified, idempotent.
with tempfile.TemporaryDirectory() as tmp:
    name = "container-cgroup2-no-devchar"
    root = os.path.join(tmp, "root")
    shutil.copytree(os.path.join(SCENARIOS, name, "root"), root, symlinks=True)
    shutil.copy(os.path.join(SCENARIOS, name, "nvml.json"), os.path.join(tmp, "nvml.json"))
    shutil.copy(os.path.join(SIM_DIR, "libnvidia-ml.so.1"),
                os.path.join(root, "usr/lib/x86_64-linux-gnu/libnvidia-ml.so.460.32.03"))
    subprocess.run(["ldconfig", "-r", root], check=True)
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=os.path.join(tmp, "nvml.json"))
    only = ["--only", "container.dev_char_links_missing"]
    check("dev_char warning before", ("container.dev_char_links_missing", "warning") in findings(root, env))
    dry = gd(["fix", "--root", root] + only, env)
    check("dry run lists the links", "ln -s ../nvidia-uvm /dev/char/508:0" in dry.stdout, dry.stdout)
    check("dry run creates nothing", not os.path.lexists(os.path.join(root, "dev/char/508:0")))
    r = gd(["fix", "--root", root, "--yes", "--json"] + only, env)
    doc = json.loads(r.stdout)
    check("links fixed", doc["actions"] and doc["actions"][0]["finding_after"] == "fixed", r.stdout)
    check("link leads to the node", os.readlink(os.path.join(root, "dev/char/195:3")) == "../nvidia3")
    check("existing right link kept", os.readlink(os.path.join(root, "dev/char/195:255")) == "../nvidiactl")
    check("dev_char ok after", ("container.dev_char_links_missing", "ok") in findings(root, env))
    again = gd(["fix", "--root", root, "--yes", "--json"] + only, env)
    check("second fix plans nothing", json.loads(again.stdout)["actions"] == [], again.stdout)

# 8. churn's fork server and --exec: a library that crashes or hangs in a launch costs that launch only.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, persistence=True)
    doc = json.load(open(os.path.join(tmp, "nvml.json")))
    for flags in ([], ["--exec"]):
        doc["faults"] = [{"call": "nvmlDeviceGetCount", "crash": True}]
        json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
        r = gd(["churn", "--root", root, "-n", "20", "-j", "2", "--json"] + flags, env)
        out = json.loads(r.stdout) if r.stdout.startswith("{") else {}
        check(f"churn {flags}: every crashing launch counted", out.get("crashed") == 20 and out.get("launched") == 20,
              (r.returncode, r.stderr[-300:], out))
        doc["faults"] = [{"call": "nvmlInit", "hang": True}]
        json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
        t0 = time.time()
        r = gd(["churn", "--root", root, "-n", "4", "-j", "2", "--timeout", "0.5", "--json"] + flags, env)
        out = json.loads(r.stdout) if r.stdout.startswith("{") else {}
        check(f"churn {flags}: hung launches killed at the deadline", out.get("hung") == 4 and time.time() - t0 < 20,
              (r.returncode, r.stderr[-300:], out, time.time() - t0))
    doc["faults"] = []
    json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
    r = gd(["churn", "--root", root, "-n", "50", "-j", "2", "--exec", "--json"], env)
    out = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    check("churn --exec runs every launch", r.returncode == 0 and out.get("succeeded") == 50, (r.returncode, out))

# 9. One deadline: --timeout bounds NVML and CUDA together (NVML slow, cuInit hangs).
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, persistence=True)
    doc = json.load(open(os.path.join(tmp, "nvml.json")))
    doc["init_delay_ms"] = 1200
    doc["cuda"] = {"faults": [{"call": "cuInit", "hang": True}]}
    json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
    t0 = time.monotonic()
    r = gd(["check", "--root", root, "--timeout", "2", "--json"], env)
    took = time.monotonic() - t0
    out = json.loads(r.stdout) if r.stdout.startswith("{") else {}
    ids = {f["id"]: f for f in out.get("findings", [])}
    check("one deadline: NVML + CUDA within --timeout 2 (+0.3 s)", took < 2.3, f"{took:.2f} s")
    check("one deadline: the CUDA hang is named", "cuda.hung" in ids, list(ids))
    # A crash of the library is a crash, not a hang.
    doc = json.load(open(os.path.join(tmp, "nvml.json")))
    doc.pop("cuda"), doc.pop("init_delay_ms")
    doc["faults"] = [{"call": "nvmlDeviceGetTemperature", "crash": True}]
    json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
    r = gd(["check", "--root", root, "--json"], env)
    ids = {f["id"] for f in json.loads(r.stdout)["findings"]} if r.stdout.startswith("{") else set()
    check("a crashing NVML is nvml.worker_failed, not nvml.hung", "nvml.worker_failed" in ids and "nvml.hung" not in ids,
          ids)

# 10. No worker outlives the command: kill -9 of check during a hung NVML call leaves nothing running.
with tempfile.TemporaryDirectory() as tmp:
    root, env = node(tmp, persistence=True)
    doc = json.load(open(os.path.join(tmp, "nvml.json")))
    doc["faults"] = [{"call": "nvmlInit", "hang": True}]
    json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
    for sig in (9, 15, 1):
        p = subprocess.Popen([GD, "check", "--root", root, "--timeout", "30"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        kids = subprocess.run(["pgrep", "-P", str(p.pid)], capture_output=True, text=True).stdout.split()
        os.kill(p.pid, sig)
        p.wait(timeout=10)
        time.sleep(0.3)
        alive = [k for k in kids if os.path.exists(f"/proc/{k}") and
                 "Z" not in open(f"/proc/{k}/stat").read().split(")")[-1].split()[0]]
        check(f"signal {sig} to check: its NVML worker ends with it", kids and not alive, (kids, alive))

    def descendants(pid):
        out, todo = [], [str(pid)]
        while todo:
            kids = subprocess.run(["pgrep", "-P", todo.pop()], capture_output=True, text=True).stdout.split()
            out += kids
            todo += kids
        return out

    def running(pids):
        return [k for k in pids if os.path.exists(f"/proc/{k}") and
                "Z" not in open(f"/proc/{k}/stat").read().split(")")[-1].split()[0]]
    for name, args in (("watch", ["watch", "--root", root, "--no-listen", "--db", os.path.join(tmp, "h.db"),
                                  "--interval", "1s", "--timeout", "30"]),
                       ("churn", ["churn", "--root", root, "-n", "1000000", "-j", "2", "--no-progress"])):
        if name == "churn":
            doc["faults"] = []
            json.dump(doc, open(os.path.join(tmp, "nvml.json"), "w"))
        p = subprocess.Popen([GD] + args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        kids = descendants(p.pid)
        os.kill(p.pid, 9)
        p.wait(timeout=10)
        time.sleep(0.5)
        check(f"kill -9 of {name}: no worker left running", kids and not running(kids), (kids, running(kids)))

print(f"fix/churn: {passed} passed, {len(failures)} failed")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
