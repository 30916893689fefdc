#!/usr/bin/env python3
"""NVIDIA's own clients on the simulator, through `gpudoctor sim`.

Usage: real_clients_test.py GPUDOCTOR NVIDIA_CACHE

NVIDIA_CACHE is what scripts/fetch-nvidia unpacked (build/nvidia): Debian's
python3-pynvml, gpustat, nvtop and slurm-wlm-nvml-plugin. Each part runs the
real program against a scenario and compares what it shows, value by value,
with the scenario:
  pynvml   a broad sweep (tests/e2e/pynvml_sweep.py) on a busy 8xH100 node
  gpustat  gpustat --json on the same node
  slurm    slurmd -G with AutoDetect=nvml: count, type, /dev/nvidia<minor>,
           CPU affinity and NvLink links (an NVSwitch node and a direct mesh)
  nvtop    nvtop in a headless tmux: every GPU and its temperature
  seed     the seed's node: one GPU missing in every client
  hang     a scenario whose GPU 2 hangs: the client hangs there too
Exit 77 (skipped) only when the cache is missing, saying why; a missing
program inside a present cache is a failure.
"""
import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

GD = os.path.abspath(sys.argv[1])
CACHE = os.path.abspath(sys.argv[2])
ROOT = os.path.join(CACHE, "root")
HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = os.path.join(os.path.dirname(HERE), "scenarios")
DIST = os.path.join(ROOT, "usr/lib/python3/dist-packages")
PY = "/usr/bin/python3"  # Debian's: the packages' C extensions are built for it
failures = []
passed = 0

if not os.path.isfile(os.path.join(DIST, "pynvml.py")):
    print(f"SKIPPED: NVIDIA's packages are not in {CACHE} (scripts/fetch-nvidia could not reach the registry)")
    sys.exit(77)


def check(name, ok, detail=""):
    global passed
    if ok:
        passed += 1
    else:
        failures.append(f"{name}: {detail}")


def sim(scenario, argv, timeout=60, env=None):
    e = dict(os.environ, PYTHONPATH=DIST, XDG_RUNTIME_DIR=RUNTIME)
    e.update(env or {})
    return subprocess.run([GD, "sim", scenario, "--"] + argv, capture_output=True, text=True, timeout=timeout, env=e)


def load(name):
    with open(os.path.join(SCENARIOS, name, "nvml.json")) as f:
        return json.load(f)


def write_scenario(doc, name):
    path = os.path.join(TMP, name + ".json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return path


def busy_8xh100():
    """healthy-8xh100 with work on it: processes, load, memory, PCIe traffic."""
    doc = load("healthy-8xh100")
    for i, g in enumerate(doc["gpus"]):
        g["utilization_gpu"] = 10 * i
        g["utilization_memory"] = 5 * i
        g["temperature_c"] = 30 + 3 * i
        g["power_mw"] = 100000 + 50000 * i
        g["clocks_mhz"] = {"graphics": 1980 - 15 * i, "sm": 1980 - 15 * i, "mem": 2619} if i else g["clocks_mhz"]
        g["encoder_util"] = i
        g["decoder_util"] = 2 * i
        g["pcie"].update({"tx_kbps": 1000 * i, "rx_kbps": 2000 * i, "replay_counter": i})
    g0, g3 = doc["gpus"][0], doc["gpus"][3]
    g0["processes"] = [{"pid": 4242, "used_bytes": 2 << 30, "type": "compute", "sm_util": 40, "mem_util": 10},
                       {"pid": 4243, "used_bytes": 1 << 30, "type": "compute"}]
    g0["memory_used_bytes"] = 3 << 30
    g3["processes"] = [{"pid": 5151, "used_bytes": 512 << 20, "type": "graphics"}]
    g3["memory_used_bytes"] = 512 << 20
    g0["remap_banks"] = 64  # a test value: the built-in scenarios give no bank count (docs/simulator.md)
    g0["remapped_rows"] = {"correctable": 2, "uncorrectable": 0, "pending": False, "failure": False}
    return doc


def pci_bus_id(g):
    return g["bus_id"].upper()


# ---- pynvml --------------------------------------------------------------------

def expected_device(g, index):
    mem_total, used = g["memory_total_bytes"], g["memory_used_bytes"]
    clocks, maxc = g["clocks_mhz"], g["max_clocks_mhz"]
    app, dapp = g["applications_clocks_mhz"], g["default_applications_clocks_mhz"]
    procs = lambda kind: [{"pid": p["pid"], "usedGpuMemory": p["used_bytes"], "gpuInstanceId": 0xFFFFFFFF,
                           "computeInstanceId": 0xFFFFFFFF} for p in g["processes"] if p.get("type", "compute") == kind]
    cpus = [0] * 64
    for part in g["cpu_affinity"].split(","):
        lo, _, hi = part.partition("-")
        for c in range(int(lo), int(hi or lo) + 1):
            cpus[c // 64] |= 1 << (c % 64)
    links = g.get("nvlinks", [])
    sup_gfx = g["supported_clocks_mhz"]["graphics"]
    e = {
        "name": g["name"], "uuid": g["uuid"], "serial": g["serial"], "index": index, "minor": g["minor"],
        "persistence": 1 if g["persistence_mode"] else 0, "temperature": g["temperature_c"],
        "temp_shutdown": g["shutdown_temp_c"], "temp_slowdown": g["slowdown_temp_c"], "power": g["power_mw"],
        "enforced_limit": g["power_limit_mw"], "limit": g["power_limit_mw"],
        "default_limit": g["power_default_limit_mw"],
        "limit_constraints": [g["power_min_limit_mw"], g["power_max_limit_mw"]], "power_mode": 1,
        "energy": g["energy_mj"], "fan": "ERR:NOT_SUPPORTED",
        "memory": {"total": mem_total, "free": mem_total - used, "used": used},
        "memory_v2": {"version": 40 | 2 << 24, "total": mem_total, "reserved": 0, "free": mem_total - used,
                      "used": used},
        "utilization": {"gpu": g["utilization_gpu"], "memory": g["utilization_memory"]},
        "encoder": [g["encoder_util"], 167000], "decoder": [g["decoder_util"], 167000],
        "supported_mem_clocks": g["supported_clocks_mhz"]["mem"], "supported_graphics_clocks": sup_gfx,
        "supported_graphics_clocks_bad_mem": "ERR:NOT_FOUND",
        "pstate": g["pstate"], "clock_event_reasons": g["clock_event_reasons"],
        "ecc_mode": [1, 1], "ecc_uncorrected_volatile": g["ecc_errors"]["uncorrected_volatile"],
        "retired_pending": 0,
        "remapped_rows": [g["remapped_rows"][k] for k in ("correctable", "uncorrectable")]
        + [int(g["remapped_rows"][k]) for k in ("pending", "failure")],
        "pcie_gen": g["pcie"]["gen"], "pcie_width": g["pcie"]["width"], "pcie_max_gen": g["pcie"]["max_gen"],
        "pcie_max_width": g["pcie"]["max_width"], "pcie_tx": g["pcie"]["tx_kbps"], "pcie_rx": g["pcie"]["rx_kbps"],
        "pcie_replay": g["pcie"]["replay_counter"], "brand": g["brand"], "architecture": g["architecture"],
        "compute_capability": [int(x) for x in g["compute_capability"].split(".")], "vbios": g["vbios_version"],
        "part_number": g["board_part_number"], "mig_mode": [0, 0], "max_mig": 0, "cpu_affinity": cpus,
        "memory_affinity": [1 << g["numa_node"]],
        "nvlink_state": [1 if l["active"] else 0 for l in links] + ["ERR:NOT_SUPPORTED"] * (18 - len(links))
                        + ["ERR:INVALID_ARGUMENT"],
        "compute_processes": procs("compute"), "graphics_processes": procs("graphics"),
        "compute_mode": g["compute_mode"], "cores": g["num_gpu_cores"], "bus_width": g["memory_bus_width"],
        "bus_type": 2, "by_uuid": index, "by_serial": index, "by_pci": index,
        "inforom_image": g["inforom_image_version"], "inforom_oem": g["inforom_versions"]["oem"],
        "inforom_ecc": g["inforom_versions"]["ecc"], "inforom_power": "ERR:NOT_SUPPORTED", "inforom_valid": None,
        "display_mode": 0, "display_active": 0, "driver_model": "ERR:NOT_SUPPORTED", "virtualization_mode": 0,
        "default_ecc": [1], "supported_reasons": int(g["supported_clock_event_reasons"], 16),
        "power_state": g["pstate"], "pcie_speed": {3: 8000, 4: 16000, 5: 32000}[g["pcie"]["gen"]],
        "pcie_link_max_speed": g["pcie"]["max_gen"], "fan_v2": "ERR:NOT_SUPPORTED",
        "retired_sbe": [] if "retired_pages" in g else "ERR:NOT_SUPPORTED", "accounting_mode": 0,
        "multi_gpu_board": 0, "is_mig_handle": 0,
        "nvlink_version_0": g.get("nvlink_version", "ERR:NOT_SUPPORTED") if links else "ERR:NOT_SUPPORTED",
        "nvlink_remote_type_0": 2 if links else "ERR:NOT_SUPPORTED",  # NVSwitch
        "nvlink_replay_errors_0": 0 if links else "ERR:NOT_SUPPORTED",
        "supported_vgpus": "ERR:NOT_SUPPORTED", "encoder_sessions": [],
        "auto_boost": "ERR:NOT_SUPPORTED", "operation_mode": "ERR:NOT_SUPPORTED", "power_source": "ERR:NOT_SUPPORTED",
        "supported_pstates": [g["pstate"]], "api_restriction_app_clocks": 1, "bridge_count": 0,
        "gsp_mode": [1, 1] if g.get("gsp_firmware") else "ERR:NOT_SUPPORTED",
        "gsp_version": G_DRIVER if g.get("gsp_firmware") else "ERR:NOT_SUPPORTED",
        "pstate_graphics_range": [min(sup_gfx), max(sup_gfx)],
    }
    e.update(expected_telemetry_and_board(g))
    for name in ("graphics", "sm", "mem"):
        e[f"clock_{name}"] = clocks[name]
        e[f"clock_current_{name}"] = clocks[name]
        e[f"max_clock_{name}"] = maxc[name]
        e[f"boost_clock_{name}"] = maxc[name]
        e[f"app_clock_{name}"] = app["mem" if name == "mem" else "graphics"]
        e[f"default_app_clock_{name}"] = dapp["mem" if name == "mem" else "graphics"]
    return e


def expected_telemetry_and_board(g):
    """What tests/e2e/pynvml_sweep.py's telemetry_and_board() must read for scenario GPU g (an H100)."""
    reasons = g["clock_event_reasons"]
    links = g.get("nvlinks", [])
    rows = g["remapped_rows"]
    used = rows["correctable"] + rows["uncorrectable"]
    tx, rx = g["pcie"]["tx_kbps"], g["pcie"]["rx_kbps"]
    return {
        "samples_power": [1, 120, [g["power_mw"]]], "samples_gpu_util": [1, 120, [g["utilization_gpu"]]],
        "samples_after_last_none_or_one": True, "samples_bad_type": "ERR:INVALID_ARGUMENT",
        "violation_power": [bool(reasons & 0x84), True], "violation_thermal": [bool(reasons & 0x60), True],
        "violation_low_util": [bool(reasons & 0x1), True], "violation_bad_policy": "ERR:INVALID_ARGUMENT",
        "thermal_settings": [1, 1, 0, g["shutdown_temp_c"], g["temperature_c"], 1],
        "clkmon": [0, 0, 0], "adaptive_clock": 1,
        "dynamic_pstates": [[1, g["utilization_gpu"]], [1, g["utilization_memory"]],
                            [1, max(g["encoder_util"], g["decoder_util"])], [0, 0]],
        "mem_error_dram": g["ecc_errors"]["uncorrected_volatile"], "mem_error_l1": 0,
        "detailed_ecc": {"l1Cache": 0, "l2Cache": 0, "deviceMemory": g["ecc_errors"]["uncorrected_volatile"],
                         "registerFile": 0},
        "remap_histogram": {"max": g["remap_banks"] - used, "high": used, "partial": 0, "low": 0, "none": 0}
        if "remap_banks" in g else "ERR:NOT_SUPPORTED",
        "gpm_supported": 1,
        "gpm_metrics": [[0, float(g["utilization_gpu"])], [0, round(tx / 1024, 3)], [0, round(rx / 1024, 3)],
                        [3, 0.0], [2, 0.0]],
        "encoder_capacity": 100 - g["encoder_util"], "encoder_stats": [0, 0, 0],
        "fbc_stats": {"sessionsCount": 0, "averageFPS": 0, "averageLatency": 0}, "fbc_sessions": [],
        "same_board_self": True, "fabric": [0, 0, 3 if links else 0, 0], "gpu_max_pcie_gen": g["pcie"]["max_gen"],
        "nvlink_cap_p2p_0": 1 if links else "ERR:NOT_SUPPORTED", "nvlink_cap_sysmem_0": 0 if links else "ERR:NOT_SUPPORTED",
        "nvlink_cap_valid_0": 1 if links else "ERR:NOT_SUPPORTED",
        "nvlink_util_counter_0": "ERR:NOT_SUPPORTED",  # Hopper: the deprecated counters are gone
        "reset_nvlink_errors_0": None if links else "ERR:NOT_SUPPORTED",
        "fan_policy": "ERR:NOT_SUPPORTED", "min_max_fan": "ERR:NOT_SUPPORTED", "gpc_vf_offset": "ERR:NOT_SUPPORTED",
        "vgpu_capability": "ERR:NOT_SUPPORTED", "clear_field_230": [3],
    }


G_DRIVER = None  # the scenario's driver version, for the GSP firmware version


def part_pynvml():
    global G_DRIVER
    doc = busy_8xh100()
    G_DRIVER = doc["driver_version"]
    p = sim(write_scenario(doc, "busy"), [PY, os.path.join(HERE, "pynvml_sweep.py")])
    check("pynvml sweep runs", p.returncode == 0, p.stderr[-800:])
    if p.returncode != 0:
        return
    out = json.loads(p.stdout)
    check("pynvml: init", out["init"] == "ok", out["init"])
    check("pynvml: driver version", out["driver_version"] == doc["driver_version"], out["driver_version"])
    check("pynvml: NVML version", out["nvml_version"] == doc["nvml_version"], out["nvml_version"])
    check("pynvml: CUDA driver version", out["cuda_driver_version"] == doc["cuda_driver_version"],
          out["cuda_driver_version"])
    check("pynvml: count", out["count"] == 8, out["count"])
    check("pynvml: absent UUID", out["by_uuid_absent"] == "ERR:NOT_FOUND", out["by_uuid_absent"])
    check("pynvml: nvmlErrorString(3)", out["error_string_3"] == "Not Supported", out["error_string_3"])
    # The real 535 library answers a shutdown without a matching init with SUCCESS (docs/simulator.md).
    check("pynvml: second shutdown", out["shutdown_again"] is None, out["shutdown_again"])
    check("pynvml: no S-class unit, no excluded GPU", out["unit_count"] == 0 and out["excluded_count"] == 0,
          (out["unit_count"], out["excluded_count"]))
    check("pynvml: process name from /proc", out["own_process_name"] == "python3", out["own_process_name"])
    topo = out["topology"]
    numa = [g["numa_node"] for g in doc["gpus"]]
    want_levels = [0 if j == 0 else 10 if j == 1 else 40 if numa[j] == numa[0] else 50 for j in range(8)]
    check("pynvml topology: common ancestor of GPU 0 (INTERNAL, SINGLE switch, NODE, SYSTEM)",
          topo["common_ancestor_0"] == want_levels, (topo["common_ancestor_0"], want_levels))
    check("pynvml topology: nearest GPUs at SINGLE", topo["nearest_0_single"] == [1], topo["nearest_0_single"])
    check("pynvml topology: nearest GPUs at NODE", topo["nearest_0_node"] == [j for j in range(1, 8) if numa[j] == numa[0]],
          topo["nearest_0_node"])
    check("pynvml topology: GPUs near CPU 0", topo["gpu_set_cpu_0"] == [j for j in range(8) if numa[j] == 0],
          topo["gpu_set_cpu_0"])
    check("pynvml P2P over NvLink (NVSwitch): OK for every pair", topo["p2p_nvlink_0"] == [0] * 8, topo["p2p_nvlink_0"])
    st = out["settings"]
    want = {"set_limit": None, "limit_after": st["min_limit"], "enforced_after": st["min_limit"],
            "set_limit_too_high": "ERR:INVALID_ARGUMENT", "set_compute_mode": None, "compute_mode_after": 3,
            "set_app_clocks": None, "app_graphics_after": st["lowest_graphics"],
            "set_app_clocks_bad": "ERR:INVALID_ARGUMENT", "reset_app_clocks": None,
            "app_graphics_reset": doc["gpus"][0]["applications_clocks_mhz"]["graphics"],
            "set_ecc_off": None, "ecc_after": [1, 0], "lock_clocks": None, "lock_clocks_inverted": "ERR:INVALID_ARGUMENT",
            "reset_locked_clocks": None, "set_cpu_affinity": None, "clear_cpu_affinity": None,
            "affinity_cleared": list(range(os.cpu_count()))}
    for key, value in want.items():
        check(f"pynvml settings: {key}", st.get(key) == value, (st.get(key), value))
    dr = out["drain"]
    want = {"drain_with_persistence": "ERR:IN_USE", "drain_state_before": 0, "drain": None, "drain_state_after": 1,
            "remove": None, "count_after_remove": 7, "discover": None, "count_after_discover": 8,
            "drain_state_rediscovered": 0}
    for key, value in want.items():
        check(f"pynvml drain/remove/rediscover: {key}", dr.get(key) == value, (dr.get(key), value))
    mismatches = 0
    compared = 0
    for i, (g, got) in enumerate(zip(doc["gpus"], out["gpus"])):
        want = expected_device(g, i)
        for key, value in want.items():
            compared += 1
            if got.get(key) != value:
                mismatches += 1
                failures.append(f"pynvml gpu {i} {key}: got {str(got.get(key))[:120]}, scenario {str(value)[:120]}")
        pci = got["pci"]
        compared += 3
        if pci.get("busId") != pci_bus_id(g) or pci.get("pciDeviceId") != int(g["pci_device_id"], 16) \
                or pci.get("pciSubSystemId") != int(g["pci_subsystem_id"], 16):
            mismatches += 1
            failures.append(f"pynvml gpu {i} pci: {pci}")
        for link, (remote, spec) in enumerate(zip(got["nvlink_remote"], g.get("nvlinks", []))):
            compared += 1
            if not isinstance(remote, dict) or remote["busId"] != spec["remote_bus_id"].upper():
                mismatches += 1
                failures.append(f"pynvml gpu {i} nvlink {link} remote: {remote}")
        compared += 2
        pu = got["process_utilization"]
        if i == 0 and not (isinstance(pu, list) and len(pu) == 1 and pu[0]["pid"] == 4242 and pu[0]["smUtil"] == 40):
            mismatches += 1
            failures.append(f"pynvml gpu 0 process utilization: {pu}")
        if i != 0 and pu != "ERR:NOT_FOUND":
            mismatches += 1
            failures.append(f"pynvml gpu {i} process utilization: {pu}")
        f230 = got["field_230"]
        if not (isinstance(f230, dict) and f230["return"] == 3 and abs(f230["timestamp"] / 1e6 - time.time()) < 120):
            mismatches += 1
            failures.append(f"pynvml gpu {i} field 230 (NOT_SUPPORTED before R570, stamped now): {f230}")
    check(f"pynvml: {compared} values compared with the scenario, {mismatches} mismatches", mismatches == 0)
    print(f"pynvml: {compared} values compared, {mismatches} mismatches")


MIG_SWEEP = r"""
import json, pynvml as N
def ask(f, *a):
    try:
        v = f(*a)
    except N.NVMLError as e:
        return "ERR:%d" % e.value
    return v.value if hasattr(v, "value") and not isinstance(v, (bytes, str)) else v
N.nvmlInit()
h = N.nvmlDeviceGetHandleByIndex(0)
out = {"mode": ask(N.nvmlDeviceGetMigMode, h), "max": ask(N.nvmlDeviceGetMaxMigDeviceCount, h),
       "past_last": ask(N.nvmlDeviceGetMigDeviceHandleByIndex, h, 2), "full_gi": ask(N.nvmlDeviceGetGpuInstanceId, h),
       "full_attributes": ask(N.nvmlDeviceGetAttributes, h), "migs": []}
for i in range(2):
    m = N.nvmlDeviceGetMigDeviceHandleByIndex(h, i)
    a = N.nvmlDeviceGetAttributes(m)
    mem = N.nvmlDeviceGetMemoryInfo(m)
    parent = N.nvmlDeviceGetDeviceHandleFromMigDeviceHandle(m)
    out["migs"].append({
        "name": ask(N.nvmlDeviceGetName, m), "uuid": ask(N.nvmlDeviceGetUUID, m), "index": ask(N.nvmlDeviceGetIndex, m),
        "is_mig": ask(N.nvmlDeviceIsMigDeviceHandle, m), "gi": ask(N.nvmlDeviceGetGpuInstanceId, m),
        "ci": ask(N.nvmlDeviceGetComputeInstanceId, m), "sms": a.multiprocessorCount, "slices": a.gpuInstanceSliceCount,
        "mem_mb": a.memorySizeMB, "mem_total": mem.total, "mem_used": mem.used,
        "parent_index": N.nvmlDeviceGetIndex(parent), "temperature": ask(N.nvmlDeviceGetTemperature, m, 0),
        "pids": [p.pid for p in N.nvmlDeviceGetComputeRunningProcesses(m)]})
out["all_pids"] = [(p.pid, p.gpuInstanceId) for p in N.nvmlDeviceGetComputeRunningProcesses(h)]
h1 = N.nvmlDeviceGetHandleByIndex(1)
out["enable_idle"] = ask(N.nvmlDeviceSetMigMode, h1, 1)
out["idle_mode"] = ask(N.nvmlDeviceGetMigMode, h1)
out["idle_first_device"] = ask(N.nvmlDeviceGetMigDeviceHandleByIndex, h1, 0)
out["disable_busy"] = ask(N.nvmlDeviceSetMigMode, h, 0)
out["busy_mode"] = ask(N.nvmlDeviceGetMigMode, h)
N.nvmlDeviceSetMigMode(h1, 0)
print(json.dumps(out))
"""


def mig_8xh100():
    """healthy-8xh100 with GPU 0 in MIG mode: two 3g.40gb MIG devices, a process on the second."""
    doc = load("healthy-8xh100")
    g = doc["gpus"][0]
    g["mig_mode"] = True
    g["mig_devices"] = [
        {"uuid": f"MIG-0000000{i}-1111-2222-3333-444444444444", "profile": "3g.40gb", "gpu_instance_id": 1 + i,
         "compute_instance_id": 0, "slices": 3, "multiprocessor_count": 60, "memory_total_bytes": 40 << 30,
         "memory_used_bytes": (1 << 30) if i else 0} for i in range(2)]
    g["processes"] = [{"pid": 777, "used_bytes": 1 << 30, "type": "compute", "mig_device": 1}]
    return doc


def part_mig():
    doc = mig_8xh100()
    p = sim(write_scenario(doc, "mig"), [PY, "-c", MIG_SWEEP])
    check("pynvml MIG sweep runs", p.returncode == 0, p.stderr[-800:])
    if p.returncode != 0:
        return
    out = json.loads(p.stdout)
    check("MIG: mode on", out["mode"] == [1, 1], out["mode"])
    check("MIG: max 7 devices", out["max"] == 7, out["max"])
    check("MIG: past the last device NOT_FOUND (6)", out["past_last"] == "ERR:6", out["past_last"])
    check("MIG: a full GPU's handle has no GPU instance (INVALID_ARGUMENT)", out["full_gi"] == "ERR:2", out["full_gi"])
    check("MIG: attributes only on MIG handles", out["full_attributes"] == "ERR:3", out["full_attributes"])
    for i, (m, spec) in enumerate(zip(out["migs"], doc["gpus"][0]["mig_devices"])):
        want = {"name": f"{doc['gpus'][0]['name']} MIG 3g.40gb", "uuid": spec["uuid"], "index": i, "is_mig": 1,
                "gi": spec["gpu_instance_id"], "ci": 0, "sms": 60, "slices": 3, "mem_mb": 40 << 10,
                "mem_total": 40 << 30, "mem_used": spec["memory_used_bytes"], "parent_index": 0,
                "temperature": "ERR:3", "pids": [777] if i == 1 else []}
        for key, value in want.items():
            check(f"MIG device {i} {key}", m.get(key) == value, (m.get(key), value))
    check("MIG: the full GPU lists the process with its GPU instance", out["all_pids"] == [[777, 2]], out["all_pids"])
    # pynvml returns nvmlDeviceSetMigMode's activation status; the call itself succeeded.
    check("MIG: turned on for an idle GPU (activated)", out["enable_idle"] == 0 and out["idle_mode"] == [1, 1],
          (out["enable_idle"], out["idle_mode"]))
    check("MIG: on without instances: no MIG device", out["idle_first_device"] == "ERR:6", out["idle_first_device"])
    check("MIG: turning off a busy GPU stays pending (IN_USE)", out["disable_busy"] == 19 and out["busy_mode"] == [1, 0],
          (out["disable_busy"], out["busy_mode"]))


ECC_CLEAR = r"""
import json, pynvml as N
N.nvmlInit()
h = N.nvmlDeviceGetHandleByIndex(2)
count = lambda c: N.nvmlDeviceGetTotalEccErrors(h, N.NVML_MEMORY_ERROR_TYPE_CORRECTED, c)
before = [count(N.NVML_VOLATILE_ECC), count(N.NVML_AGGREGATE_ECC)]
N.nvmlDeviceClearEccErrorCounts(h, N.NVML_VOLATILE_ECC)
print(json.dumps({"before": before, "after": [count(N.NVML_VOLATILE_ECC), count(N.NVML_AGGREGATE_ECC)]}))
"""


def part_ecc_clear():
    p = sim(write_scenario(load("hw-ecc-remap-pending"), "ecc"), [PY, "-c", ECC_CLEAR])  # a copy: its state file in TMP
    out = json.loads(p.stdout) if p.returncode == 0 else {}
    check("ECC: clearing volatile counters zeroes them, keeps the aggregate",
          out.get("before") == [3, 12] and out.get("after") == [0, 12], (out, p.stderr[-300:]))


P2P_SWEEP = r"""
import json, pynvml as N
N.nvmlInit()
h = [N.nvmlDeviceGetHandleByIndex(i) for i in range(N.nvmlDeviceGetCount())]
# 0, not N.NVML_P2P_CAPS_INDEX_READ: pynvml 11.525 defines that one as the tuple (0,) (a stray comma)
print(json.dumps({"read": [N.nvmlDeviceGetP2PStatus(h[0], x, 0) for x in h],
                  "nvlink": [N.nvmlDeviceGetP2PStatus(h[0], x, N.NVML_P2P_CAPS_INDEX_NVLINK) for x in h],
                  "levels": [N.nvmlDeviceGetTopologyCommonAncestor(h[0], x) for x in h]}))
"""


def part_p2p_over_pcie():
    """healthy-4xv100-azure: no NvLink, GPUs 0-1 on NUMA node 0 and 2-3 on node 1."""
    p = sim("healthy-4xv100-azure", [PY, "-c", P2P_SWEEP])
    check("P2P sweep runs", p.returncode == 0, p.stderr[-500:])
    if p.returncode == 0:
        out = json.loads(p.stdout)
        check("P2P read over PCIe: OK within a NUMA node, IOH_TOPOLOGY_NOT_SUPPORTED across",
              out["read"] == [0, 0, 3, 3], out["read"])
        check("P2P over NvLink without NvLink: NOT_SUPPORTED", out["nvlink"] == [5] * 4, out["nvlink"])
        check("topology without switches: INTERNAL, NODE, SYSTEM", out["levels"] == [0, 40, 50, 50], out["levels"])


V100_SWEEP = r"""
import json, sys, pynvml as N
sys.path.insert(0, sys.argv[1])
import pynvml_sweep
N.nvmlInit()
print(json.dumps(pynvml_sweep.telemetry_and_board(N.nvmlDeviceGetHandleByIndex(0))))
"""


def part_telemetry_before_hopper():
    """healthy-4xv100-azure: what Volta lacks (GPM, adaptive clocking, clock monitors, fabric) says so."""
    p = sim("healthy-4xv100-azure", [PY, "-c", V100_SWEEP, HERE])
    check("V100 telemetry sweep runs", p.returncode == 0, p.stderr[-500:])
    if p.returncode != 0:
        return
    out = json.loads(p.stdout)
    want = {"gpm_supported": 0, "gpm_metrics": "ERR:NOT_SUPPORTED", "adaptive_clock": "ERR:NOT_SUPPORTED",
            "clkmon": ["ERR:NOT_SUPPORTED", 0, 0], "fabric": ["ERR:NOT_SUPPORTED", 0, 0, 0],
            "nvlink_cap_p2p_0": "ERR:NOT_SUPPORTED", "nvlink_util_counter_0": "ERR:NOT_SUPPORTED",
            "remap_histogram": "ERR:NOT_SUPPORTED", "samples_power": [1, 120, [load("healthy-4xv100-azure")["gpus"][0]["power_mw"]]]}
    for key, value in want.items():
        check(f"V100 pynvml: {key}", out.get(key) == value, (out.get(key), value))
    # An HGX H100 whose nvidia-fabricmanager is not running: the fabric says NOT_STARTED (1).
    p = sim("cuda-fabric-manager-down", [PY, "-c", V100_SWEEP, HERE])
    fabric = json.loads(p.stdout).get("fabric") if p.returncode == 0 else p.stderr[-300:]
    check("pynvml: fabric manager down reads NVML_GPU_FABRIC_STATE_NOT_STARTED", fabric == [0, 0, 1, 0], fabric)


# ---- gpustat -------------------------------------------------------------------------

def part_gpustat():
    doc = busy_8xh100()
    # gpustat shows only processes that exist on this host (psutil): real ones stand in for the GPU's.
    sleepers = [subprocess.Popen(["sleep", "120"]) for _ in range(3)]
    try:
        for proc, sleeper in zip(doc["gpus"][0]["processes"] + doc["gpus"][3]["processes"], sleepers):
            proc["pid"] = sleeper.pid
        p = sim(write_scenario(doc, "busy-gpustat"), [PY, os.path.join(ROOT, "usr/bin/gpustat"), "--json"])
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()
    check("gpustat --json runs", p.returncode == 0, p.stderr[-800:])
    if p.returncode != 0:
        return
    out = json.loads(p.stdout)
    check("gpustat: driver version", out["driver_version"] == doc["driver_version"], out["driver_version"])
    check("gpustat: 8 GPUs", len(out["gpus"]) == 8, len(out["gpus"]))
    mismatches = 0
    for i, (g, got) in enumerate(zip(doc["gpus"], out["gpus"])):
        mib = lambda b: b // (1 << 20)
        want = {"index": i, "uuid": g["uuid"], "name": g["name"], "temperature.gpu": g["temperature_c"],
                "fan.speed": None, "utilization.gpu": g["utilization_gpu"], "utilization.enc": g["encoder_util"],
                "utilization.dec": g["decoder_util"], "power.draw": g["power_mw"] // 1000,
                "enforced.power.limit": g["power_limit_mw"] // 1000,
                "memory.used": mib(g["memory_used_bytes"]), "memory.total": mib(g["memory_total_bytes"])}
        for key, value in want.items():
            if got.get(key) != value:
                mismatches += 1
                failures.append(f"gpustat gpu {i} {key}: got {got.get(key)}, scenario {value}")
        shown = sorted((pr["pid"], pr["gpu_memory_usage"], pr["command"]) for pr in got["processes"])
        want_procs = sorted((pr["pid"], pr["used_bytes"] >> 20, "sleep") for pr in g["processes"])
        if shown != want_procs:
            mismatches += 1
            failures.append(f"gpustat gpu {i} processes: {shown}, scenario {want_procs}")
    check(f"gpustat: {mismatches} mismatches with the scenario", mismatches == 0)


# ---- Slurm -----------------------------------------------------------------------------

def slurm_gres(scenario_path, gres, cpus=2):
    """slurmd -G with AutoDetect=nvml; the `Gres Name=gpu ...` lines."""
    d = tempfile.mkdtemp(dir=TMP)
    plug = os.path.join(d, "plugins")
    os.makedirs(plug)
    system = "/usr/lib/x86_64-linux-gnu/slurm-wlm"
    for f in os.listdir(system):
        os.symlink(os.path.join(system, f), os.path.join(plug, f))
    os.symlink(os.path.join(ROOT, "usr/lib/x86_64-linux-gnu/slurm-wlm/gpu_nvml.so"), os.path.join(plug, "gpu_nvml.so"))
    host = socket.gethostname().split(".")[0]
    with open(os.path.join(d, "slurm.conf"), "w") as f:
        f.write(f"ClusterName=sim\nSlurmctldHost={host}\nPluginDir={plug}\nSlurmdSpoolDir={d}/spool\n"
                f"StateSaveLocation={d}/state\nSlurmdPidFile={d}/slurmd.pid\nGresTypes=gpu\nAuthType=auth/none\n"
                f"ProctrackType=proctrack/linuxproc\nTaskPlugin=task/none\n"
                f"NodeName={host} CPUs={cpus} Boards=1 SocketsPerBoard=1 CoresPerSocket={cpus} ThreadsPerCore=1 "
                f"RealMemory=1000 Gres={gres}\nPartitionName=all Nodes=ALL Default=YES\n")
    with open(os.path.join(d, "gres.conf"), "w") as f:
        f.write("AutoDetect=nvml\n")
    p = sim(scenario_path, ["slurmd", "-G"], env={"SLURM_CONF": os.path.join(d, "slurm.conf")})
    lines = [l.split("Gres ", 1)[1] for l in (p.stdout + p.stderr).splitlines() if "Gres Name=gpu" in l]
    return p, [dict(kv.split("=", 1) for kv in l.split()) for l in lines]


def part_slurm():
    if not shutil.which("slurmd"):
        check("slurmd is installed (scripts/setup installs it)", False, "slurmd not on PATH")
        return
    doc = load("healthy-8xh100")
    for i, g in enumerate(doc["gpus"]):  # this machine's 2 CPUs: GPUs 0-3 near CPU 0, 4-7 near CPU 1
        g["cpu_affinity"] = "0" if i < 4 else "1"
    p, gres = slurm_gres(write_scenario(doc, "h100-slurm"), "gpu:nvidia_h100_80gb_hbm3:8")
    check("slurmd -G: 8 GPUs detected", len(gres) == 8, (p.stdout + p.stderr)[-1500:])
    for i, r in enumerate(gres):
        g = doc["gpus"][i]
        check(f"slurmd -G gpu {i} type", r.get("Type") == "nvidia_h100_80gb_hbm3", r)
        check(f"slurmd -G gpu {i} file", r.get("File") == f"/dev/nvidia{g['minor']}", r)
        check(f"slurmd -G gpu {i} cores", r.get("Cores") == ("0" if i < 4 else "1"), r)
        # NVSwitch: no direct GPU-GPU links, so Slurm's matrix is 0 but for itself (-1).
        want = ",".join("-1" if j == i else "0" for j in range(8))
        check(f"slurmd -G gpu {i} links (NVSwitch)", r.get("Links") == want, r)
    # A direct NvLink mesh (DGX-1 style, 4 GPUs, 2 links between each pair): Slurm counts them.
    mesh = load("healthy-8xh100")
    mesh["gpus"] = mesh["gpus"][:4]
    for i, g in enumerate(mesh["gpus"]):
        g["cpu_affinity"] = "0-1"
        g["nvlinks"] = [{"active": True, "remote_bus_id": mesh["gpus"][j]["bus_id"], "remote_device_id": "0x233010DE"}
                        for j in range(4) if j != i for _ in range(2)]
    p, gres = slurm_gres(write_scenario(mesh, "h100-mesh"), "gpu:nvidia_h100_80gb_hbm3:4")
    check("slurmd -G mesh: 4 GPUs", len(gres) == 4, (p.stdout + p.stderr)[-1500:])
    for i, r in enumerate(gres):
        want = ",".join("-1" if j == i else "2" for j in range(4))
        check(f"slurmd -G mesh gpu {i} links", r.get("Links") == want, r)
    # The seed's node: Slurm finds the three GPUs that answer.
    seed = load("seed-lost-one-gpu")
    for g in seed["gpus"]:
        g["cpu_affinity"] = "0-1"
    p, gres = slurm_gres(write_scenario(seed, "seed-slurm"), "gpu:4", cpus=2)
    check("slurmd -G seed: 3 of 4 GPUs", len(gres) == 3, (p.stdout + p.stderr)[-1500:])


# ---- nvtop -----------------------------------------------------------------------------

def tmux_screen(scenario, ready, timeout=20):
    """nvtop on `scenario` in a headless tmux; the screen once `ready(screen)` holds (or at the timeout)."""
    if not shutil.which("tmux"):
        return None
    sock = tempfile.mktemp(prefix="tmux-", dir=TMP)  # one server per screen: a killed one may linger on its socket
    nvtop = os.path.join(ROOT, "usr/bin/nvtop")
    env = dict(os.environ, XDG_RUNTIME_DIR=RUNTIME, TERM="xterm-256color")
    subprocess.run(["tmux", "-S", sock, "new-session", "-d", "-x", "220", "-y", "60", GD, "sim", scenario, "--",
                    nvtop], env=env, check=True)
    screen = ""
    try:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            time.sleep(0.5)
            screen = subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"], capture_output=True, text=True,
                                    timeout=10).stdout
            if ready(screen):
                time.sleep(1)  # one more refresh, then the final screen
                return subprocess.run(["tmux", "-S", sock, "capture-pane", "-p"], capture_output=True, text=True,
                                      timeout=10).stdout
        return screen
    finally:
        subprocess.run(["tmux", "-S", sock, "kill-server"], capture_output=True)


def part_nvtop():
    doc = busy_8xh100()
    screen = tmux_screen(write_scenario(doc, "busy"), lambda t: "Device 7 [" in t and "TEMP" in t)
    if screen is None:
        check("tmux is installed (scripts/setup installs it)", False, "tmux not on PATH")
        return
    for i, g in enumerate(doc["gpus"]):
        check(f"nvtop shows GPU {i}", f"Device {i} [{g['name']}]" in screen, screen[:600])
        check(f"nvtop shows GPU {i}'s temperature", f"TEMP  {g['temperature_c']}°C" in screen
              or f"TEMP {g['temperature_c']}°C" in screen, screen[:600])
    seed = tmux_screen(write_scenario(load("seed-lost-one-gpu"), "seed"), lambda t: "Device 2 [" in t)
    check("nvtop on the seed shows 3 GPUs", "Device 2 [" in seed and "Device 3 [" not in seed, seed[:600])


# ---- the seed, and a hang ----------------------------------------------------------------

def part_seed_and_hang():
    p = sim("seed", [PY, os.path.join(ROOT, "usr/bin/gpustat"), "--json"])
    got = json.loads(p.stdout)["gpus"] if p.returncode == 0 else []
    check("gpustat on the seed: 3 of its 4 GPUs", len(got) == 3, p.stderr[-400:])
    # nvml-hang-gpu: nvmlDeviceGetTemperature hangs on GPU 2, so does gpustat.
    try:
        p = sim("nvml-hang-gpu", [PY, os.path.join(ROOT, "usr/bin/gpustat"), "--json"], timeout=5)
        check("gpustat hangs where the scenario hangs", False, f"returned {p.returncode}: {p.stdout[:200]}")
    except subprocess.TimeoutExpired:
        check("gpustat hangs where the scenario hangs", True)


TMP = tempfile.mkdtemp(prefix="gd-real-clients-")
RUNTIME = os.path.join(TMP, "run")
os.makedirs(RUNTIME, mode=0o700)
try:
    for part in (part_pynvml, part_mig, part_ecc_clear, part_p2p_over_pcie, part_telemetry_before_hopper, part_gpustat, part_slurm, part_nvtop, part_seed_and_hang):
        try:
            part()
        except Exception as e:  # a crash of the test is a failure, named
            failures.append(f"{part.__name__}: {type(e).__name__}: {e}")
finally:
    shutil.rmtree(TMP, ignore_errors=True)

for f in failures:
    print("FAIL", f)
print(f"real clients: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
