#!/usr/bin/env python3
"""End-to-end scenario tests: run the real gpudoctor binary on each fixture
tree under tests/scenarios/<name>/ and compare with its golden file.

For a scenario with nvml.json, the simulator library is installed into a copy
of root/ as usr/lib/x86_64-linux-gnu/libnvidia-ml.so.<driver_version> and the
real `ldconfig -r` builds the copy's linker cache, so gpudoctor finds NVML the
way the dynamic loader would. scenario.json may hold:
  args         extra arguments for `check` ("{root}" in one becomes the copied root's path)
  sim          "legacy" to install the old-driver build of the simulator
  cuda         false: do not install the fake libcuda (installed by default
               as libcuda.so.<driver_version> beside the NVML simulator)
  max_seconds  the check must end within this wall time (never-hang cases)
  expect_text  substrings the human-readable output must contain
  expect_not_text  substrings it must not contain
  libs         [[host_path, soname], ...]: tiny real shared libraries compiled
               with `cc` (dlopen-safe, no symbols) before ldconfig runs
  cuda_sim_copies  [host_path, ...]: more copies of the fake libcuda
  install_nvml false: keep nvml.json (for the fake libcuda) but install no NVML
  ldconfig     true: run `ldconfig -r` even when no NVML simulator is installed
  after_ldconfig  steps run after ldconfig, making the cache stale:
               ["rm", path] | ["truncate", path] | ["symlink", target, path] |
               ["write", text, path]

expected.txt holds one "<severity> <id> <gpu or ->" line per finding and the
exit code. Regenerate with --update after a deliberate change, then review
the diff.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(HERE, "scenarios")


def install_cuda(root, cuda_sim, version):
    """Copies the fake libcuda; install_nvml's ldconfig then links libcuda.so.1."""
    libdir = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    os.makedirs(libdir, exist_ok=True)
    shutil.copy(cuda_sim, os.path.join(libdir, f"libcuda.so.{version}"))


def install_nvml(root, sim, version):
    libdir = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    os.makedirs(libdir, exist_ok=True)
    shutil.copy(sim, os.path.join(libdir, f"libnvidia-ml.so.{version}"))
    subprocess.run(["ldconfig", "-r", root], check=True, timeout=60)


_built_libs = {}


def build_library(soname, tmp_dir):
    """A minimal shared library whose SONAME is `soname`, compiled once per run."""
    if soname not in _built_libs:
        out = os.path.join(tmp_dir, f"built-{len(_built_libs)}.so")
        subprocess.run(["cc", "-shared", "-nostdlib", "-x", "c", "/dev/null", "-o", out, f"-Wl,-soname,{soname}"],
                       check=True, timeout=60)
        _built_libs[soname] = out
    return _built_libs[soname]


def in_root(root, host_path):
    return os.path.join(root, host_path.lstrip("/"))


def add_libraries(root, cfg, cuda_sim, lib_dir):
    for host_path, soname in cfg.get("libs", []):
        os.makedirs(os.path.dirname(in_root(root, host_path)), exist_ok=True)
        shutil.copy(build_library(soname, lib_dir), in_root(root, host_path))
    for host_path in cfg.get("cuda_sim_copies", []):
        os.makedirs(os.path.dirname(in_root(root, host_path)), exist_ok=True)
        shutil.copy(cuda_sim, in_root(root, host_path))


def after_ldconfig(root, steps):
    for step in steps:
        op, path = step[0], in_root(root, step[-1])
        if op == "rm":
            os.remove(path)
        elif op == "truncate":
            open(path, "w").close()
        elif op == "symlink":
            if os.path.lexists(path):
                os.remove(path)
            os.symlink(step[1], path)
        elif op == "write":
            with open(path, "w") as f:
                f.write(step[1])
        else:
            raise ValueError(f"after_ldconfig: unknown step {step!r}")


def normalise(doc):
    lines = [f"{f['severity']} {f['id']} {f['gpu'] or '-'}" for f in doc["findings"]]
    lines.append(f"exit {doc['exit_code']}")
    return "\n".join(lines) + "\n"


def run_check(gpudoctor, root, env, args, fmt_json):
    cmd = [gpudoctor, "check", "--root", root] + args + (["--json"] if fmt_json else ["--no-color"])
    start = time.monotonic()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    return p, time.monotonic() - start


def check_round_trip(gpudoctor, root, env, args, tmp, expected):
    """collect on the node, then check --from the snapshot: same findings."""
    snap = os.path.join(tmp, "snapshot.json")
    check_only = {"--expect-gpus"}  # options that judge, not gather: they go to check --from
    node_args, check_args, i = [], [], 0
    while i < len(args):
        dst = check_args if args[i] in check_only else node_args
        dst += args[i:i + 2] if args[i] in check_only or args[i] == "--timeout" else args[i:i + 1]
        i += 2 if args[i] in check_only or args[i] == "--timeout" else 1
    c = subprocess.run([gpudoctor, "collect", "--root", root, "--out", snap] + node_args, env=env,
                       capture_output=True, text=True, timeout=120)
    if c.returncode != 0:
        return [f"collect failed (exit {c.returncode}): {c.stderr[:300]}"]
    p = subprocess.run([gpudoctor, "check", "--from", snap, "--json"] + check_args, capture_output=True, text=True,
                       timeout=60)
    got = normalise(json.loads(p.stdout))
    return [] if got == expected else [f"check --from snapshot differs:\n{got}"]


def run_one(name, opts):
    src = os.path.join(SCENARIOS, name)
    cfg = json.load(open(os.path.join(src, "scenario.json")))
    problems = []
    with tempfile.TemporaryDirectory(prefix=f"gd-{name}-") as tmp:
        root = os.path.join(tmp, "root")
        shutil.copytree(os.path.join(src, "root"), root, symlinks=True)
        env = dict(os.environ)
        env.pop("LD_LIBRARY_PATH", None)
        add_libraries(root, cfg, opts.cuda_sim, opts.lib_dir)
        nvml = os.path.join(src, "nvml.json")
        if os.path.exists(nvml):
            shutil.copy(nvml, os.path.join(tmp, "nvml.json"))
            env["GPUDOCTOR_SIM_SCENARIO"] = os.path.join(tmp, "nvml.json")
            sim = opts.sim_legacy if cfg.get("sim") == "legacy" else opts.sim
            if cfg.get("cuda", True):
                install_cuda(root, opts.cuda_sim, json.load(open(nvml))["driver_version"])
            if cfg.get("install_nvml", True):
                install_nvml(root, sim, json.load(open(nvml))["driver_version"])
        if cfg.get("ldconfig"):
            subprocess.run(["ldconfig", "-r", root], check=True, timeout=60)
        after_ldconfig(root, cfg.get("after_ldconfig", []))
        args = [a.replace("{root}", root) for a in cfg.get("args", [])]  # {root}: the copied tree
        p, secs = run_check(opts.gpudoctor, root, env, args, True)
        try:
            doc = json.loads(p.stdout)
        except json.JSONDecodeError:
            return [f"--json output is not JSON (exit {p.returncode}): {p.stdout[:300]!r} {p.stderr[:300]!r}"]
        if doc["exit_code"] != p.returncode:
            problems.append(f"exit code {p.returncode} differs from JSON exit_code {doc['exit_code']}")
        got = normalise(doc)
        expected_path = os.path.join(src, "expected.txt")
        if opts.update:
            open(expected_path, "w").write(got)
        elif not os.path.exists(expected_path):
            problems.append("expected.txt missing (run with --update)")
        elif open(expected_path).read() != got:
            problems.append(f"findings differ from expected.txt:\n--- expected\n{open(expected_path).read()}"
                            f"--- got\n{got}")
        if "max_seconds" in cfg and secs > cfg["max_seconds"]:
            problems.append(f"check took {secs:.2f} s, limit {cfg['max_seconds']} s")
        problems += check_round_trip(opts.gpudoctor, root, env, args, tmp, got)
        text, _ = run_check(opts.gpudoctor, root, env, args, False)
        for s in cfg.get("expect_text", []):
            if s not in text.stdout:
                problems.append(f"text output lacks {s!r}")
        for s in cfg.get("expect_not_text", []):
            if s in text.stdout:
                problems.append(f"text output has {s!r}")
        if text.returncode != p.returncode:
            problems.append(f"text mode exit {text.returncode} != json mode exit {p.returncode}")
        if p.stderr.strip():
            problems.append(f"unexpected stderr: {p.stderr.strip()[:300]}")
    return problems


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gpudoctor", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--sim-legacy")
    ap.add_argument("--cuda-sim", help="fake libcuda.so.1 (default: beside --sim)")
    ap.add_argument("--update", action="store_true")
    ap.add_argument("names", nargs="*")
    opts = ap.parse_args()
    if not opts.sim_legacy:
        opts.sim_legacy = os.path.join(os.path.dirname(opts.sim), "legacy", "libnvidia-ml.so.1")
    if not opts.cuda_sim:
        opts.cuda_sim = os.path.join(os.path.dirname(opts.sim), "libcuda.so.1")
    lib_dir = tempfile.TemporaryDirectory(prefix="gd-libs-")
    opts.lib_dir = lib_dir.name
    names = opts.names or sorted(d for d in os.listdir(SCENARIOS) if os.path.isdir(os.path.join(SCENARIOS, d)))
    passed = failed = 0
    for name in names:
        problems = run_one(name, opts)
        if problems:
            failed += 1
            print(f"FAIL {name}")
            for pr in problems:
                print("  " + pr.replace("\n", "\n  "))
        else:
            passed += 1
            print(f"ok   {name}")
    print(f"scenarios: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
