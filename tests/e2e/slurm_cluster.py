#!/usr/bin/env python3
"""A real one-box Slurm cluster (munged + slurmctld + slurmd on localhost) for tests.

Everything lives under the directory the caller gives: the munge key and
socket, slurm.conf, cgroup.conf, an empty plugstack.conf, the controller's
state, the node's spool, pid files and logs.  Nothing under /etc, /run or
/var is read for configuration or written.  The daemons run in the
foreground as children of this process, each in its own session and
process group; stop() also finds what they started in other sessions (job
steps) by a marker variable in the environment, and kills it.

Typical use:

    with SlurmCluster(tmpdir, health_program=wrapper, health_interval=2) as c:
        c.wait_for(lambda: "DRAIN" in c.state_flags(), 10, "node drained")
        c.resume()

Every client command must see the cluster's slurm.conf: pass `cluster.env`
to subprocess calls, or use the helpers (scontrol, sinfo, squeue, sbatch).
slurmd runs the health program as root with an almost empty environment
(Slurm 22.05 gives it SLURMD_NODENAME and nothing else that helps), so a
health program that calls scontrol must be a wrapper that exports SLURM_CONF
and PATH itself: write_wrapper() writes one.

Needs root, the Debian packages slurmctld, slurmd, slurm-client and munge
(tested with Slurm 22.05.8 and munge 0.5.15), and a cgroup hierarchy that
slurmd 22.05 can initialise (it always loads a cgroup plugin, whatever the
proctrack and task plugins are; see _write_cgroup_conf).

Stdlib only; Python 3.8 or newer.
"""
import atexit
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time

# Programs the cluster needs, by name (looked up on PATH plus the sbin dirs).
REQUIRED_PROGRAMS = ("munged", "munge", "unmunge", "slurmctld", "slurmd",
                     "scontrol", "sinfo", "squeue", "sbatch", "scancel")

# The longest path a Unix socket address can hold (sun_path is 108 bytes,
# one of which is the terminating NUL).
_MAX_SOCKET_PATH = 107

# Variables from the caller's environment that would change what the Slurm
# clients do (an outer Slurm job, user defaults for output formats).
_CLIENT_ENV_PREFIXES = ("SLURM_", "SQUEUE_", "SINFO_", "SBATCH_", "SCONTROL_",
                        "SCANCEL_", "SALLOC_", "SRUN_")


class SlurmError(RuntimeError):
    """The cluster could not be started, queried or stopped."""


class SlurmUnavailable(SlurmError):
    """This machine cannot run the cluster at all (not root, programs absent)."""


def _search_path():
    """PATH with the system binary directories appended (daemons live in sbin)."""
    parts = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    for extra in ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                  "/sbin", "/bin"):
        if extra not in parts:
            parts.append(extra)
    return os.pathsep.join(parts)


def find_program(name):
    """Full path of a program, or None."""
    return shutil.which(name, path=_search_path())


def missing_prerequisites():
    """Reasons this machine cannot run a SlurmCluster; empty when it can."""
    reasons = []
    if os.geteuid() != 0:
        reasons.append("not running as root (slurmd must run health checks as root)")
    absent = [p for p in REQUIRED_PROGRAMS if find_program(p) is None]
    if absent:
        reasons.append("programs not found: " + ", ".join(absent) +
                       " (Debian: apt-get install slurmctld slurmd slurm-client munge)")
    return reasons


def free_tcp_port(exclude=()):
    """A TCP port on 127.0.0.1 nobody listens on right now.

    The kernel picks it (bind to port 0); there is a small window between
    closing it here and the daemon binding it, which is why start() checks
    that the daemons came up and reports their logs when they did not.
    """
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port
    raise SlurmError("could not find a free TCP port")


def tail(path, lines=40):
    """The last lines of a text file, or a note that it is missing."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return f"({path}: {e.strerror})"
    return "\n".join(data.splitlines()[-lines:])


def _session_of(pid):
    """Session id of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
    except OSError:
        return None
    # The command name is in parentheses and may contain anything; the fields
    # after the last ')' are: state ppid pgrp session ...
    fields = stat[stat.rfind(")") + 2:].split()
    try:
        return int(fields[3])
    except (IndexError, ValueError):
        return None


def _cmdline_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except OSError:
        return ""


def _environ_has(pid, entry):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return entry in f.read().split(b"\0")
    except OSError:
        return False


def parse_node_line(line):
    """`scontrol show node NAME -o` output as a dict.

    The line is `Key=Value Key=Value ...`; a value may contain blanks
    (Reason=x: y [root@2026-01-01T00:00:00], OS=Linux 6.1 ...), so the line
    is split before every blank that is followed by `Key=`.  A value that
    itself contains ` Word=` would be cut there; Reason is handled whole
    because scontrol prints it last.
    """
    line = line.strip()
    out = {}
    reason = None
    m = re.search(r"(?:^| )Reason=", line)
    if m:
        reason = line[m.end():]
        line = line[:m.start()]
    for part in re.split(r" (?=[A-Za-z][A-Za-z0-9_:/.]*=)", line):
        if "=" in part:
            key, value = part.split("=", 1)
            out[key] = value.strip()
    if reason is not None:
        out["Reason"] = reason.strip()
    return out


class SlurmCluster:
    """munged + slurmctld + slurmd on localhost, confined to `workdir`."""

    def __init__(self, workdir, health_program=None, health_interval=0, extra_conf="",
                 health_node_state="ANY", cluster_name="gdtest", node="localhost",
                 start_timeout=60.0, debug="debug"):
        self.workdir = os.path.abspath(workdir)
        self.health_program = os.path.abspath(health_program) if health_program else None
        self.health_interval = int(health_interval)
        self.health_node_state = health_node_state
        self.extra_conf = extra_conf
        self.cluster_name = cluster_name
        # NodeName=localhost works whatever the machine's hostname is: slurmd
        # looks itself up by hostname, then by aliases, and finally falls
        # back to a node called "localhost".
        self.node = node
        self.start_timeout = float(start_timeout)
        self.debug = debug

        d = self.workdir
        self.conf_path = os.path.join(d, "slurm.conf")
        self.cgroup_conf_path = os.path.join(d, "cgroup.conf")
        self.plugstack_path = os.path.join(d, "plugstack.conf")
        self.munge_dir = os.path.join(d, "munge")
        self.munge_key = os.path.join(self.munge_dir, "munge.key")
        self.munge_socket = os.path.join(d, "munge.sock")
        self.state_dir = os.path.join(d, "state")      # StateSaveLocation
        self.spool_dir = os.path.join(d, "spool")      # SlurmdSpoolDir
        self.log_dir = os.path.join(d, "log")
        self.run_dir = os.path.join(d, "run")
        self.logs = {
            "munged": os.path.join(self.log_dir, "munged.log"),
            "slurmctld": os.path.join(self.log_dir, "slurmctld.log"),
            "slurmctld.out": os.path.join(self.log_dir, "slurmctld.out"),
            "slurmd": os.path.join(self.log_dir, "slurmd.log"),
            "slurmd.out": os.path.join(self.log_dir, "slurmd.out"),
        }
        self.ctld_port = None
        self.slurmd_port = None
        self.hardware = {}
        self.procs = {}           # name -> Popen, in start order
        # A marker in the environment of the daemons and of every client
        # command (self.env).  slurmstepd starts its own session but inherits
        # slurmd's environment, and job tasks get the marker through the job's
        # environment (sbatch exports ours), so stop() finds them by it.  The
        # health program gets a clean environment but stays in slurmd's
        # session.
        self.marker = f"GD_SLURM_CLUSTER={self.workdir}"
        self._atexit_registered = False
        self.timings = {}
        # Session ids of every daemon this object started (each runs in its
        # own session); kept after stop() so strays can still be found.
        self.sessions = set()

    # ----------------------------------------------------------- environment

    @property
    def env(self):
        """Environment for any client command (scontrol, sbatch, ...)."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_CLIENT_ENV_PREFIXES)}
        env["SLURM_CONF"] = self.conf_path
        env["PATH"] = _search_path()
        env["GD_SLURM_CLUSTER"] = self.workdir
        return env

    def wrapper_exports(self):
        """Shell `export` lines a health-program wrapper needs (SLURM_CONF, PATH)."""
        return ("export SLURM_CONF=" + shlex.quote(self.conf_path) + "\n" +
                "export PATH=" + shlex.quote(_search_path()) + "\n")

    def write_wrapper(self, path, argv=None, body=""):
        """Write an executable /bin/sh script that exports the cluster's
        environment, runs `body` (shell text), then execs argv if given.
        Returns the absolute path.  Usable as health_program."""
        path = os.path.abspath(path)
        text = "#!/bin/sh\n# Written by slurm_cluster.py.\n" + self.wrapper_exports()
        if body:
            text += body.rstrip("\n") + "\n"
        if argv:
            text += "exec " + " ".join(shlex.quote(a) for a in argv) + "\n"
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        return path

    def _run(self, argv, check=True, timeout=30, input=None):
        argv = list(argv)
        exe = find_program(argv[0]) if os.sep not in argv[0] else argv[0]
        if exe is None:
            raise SlurmUnavailable(f"{argv[0]} not found")
        try:
            r = subprocess.run([exe] + argv[1:], env=self.env, cwd=self.workdir,
                               input=input, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, timeout=timeout, text=True)
        except subprocess.TimeoutExpired:
            raise SlurmError(f"{' '.join(argv)}: no answer within {timeout} s")
        if check and r.returncode != 0:
            raise SlurmError(f"{' '.join(argv)} exited {r.returncode}: "
                             f"{(r.stderr or r.stdout).strip()}")
        return r

    # ------------------------------------------------------------- clients

    def scontrol(self, *args, check=True, timeout=30):
        """Run scontrol with the cluster's config; returns stdout."""
        return self._run(["scontrol"] + list(args), check=check, timeout=timeout).stdout

    def sinfo(self, *args, check=True):
        return self._run(["sinfo"] + list(args), check=check).stdout

    def squeue(self, *args, check=True):
        return self._run(["squeue"] + list(args), check=check).stdout

    def node_info(self, node=None):
        """`scontrol show node NODE -o` as a dict (State, Reason, CPUAlloc, ...)."""
        out = self.scontrol("show", "node", node or self.node, "-o")
        lines = [l for l in out.splitlines() if l.strip()]
        if not lines:
            raise SlurmError(f"scontrol show node {node or self.node}: no output")
        return parse_node_line(lines[0])

    def state_flags(self, node=None):
        """The node's State split into a set: {"MIXED", "DRAIN"}, {"IDLE"}, ...
        A trailing '*' (not responding) shows as "NOT_RESPONDING"."""
        state = self.node_info(node).get("State", "")
        flags = set()
        for part in state.split("+"):
            if part.endswith("*"):
                flags.add("NOT_RESPONDING")
                part = part[:-1]
            if part:
                flags.add(part)
        return flags

    def sinfo_state(self, node=None):
        """sinfo's long state word for the node: idle, mixed, draining, drained, ..."""
        out = self.sinfo("-h", "-N", "-n", node or self.node, "-o", "%T").strip()
        return out.splitlines()[0].strip() if out else ""

    def is_idle(self, node=None):
        """Responding, IDLE, and neither drained nor down."""
        flags = self.state_flags(node)
        return "IDLE" in flags and not flags & {"DRAIN", "DOWN", "NOT_RESPONDING",
                                                 "FAIL", "INVALID_REG"}

    def is_responding(self, node=None):
        """Registered and answering: IDLE, MIXED or ALLOCATED (drained or not),
        not DOWN, not NOT_RESPONDING, not UNKNOWN."""
        flags = self.state_flags(node)
        return bool(flags & {"IDLE", "MIXED", "ALLOCATED"}) and not flags & {
            "DOWN", "NOT_RESPONDING", "UNKNOWN", "FAIL", "INVALID_REG"}

    def submit_sleep(self, seconds, name="gd-sleep"):
        """Submit `sleep SECONDS` as a batch job on the node; returns the job id."""
        out = self._run(["sbatch", "--parsable", "-J", name, "-w", self.node,
                         "-N", "1", "-n", "1", "-o", "/dev/null", "-e", "/dev/null",
                         "--chdir", self.workdir, "--wrap", f"sleep {int(seconds)}"]).stdout
        return int(out.strip().split(";")[0])

    def jobs_on_node(self, node=None):
        """Jobs squeue shows on the node: [{"id": 12, "state": "RUNNING", "name": ...}].

        Filtered here rather than with `squeue -w`: squeue turns the node name
        "localhost" into the machine's hostname and then rejects it."""
        node = node or self.node
        return [j for j in self.all_jobs() if node in self._expand(j["nodes"])]

    def all_jobs(self):
        """Every job squeue knows: [{"id", "state", "name", "nodes"}]."""
        out = self.squeue("-h", "-o", "%i|%T|%N|%j")
        jobs = []
        for line in out.splitlines():
            parts = line.strip().split("|", 3)
            if len(parts) == 4:
                jobs.append({"id": int(parts[0]), "state": parts[1],
                             "nodes": parts[2], "name": parts[3]})
        return jobs

    def _expand(self, hostlist):
        if not hostlist or hostlist == "(null)":
            return []
        if "[" not in hostlist:
            return hostlist.split(",")
        return self.scontrol("show", "hostnames", hostlist).split()

    def drain(self, reason, node=None):
        self.scontrol("update", f"NodeName={node or self.node}", "State=DRAIN",
                      f"Reason={reason}")

    def resume(self, node=None):
        """State=RESUME.  The controller then shows the node IDLE* (not
        responding) until its next ping of slurmd: from a few milliseconds
        up to about one HealthCheckInterval.  Use wait_idle() after it."""
        self.scontrol("update", f"NodeName={node or self.node}", "State=RESUME")

    def wait_idle(self, timeout=15, node=None):
        """Wait until the node is responding and IDLE, not drained or down."""
        return self.wait_for(lambda: self.is_idle(node), timeout,
                             f"node {node or self.node} to be IDLE", interval=0.05)

    def cancel_all(self):
        """Cancel every job (by id: `scancel -w localhost` has squeue's problem)."""
        ids = [str(j["id"]) for j in self.all_jobs()]
        if ids:
            self._run(["scancel", "--full"] + ids, check=False)

    def wait_for(self, predicate, timeout, what="condition", interval=0.2, check_alive=True):
        """Call predicate() until it returns something true; return that value.
        SlurmError from the predicate counts as "not yet".  On timeout raise
        SlurmError naming `what`, the last value or error, and the log tails.
        Also raises at once if one of the daemons has exited."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            try:
                value = predicate()
                if value:
                    return value
                last = value
            except SlurmError as e:
                last = e
            if check_alive:
                self._check_alive()
            if time.monotonic() >= deadline:
                raise SlurmError(f"timed out after {timeout} s waiting for {what} "
                                 f"(last: {last!r})\n" + self.log_tails())
            time.sleep(interval)

    # ------------------------------------------------------------ start/stop

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self.stop()
        except SlurmError:
            if exc_type is None:
                raise
        return False

    def start(self, clear_state=False):
        """Start munged, slurmctld and slurmd and wait until the node has
        registered and answers (IDLE on a fresh workdir).

        A second start() on the same workdir reuses the munge key and the
        controller's saved state, so a node drained before stop() comes
        back drained; clear_state=True (slurmctld -c) starts from scratch."""
        reasons = missing_prerequisites()
        if reasons:
            raise SlurmUnavailable("; ".join(reasons))
        if self.procs:
            raise SlurmError("start(): the cluster is already running")
        t0 = time.monotonic()
        if not self._atexit_registered:
            atexit.register(self._stop_at_exit)
            self._atexit_registered = True
        try:
            self._make_dirs()
            self._start_munged()
            self.timings["munged"] = time.monotonic() - t0
            self.hardware = self._probe_hardware()
            self.ctld_port = free_tcp_port()
            self.slurmd_port = free_tcp_port(exclude=(self.ctld_port,))
            self._write_conf()
            self._spawn("slurmctld", ["slurmctld", "-D", "-f", self.conf_path] +
                        (["-c"] if clear_state else []), self.logs["slurmctld.out"])
            self.wait_for(self._ctld_up, self.start_timeout, "slurmctld to answer ping")
            self.timings["slurmctld"] = time.monotonic() - t0
            self._spawn("slurmd", ["slurmd", "-D", "-f", self.conf_path],
                        self.logs["slurmd.out"])
            self.wait_for(self.is_responding, self.start_timeout,
                          f"node {self.node} to register and respond", interval=0.1)
            self.timings["start"] = time.monotonic() - t0
        except BaseException:
            try:
                self.stop()
            except SlurmError:
                pass
            raise
        return self

    def stop(self, timeout=15.0):
        """Cancel jobs, stop the daemons, kill whatever of theirs is left.

        Job steps (slurmstepd and the job's tasks) run in sessions of their
        own, so they are found by the marker in their environment, the rest
        by the daemons' sessions (see stray_processes).  Returns the
        [(pid, cmdline)] that were still there after the daemons had exited
        and had to be killed; raises SlurmError if any survive SIGKILL."""
        if not self.procs:
            return []
        t0 = time.monotonic()
        if self._alive("slurmctld") and self._alive("slurmd"):
            try:
                self.cancel_all()
                self.wait_for(lambda: not self.all_jobs(), 10, "jobs to end",
                              check_alive=False)
            except SlurmError:
                pass
        # Reverse start order: slurmd, slurmctld, munged.  SIGTERM to the
        # whole process group lets each save its state and exit.
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
                try:
                    proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    try:
                        os.killpg(proc.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    proc.wait(timeout=5)
        strays = self.stray_processes()
        for pid, _ in strays:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        left = self.stray_processes()
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = self.stray_processes()
        self.procs = {}
        self.timings["stop"] = time.monotonic() - t0
        if left:
            raise SlurmError("processes survived SIGKILL: " +
                             "; ".join(f"{p} {c}" for p, c in left))
        return strays

    def _stop_at_exit(self):
        # Last resort when a test forgets stop() or dies on an exception
        # outside a with-block: never leave daemons behind.
        try:
            self.stop()
        except Exception:
            pass

    def stray_processes(self):
        """[(pid, cmdline)] of live processes belonging to this cluster: members
        of a daemon's session (slurmstepd, job tasks, the health program) or
        carrying the cluster's marker in their environment.  This process and
        its ancestors are never listed."""
        sessions = set(self.sessions)
        spare = set()
        pid = os.getpid()
        while pid > 1:
            spare.add(pid)
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                pid = int(stat[stat.rfind(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                break
        marker = self.marker.encode()
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            pid = int(entry)
            if pid in spare:
                continue
            if _session_of(pid) in sessions or _environ_has(pid, marker):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        if f.read().split(") ", 1)[1].startswith("Z"):
                            # A zombie child of ours not yet reaped; wait() handles it.
                            continue
                except (OSError, IndexError):
                    continue
                found.append((pid, _cmdline_of(pid)))
        return found

    def log_tails(self, lines=30):
        """The ends of every log, for error messages."""
        parts = []
        for name, path in self.logs.items():
            if os.path.exists(path):
                parts.append(f"--- {name} ({path}) ---\n{tail(path, lines)}")
        return "\n".join(parts)

    # ------------------------------------------------------------- internals

    def _make_dirs(self):
        os.makedirs(self.workdir, exist_ok=True)
        if len(self.munge_socket) > _MAX_SOCKET_PATH:
            raise SlurmError(f"workdir path too long for a Unix socket "
                             f"({len(self.munge_socket)} > {_MAX_SOCKET_PATH} bytes): "
                             f"{self.munge_socket}")
        for d, mode in ((self.munge_dir, 0o700), (self.state_dir, 0o700),
                        (self.spool_dir, 0o755), (self.log_dir, 0o755),
                        (self.run_dir, 0o755)):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, mode)

    def _alive(self, name):
        proc = self.procs.get(name)
        return proc is not None and proc.poll() is None

    def _check_alive(self):
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise SlurmError(f"{name} exited with status {proc.returncode}\n" +
                                 self.log_tails())

    def _spawn(self, name, argv, out_path):
        env = self.env            # carries the marker
        exe = find_program(argv[0])
        out = open(out_path, "ab")
        try:
            proc = subprocess.Popen([exe] + argv[1:], env=env, cwd=self.workdir,
                                    stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            out.close()
        self.procs[name] = proc
        self.sessions.add(proc.pid)
        return proc

    def _start_munged(self):
        if not os.path.exists(self.munge_key):
            self._make_key()
        # -F: stay in the foreground (then munged logs to stderr, which goes
        # to our log file; --log-file is not used in that mode).  --force:
        # munged wants every directory above its socket to be searchable by
        # everybody; the caller's temp dir is usually 0700, which is fine for
        # root-only clients, so downgrade that check to a warning.
        self._spawn("munged", [
            "munged", "-F", "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={self.munge_key}",
            f"--pid-file={os.path.join(self.run_dir, 'munged.pid')}",
            f"--log-file={self.logs['munged']}",
            f"--seed-file={os.path.join(self.munge_dir, 'munged.seed')}",
            "--num-threads=4",
        ], self.logs["munged"])
        self.wait_for(self._munge_works, 15, "munged to encode and decode a credential")

    def _make_key(self):
        mungekey = find_program("mungekey")
        if mungekey:
            r = subprocess.run([mungekey, "--create", "--bits=1024",
                                f"--keyfile={self.munge_key}"],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise SlurmError(f"mungekey failed: {r.stdout.strip()}")
        else:
            with open("/dev/urandom", "rb") as src:
                data = src.read(128)
            fd = os.open(self.munge_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        os.chmod(self.munge_key, 0o600)

    def _munge_works(self):
        enc = subprocess.run([find_program("munge"), "-n", "-S", self.munge_socket],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=10)
        if enc.returncode != 0:
            return False
        dec = subprocess.run([find_program("unmunge"), "-S", self.munge_socket],
                             input=enc.stdout, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=10)
        return dec.returncode == 0 and b"Success" in dec.stdout

    def _probe_hardware(self):
        """CPUs and memory as slurmd itself sees them (`slurmd -C`).  The
        configured node must not claim more than this or slurmd registers it
        INVALID and the controller drains it."""
        hw = {"CPUs": 1, "RealMemory": 256}
        try:
            r = subprocess.run([find_program("slurmd"), "-C"], env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=30)
            for m in re.finditer(r"(\w+)=(\d+)", r.stdout):
                hw[m.group(1)] = int(m.group(2))
        except (OSError, subprocess.TimeoutExpired):
            pass
        return hw

    def _ctld_up(self):
        r = self._run(["scontrol", "ping"], check=False, timeout=15)
        return r.returncode == 0 and "is UP" in r.stdout

    def _write_cgroup_conf(self):
        # slurmd 22.05 always initialises a cgroup plugin at start, even with
        # proctrack/linuxproc and task/none.  "autodetect" picks v1 on a
        # tmpfs /sys/fs/cgroup (legacy or hybrid) and v2 on a pure cgroup2
        # mount.  The v2 plugin, when slurmd was not started by systemd,
        # would ask systemd for a scope; IgnoreSystemd=yes makes it create its
        # own cgroup instead (the setting is ignored by v1).
        text = ("# Written by slurm_cluster.py.\n"
                "CgroupPlugin=autodetect\n"
                "IgnoreSystemd=yes\n"
                "ConstrainCores=no\n"
                "ConstrainRAMSpace=no\n"
                "ConstrainDevices=no\n")
        with open(self.cgroup_conf_path, "w") as f:
            f.write(text)

    def _write_conf(self):
        hw = self.hardware
        node_line = f"NodeName={self.node} NodeAddr=127.0.0.1 CPUs={hw.get('CPUs', 1)}"
        for key in ("Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore"):
            if key in hw:
                node_line += f" {key}={hw[key]}"
        # A little less memory than there is, so a busy box never reports
        # less than configured.
        mem = max(1, min(int(hw.get("RealMemory", 256)) - 64, 4096))
        node_line += f" RealMemory={mem} State=UNKNOWN"
        lines = [
            "# Written by slurm_cluster.py; everything points into this directory.",
            f"ClusterName={self.cluster_name}",
            "SlurmctldHost=localhost",
            f"SlurmctldPort={self.ctld_port}",
            f"SlurmdPort={self.slurmd_port}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={self.state_dir}",
            f"SlurmdSpoolDir={self.spool_dir}",
            f"SlurmctldPidFile={os.path.join(self.run_dir, 'slurmctld.pid')}",
            f"SlurmdPidFile={os.path.join(self.run_dir, 'slurmd.pid')}",
            f"SlurmctldLogFile={self.logs['slurmctld']}",
            f"SlurmdLogFile={self.logs['slurmd']}",
            f"SlurmctldDebug={self.debug}",
            f"SlurmdDebug={self.debug}",
            f"PlugStackConfig={self.plugstack_path}",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerType=sched/builtin",
            # Start a submitted batch job at once instead of after the
            # default 3 s batch delay, and rerun the main scheduler every second.
            "SchedulerParameters=batch_sched_delay=0,sched_interval=1",
            "MpiDefault=none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "MailProg=/bin/true",
            "ReturnToService=2",
            "SlurmdTimeout=30",
            "SlurmctldTimeout=30",
            "MessageTimeout=10",
            "InactiveLimit=0",
            "MinJobAge=2",
            "KillWait=2",
            "Waittime=0",
        ]
        if self.health_program:
            lines += [
                f"HealthCheckProgram={self.health_program}",
                f"HealthCheckInterval={self.health_interval}",
                f"HealthCheckNodeState={self.health_node_state}",
            ]
        lines += [
            node_line,
            f"PartitionName=debug Nodes={self.node} Default=YES MaxTime=INFINITE State=UP",
        ]
        if self.extra_conf:
            lines.append(self.extra_conf.rstrip("\n"))
        with open(self.conf_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        with open(self.plugstack_path, "w") as f:
            f.write("# Empty: no SPANK plugins for the test cluster.\n")
        self._write_cgroup_conf()
