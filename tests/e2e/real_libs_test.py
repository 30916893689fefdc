#!/usr/bin/env python3
"""gpudoctor against NVIDIA's own libnvidia-ml and libcuda (Debian's 535
packages, unpacked by scripts/fetch-nvidia), on a machine without the driver.

Usage: real_libs_test.py GPUDOCTOR NVIDIA_CACHE SIM_DIR

Node roots are built the Debian way: the real files in
/usr/lib/x86_64-linux-gnu/nvidia/current/, update-alternatives links from
/usr/lib/x86_64-linux-gnu through /etc/alternatives, and `ldconfig -r`. With
no driver here the real library answers nvmlInit with 9 (DRIVER_NOT_LOADED)
and cuInit with 100 (NO_DEVICE): the findings must say exactly that, nothing
may crash or hang, and the linker audit must be clean on a matching install
and name both versions on a mismatching one. The simulator is also held to
the real library where both can answer without a GPU (nvmlErrorString,
nvmlSystemGetNVMLVersion before init, nvmlShutdown without init).
Exit 77 (skipped) only when the cache is missing.
"""
import ctypes
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

GD, CACHE, SIM = (os.path.abspath(a) for a in sys.argv[1:4])
LIBS = os.path.join(CACHE, "root/usr/lib/x86_64-linux-gnu/nvidia/current")
HERE = os.path.dirname(os.path.abspath(__file__))
BASE_ROOT = os.path.join(os.path.dirname(HERE), "scenarios/healthy-4xv100-azure/root")
failures = []
passed = 0

real_nvml = glob.glob(os.path.join(LIBS, "libnvidia-ml.so.5*"))
real_cuda = glob.glob(os.path.join(LIBS, "libcuda.so.5*"))
if not real_nvml or not real_cuda:
    print(f"SKIPPED: NVIDIA's libraries are not in {LIBS} (scripts/fetch-nvidia could not reach the registry)")
    sys.exit(77)
REAL_NVML, REAL_CUDA = real_nvml[0], real_cuda[0]
VERSION = REAL_NVML.rsplit(".so.", 1)[1]  # 535.309.01


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {str(detail)[:1500]}")


def gd(args, timeout=60):
    p = subprocess.run([GD] + args, capture_output=True, text=True, timeout=timeout)
    check(f"{args[0]} did not crash", p.returncode >= 0, p.returncode)
    return p


def debian_root(tmp, name, module_version):
    """A node root with the real libraries installed as Debian's nvidia-alternative lays them out."""
    root = os.path.join(tmp, name)
    shutil.copytree(BASE_ROOT, root, symlinks=True)
    for f in ("proc/driver/nvidia/version", "sys/module/nvidia/version"):
        p = os.path.join(root, f)
        with open(p) as fh:
            text = fh.read()
        with open(p, "w") as fh:
            fh.write(text.replace("460.32.03", module_version))
    current = os.path.join(root, "usr/lib/x86_64-linux-gnu/nvidia/current")
    os.makedirs(current)
    os.makedirs(os.path.join(root, "etc/alternatives"), exist_ok=True)
    os.makedirs(os.path.join(root, "etc/ld.so.conf.d"), exist_ok=True)
    for real, soname in ((REAL_NVML, "libnvidia-ml.so.1"), (REAL_CUDA, "libcuda.so.1")):
        shutil.copy2(real, current)
        os.symlink(os.path.basename(real), os.path.join(current, soname))
        alt = f"/etc/alternatives/nvidia--{soname}-x86_64-linux-gnu"
        os.symlink(f"/usr/lib/x86_64-linux-gnu/nvidia/current/{soname}", root + alt)
        os.symlink(alt, os.path.join(root, "usr/lib/x86_64-linux-gnu", soname))
    subprocess.run(["ldconfig", "-r", root], check=True, capture_output=True)
    return root


def findings(p):
    try:
        return {f["id"]: f for f in json.loads(p.stdout)["findings"]}
    except (ValueError, KeyError) as e:
        failures.append(f"not JSON findings ({e}): {p.stdout[:300]} {p.stderr[:300]}")
        return {}


def part_simulator_answers_as_the_real_library():
    real = ctypes.CDLL(REAL_NVML)
    sim = ctypes.CDLL(os.path.join(SIM, "libnvidia-ml.so.1"))
    for lib in (real, sim):
        lib.nvmlErrorString.restype = ctypes.c_char_p
    codes = list(range(0, 41)) + [999, 1000, -1]
    diff = [(c, real.nvmlErrorString(c), sim.nvmlErrorString(c)) for c in codes
            if real.nvmlErrorString(c) != sim.nvmlErrorString(c)]
    check(f"nvmlErrorString: the simulator's texts are the real library's ({len(codes)} codes)", not diff, diff)
    check("nvmlShutdown without init: both SUCCESS", real.nvmlShutdown() == 0 and sim.nvmlShutdown() == 0)
    buf = ctypes.create_string_buffer(80)
    rc = real.nvmlSystemGetNVMLVersion(buf, 80)
    check("the real nvmlSystemGetNVMLVersion answers before init", rc == 0 and buf.value.decode() == f"12.{VERSION}",
          (rc, buf.value))
    check("the real nvmlInit without a driver: 9", real.nvmlInit_v2() == 9)


def part_matching_install(tmp):
    root = debian_root(tmp, "matching", VERSION)
    p = gd(["check", "--root", root, "--kernel-log", "/dev/null", "--json"])
    f = findings(p)
    check("check: exit 2 (critical)", p.returncode == 2, p.returncode)
    init = f.get("nvml.init_failed", {})
    check("nvml.init_failed critical", init.get("severity") == "critical", init)
    check("nvml.init_failed says DRIVER_NOT_LOADED (9)", "DRIVER_NOT_LOADED (9)" in init.get("summary", ""), init)
    check("module loaded: advice about /dev/nvidiactl, not modprobe",
          "/dev/nvidiactl" in init.get("cause", "") and not any("modprobe nvidia" in x for x in init.get("fix", [])),
          init)
    cuda = f.get("cuda.init_failed", {})
    check("cuda.init_failed says NO_DEVICE (100)", "NO_DEVICE (100)" in cuda.get("summary", ""), cuda)
    check("the real library is named as found (Debian's alternatives)",
          any(f"nvidia/current/libnvidia-ml.so.{VERSION}" in e for e in init.get("evidence", [])), init)
    for rid in ("driver.version_mismatch", "libs.missing", "libs.stale_ldcache"):
        check(f"{rid}: clean on a matching install", f.get(rid, {}).get("severity") == "ok", f.get(rid))
    check("driver.version_mismatch names the one version",
          VERSION in f.get("driver.version_mismatch", {}).get("summary", ""), f.get("driver.version_mismatch"))

    out = os.path.join(tmp, "snap.json")
    p = gd(["collect", "--root", root, "--kernel-log", "/dev/null", "--out", out])
    check("collect: exit 0", p.returncode == 0, p.stderr)
    snap = json.load(open(out))
    check("collect: nvml init 9 from the real library",
          snap["nvml"]["init_return"] == 9 and snap["nvml"]["nvml_version"] == f"12.{VERSION}", snap["nvml"])
    check("collect: cuInit 100, cuDriverGetVersion 12020",
          snap["cuda"]["init_return"] == 100 and snap["cuda"]["driver_version"] == 12020, snap["cuda"])
    p = gd(["check", "--from", out, "--json"])
    check("check --from the snapshot: the same verdict", "nvml.init_failed" in findings(p) and p.returncode == 2)

    db = os.path.join(tmp, "history.db")
    p = gd(["watch", "--root", root, "--max-ticks", "3", "--interval", "0.5", "--db", db,
            "--listen", "127.0.0.1:0"], timeout=60)
    check("watch: 3 ticks, exit 0", p.returncode == 0 and "stopped after 3 ticks" in p.stderr, p.stderr[-800:])
    check("watch: the init failure is not called a hang", "nvml_hung" not in p.stderr and "nvml.hung" not in p.stderr,
          p.stderr[-800:])
    p = gd(["events", "--db", db])
    check("events: nvml.init_failed raised", "nvml.init_failed" in p.stdout, p.stdout[-500:])

    for mode, code in (("nvml", "NVML_ERROR_DRIVER_NOT_LOADED"), ("cuda", "CUDA_ERROR_NO_DEVICE")):
        p = gd(["churn", "--root", root, "-n", "20", "--mode", mode, "--json"])
        try:
            r = json.loads(p.stdout)
        except ValueError:
            r = {}
        check(f"churn --mode {mode}: 20 launches, all {code}, exit 3 (nothing measured)",
              p.returncode == 3 and r.get("launched") == 20 and r.get("failures_by_code", {}).get(code) == 20
              and "could not measure" in r.get("verdict", "") and r.get("init_ms") is None,
              (p.returncode, p.stdout[-600:], p.stderr[-300:]))

    p = gd(["fix", "--root", root, "--kernel-log", "/dev/null"])
    check("fix (dry run): exit 0, nothing changed", p.returncode == 0 and "Dry run: nothing was changed" in p.stdout,
          p.stdout[-600:])

    # --nvml / --cuda pointing at the real files (outside the root).
    p = gd(["check", "--root", root, "--kernel-log", "/dev/null", "--json", "--nvml", REAL_NVML, "--cuda", REAL_CUDA])
    f = findings(p)
    check("--nvml/--cuda: the real files answer 9 and 100",
          "DRIVER_NOT_LOADED (9)" in f.get("nvml.init_failed", {}).get("summary", "")
          and "NO_DEVICE (100)" in f.get("cuda.init_failed", {}).get("summary", ""), f.keys())


def part_mismatching_install(tmp):
    root = debian_root(tmp, "mismatch", "550.54.15")
    p = gd(["check", "--root", root, "--kernel-log", "/dev/null", "--json"])
    mm = findings(p).get("driver.version_mismatch", {})
    check("mismatch: critical", mm.get("severity") == "critical", mm)
    check("mismatch: names both versions", "550.54.15" in mm.get("summary", "") and VERSION in mm.get("summary", ""),
          mm)


tmp = tempfile.mkdtemp(prefix="gd-real-libs-")
try:
    for part in (part_simulator_answers_as_the_real_library, lambda: part_matching_install(tmp),
                 lambda: part_mismatching_install(tmp)):
        try:
            part()
        except Exception as e:
            failures.append(f"{getattr(part, '__name__', 'part')}: {type(e).__name__}: {e}")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

for f in failures:
    print("FAIL", f)
print(f"real libraries: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
