#!/usr/bin/env python3
"""End-to-end checks of the CLI's contract on bad input and on this machine.

Usage: cli_test.py GPUDOCTOR
Each case runs the real binary; a case fails on a wrong exit code, a missing
message, or a crash (negative return code).
"""
import json
import os
import pty
import subprocess
import sys
import tempfile

GD = sys.argv[1]
failures = []
passed = 0


def run(args, stdin=None):
    return subprocess.run([GD] + args, input=stdin, capture_output=True, text=True, timeout=60)


def case(name, args, exit_code, out_has=None, err_has=None, stdin=None):
    global passed
    p = run(args, stdin)
    problems = []
    if p.returncode != exit_code:
        problems.append(f"exit {p.returncode}, expected {exit_code}")
    if out_has and out_has not in p.stdout:
        problems.append(f"stdout lacks {out_has!r}: {p.stdout[:200]!r}")
    if err_has and err_has not in p.stderr:
        problems.append(f"stderr lacks {err_has!r}: {p.stderr[:200]!r}")
    if problems:
        failures.append(f"{name}: " + "; ".join(problems))
    else:
        passed += 1


with tempfile.TemporaryDirectory() as tmp:
    snap_path = os.path.join(tmp, "snap.json")
    # A root that is not a node is "could not diagnose", never "no GPU here".
    not_a_node = os.path.join(tmp, "scenario")
    os.makedirs(os.path.join(not_a_node, "root", "proc"))
    for name, root in [("an empty dir", os.path.join(tmp, "empty")), ("a folder above root/", not_a_node)]:
        os.makedirs(root, exist_ok=True)
        for cmd in (["check"], ["collect"], ["fix"], ["churn", "-n", "1"], ["watch", "--max-ticks", "1"]):
            case(f"{cmd[0]} --root {name}", cmd + ["--root", root], 3, err_has="is not a node root")
    case("collect on a root with no sys/bus/pci", ["collect", "--root", os.path.join(not_a_node, "root")], 3,
         err_has="has no sys/bus/pci")
    empty_root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(empty_root, "proc"))
    os.makedirs(os.path.join(empty_root, "sys/bus/pci/devices"))
    case("collect on a node root without GPUs", ["collect", "--root", empty_root, "--out", snap_path], 0)
    snap = json.load(open(snap_path))
    case("check --from a good snapshot", ["check", "--from", snap_path], 0, out_has="No NVIDIA GPU")

    # Only a snapshot is a snapshot.
    def write(name, text):
        path = os.path.join(tmp, name)
        open(path, "w").write(text)
        return path
    case("check --from {\"x\":1}", ["check", "--from", write("x.json", '{"x":1}')], 3,
         err_has='no "kind": "gpudoctor-snapshot"')
    check_json = subprocess.run([GD, "check", "--from", snap_path, "--json"], capture_output=True, text=True).stdout
    case("check --from a saved check --json", ["check", "--from", write("check.json", check_json)], 3,
         err_has="output of `gpudoctor check --json`, not a snapshot")
    case("check --from an old schema", ["check", "--from", write("old.json", json.dumps(dict(snap, schema=1)))], 3,
         err_has="schema: version 1 is not supported")
    case("check --from a snapshot with no probes",
         ["check", "--from", write("bare.json", '{"kind":"gpudoctor-snapshot","schema":2}')], 3, err_has="no probe results")
    future = dict(snap, future_probe={"a": 1})
    case("unknown keys are reported", ["check", "--from", write("future.json", json.dumps(future))], 1,
         out_has="key future_probe is not understood")
    # Queries never write: a file that is not our database is refused and left as it was.
    qdir = os.path.join(tmp, "q")
    os.makedirs(qdir)
    notes = os.path.join(qdir, "notes.txt")
    open(notes, "w").write("my notes\n")
    for cmd in (["history"], ["events"]):
        case(f"{cmd[0]} --db notes.txt", cmd + ["--db", notes], 3, err_has="is not a gpudoctor history database")
        case(f"{cmd[0]} --db absent", cmd + ["--db", os.path.join(qdir, "absent.db")], 3, err_has="no history database")
    if open(notes).read() != "my notes\n" or sorted(os.listdir(qdir)) != ["notes.txt"]:
        failures.append(f"queries changed their directory: {sorted(os.listdir(qdir))}")
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    case("check --from a FIFO with no writer", ["check", "--from", fifo], 3, err_has="not a regular file")
    case("check --from /dev/zero", ["check", "--from", "/dev/zero"], 3, err_has="not a regular file")

    text = open(snap_path).read()
    open(os.path.join(tmp, "trunc.json"), "w").write(text[: len(text) // 2])
    case("truncated snapshot", ["check", "--from", os.path.join(tmp, "trunc.json")], 3,
         err_has="trunc.json: not valid JSON")

    snap["pci"]["gpus"] = "many"
    json.dump(snap, open(os.path.join(tmp, "typed.json"), "w"))
    case("wrong-typed snapshot", ["check", "--from", os.path.join(tmp, "typed.json")], 3,
         err_has="pci.gpus: expected an array, got string")

    open(os.path.join(tmp, "bin.json"), "wb").write(b"\x00\xff\xfe{\x01")
    case("binary junk snapshot", ["check", "--from", os.path.join(tmp, "bin.json")], 3, err_has="bin.json")
    case("missing snapshot", ["check", "--from", os.path.join(tmp, "nope.json")], 3, err_has="nope.json: cannot open")
    case("snapshot from stdin", ["check", "--from", "-", "--json"], 0, out_has='"findings"', stdin=text)
    case("bad --timeout", ["check", "--timeout", "0"], 3)
    case("unknown option", ["check", "--frobnicate"], 3)
    case("no command", [], 3)
    case("--root that is not a directory", ["check", "--root", snap_path], 3)
    case("collect to an unwritable place", ["collect", "--root", empty_root, "--out", "/proc/nope/x.json"], 3,
         err_has="/proc/nope/x.json")
    case("list", ["list"], 0, out_has="gpu.fell_off_bus")
    # The CLI says what went wrong.
    case("unknown command", ["frobnicate"], 3, err_has="unknown command 'frobnicate'")
    case("unknown command lists the commands", ["frobnicate"], 3, err_has="  check ")
    case("--version", ["--version"], 0, out_has="gpudoctor ")
    for bad in ("nan", "abc", "inf", "-1", "0"):
        case(f"--timeout {bad}", ["check", "--timeout", bad], 3, err_has="--timeout")
    case("--timeout abc says not a duration", ["check", "--timeout", "abc"], 3, err_has="not a duration")
    case("check --help gives the exit codes", ["check", "--help"], 0, out_has="3 could not diagnose")
    case("check --help gives the default timeout", ["check", "--help"], 0, out_has="default 10 s")
    case("events --type bogus", ["events", "--type", "bogus"], 3, err_has="no such event type")
    case("fix --only bogus.id", ["fix", "--only", "bogus.id"], 3, err_has="no such finding id")
    case("history --since soon", ["history", "--since", "soon"], 3, err_has="--since")
    # Colour only on a terminal, and never with a non-empty NO_COLOR.
    def on_tty(args, env):
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(GD, [GD] + args, env)
        out = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        os.waitpid(pid, 0)
        return out.decode(errors="replace")
    base_env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    colour_cases = [("tty", base_env, True), ("tty, NO_COLOR=1", dict(base_env, NO_COLOR="1"), False),
                    ("tty, NO_COLOR empty", dict(base_env, NO_COLOR=""), True)]
    future_snap = os.path.join(tmp, "future.json")  # a warning, so something is coloured
    for name, env, want in colour_cases:
        got = "\033[" in on_tty(["check", "--from", future_snap], env)
        if got != want:
            failures.append(f"colour on {name}: escapes {'present' if got else 'absent'}")
        else:
            passed += 1
    if "\033[" in subprocess.run([GD, "check", "--from", future_snap], capture_output=True, text=True).stdout:
        failures.append("colour in a pipe")

    # gpudoctor xid: explain a pasted kernel log.
    xid79 = "[328417.550913] NVRM: Xid (PCI:0000:3B:00): 79, pid=20371, name=python3, GPU has fallen off the bus.\n"
    case("xid from stdin", ["xid", "-", "--json"], 2, out_has='"bus_id": "0000:3b:00.0"', stdin=xid79)
    case("xid, app error only", ["xid", "-"], 0, out_has="restart app",
         stdin="[1.0] NVRM: Xid (PCI:0000:01:00): 13, pid=1, name=a, Graphics Exception\n")
    prev79 = "[0.0] Linux version 6.1\n" + xid79 + "[0.0] Linux version 6.1\n[1.0] NVRM: Xid (PCI:0000:01:00): 13, x\n"
    case("xid rates an earlier boot's Xid 79 as check does", ["xid", "-", "--json"], 0, out_has='"severity": "warning"',
         stdin=prev79)
    three = "".join(f"[1.{i}] NVRM: Xid (PCI:0000:01:00): 13, pid={i}, name=a, x\n" for i in range(3))
    case("xid counts repeated identical events", ["xid", "-"], 0, out_has="     3 a ", stdin=three)
    case("xid on a missing file", ["xid", os.path.join(tmp, "nope.log")], 3, err_has="nope.log: cannot open")
    case("xid on a directory", ["xid", tmp], 3, err_has="not a regular file")
    open(os.path.join(tmp, "junk.log"), "wb").write(os.urandom(1 << 20) + b"\n" + b"x" * (1 << 20))
    case("xid on binary junk", ["xid", os.path.join(tmp, "junk.log")], 0, out_has="0 NVIDIA event(s)")
    case("xid with a bad --since", ["xid", "-", "--since", "soon"], 3, stdin=xid79)
    case("check with a missing --kernel-log", ["check", "--root", empty_root, "--kernel-log", "/nonexistent.log"], 3)

    # gpudoctor sim: the simulated node's files under XDG_RUNTIME_DIR, the command exec'd by argv.
    os.environ["XDG_RUNTIME_DIR"] = tmp
    case("sim --list", ["sim", "--list"], 0, out_has="healthy-8xh100")
    case("sim with an unknown scenario", ["sim", "nosuch", "--", "true"], 3, err_has="neither a built-in scenario")
    case("sim without a command", ["sim", "healthy-8xh100"], 3, err_has="give a command to run after --")
    case("sim with a missing program", ["sim", "healthy-8xh100", "--", "/nonexistent/prog"], 127,
         err_has="cannot run '/nonexistent/prog'")
    case("sim passes the exit status through", ["sim", "seed", "--", "sh", "-c", "exit 7"], 7)
    case("sim sets the scenario and library path", ["sim", "seed", "--", "sh", "-c",
                                                    'echo "$GPUDOCTOR_SIM_SCENARIO $LD_LIBRARY_PATH"'], 0,
         out_has=os.path.join(tmp, "gpudoctor-sim", "seed-lost-one-gpu", "nvml.json"))
    case("sim --env prints export lines", ["sim", "healthy-8xh100", "--env"], 0,
         out_has="export GPUDOCTOR_SIM_SCENARIO=")
    case("sim with a scenario file that is not JSON", ["sim", os.path.join(tmp, "junk.log"), "--", "true"], 3,
         err_has="not a JSON object")
    libdir = os.path.join(tmp, "gpudoctor-sim", "lib")
    both = all(os.path.islink(os.path.join(libdir, n)) for n in ("libnvidia-ml.so.1", "libnvidia-ml.so"))
    if both:
        passed += 1
    else:
        failures.append(f"sim: libnvidia-ml.so.1 and libnvidia-ml.so not both in {libdir}")
    del os.environ["XDG_RUNTIME_DIR"]

    # --no-tree-libs: a library in a --root tree is never loaded (its constructor would run as the caller).
    # The tree's libnvidia-ml.so.1 here is a library whose constructor leaves a marker file: without the flag
    # check loads it (the marker appears: the test can fail), with it the marker stays absent and the verdict
    # is a warning saying NVML was not consulted, never healthy.
    import shutil
    src = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios", "healthy-8xh100", "root")
    tree = os.path.join(tmp, "untrusted")
    shutil.copytree(src, tree, symlinks=True)
    marker = os.path.join(tmp, "constructor-ran")
    lib_dir = os.path.join(tree, "usr/lib/x86_64-linux-gnu")
    os.makedirs(lib_dir, exist_ok=True)
    c_src = os.path.join(tmp, "ctor.c")
    with open(c_src, "w") as f:
        f.write('#include <stdio.h>\n__attribute__((constructor)) static void ran(void) {'
                ' FILE *f = fopen("%s", "w"); if (f) fclose(f); }\n' % marker)
    for soname, stem in (("libnvidia-ml.so.1", "libnvidia-ml.so"), ("libcuda.so.1", "libcuda.so")):
        subprocess.run(["cc", "-shared", "-fPIC", f"-Wl,-soname,{soname}", "-o",
                        os.path.join(lib_dir, stem + ".550.54.15"), c_src], check=True)
        os.symlink(stem + ".550.54.15", os.path.join(lib_dir, soname))
    subprocess.run(["ldconfig", "-r", tree], check=True)
    loaded = run(["check", "--root", tree, "--timeout", "5"])
    if os.path.exists(marker):
        passed += 1
        os.remove(marker)
    else:
        failures.append("no-tree-libs: without the flag the tree's library was not loaded: the check below proves "
                        f"nothing (exit {loaded.returncode})")
    case("check --no-tree-libs: a warning saying NVML was not consulted", ["check", "--root", tree, "--no-tree-libs"],
         1, out_has="nvml.not_loaded")
    for args in (["check", "--root", tree, "--no-tree-libs", "--json"], ["collect", "--root", tree, "--no-tree-libs"],
                 ["fix", "--root", tree, "--no-tree-libs"], ["churn", "--root", tree, "--no-tree-libs", "-n", "3"]):
        p = run(args)
        if os.path.exists(marker):
            failures.append(f"no-tree-libs: {' '.join(args[:1] + args[3:])} ran the tree's library constructor")
            os.remove(marker)
        elif p.returncode < 0:
            failures.append(f"no-tree-libs: {args[0]} died by signal {-p.returncode}")
        else:
            passed += 1
    churned = run(["churn", "--root", tree, "--no-tree-libs", "-n", "3"])
    if churned.returncode == 3 and "--no-tree-libs" in churned.stderr:
        passed += 1
    else:
        failures.append(f"no-tree-libs: churn must refuse (exit 3 naming the flag): exit {churned.returncode}, "
                        f"{churned.stderr[-200:]!r}")

    # This machine: a node without NVIDIA hardware must get one clear sentence and exit 0.
    if not os.path.exists("/proc/driver/nvidia") and not os.path.exists("/dev/nvidiactl"):
        case("live node without a GPU", ["check"], 0, out_has="No NVIDIA GPU on this node")

print(f"cli: {passed} passed, {len(failures)} failed")
for f in failures:
    print("FAIL " + f)
sys.exit(1 if failures else 0)
