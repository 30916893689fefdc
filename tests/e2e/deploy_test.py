#!/usr/bin/env python3
"""Checks of the deployment files: deploy/systemd and deploy/kubernetes.

Usage: deploy_test.py BUILD/gpudoctor SOURCE_DIR [NVIDIA_CACHE]

- systemd: `systemd-analyze verify` of gpudoctor-watch.service (ExecStart
  pointed at the built binary, which verify requires to exist) and of Debian's
  nvidia-persistenced.service with our drop-in (from NVIDIA_CACHE, default
  BUILD/nvidia, unpacked by scripts/fetch-nvidia; that part is skipped, saying
  so, when it is absent). verify exits 0 on an unknown directive or a bad
  value and only prints a warning, so any output counts as a failure; three
  broken copies prove that a misspelt key, a bad value and a missing program
  are caught. `systemd-analyze security --offline` gives the exposure score,
  which must stay at or below MAX_EXPOSURE. Then the directives that matter
  are read back (hardening present, nothing that would blind watch).
- Kubernetes and NPD: every manifest parses; the fields that matter are
  checked (the watch DaemonSet is not privileged and mounts the host
  read-only; the fix Job is privileged with hostPID; NPD's timeouts nest).
- Every gpudoctor command line in a unit or manifest goes through the real
  binary: the subcommand and every option must be listed by its --help (CLI11
  ignores unknown options when --help is given, so running `ARGS --help` alone
  proves nothing about names), and `ARGS --help` must exit 0 (CLI11 still
  checks the values: ranges, durations, existing directories).

Exit 0 when every check passes, 1 when one fails, 77 (skipped) only when
systemd-analyze or PyYAML is missing.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

try:
    import yaml
except ImportError:
    print("SKIPPED: PyYAML (python3-yaml) is not installed")
    sys.exit(77)

if len(sys.argv) < 3:
    print(__doc__)
    sys.exit(1)
GD = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(sys.argv[2])
CACHE = os.path.abspath(sys.argv[3]) if len(sys.argv) > 3 else os.path.join(os.path.dirname(GD), "nvidia")
SYSTEMD = os.path.join(SRC, "deploy/systemd")
K8S = os.path.join(SRC, "deploy/kubernetes")
ANALYZE = shutil.which("systemd-analyze")
if not ANALYZE:
    print("SKIPPED: systemd-analyze is not installed (package systemd)")
    sys.exit(77)

# The highest `systemd-analyze security` exposure accepted for the watch unit
# (0 = fully locked down, 10 = nothing). 2.6 with systemd 252.
MAX_EXPOSURE = 4.0

# Options that manifests already use but the binary does not have yet. Each
# entry is skipped by the option-name check while the binary lacks it; once
# its --help lists it, it is checked like any other and a note asks to remove
# the entry. Remove entries here when the options exist.
PENDING_OPTIONS = set()  # none now: `check --format npd|nagios` exists

failures = []
passed = 0
notes = []
STARTED = time.monotonic()


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}" + (f": {detail}" if detail else ""))


def run(argv, **kw):
    env = dict(os.environ, SYSTEMD_LOG_COLOR="0", SYSTEMD_PAGER="cat", LC_ALL="C")
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env, **kw)


# ---------------------------------------------------------------- unit files

def unit_entries(text):
    """[(section, key, value)] of a unit file, in order (keys repeat)."""
    out, section, pending = [], None, ""
    for raw in text.splitlines():
        line = pending + raw.strip()
        pending = ""
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def values(entries, section, key):
    """The effective list of a key: an empty assignment clears what came before."""
    got = []
    for s, k, v in entries:
        if s == section and k == key:
            got = [] if v == "" else got + [v]
    return got


def last(entries, section, key):
    v = values(entries, section, key)
    return v[-1] if v else None


def is_yes(v):
    return v is not None and v.lower() in ("yes", "true", "on", "1")


def verify(unit_path):
    """(clean, output): clean only when verify exits 0 and prints nothing."""
    p = run([ANALYZE, "verify", "--man=no", unit_path])
    out = (p.stdout + p.stderr).strip()
    return p.returncode == 0 and not out, out or f"exit {p.returncode}"


def exec_argv(value):
    """The argv of an Exec*= value, without systemd's prefixes (-, @, :, +, !)."""
    return shlex.split(value.lstrip("-@:+!"))


def option_value(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


commands = []  # (where, argv after "gpudoctor")

with tempfile.TemporaryDirectory() as tmp:
    # ---- gpudoctor-watch.service
    unit_src = os.path.join(SYSTEMD, "gpudoctor-watch.service")
    text = open(unit_src).read()
    entries = unit_entries(text)
    starts = values(entries, "Service", "ExecStart")
    check("watch unit: one ExecStart", len(starts) == 1, starts)
    argv = exec_argv(starts[0]) if starts else []
    check("watch unit: ExecStart runs /usr/bin/gpudoctor watch", argv[:2] == ["/usr/bin/gpudoctor", "watch"], argv)
    commands.append(("gpudoctor-watch.service ExecStart", argv[1:]))

    def unit_copy(name, content):
        d = tempfile.mkdtemp(dir=tmp)
        path = os.path.join(d, name)
        with open(path, "w") as f:
            f.write(content)
        return path

    built = re.sub(r"^ExecStart=/usr/bin/gpudoctor ", f"ExecStart={GD} ", text, count=1, flags=re.M)
    check("watch unit: ExecStart rewritten to the built binary", built != text)
    clean, out = verify(unit_copy("gpudoctor-watch.service", built))
    check("watch unit: systemd-analyze verify is clean", clean, out)

    # The check must see mistakes; each broken copy must be flagged.
    broken = {
        "a misspelt directive (NoNewPrivilege=)": (built, "\nNoNewPrivileges=", "\nNoNewPrivilege="),
        "a bad value (Type=exek)": (built, "\nType=exec\n", "\nType=exek\n"),
        "a missing program": (text, "ExecStart=/usr/bin/gpudoctor ", "ExecStart=/nonexistent/gpudoctor "),
    }
    for what, (base, old, new) in broken.items():
        check(f"watch unit: the broken copy with {what} differs", old in base)
        clean, _ = verify(unit_copy("gpudoctor-watch.service", base.replace(old, new, 1)))
        check(f"watch unit: verify catches {what}", not clean, "a broken unit verified clean")

    # Exposure score. --offline needs systemd 250 or later.
    p = run([ANALYZE, "security", "--offline=yes", "--no-pager", unit_copy("gpudoctor-watch.service", built)])
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", p.stdout + p.stderr)
    if m:
        exposure = float(m.group(1))
        print(f"systemd-analyze security: exposure {exposure} (at most {MAX_EXPOSURE} accepted)")
        check(f"watch unit: exposure {exposure} <= {MAX_EXPOSURE}", exposure <= MAX_EXPOSURE)
    elif "offline" in (p.stderr or ""):
        notes.append("systemd-analyze security --offline not supported here (systemd < 250): score not checked")
    else:
        check("watch unit: systemd-analyze security gives a score", False, (p.stdout + p.stderr)[-400:])

    # The directives, read back.
    want = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "StateDirectory": "gpudoctor",
        "ProtectHome": "yes", "PrivateTmp": "yes", "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes", "ProtectControlGroups": "yes", "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "Restart": "on-failure",
    }
    for key, value in want.items():
        got = last(entries, "Service", key)
        ok = (is_yes(got) if value == "yes" else got == value)
        check(f"watch unit: {key}={value}", ok, f"got {got!r}")
    # What would blind watch: no device nodes, no /dev/kmsg, no other users'
    # /proc entries, no /proc/driver.
    check("watch unit: not PrivateDevices=yes (NVML opens /dev/nvidia*)",
          not is_yes(last(entries, "Service", "PrivateDevices")))
    check("watch unit: not ProtectKernelLogs=yes (/dev/kmsg is the Xid source)",
          not is_yes(last(entries, "Service", "ProtectKernelLogs")))
    check("watch unit: not ProtectProc=invisible/noaccess (persistenced's /proc entry)",
          last(entries, "Service", "ProtectProc") in (None, "default"))
    check("watch unit: not ProcSubset=pid (/proc/driver/nvidia, /proc/modules)",
          last(entries, "Service", "ProcSubset") in (None, "all"))
    check("watch unit: not PrivateUsers=yes", not is_yes(last(entries, "Service", "PrivateUsers")))
    allow = values(entries, "Service", "DeviceAllow")
    check("watch unit: DeviceAllow char-nvidia* rw", any(a.split()[0].startswith("char-nvidia") and
                                                        "rw" in a.split()[1:2] for a in allow), allow)
    check("watch unit: DeviceAllow /dev/kmsg", any(a.split()[0] == "/dev/kmsg" for a in allow), allow)
    caps = " ".join(values(entries, "Service", "CapabilityBoundingSet")).split()
    check("watch unit: CapabilityBoundingSet keeps CAP_SYSLOG only", caps == ["CAP_SYSLOG"], caps)
    after = " ".join(values(entries, "Unit", "After")).split()
    check("watch unit: After=nvidia-persistenced.service", "nvidia-persistenced.service" in after, after)
    for dep in ("Wants", "Requires", "Requisite", "BindsTo", "PartOf"):
        check(f"watch unit: no {dep}= on nvidia-persistenced (a monitor does not start what it monitors)",
              "nvidia-persistenced.service" not in " ".join(values(entries, "Unit", dep)).split())
    db = option_value(argv, "--db")
    state = last(entries, "Service", "StateDirectory")
    check("watch unit: --db lies in the StateDirectory", db is not None and state is not None and
          os.path.dirname(db) == f"/var/lib/{state}", f"--db {db}, StateDirectory {state}")
    listen = option_value(argv, "--listen")
    check("watch unit: --listen on loopback", listen is not None and listen.startswith("127.0.0.1:"), listen)

    # ---- nvidia-persistenced.service (Debian's) + our drop-in
    real_unit = os.path.join(CACHE, "root/lib/systemd/system/nvidia-persistenced.service")
    real_bin = os.path.join(CACHE, "root/usr/bin/nvidia-persistenced")
    dropin_src = os.path.join(SYSTEMD, "nvidia-persistenced.override.conf")
    dropin_text = open(dropin_src).read()
    dropin = unit_entries(dropin_text)
    starts = [v for s, k, v in dropin if s == "Service" and k == "ExecStart"]
    check("drop-in: clears ExecStart, then sets one", len(starts) == 2 and starts[0] == "", starts)
    new_argv = exec_argv(starts[-1]) if starts and starts[-1] else []
    check("drop-in: runs /usr/bin/nvidia-persistenced", new_argv[:1] == ["/usr/bin/nvidia-persistenced"], new_argv)
    check("drop-in: --verbose", "--verbose" in new_argv, new_argv)
    check("drop-in: never --no-persistence-mode", "--no-persistence-mode" not in new_argv, new_argv)
    check("drop-in: Restart=on-failure", last(dropin, "Service", "Restart") == "on-failure")
    before = " ".join(values(dropin, "Unit", "Before")).split()
    for unit in ("containerd.service", "docker.service", "kubelet.service", "slurmd.service"):
        check(f"drop-in: Before={unit}", unit in before, before)
    if not (os.path.isfile(real_unit) and os.path.isfile(real_bin)):
        notes.append(f"SKIPPED the nvidia-persistenced part: {real_unit} or {real_bin} is missing "
                     "(scripts/fetch-nvidia could not reach the registry)")
    else:
        real_text = open(real_unit).read()
        real = unit_entries(real_text)
        real_start = values(real, "Service", "ExecStart")
        check("Debian's unit: ExecStart as README.md quotes it",
              real_start == ["/usr/bin/nvidia-persistenced --user nvpd"], real_start)
        readme = open(os.path.join(SYSTEMD, "README.md")).read()
        for s, k, v in real:
            check(f"README.md quotes Debian's unit line {k}={v}", f"{k}={v}" in readme)
        real_argv = exec_argv(real_start[0]) if real_start else []
        check("drop-in: keeps the packaged user", option_value(new_argv, "--user") ==
              option_value(real_argv, "--user"), f"{new_argv} vs {real_argv}")
        # Every option of the new command line is in the daemon's option table
        # (its long names are NUL-terminated strings; --no-X is the negation of X).
        binary = open(real_bin, "rb").read()
        for a in new_argv[1:]:
            if a.startswith("--"):
                name = a[2:].split("=", 1)[0]
                base = name[3:] if name.startswith("no-") else name
                check(f"nvidia-persistenced 535 has option {a}", b"\0" + base.encode() + b"\0" in binary)
        check("the option check sees a missing option", b"\0uvm-persistence-mode\0" not in binary)

        def persistenced_copy(dropin_content):
            d = tempfile.mkdtemp(dir=tmp)
            os.mkdir(os.path.join(d, "nvidia-persistenced.service.d"))
            with open(os.path.join(d, "nvidia-persistenced.service"), "w") as f:
                f.write(real_text.replace("/usr/bin/nvidia-persistenced", real_bin))
            with open(os.path.join(d, "nvidia-persistenced.service.d/override.conf"), "w") as f:
                f.write(dropin_content)
            return os.path.join(d, "nvidia-persistenced.service")

        clean, out = verify(persistenced_copy(dropin_text.replace("/usr/bin/nvidia-persistenced", real_bin)))
        check("Debian's nvidia-persistenced.service + drop-in: verify is clean", clean, out)
        # The drop-in is really loaded (its ExecStart is checked) and checked.
        clean, _ = verify(persistenced_copy(dropin_text))
        check("drop-in: verify sees the drop-in's ExecStart (a missing program is caught)", not clean)
        clean, _ = verify(persistenced_copy(dropin_text.replace("/usr/bin/nvidia-persistenced", real_bin)
                                            .replace("\nRestartSec=", "\nRestartSecs=")))
        check("drop-in: verify catches a misspelt directive in it", not clean)

    # ---------------------------------------------------------- Kubernetes
    docs = {}
    for name in sorted(os.listdir(K8S)):
        if not name.endswith((".yaml", ".yml")):
            continue
        try:
            loaded = [d for d in yaml.safe_load_all(open(os.path.join(K8S, name))) if d is not None]
        except yaml.YAMLError as e:
            check(f"{name}: parses as YAML", False, str(e))
            continue
        docs[name] = loaded
        for d in loaded:
            check(f"{name}: every document has apiVersion, kind, metadata.name",
                  isinstance(d, dict) and d.get("apiVersion") and d.get("kind") and
                  (d.get("metadata") or {}).get("name"), str(d)[:200])

    def one(name, kind):
        found = [d for d in docs.get(name, []) if d.get("kind") == kind]
        check(f"{name}: one {kind}", len(found) == 1, f"{len(found)} found")
        return found[0] if found else None

    def pod_spec(obj):
        return ((obj or {}).get("spec") or {}).get("template", {}).get("spec") or {}

    def host_paths(spec):
        return {v["name"]: v["hostPath"]["path"] for v in spec.get("volumes", []) if "hostPath" in v}

    def gpu_requests(obj):
        """Every resources key naming an NVIDIA device anywhere in the object."""
        found = []

        def walk(x):
            if isinstance(x, dict):
                for k, v in x.items():
                    if k in ("requests", "limits") and isinstance(v, dict):
                        found.extend(r for r in v if r.startswith("nvidia.com/"))
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)
        walk(obj)
        return found

    # ---- the watch DaemonSet
    name = "gpudoctor-watch-daemonset.yaml"
    ds = one(name, "DaemonSet")
    spec = pod_spec(ds)
    check(f"{name}: runtimeClassName nvidia", spec.get("runtimeClassName") == "nvidia")
    check(f"{name}: priorityClassName system-node-critical",
          spec.get("priorityClassName") == "system-node-critical")
    check(f"{name}: tolerates nvidia.com/gpu", any(t.get("key") == "nvidia.com/gpu"
                                                   for t in spec.get("tolerations", [])))
    for field in ("hostPID", "hostNetwork", "hostIPC"):
        check(f"{name}: no {field}", not spec.get(field))
    check(f"{name}: no nvidia.com/gpu request or limit", not gpu_requests(ds), gpu_requests(ds))
    paths = host_paths(spec)
    containers = spec.get("containers", [])
    check(f"{name}: one container", len(containers) == 1)
    for c in containers + spec.get("initContainers", []):
        sc = c.get("securityContext") or {}
        cn = f"{name}: container {c.get('name')}"
        check(f"{cn}: not privileged", not sc.get("privileged"))
        check(f"{cn}: allowPrivilegeEscalation false", sc.get("allowPrivilegeEscalation") is False)
        check(f"{cn}: readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
        caps = sc.get("capabilities") or {}
        check(f"{cn}: drops ALL capabilities, adds none", "ALL" in (caps.get("drop") or []) and
              not caps.get("add"), caps)
        env = {e["name"]: e.get("value") for e in c.get("env", [])}
        check(f"{cn}: NVIDIA_VISIBLE_DEVICES=all", env.get("NVIDIA_VISIBLE_DEVICES") == "all")
        check(f"{cn}: NVIDIA_DRIVER_CAPABILITIES has utility",
              "utility" in (env.get("NVIDIA_DRIVER_CAPABILITIES") or "").split(","))
        cmd = (c.get("command") or []) + (c.get("args") or [])
        check(f"{cn}: runs /usr/bin/gpudoctor watch", cmd[:2] == ["/usr/bin/gpudoctor", "watch"], cmd)
        commands.append((cn, cmd[1:]))
        root, db, listen = (option_value(cmd, o) for o in ("--root", "--db", "--listen"))
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        # Every host path read-only, except the history's folder.
        for m in c.get("volumeMounts", []):
            if m["name"] in paths:
                writable_ok = db is not None and m["mountPath"] == os.path.dirname(db) and paths[m["name"]] != "/"
                check(f"{cn}: hostPath {paths[m['name']]} at {m['mountPath']} read-only"
                      + (" (or the history's folder)" if writable_ok else ""), m.get("readOnly") or writable_ok)
        state = mounts.get(os.path.join(root or "/", "var/lib/gpudoctor"))
        check(f"{cn}: the ledger's folder (--root's var/lib/gpudoctor) is a writable host folder",
              state is not None and not state.get("readOnly") and paths.get(state["name"]) == "/var/lib/gpudoctor",
              sorted(mounts))
        root_mount = mounts.get(root or "")
        check(f"{cn}: --root {root} is the host's / mounted read-only", root_mount is not None and
              paths.get(root_mount["name"]) == "/" and root_mount.get("readOnly") is True)
        host, _, port = (listen or "").rpartition(":")
        check(f"{cn}: --listen on all of the pod's addresses", host in ("0.0.0.0", "[::]"), listen)
        ports = {p.get("name"): p["containerPort"] for p in c.get("ports", [])}
        check(f"{cn}: --listen port is a containerPort", port.isdigit() and int(port) in ports.values(),
              f"{listen} vs {ports}")
        live = (c.get("livenessProbe") or {}).get("httpGet") or {}
        live_port = ports.get(live.get("port"), live.get("port"))
        check(f"{cn}: liveness probe GET /metrics on the --listen port",
              live.get("path") == "/metrics" and str(live_port) == port, live)
        res = c.get("resources") or {}
        check(f"{cn}: requests cpu and memory, limits memory",
              {"cpu", "memory"} <= set(res.get("requests") or {}) and "memory" in (res.get("limits") or {}), res)

    # ---- the fix Job
    name = "gpudoctor-fix-job.yaml"
    job = one(name, "Job")
    spec = pod_spec(job)
    check(f"{name}: hostPID", spec.get("hostPID") is True)
    check(f"{name}: restartPolicy Never, backoffLimit 0",
          spec.get("restartPolicy") == "Never" and (job or {}).get("spec", {}).get("backoffLimit") == 0)
    check(f"{name}: pinned to one node", bool(spec.get("nodeName")))
    check(f"{name}: no nvidia.com/gpu request or limit", not gpu_requests(job), gpu_requests(job))
    paths = host_paths(spec)
    for c in spec.get("containers", []):
        cn = f"{name}: container {c.get('name')}"
        check(f"{cn}: privileged", (c.get("securityContext") or {}).get("privileged") is True)
        script = " ".join((c.get("command") or []) + (c.get("args") or []))
        lines = [shlex.split(m.group(1)) for m in
                 re.finditer(r"/usr/bin/gpudoctor((?:[ \t]+[^\s;|&)]+)+)", script)]
        check(f"{cn}: runs gpudoctor", bool(lines))
        for i, argv in enumerate(lines):
            commands.append((f"{cn} command {i + 1}", argv))
        root_mounts = [m["mountPath"] for m in c.get("volumeMounts", []) if paths.get(m["name"]) == "/"]
        for a in lines:
            if option_value(a, "--root") is not None:
                check(f"{cn}: `gpudoctor {' '.join(a)}`: --root is the host's / mount",
                      option_value(a, "--root") in root_mounts, root_mounts)
        check(f"{cn}: runs fix --yes --root on the host's /", any(
            a[:1] == ["fix"] and "--yes" in a and option_value(a, "--root") in root_mounts for a in lines),
            f"{lines} / {root_mounts}")

    # ---- node-problem-detector
    npd_file = os.path.join(K8S, "npd-gpudoctor.json")
    try:
        npd = json.load(open(npd_file))
    except ValueError as e:
        npd = {}
        check("npd-gpudoctor.json: parses as JSON", False, str(e))

    def seconds(d):
        m = re.fullmatch(r"([0-9.]+)(ms|s|m|h)?", str(d).strip())
        if not m:
            return None
        return float(m.group(1)) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[m.group(2)]

    cfg = npd.get("pluginConfig") or {}
    check("npd: plugin custom", npd.get("plugin") == "custom")
    g_timeout, g_interval = seconds(cfg.get("timeout", "5s")), seconds(cfg.get("invoke_interval", "30s"))
    check("npd: global timeout < invoke_interval", g_timeout is not None and g_interval is not None and
          g_timeout < g_interval, cfg)
    check("npd: max_output_length >= 80 (check's message line)", (cfg.get("max_output_length") or 80) >= 80)
    conditions = {c.get("type") for c in npd.get("conditions", [])}
    check("npd: condition GpuUnhealthy", "GpuUnhealthy" in conditions)
    rules = npd.get("rules") or []
    check("npd: a permanent GpuUnhealthy rule", any(r.get("type") == "permanent" and
                                                    r.get("condition") == "GpuUnhealthy" for r in rules))
    npd_roots = []
    for i, r in enumerate(rules):
        rn = f"npd rule {i + 1} ({r.get('reason')})"
        t = seconds(r.get("timeout", cfg.get("timeout", "5s")))
        check(f"{rn}: timeout <= global timeout", t is not None and g_timeout is not None and t <= g_timeout,
              f"{r.get('timeout')} vs {cfg.get('timeout')}")
        if r.get("type") == "permanent":
            check(f"{rn}: condition is declared", r.get("condition") in conditions)
        check(f"{rn}: runs /usr/bin/gpudoctor", r.get("path") == "/usr/bin/gpudoctor", r.get("path"))
        args = r.get("args") or []
        check(f"{rn}: args are check --format npd", args[:1] == ["check"] and
              option_value(args, "--format") == "npd", args)
        commands.append((rn, args))
        # gpudoctor must answer before NPD kills it: --timeout bounds NVML,
        # CUDA may take as long again; 5 s for the rest (start, journal).
        gd_timeout = seconds(option_value(args, "--timeout") or "10")
        check(f"{rn}: 2 x gpudoctor --timeout + 5 s <= rule timeout", gd_timeout is not None and t is not None
              and 2 * gd_timeout + 5 <= t, f"--timeout {gd_timeout}, rule {t}")
        if option_value(args, "--root"):
            npd_roots.append(option_value(args, "--root"))

    name = "npd-daemonset-snippet.yaml"
    nds = one(name, "DaemonSet")
    spec = pod_spec(nds)
    paths = host_paths(spec)
    config_dirs = {v["name"] for v in spec.get("volumes", []) if "configMap" in v}
    for c in spec.get("containers", []):
        cn = f"{name}: container {c.get('name')}"
        cmd = (c.get("command") or []) + (c.get("args") or [])
        flag = [a.split("=", 1)[1] for a in cmd if a.startswith("--config.custom-plugin-monitor=")]
        check(f"{cn}: --config.custom-plugin-monitor names npd-gpudoctor.json",
              any(f.split(",")[0].endswith("/npd-gpudoctor.json") for f in flag), cmd)
        mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
        for f in flag:
            for path in f.split(","):
                m = mounts.get(os.path.dirname(path))
                check(f"{cn}: {path} comes from a ConfigMap mount", m is not None and m["name"] in config_dirs)
        for root in npd_roots:
            m = mounts.get(root)
            check(f"{cn}: the rule's --root {root} is the host's / read-only", m is not None and
                  paths.get(m["name"]) == "/" and m.get("readOnly") is True)
    check(f"{name}: no nvidia.com/gpu request or limit", not gpu_requests(nds), gpu_requests(nds))

    # ------------------------------------------------- gpudoctor command lines
    help_cache = {}

    def options_of(sub):
        if sub not in help_cache:
            p = run([GD, sub, "--help"])
            names = set()
            for line in p.stdout.splitlines():
                m = re.match(r"\s+((?:-\w,)?--[\w-]+)", line)
                if m:
                    names.add(m.group(1).split(",")[-1])
            help_cache[sub] = names
        return help_cache[sub]

    top = run([GD, "--help"]).stdout
    subcommands = set(re.findall(r"^  (\w[\w-]*)\s", top.split("Subcommands:", 1)[-1], re.M))
    check("gpudoctor --help lists subcommands", {"watch", "check", "fix"} <= subcommands, subcommands)
    local_root = tempfile.mkdtemp(dir=tmp)  # stands in for /host: --root must be an existing directory

    def cli_problems(argv):
        problems = []
        if not argv or argv[0] not in subcommands:
            return [f"no subcommand {argv[:1]}"]
        known = options_of(argv[0])
        for a in argv[1:]:
            if not a.startswith("--"):
                continue
            opt = a.split("=", 1)[0]
            if (argv[0], opt) in PENDING_OPTIONS:
                if opt in known:
                    notes.append(f"{argv[0]} {opt} exists now: remove it from PENDING_OPTIONS")
                else:
                    notes.append(f"not checked: {argv[0]} {opt} (PENDING_OPTIONS, not in the binary yet)")
                    continue
            if opt not in known:
                problems.append(f"{argv[0]} has no option {opt}")
        mapped = list(argv)
        for i, a in enumerate(mapped[:-1]):
            if a == "--root":
                mapped[i + 1] = local_root
        p = run([GD] + mapped + ["--help"])
        if p.returncode != 0:
            problems.append(f"`gpudoctor {' '.join(argv)} --help` exit {p.returncode}: {p.stderr.strip()[:200]}")
        return problems

    for where, argv in commands:
        problems = cli_problems(argv)
        check(f"{where}: `gpudoctor {' '.join(argv)}` parses", not problems, "; ".join(problems))
    # The CLI check sees mistakes: an unknown option, a value out of range.
    check("CLI check catches an unknown option", cli_problems(["watch", "--no-such-option"]))
    check("CLI check catches a bad value", cli_problems(["watch", "--retention-days", "0"]))
    check("CLI check catches an unknown subcommand", cli_problems(["wtach"]))

for n in dict.fromkeys(notes):
    print("NOTE:", n)
print(f"deploy: {time.monotonic() - STARTED:.1f} s")
for f in failures:
    print("FAIL:", f)
print(f"deploy: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
