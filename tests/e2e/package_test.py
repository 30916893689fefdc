#!/usr/bin/env python3
"""The Debian package: built by the project's own build (CPack), lintian
clean, installed with the real dpkg into a throwaway root (`dpkg --root`),
and the installed binary run from there on the simulator.

Usage: package_test.py BUILD_DIR SIM_DIR

Exit 77 (skipped) when cpack, dpkg-deb, dpkg or lintian is missing.
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sim_node  # noqa: E402

BUILD, SIM_DIR = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
failures, passed = [], 0

SHIPPED = [
    "usr/bin/gpudoctor",
    "usr/libexec/gpudoctor/gpudoctor-worker",
    "usr/libexec/gpudoctor/gpudoctor-churn-child",
    "lib/systemd/system/gpudoctor-watch.service",
    "usr/share/gpudoctor/systemd/nvidia-persistenced.override.conf",
    "usr/share/gpudoctor/slurm/gpudoctor-health-check",
    "usr/share/gpudoctor/slurm/gpudoctor-epilog",
    "usr/share/gpudoctor/slurm/slurm.conf.snippet",
    "usr/share/gpudoctor/prometheus/alerts.yml",
    "usr/share/gpudoctor/grafana/gpudoctor.json",
    "usr/share/gpudoctor/kubernetes/gpudoctor-watch-daemonset.yaml",
    "usr/share/gpudoctor/kubernetes/gpudoctor-fix-job.yaml",
    "usr/share/gpudoctor/kubernetes/npd-gpudoctor.json",
    "usr/share/man/man1/gpudoctor.1.gz",
    "usr/share/doc/gpudoctor/copyright",
    "usr/share/doc/gpudoctor/changelog.gz",
]
EXECUTABLE = [p for p in SHIPPED if "/bin/" in p or "/libexec/" in p or p.endswith(("-check", "-epilog"))]


def check(name, cond, detail=""):
    global passed
    if cond:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=300, **kw)


def main():
    need = [p for p in ("cpack", "dpkg-deb", "dpkg", "lintian", "man") if not shutil.which(p)]
    if need:
        print("package: skipped: not installed: " + ", ".join(need))
        return 77
    with tempfile.TemporaryDirectory(prefix="gd-package-") as tmp:
        out = os.path.join(tmp, "out")
        r = run(["cpack", "-G", "DEB", "--config", os.path.join(BUILD, "CPackConfig.cmake"), "-B", out])
        debs = [f for f in os.listdir(out) if f.endswith(".deb")] if os.path.isdir(out) else []
        if r.returncode != 0 or len(debs) != 1:
            print(f"package: cpack failed (exit {r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
            return 1
        deb = os.path.join(out, debs[0])
        check("file name: gpudoctor_VERSION_amd64.deb", re.fullmatch(r"gpudoctor_\d+\.\d+\.\d+_amd64\.deb", debs[0]),
              debs[0])

        info = run(["dpkg-deb", "-f", deb]).stdout
        check("control: Package gpudoctor, Section admin", "Package: gpudoctor" in info and "Section: admin" in info,
              info)
        depends = re.search(r"^Depends: (.*)$", info, re.M)
        check("control: Depends from dpkg-shlibdeps (libc6, libsqlite3, libsystemd0)", depends and all(
              d in depends.group(1) for d in ("libc6", "libsqlite3-0", "libsystemd0")), info)

        lint = run(["lintian", "--allow-root", "--fail-on", "error,warning", deb])
        bad = [line for line in lint.stdout.splitlines() if re.match(r"^[EW]: ", line)]
        check("lintian: no error or warning", lint.returncode == 0 and not bad, lint.stdout + lint.stderr)

        # A throwaway root with an empty dpkg database; the real dpkg installs into it.
        root = os.path.join(tmp, "root")
        os.makedirs(os.path.join(root, "var/lib/dpkg/info"))
        os.makedirs(os.path.join(root, "var/lib/dpkg/updates"))
        open(os.path.join(root, "var/lib/dpkg/status"), "w").close()
        inst = run(["dpkg", "--root", root, "--force-depends", "--log", os.path.join(tmp, "dpkg.log"), "-i", deb])
        check("dpkg --root -i: exit 0", inst.returncode == 0, inst.stdout + inst.stderr)
        status = run(["dpkg", "--root", root, "-s", "gpudoctor"]).stdout
        check("dpkg --root -s: installed", "Status: install ok installed" in status, status)
        for p in SHIPPED:
            check(f"installed: /{p}", os.path.isfile(os.path.join(root, p)))
        for p in EXECUTABLE:
            path = os.path.join(root, p)
            check(f"executable: /{p}", os.path.isfile(path) and os.stat(path).st_mode & stat.S_IXUSR)

        gd = os.path.join(root, "usr/bin/gpudoctor")
        v = run([gd, "version"])
        check("installed binary: version", v.returncode == 0 and v.stdout.startswith("gpudoctor "), v.stdout + v.stderr)

        # The installed binary must run its worker from /usr/libexec/gpudoctor: a wrapper there records each start.
        libexec = os.path.join(root, "usr/libexec/gpudoctor")
        os.rename(os.path.join(libexec, "gpudoctor-worker"), os.path.join(libexec, "gpudoctor-worker.real"))
        starts = os.path.join(tmp, "worker-starts")
        with open(os.path.join(libexec, "gpudoctor-worker"), "w") as f:
            f.write(f"#!/bin/sh\necho \"$1\" >> {starts}\nexec {libexec}/gpudoctor-worker.real \"$@\"\n")
        os.chmod(os.path.join(libexec, "gpudoctor-worker"), 0o755)
        node, _, env = sim_node.make(os.path.join(tmp, "node"), SIM_DIR, persistence=True)
        c = run([gd, "check", "--root", node, "--no-color"], env=env)
        check("installed binary: check on a healthy simulated node exits 0", c.returncode == 0,
              (c.returncode, c.stdout[-1500:], c.stderr[-500:]))
        check("installed binary: NVML answered", "NVML ok" in c.stdout, c.stdout[:300])
        worker = open(starts).read().split() if os.path.exists(starts) else []
        check("installed binary: ran /usr/libexec/gpudoctor/gpudoctor-worker", "__nvml-worker" in worker, worker)
        os.replace(os.path.join(libexec, "gpudoctor-worker.real"), os.path.join(libexec, "gpudoctor-worker"))
        ch = run([gd, "churn", "--root", node, "-n", "4", "-j", "2", "--json"], env=env)
        check("installed binary: churn (its child from /usr/libexec)", ch.returncode in (0, 1) and '"launched": 4' in
              ch.stdout.replace('"launched":4', '"launched": 4'), (ch.returncode, ch.stdout[-500:], ch.stderr[-500:]))

        man = run(["man", "--warnings", "-E", "UTF-8", "-l", os.path.join(root, "usr/share/man/man1/gpudoctor.1.gz")],
                  env=dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8"))
        check("man page renders without warnings", man.returncode == 0 and not man.stderr.strip(), man.stderr[:500])
        for text in ("slurm-health", "gpudoctor ledger ack", "--expect-gpus", "/var/lib/gpudoctor/ledger.json"):
            check(f"man page: mentions {text}", text in man.stdout.replace("\u2010", "-"), text)

        rm = run(["dpkg", "--root", root, "--force-depends", "-r", "gpudoctor"])
        check("dpkg --root -r: exit 0", rm.returncode == 0, rm.stdout + rm.stderr)
        left = [p for p in SHIPPED if os.path.exists(os.path.join(root, p))]
        check("removed: every shipped file gone", not left, left)

    print(f"package: {passed} passed, {len(failures)} failed")
    for f in failures:
        print("  FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
