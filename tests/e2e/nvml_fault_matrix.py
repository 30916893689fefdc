#!/usr/bin/env python3
"""The NVML fault matrix: every NVML call `gpudoctor check` makes, made to
hang, to crash the worker, and to return every nvmlReturn_t, on a simulated
4xV100 node (the simulator's `faults`; the real binary, the real ldconfig).

Usage: nvml_fault_matrix.py GPUDOCTOR SIM_DIR

For each call (device calls faulted on GPU 0 only):
  hang      -> exit 2, nvml.hung naming the call, within --timeout + 0.5 s,
               and no worker process left behind;
  crash     -> exit 2 (the worker's crash is a finding), nothing left behind;
  each code -> never a crash or a signal; valid JSON; GPU_IS_LOST and
               RESET_REQUIRED on a device call -> critical; any other error
               except "feature absent" (NOT_SUPPORTED, FUNCTION_NOT_FOUND,
               NO_DATA, ...) -> never exit 0: a reading that failed is not
               evidence of health.
Plus NVML slow just under and just over the deadline (nvmlInit delayed).

Which calls check makes is found, not listed: a call counts as made when a
hang injected into it makes check hang (nvml.hung). The calls gpudoctor binds
but check does not make (watch's events, fix's persistence set, the names
an older or newer driver exports instead) are printed.
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sim_node  # noqa: E402

GD, SIM_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SRC = os.path.join(os.path.dirname(os.path.dirname(HERE)), "src", "gd", "nvml", "nvml_api.cpp")
TIMEOUT = 0.5
CODES = ["UNINITIALIZED", "INVALID_ARGUMENT", "NOT_SUPPORTED", "NO_PERMISSION", "ALREADY_INITIALIZED",
         "NOT_FOUND", "INSUFFICIENT_SIZE", "INSUFFICIENT_POWER", "DRIVER_NOT_LOADED", "TIMEOUT", "IRQ_ISSUE",
         "LIBRARY_NOT_FOUND", "FUNCTION_NOT_FOUND", "CORRUPTED_INFOROM", "GPU_IS_LOST", "RESET_REQUIRED",
         "OPERATING_SYSTEM", "LIB_RM_VERSION_MISMATCH", "IN_USE", "MEMORY", "NO_DATA", "VGPU_ECC_NOT_SUPPORTED",
         "INSUFFICIENT_RESOURCES", "FREQ_NOT_SUPPORTED", "ARGUMENT_VERSION_MISMATCH", "DEPRECATED", "NOT_READY",
         "GPU_NOT_FOUND", "INVALID_STATE", "RESET_TYPE_NOT_SUPPORTED", "UNKNOWN"]
ABSENT = {"NOT_SUPPORTED", "FUNCTION_NOT_FOUND", "NO_DATA", "VGPU_ECC_NOT_SUPPORTED", "FREQ_NOT_SUPPORTED"}
LOST = {"GPU_IS_LOST", "RESET_REQUIRED"}
failures, passed, runs = [], 0, 0


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


class Node:
    def __init__(self, tmp):
        self.root, self.scenario, self.env = sim_node.make(tmp, SIM_DIR, persistence=True)
        self.doc = json.load(open(self.scenario))

    def set(self, faults, **extra):
        d = dict(self.doc, faults=faults, **extra)
        sim_node.write_scenario(self.scenario, d)

    def gd(self, *args):
        global runs
        runs += 1
        t = time.monotonic()
        r = subprocess.run([GD, *args, "--root", self.root, "--timeout", str(TIMEOUT)], env=self.env,
                           capture_output=True, text=True, timeout=60)
        return r, time.monotonic() - t

    def leftovers(self):
        """Processes still running with this node's root on their command line (workers, helpers)."""
        out = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if self.root in cmd and int(pid) != os.getpid():
                out.append(f"{pid}: {cmd[:200]}")
        return out


def device_call(call):
    """A call on one GPU (faulted on GPU 0 only); the system calls (and GetCount) are faulted for all."""
    return call.startswith(("nvmlDevice", "nvmlEvent")) and not call.startswith("nvmlDeviceGetCount")


def fault(call, **kw):
    f = {"call": call, **kw}
    if device_call(call):
        f["gpu"] = 0
    return f


# Names the simulator answers under one implementation (the newer name of an old call).
ALIASES = {"nvmlDeviceGetCurrentClocksThrottleReasons": "nvmlDeviceGetCurrentClocksEventReasons"}


def hung_finding(r):
    if not r.stdout.startswith("{"):
        return []
    return [f for f in findings(r.stdout) if f["id"] == "nvml.hung" and f["severity"] == "critical"]


def findings(stdout):
    return json.loads(stdout)["findings"]


def main():
    bound = sorted(set(re.findall(r'"(nvml[A-Za-z0-9_]+)"', open(SRC).read())) - {"nvmlErrorString"})
    with tempfile.TemporaryDirectory(prefix="gd-nvml-faults-") as tmp:
        n = Node(tmp)
        n.set([])
        healthy, _ = n.gd("check", "--json")
        check("baseline check: healthy, exit 0", healthy.returncode == 0, healthy.stdout[-500:])

        made, not_made = [], []
        for call in bound:
            # Hang: named, bounded, nothing left behind.
            n.set([fault(call, hang=True)])
            r, took = n.gd("check", "--json")
            hung = hung_finding(r)
            check(f"{call} hangs: check ends within --timeout + 0.5 s", took <= TIMEOUT + 0.5, f"{took:.2f} s")
            time.sleep(0.05)
            left = n.leftovers()
            check(f"{call} hangs: no process left behind", not left, left)
            if not hung:
                check(f"{call} hangs (not a call check makes): still healthy", r.returncode == 0,
                      (r.returncode, r.stdout[-300:]))
                not_made.append(call)
                continue
            made.append(call)
            text = json.dumps(hung)
            named = re.sub(r"_v\d$", "", ALIASES.get(call, call))
            check(f"{call} hangs: exit 2, nvml.hung names it", r.returncode == 2 and named in text,
                  (r.returncode, text[:300], r.stderr[-200:]))
        check("check makes the calls every node needs", {"nvmlDeviceGetTemperature", "nvmlDeviceGetPciInfo_v3",
              "nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetCount_v2", "nvmlShutdown"} <= set(made), made)
        check("check makes an init call", {"nvmlInit", "nvmlInit_v2"} & set(made), made)

        for call in made:
            # The worker crashes inside the call.
            n.set([fault(call, crash=True)])
            r, _ = n.gd("check", "--json")
            crit = [f["id"] for f in findings(r.stdout) if f["severity"] == "critical"] if r.stdout.startswith("{") \
                else []
            check(f"{call} crashes the worker: exit 2, a critical finding", r.returncode == 2 and crit,
                  (r.returncode, crit, r.stderr[-200:]))
            check(f"{call} crashes the worker: nothing left behind", not n.leftovers(), n.leftovers())

            # Every return code.
            for code in CODES:
                n.set([fault(call, **{"return": code})])
                r, _ = n.gd("check", "--json")
                what = f"{call} -> {code}"
                ok_json = r.stdout.startswith("{")
                check(f"{what}: exits 0-3, never a signal", 0 <= r.returncode <= 3, (r.returncode, r.stderr[-300:]))
                check(f"{what}: valid JSON", ok_json and isinstance(findings(r.stdout), list), r.stdout[:200])
                if not ok_json:
                    continue
                sev = {f["severity"] for f in findings(r.stdout)}
                if code in LOST and call.startswith("nvmlDevice"):
                    check(f"{what}: critical", r.returncode == 2 and "critical" in sev, r.returncode)
                elif code not in ABSENT and call != "nvmlShutdown":  # after shutdown every reading is in
                    check(f"{what}: not healthy (a failed reading is no evidence of health)", r.returncode != 0,
                          [(f["id"], f["severity"], f["summary"][:80]) for f in findings(r.stdout)
                           if f["severity"] != "ok"])

        # Slow, just under and just over the deadline.
        n.set([], init_delay_ms=int(TIMEOUT * 1000 * 0.4))
        r, _ = n.gd("check", "--json")
        check("nvmlInit slow, under the deadline: healthy", r.returncode == 0, r.stdout[-300:])
        n.set([], init_delay_ms=int(TIMEOUT * 1000 * 2.5))
        r, took = n.gd("check", "--json")
        hung = [f for f in findings(r.stdout) if f["id"] == "nvml.hung"] if r.stdout.startswith("{") else []
        check("nvmlInit slow, over the deadline: nvml.hung", r.returncode == 2 and hung
              and "nvmlInit" in json.dumps(hung), (r.returncode, hung))
        check("nvmlInit slow, over the deadline: bounded", took <= TIMEOUT + 0.5, took)

    print(f"nvml fault matrix: {len(made)} calls check makes ({', '.join(made)}); bound but not made by check: "
          f"{', '.join(not_made)}")
    print(f"nvml fault matrix: {runs} gpudoctor runs, {passed} passed, {len(failures)} failed")
    for f in failures[:60]:
        print("  FAIL", f)
    if len(failures) > 60:
        print(f"  ... and {len(failures) - 60} more")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
