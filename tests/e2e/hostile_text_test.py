#!/usr/bin/env python3
"""End-to-end: hostile text from the node never reaches an output unescaped.

Usage: hostile_text_test.py GPUDOCTOR SIM_DIR        (SIM_DIR: build/sim)

Inputs (on a simulated 4xV100 node, tests/e2e/sim_node.py):
  NVML strings  GPU name, serial, UUID, VBIOS version, board part number (the
                simulator's scenario, spread over the 4 GPUs). The scenario is
                JSON, which the simulator parses strictly, so these carry only
                valid UTF-8 (no raw 0x9b / 0xff) and fit NVML's buffers (name
                < 96 bytes, serial < 30, VBIOS < 32, part number < 80).
  host name     etc/hostname in the root (what the probe reads; first line, 256
                bytes): each payload separately; and the kernel's host name
                (gethostname, set in a private UTS namespace, 64 bytes), which
                `watch` (dcgm Hostname label) and `slurm-health` (default node
                name) use. Skipped (and said so) where unshare is not permitted.
  kernel log    Xid lines whose name= field carries the payload (each payload
                alone, then all together), for `check --kernel-log` and `xid`,
                and appended to the log `watch --kernel-log` follows.
  Slurm         a fake scontrol printing a hostile State=/Reason= and stderr.
Payloads: ANSI CSI, OSC 0 title, OSC 8 hyperlink, C1 CSI as the raw byte 0x9b
and as U+009B in UTF-8, a newline + forged finding line, CR, NUL, BEL/DEL,
shell metacharacters, HTML, '"' and '\\', invalid UTF-8 (ff fe), 100 KB.

Outputs checked: check (text, -v, --json, --format npd, --format nagios, and
text again from a `collect` snapshot with --from), collect, xid (text,
--json), watch (/metrics with and without --metrics-compat dcgm, --textfile,
its stderr log, /metrics Content-Type), events (table, --format json),
slurm-health dry run (would-run line, drain reason; scontrol missing, failing,
or reporting a hostile drain), ledger (text, --json).

Rules per format (docs/reliability.md, util::printable):
  terminal text (check, xid, events table, slurm-health, ledger, stderr):
      valid UTF-8; no C0 control but newline/tab (so no ESC, BEL, CR, NUL), no
      DEL, no C1 (U+0080-U+009F); a forged newline never yields a line that
      starts like a finding (OK/CRITICAL/WARNING) carrying the forged text.
  JSON: valid UTF-8 that json.loads parses; decoded strings may carry the
      original bytes (a snapshot keeps what NVML said; \\u001b is fine), but
      the raw text has no C0 and no C1 character: a JSON document printed to a
      terminal (collect's default is stdout) must not drive it, and JSON can
      always write U+009B as \\u009b. No lone surrogate escapes.
  Prometheus: valid UTF-8, every line a comment or a well-formed sample whose
      label values use only the exposition escapes (\\\\ \\" \\n), no raw control
      or C1 anywhere, one gpudoctor_gpu_info sample per GPU; promtool check
      metrics passes (when promtool is on PATH).
  npd: exactly one line, <= 80 characters, terminal-safe. nagios: exactly one
      status line, terminal-safe.
  Slurm: the drain reason printable and <= 120 characters; the printed
      would-run command has no shell metacharacter outside single quotes (it
      is meant to be copy-pasted).
  Every run: exits 0-3 (never by a signal) within 5 s (watch: 0 on SIGTERM),
      output under 1 MB, max RSS under 256 MB.
"""
import ctypes
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sim_node  # noqa: E402
from sim_node import free_port, get_raw as get  # noqa: E402

GD, SIM_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
SCENARIO = "healthy-4xv100-azure"
BUSES = ["5b0a:00:00", "9e65:00:00", "b111:00:00", "bd71:00:00"]  # the scenario's GPUs as the kernel log names them
MAX_OUT = 1 << 20
MAX_RSS_KB = 256 * 1024
failures, passed, skipped = [], 0, []

FORGED_OK = b"\nOK       gpu.fell_off_bus  FORGED"
FORGED_CRIT = b"\nCRITICAL xid.critical  FORGED"
PAYLOADS = {  # name -> bytes
    "csi": b"\x1b[31mRED\x1b[0m",
    "osc_title": b"\x1b]0;title\x07",
    "osc8": b"\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "c1_raw": b"\x9b31mC1",
    "c1_utf8": "\u009b31mC1".encode(),
    "newline": FORGED_OK + FORGED_CRIT,
    "cr": b"\rOK       gpu.fell_off_bus  FORGED",
    "nul": b"nu\x00l",
    "bel_del": b"b\x07e\x7fl",
    "shell": b"$(reboot); `id` | rm -rf /",
    "html": b"<script>alert(1)</script>&amp;",
    "quote_bs": b'q"uo\\te\'',
    "invalid_utf8": b"\xff\xfe",
    "long": b"L" * 100_000,
}
# What each payload leaves visible once made printable: proves the text reached the output.
SHOWN = {"csi": b"?[31mRED", "osc_title": b"?]0;title?", "osc8": b"?]8;;http", "c1_raw": b"?31mC1",
         "c1_utf8": b"?31mC1", "cr": b"?OK", "nul": b"nu?l", "bel_del": b"b?e?l", "shell": b"$(reboot)",
         "html": b"<script>", "quote_bs": b'q"uo\\te', "invalid_utf8": b"??", "long": b"LLLLLLLL"}
ALL = b"".join(v for k, v in PAYLOADS.items() if k != "long")


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failures.append(f"{name}: {detail}")
        print(f"FAIL {name}: {detail}")


def excerpt(data, i, width=40):
    return repr(data[max(0, i - width):i + width])


# ---------------------------------------------------------------- running

class Run:
    def __init__(self, rc, sig, out, err, elapsed, rss_kb):
        self.rc, self.sig, self.out, self.err, self.elapsed, self.rss_kb = rc, sig, out, err, elapsed, rss_kb


def _reap(p, timeout):
    """wait4 with a kill after timeout: (status, rusage, timed_out)."""
    timed_out = []
    t = threading.Timer(timeout, lambda: (timed_out.append(1), p.kill()))
    t.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        t.cancel()
    p.returncode = 0  # reaped by hand; keep Popen from waiting again
    return status, ru, bool(timed_out)


def run(argv, env, timeout=10, preexec=None):
    with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
        start = time.time()
        p = subprocess.Popen(argv, env=env, stdout=o, stderr=e, stdin=subprocess.DEVNULL, preexec_fn=preexec)
        status, ru, _ = _reap(p, timeout)
        elapsed = time.time() - start
        o.seek(0)
        e.seek(0)
        out, err = o.read(), e.read()
    sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    return Run(rc, sig, out, err, elapsed, ru.ru_maxrss)


def check_exit(name, r, limit_s=5.0, codes=range(0, 4)):
    check(f"{name}: exits 0-3 within {limit_s:g} s", r.sig is None and r.rc in codes and r.elapsed < limit_s,
          f"rc={r.rc} signal={r.sig} {r.elapsed:.1f}s stderr={r.err[-300:]!r}")
    check(f"{name}: bounded", len(r.out) < MAX_OUT and len(r.err) < MAX_OUT and r.rss_kb < MAX_RSS_KB,
          f"stdout {len(r.out)} B, stderr {len(r.err)} B, max RSS {r.rss_kb} KiB")


# ---------------------------------------------------------------- format rules

def utf8_problems(data):
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as ex:
        return data.decode("utf-8", "surrogateescape"), [f"invalid UTF-8 at {ex.start}: {excerpt(data, ex.start)}"]


def control_problems(text, allowed=("\n", "\t"), forbid_del=True):
    """Controls in decoded text: C0 (but `allowed`), DEL, C1, lone surrogates (invalid bytes)."""
    bad = {}
    for i, ch in enumerate(text):
        c = ord(ch)
        if (c < 0x20 and ch not in allowed) or (forbid_del and c == 0x7F) or 0x80 <= c <= 0x9F \
                or 0xD800 <= c <= 0xDFFF:
            bad.setdefault(ch, i)
    return [f"{len(bad)} kind(s) of control, e.g. U+{ord(ch):04X} at {i}: {text[max(0, i - 30):i + 30]!r}"
            for ch, i in list(bad.items())[:3]]


FINDING_LINE = re.compile(r"^(OK |OK$|CRITICAL|WARNING)")


def check_terminal(name, data, forged=True):
    text, probs = utf8_problems(data)
    probs += control_problems(text)
    check(f"{name}: terminal-safe (UTF-8, no C0/DEL/C1)", not probs, "; ".join(probs))
    if forged:
        bad = [ln for ln in text.split("\n") if FINDING_LINE.match(ln) and "FORGED" in ln]
        check(f"{name}: no forged finding line", not bad, repr(bad[:2]))


def check_json(name, data):
    text, probs = utf8_problems(data)
    # Raw text: JSON must escape C0 itself; C1 it may write raw, but then a terminal showing the
    # document can be driven by it (U+009B is CSI), so it must be \u009b. DEL is left alone.
    probs += control_problems(text, allowed=("\n",), forbid_del=False)
    doc = None
    try:
        doc = json.loads(text)
    except ValueError as ex:
        probs.append(f"does not parse: {ex}")

    def strings(x):
        if isinstance(x, str):
            yield x
        elif isinstance(x, dict):
            for k, v in x.items():
                yield k
                yield from strings(v)
        elif isinstance(x, list):
            for v in x:
                yield from strings(v)
    if doc is not None:
        lone = [s for s in strings(doc) if any(0xD800 <= ord(c) <= 0xDFFF for c in s)]
        if lone:
            probs.append(f"lone surrogate escapes (not UTF-8): {lone[0][:60]!r}")
    check(f"{name}: valid JSON, no raw controls", not probs, "; ".join(probs))
    return doc


LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{(' + LABEL + r')(,' + LABEL + r')*,?\})? [^ ]+( [0-9-]+)?$')


def check_prom(name, data, gpus=4):
    text, probs = utf8_problems(data)
    probs += control_problems(text, allowed=("\n",))
    bad = [ln for ln in text.split("\n") if ln and not ln.startswith("#") and not SAMPLE.match(ln)]
    if bad:
        probs.append(f"{len(bad)} malformed sample line(s), e.g. {bad[0][:160]!r}")
    info = [ln for ln in text.split("\n") if ln.startswith("gpudoctor_gpu_info{")]
    if len(info) != gpus:
        probs.append(f"{len(info)} gpudoctor_gpu_info samples, want {gpus}")
    check(f"{name}: exposition format, labels escaped, no controls", not probs, "; ".join(probs))
    if shutil.which("promtool"):
        pt = subprocess.run(["promtool", "check", "metrics"], input=data, capture_output=True, timeout=30)
        # dcgm-exporter's own names (DCGM_FI_*, camelCase labels, counters without _total) draw lint
        # remarks by design; anything else (a parse error, a remark on our names) fails.
        said = [ln for ln in (pt.stdout + pt.stderr).decode("utf-8", "replace").split("\n") if ln.strip()]
        other = [ln for ln in said if not ln.startswith("DCGM_FI_")]
        check(f"{name}: promtool check metrics", pt.returncode == 0 or (said and not other), repr(other[:3]))


def check_one_line(name, data, max_len=None):
    text, _ = utf8_problems(data)
    lines = text.split("\n")
    one = len(lines) == 2 and lines[1] == "" or len(lines) == 1
    check(f"{name}: exactly one line", one, f"{len(lines) - (lines[-1] == '')} lines: {text[:300]!r}")
    if max_len:
        check(f"{name}: <= {max_len} characters", len(lines[0]) <= max_len, f"{len(lines[0])}: {lines[0][:120]!r}")
    check_terminal(name, data, forged=False)


def check_all_check_formats(tag, root, env, extra=()):
    base = [GD, "check", "--root", root, "--timeout", "3", *extra]
    r = run(base, env)
    check_exit(f"{tag} check", r)
    check_terminal(f"{tag} check", r.out)
    check_terminal(f"{tag} check stderr", r.err)
    r = run(base + ["-v"], env)
    check_exit(f"{tag} check -v", r)
    check_terminal(f"{tag} check -v", r.out)
    r = run(base + ["--json"], env)
    check_exit(f"{tag} check --json", r)
    check_json(f"{tag} check --json", r.out)
    r = run(base + ["--format", "npd"], env)
    check_exit(f"{tag} check --format npd", r)
    check_one_line(f"{tag} check --format npd", r.out, 80)
    r = run(base + ["--format", "nagios"], env)
    check_exit(f"{tag} check --format nagios", r)
    check_one_line(f"{tag} check --format nagios", r.out)


# ---------------------------------------------------------------- inputs

def xid_line(t, bus, xid, name):
    return b"[%10.6f] NVRM: Xid (PCI:%s): %d, pid=4243, name=%s, Ch 00000001\n" % (t, bus.encode(), xid, name)


def kernel_log(payloads, t0=30.0):
    head = b"[    0.000000] Linux version 5.4.0-137-generic (buildd@lcy02-amd64-009)\n"
    body = b""
    for i, p in enumerate(payloads):
        body += xid_line(t0 + i, BUSES[i % 4], (48, 13, 31, 63)[i % 4], p)
    # A hostile PCI field: not an Xid we can place; it must not reach any output raw.
    body += b"[%10.6f] NVRM: Xid (PCI:\x1b[31m$(id)\x9b): 79, pid=1, name=x, GPU has fallen off the bus.\n" % (t0 + 99)
    return head + body


def nvml_edit(doc):
    g = doc["gpus"]
    s = lambda b: b.decode("utf-8")  # noqa: E731 - the scenario is JSON: valid UTF-8 only
    g[0].update(name=s(b"Tesla" + PAYLOADS["csi"] + PAYLOADS["c1_utf8"]), serial=s(PAYLOADS["osc_title"]),
                uuid="GPU-" + s(PAYLOADS["csi"]), vbios_version=s(PAYLOADS["c1_utf8"] + b"\x1b[1mV"),
                board_part_number=s(PAYLOADS["osc8"]))
    g[1].update(name=s(b"X" + FORGED_OK), serial=s(b"s\rCR\x00nul"), uuid="GPU-" + s(PAYLOADS["shell"]),
                vbios_version=s(PAYLOADS["quote_bs"]), board_part_number=s(PAYLOADS["html"]))
    g[2].update(name=s(PAYLOADS["html"] + PAYLOADS["quote_bs"]), uuid="GPU-" + s(b'<b>"\\' + FORGED_CRIT),
                serial=s(b"\x1b[2J\x1b[H" + PAYLOADS["bel_del"]), vbios_version=s(b"\rOK FORGED"),
                board_part_number=s(FORGED_CRIT + b"\x07"))
    g[3].update(name=s(PAYLOADS["bel_del"] + b"\x1b]0;t\x07"), uuid="GPU-\u009b31mU")


UTS_HOST = b"h\x1b[31mR\x1b]0;t\x07\x9b\xc2\x9b\xff\xfe$(reboot);`id`|x'\"\\\r\nOK FORGED"  # < 65 bytes


def uts_preexec(name=UTS_HOST):
    def f():
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.unshare(0x04000000) != 0:  # CLONE_NEWUTS
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWUTS)")
        socket.sethostname(name)
    return f


def uts_possible():
    try:
        r = subprocess.run(["true"], preexec_fn=uts_preexec(b"probe"))
        return r.returncode == 0
    except OSError:
        return False


# ---------------------------------------------------------------- parts

def part_hostname_file(tmp):
    for key, p in PAYLOADS.items():
        d = os.path.join(tmp, f"host-{key}")
        os.makedirs(d)
        root, _, env = sim_node.make(d, SIM_DIR, scenario=SCENARIO)
        with open(os.path.join(root, "etc/hostname"), "wb") as f:
            f.write(b"node" + p + b"\n")
        check_all_check_formats(f"hostname[{key}]", root, env)
        r = run([GD, "collect", "--root", root, "--timeout", "3"], env)
        check_exit(f"hostname[{key}] collect", r)
        check_json(f"hostname[{key}] collect", r.out)


def part_kernel_log(tmp):
    cases = [(k, [p]) for k, p in PAYLOADS.items()] + [("all", [p for p in PAYLOADS.values()])]
    d = os.path.join(tmp, "klog")
    os.makedirs(d)
    root, _, env = sim_node.make(d, SIM_DIR, scenario=SCENARIO)
    for key, ps in cases:
        log = os.path.join(d, f"kern-{key}.log")
        with open(log, "wb") as f:
            f.write(kernel_log(ps))
        check_all_check_formats(f"klog[{key}]", root, env, ["--kernel-log", log, "--since", "all"])
        r = run([GD, "xid", log], env)
        check_exit(f"klog[{key}] xid", r)
        check_terminal(f"klog[{key}] xid", r.out)
        if key in SHOWN:
            check(f"klog[{key}] xid: the process name shows, made printable", SHOWN[key] in r.out, repr(r.out[-600:]))
        check_terminal(f"klog[{key}] xid stderr", r.err)
        r = run([GD, "xid", log, "--json"], env)
        check_exit(f"klog[{key}] xid --json", r)
        check_json(f"klog[{key}] xid --json", r.out)


def part_nvml(tmp):
    d = os.path.join(tmp, "nvml")
    os.makedirs(d)
    root, _, env = sim_node.make(d, SIM_DIR, scenario=SCENARIO, edit=nvml_edit)
    check_all_check_formats("nvml", root, env)
    r = run([GD, "collect", "--root", root, "--timeout", "3"], env)
    check_exit("nvml collect", r)
    doc = check_json("nvml collect", r.out)
    if doc is not None:  # the snapshot diagnosed elsewhere: `check --from` renders what it holds
        snap = os.path.join(d, "snap.json")
        with open(snap, "wb") as f:
            f.write(r.out)
        for fmt_args, rule in ((["-v"], "text"), (["--format", "npd"], "npd"), (["--format", "nagios"], "nagios")):
            rr = run([GD, "check", "--from", snap, *fmt_args], env)
            check_exit(f"nvml check --from snapshot {rule}", rr)
            if rule == "text":
                check_terminal(f"nvml check --from snapshot {rule}", rr.out)
            else:
                check_one_line(f"nvml check --from snapshot {rule}", rr.out, 80 if rule == "npd" else None)


def watch_run(tag, tmp, root, env, log, compat, preexec):
    db = os.path.join(tmp, f"{tag}.db")
    prom = os.path.join(tmp, f"{tag}.prom")
    port = free_port()
    argv = [GD, "watch", "--root", root, "--kernel-log", log, "--since", "all", "--interval", "200ms", "--no-ledger",
            "--db", db, "--listen", f"127.0.0.1:{port}", "--textfile", prom, "--timeout", "3"]
    if compat:
        argv += ["--metrics-compat", "dcgm"]
    errf = open(os.path.join(tmp, f"{tag}.log"), "w+b")
    start = time.time()
    p = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=errf, preexec_fn=preexec)
    page, ctype, index = None, "", None
    try:
        time.sleep(0.8)
        with open(log, "ab") as f:  # appended while followed
            f.write(kernel_log(list(PAYLOADS.values()), t0=500.0).split(b"\n", 1)[1])
        end = time.time() + 4
        while time.time() < end:
            try:
                page, ctype = get(f"http://127.0.0.1:{port}/metrics")
                if b"\ngpudoctor_nvml_up 1\n" in page and time.time() - start > 2.2:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        try:
            index, _ = get(f"http://127.0.0.1:{port}/")
        except OSError:
            pass
    finally:
        p.send_signal(signal.SIGTERM)
        status, ru, timed_out = _reap(p, 10)
    errf.seek(0)
    err = errf.read()
    errf.close()
    rc = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
    check(f"{tag}: exits 0 on SIGTERM", rc == 0 and not timed_out,
          f"rc={rc} signal={os.WTERMSIG(status) if os.WIFSIGNALED(status) else None} stderr={err[-300:]!r}")
    check(f"{tag}: bounded", ru.ru_maxrss < MAX_RSS_KB and len(err) < MAX_OUT and (page is None or len(page) < MAX_OUT),
          f"max RSS {ru.ru_maxrss} KiB, stderr {len(err)} B")
    check(f"{tag}: /metrics served with nvml_up 1", page is not None and b"\ngpudoctor_nvml_up 1\n" in page,
          repr((page or b"")[:200]))
    if page is not None:
        check(f"{tag}: /metrics Content-Type is text/plain", ctype.startswith("text/plain"), ctype)
        # The live page is static (its data comes from /api/report, rendered as text): no node text in it.
        check(f"{tag}: / (an HTML page) carries no node text", index is not None and b"alert(1)" not in index
              and b"FORGED" not in index and index.count(b"<script") == 2, repr(index and index[:200]))
        check_prom(f"{tag} /metrics", page)
        if compat:
            check(f"{tag}: dcgm families present", b"DCGM_FI_DEV_GPU_TEMP{" in page, repr(page[:200]))
    if os.path.exists(prom):
        check_prom(f"{tag} --textfile", open(prom, "rb").read())
    else:
        check(f"{tag} --textfile written", False, "no file")
    check_terminal(f"{tag} stderr log", err)
    # The report page of this history: the node's text only inside its JSON data, never as markup.
    html = os.path.join(tmp, f"{tag}.html")
    r = run([GD, "report", "--db", db, "--out", html], env)
    check(f"{tag} report: written", r.rc == 0 and os.path.exists(html), r.err[-300:])
    check_terminal(f"{tag} report stderr", r.err)
    if os.path.exists(html):
        page_html = open(html, "rb").read()
        check(f"{tag} report: exactly its own three script elements (data, uPlot, its script)",
              page_html.count(b"<script") == 3 and b"alert(1)</script>" not in page_html and b"FORGED" not in
              page_html.split(b'<script id="gd-data"')[0], page_html.count(b"<script"))
    r = run([GD, "events", "--db", db], env)
    check_exit(f"{tag} events", r)
    check_terminal(f"{tag} events", r.out)
    types = set()
    r = run([GD, "events", "--db", db, "--format", "json"], env)
    check_exit(f"{tag} events --format json", r)
    doc = check_json(f"{tag} events --format json", r.out)
    if isinstance(doc, list):
        types = {e.get("type") for e in doc if isinstance(e, dict)}
    check(f"{tag}: events hold gpu_added and xid (the hostile text was seen)", {"gpu_added", "xid"} <= types,
          str(sorted(t for t in types if t)))


def part_watch(tmp, uts):
    d = os.path.join(tmp, "watch")
    os.makedirs(d)
    root, _, env = sim_node.make(d, SIM_DIR, scenario=SCENARIO, edit=nvml_edit)
    with open(os.path.join(root, "etc/hostname"), "wb") as f:
        f.write(b"node" + ALL + b"\n")
    for compat in (False, True):
        tag = "watch dcgm" if compat else "watch"
        log = os.path.join(d, f"{'dcgm' if compat else 'plain'}-kern.log")
        with open(log, "wb") as f:
            f.write(kernel_log(list(PAYLOADS.values())))
        watch_run(tag.replace(" ", "-"), d, root, env, log, compat, uts_preexec() if uts else None)


SHELL_META = set("$`;|&<>()\\\"\n")


def unquoted_meta(cmd):
    """Shell metacharacters outside single quotes in a printed command line."""
    out, quoted = [], False
    for ch in cmd:
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch in SHELL_META:
            out.append(ch)
    return out


def part_slurm(tmp, uts):
    d = os.path.join(tmp, "slurm")
    os.makedirs(d)
    root, _, env = sim_node.make(d, SIM_DIR, scenario=SCENARIO, edit=nvml_edit)
    log = os.path.join(d, "kern.log")
    with open(log, "wb") as f:
        f.write(kernel_log(list(PAYLOADS.values())))
    fake = os.path.join(d, "scontrol")
    with open(fake, "w") as f:
        f.write('#!/bin/sh\nd=$(dirname "$0")\ncat "$d/node_line"\ncat "$d/node_err" >&2\nexit $(cat "$d/node_rc")\n')
    os.chmod(fake, 0o755)

    def fake_says(line, err=b"", rc=0):
        for n, v in (("node_line", line), ("node_err", err), ("node_rc", b"%d" % rc)):
            with open(os.path.join(d, n), "wb") as f:
                f.write(v)
    base = [GD, "slurm-health", "--root", root, "--kernel-log", log, "--since", "all", "--scontrol", fake,
            "--timeout", "3"]

    def would_run_line(tag, r):
        lines = [ln for ln in r.out.decode("utf-8", "replace").split("\n") if ln.startswith("would run")]
        check(f"{tag}: prints the scontrol update it would run", len(lines) == 1, repr(r.out[-400:]))
        if not lines:
            return
        cmd = lines[0].split(":", 1)[1]
        meta = unquoted_meta(cmd)
        check(f"{tag}: would-run line is shell-safe to paste", not meta, f"unquoted {''.join(meta)!r} in {cmd[:200]!r}")
        # The reason as printed: to the closing quote, or the end of the line (wherever the line starts).
        m = re.search(rb"'Reason=([^'\n]*)'|Reason=(\S*)", r.out)
        reason = (m.group(1) or m.group(2) or b"").decode("utf-8", "replace") if m else ""
        check(f"{tag}: drain reason gpudoctor:-prefixed, <= 120 chars",
              reason.startswith("gpudoctor:") and len(reason) <= 120, f"{len(reason)}: {reason[:200]!r}")
        check_terminal(f"{tag}: drain reason", reason.encode())

    def refused(tag, r):
        # A node name Slurm itself would not accept goes into no argv and no printed command: exit 3, said why.
        check(f"{tag}: refused (exit 3, 'not a Slurm node name'), nothing would run",
              r.rc == 3 and b"is not a Slurm node name" in r.err and b"would run" not in r.out,
              f"rc={r.rc} out={r.out[-200:]!r} err={r.err[-200:]!r}")

    fake_says(b"NodeName=n1 Arch=x86_64 CPUAlloc=0 State=IDLE ThreadsPerCore=1 Reason=(null)\n")
    r = run(base + ["--node", "n1"], env)
    check_exit("slurm-health idle node", r)
    check(f"slurm-health idle node: exit 2 (critical Xid from the log)", r.rc == 2, f"rc={r.rc} {r.out[-300:]!r}")
    check_terminal("slurm-health idle node", r.out)
    check_terminal("slurm-health idle node stderr", r.err)
    would_run_line("slurm-health idle node", r)

    fake_says(b"NodeName=n1 CPUAlloc=0 State=IDLE+DRAIN\x1b[31m Reason=admin " + ALL + b" [root@2026-12-01T00:00:00]\n")
    r = run(base + ["--node", "n1"], env)
    check_exit("slurm-health hostile foreign drain", r)
    check_terminal("slurm-health hostile foreign drain", r.out)
    check_terminal("slurm-health hostile foreign drain stderr", r.err)

    fake_says(b"", err=b"scontrol: error: " + ALL + PAYLOADS["long"], rc=1)
    r = run(base + ["--node", "n1"], env)
    check_exit("slurm-health scontrol failing", r)
    check("slurm-health scontrol failing: exit 3", r.rc == 3, f"rc={r.rc}")
    check_terminal("slurm-health scontrol failing", r.out)
    check_terminal("slurm-health scontrol failing stderr", r.err)

    r = run([GD, "slurm-health", "--root", root, "--kernel-log", log, "--since", "all", "--node", "n1",
             "--scontrol", os.path.join(d, "no-such-scontrol"), "--timeout", "3"], env)
    check_exit("slurm-health no scontrol", r)
    check("slurm-health no scontrol: exit 3", r.rc == 3, f"rc={r.rc} {r.err[-200:]!r}")
    check_terminal("slurm-health no scontrol stderr", r.err)

    for args, rule in (([], "text"), (["--json"], "json")):
        r = run([GD, "ledger", "--root", root, *args], env)
        check_exit(f"ledger {rule}", r)
        (check_json if rule == "json" else check_terminal)(f"ledger {rule}", r.out)

    if uts:  # node name from the kernel's (hostile) host name, as on a node without SLURMD_NODENAME
        fake_says(b"NodeName=n1 Arch=x86_64 CPUAlloc=0 State=IDLE ThreadsPerCore=1 Reason=(null)\n")
        env2 = {k: v for k, v in env.items() if k != "SLURMD_NODENAME"}
        r = run(base, env2, preexec=uts_preexec())
        check_exit("slurm-health hostile host name", r)
        check_terminal("slurm-health hostile host name", r.out)
        check_terminal("slurm-health hostile host name stderr", r.err)
        refused("slurm-health hostile host name", r)
        # No space in the name (it was once printed unquoted in the would-run line: pasted, it ran reboot).
        r = run(base, env2, preexec=uts_preexec(b"n$(reboot);`id`|rm\x1b[31mR"))
        check_exit("slurm-health host name without spaces", r)
        check_terminal("slurm-health host name without spaces", r.out)
        check_terminal("slurm-health host name without spaces stderr", r.err)
        refused("slurm-health host name without spaces", r)
        # The same name given with --node is refused the same way.
        r = run(base + ["--node", "n$(reboot);`id`"], env)
        check_terminal("slurm-health --node with shell text stderr", r.err)
        refused("slurm-health --node with shell text", r)


def main():
    t0 = time.time()
    uts = uts_possible()
    if not uts:
        skipped.append("kernel host name (gethostname) for watch and slurm-health: unshare(CLONE_NEWUTS) not permitted")
    with tempfile.TemporaryDirectory(prefix="gd-hostile-") as tmp:
        part_hostname_file(tmp)
        part_kernel_log(tmp)
        part_nvml(tmp)
        part_watch(tmp, uts)
        part_slurm(tmp, uts)
    for s in skipped:
        print(f"SKIPPED {s}")
    print(f"{passed} passed, {len(failures)} failed in {time.time() - t0:.1f} s")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
