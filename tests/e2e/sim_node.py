"""A simulated node for the end-to-end tests: a copy of a committed scenario's
root with the NVML/CUDA simulator installed under the driver's file names and
the real ldconfig run over it, plus the scenario document the simulator reads.

    root, scenario, env = sim_node.make(tmp, SIM_DIR)

`root` is tmp/root (pass it as --root), `scenario` tmp/nvml.json (edit it and
call write_scenario to change what the simulated GPUs do), `env` the
environment that points the simulator at it.

Also what the tests that run a daemon on such a node share: free_port(),
get() / get_raw() of a loopback URL, wait_for(fn, timeout).
"""
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request

SCENARIOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scenarios")
DRIVER = "460.32.03"


def make(tmp, sim_dir, scenario="healthy-4xv100-azure", persistence=None, keep_run=True, edit=None):
    """Build the node under tmp; returns (root, scenario_path, env).

    persistence: None keeps the scenario's setting, True/False sets it on every GPU.
    keep_run=False removes the root's /run (no nvidia-persistenced running).
    edit: a function that changes the scenario document before it is written."""
    root = os.path.join(tmp, "root")
    shutil.copytree(os.path.join(SCENARIOS, scenario, "root"), root, symlinks=True)
    if not keep_run:
        shutil.rmtree(os.path.join(root, "run"), ignore_errors=True)
    doc = json.load(open(os.path.join(SCENARIOS, scenario, "nvml.json")))
    if persistence is not None:
        for g in doc["gpus"]:
            g["persistence_mode"] = persistence
    if edit:
        edit(doc)
    path = os.path.join(tmp, "nvml.json")
    write_scenario(path, doc)
    lib = os.path.join(root, "usr/lib/x86_64-linux-gnu")
    os.makedirs(lib, exist_ok=True)
    shutil.copy(os.path.join(sim_dir, "libnvidia-ml.so.1"), os.path.join(lib, f"libnvidia-ml.so.{DRIVER}"))
    if os.path.exists(os.path.join(sim_dir, "libcuda.so.1")):
        shutil.copy(os.path.join(sim_dir, "libcuda.so.1"), os.path.join(lib, f"libcuda.so.{DRIVER}"))
    subprocess.run(["ldconfig", "-r", root], check=True)
    env = dict(os.environ, GPUDOCTOR_SIM_SCENARIO=path)
    return root, path, env


def write_scenario(path, doc):
    """Replace the scenario document atomically and drop the simulator's state file."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.replace(tmp, path)
    try:
        os.remove(path + ".state")
    except FileNotFoundError:
        pass


def free_port():
    """A loopback TCP port free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_raw(url, timeout=2):
    """(body bytes, Content-Type) of a GET."""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read(), r.headers.get("Content-Type", "")


def get(url, timeout=2):
    """The body of a GET, as text."""
    return get_raw(url, timeout)[0].decode()


def wait_for(fn, timeout, step=0.2):
    """fn()'s first truthy value within timeout seconds (an exception counts as not yet), else None."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception:  # noqa: BLE001 - polling until it answers
            pass
        time.sleep(step)
    return None
