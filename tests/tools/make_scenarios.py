#!/usr/bin/env python3
"""Writes the scenario trees under tests/scenarios/ (root/, nvml.json, scenario.json).

The trees are committed; this script is how they were made and how to remake
them after a deliberate change:  python3 tests/tools/make_scenarios.py
Linker caches are not written here: tests/run_scenarios.py installs the
simulator into a copy of root/ and runs the real `ldconfig -r` on it.
"""
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "scenarios")

# Per model: what NVML reports (nvidia-smi -q of the model; nvml.h enum values:
# brand TESLA 2 / NVIDIA 14, architecture VOLTA 5 / HOPPER 9).
V100 = dict(name="Tesla V100-PCIE-16GB", device=0x1DB4, subsys=0x121410DE, cls=0x030200, mem=16 * 2**30,
            slowdown=87, shutdown=90, power_limit=250000, max_gfx=1380, max_mem=877, gen=3, remap=False,
            idle_gfx=135, app_gfx=1245, brand=2, arch=5, cc="7.0", vbios="88.00.4F.00.09",
            part="900-2G500-0000-000", power_min=100000, sms=80, cores=5120, bus_width=4096, bar1=16 * 2**30,
            mig=None, inforom={"image": "G500.0200.00.03", "oem": "1.1", "ecc": "5.0", "power": None},
            retired_pages=True, nvlink_version=None)
H100 = dict(name="NVIDIA H100 80GB HBM3", device=0x2330, subsys=0x16C110DE, cls=0x030200, mem=80 * 2**30,
            slowdown=89, shutdown=92, power_limit=700000, max_gfx=1980, max_mem=2619, gen=5, remap=True,
            idle_gfx=345, app_gfx=1980, brand=14, arch=9, cc="9.0", vbios="96.00.74.00.01",
            part="692-2G520-0200-000", power_min=200000, sms=132, cores=16896, bus_width=5120,
            bar1=128 * 2**30, mig=False,
            inforom={"image": "G520.0200.00.05", "oem": "2.1", "ecc": "7.16", "power": None},
            retired_pages=False, nvlink_version=4)  # Hopper: row remapping, no page retirement
AZURE_V100_BUSES = ["5b0a:00:00.0", "9e65:00:00.0", "b111:00:00.0", "bd71:00:00.0"]
H100_BUSES = ["0000:18:00.0", "0000:2a:00.0", "0000:3a:00.0", "0000:5d:00.0",
              "0000:9a:00.0", "0000:ab:00.0", "0000:ba:00.0", "0000:db:00.0"]
NVSWITCH_BUSES = ["0000:05:00.0", "0000:06:00.0", "0000:07:00.0", "0000:08:00.0"]


def write(root, path, text, mode="w"):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, mode) as f:
        f.write(text)


def symlink(root, path, target):
    full = os.path.join(root, path.lstrip("/"))
    os.makedirs(os.path.dirname(full), exist_ok=True)
    os.symlink(target, full)


def pci_function(root, bus, vendor, device, cls, driver, width=16, max_width=16, speed="8.0 GT/s PCIe"):
    d = f"/sys/bus/pci/devices/{bus}"
    write(root, d + "/vendor", f"0x{vendor:04x}\n")
    write(root, d + "/device", f"0x{device:04x}\n")
    write(root, d + "/class", f"0x{cls:06x}\n")
    write(root, d + "/current_link_speed", speed + "\n")
    write(root, d + "/max_link_speed", speed + "\n")
    write(root, d + "/current_link_width", f"{width}\n")
    write(root, d + "/max_link_width", f"{max_width}\n")
    if driver:
        os.makedirs(os.path.join(root, f"sys/bus/pci/drivers/{driver}"), exist_ok=True)
        symlink(root, d + "/driver", f"../../../../bus/pci/drivers/{driver}")


def base_root(root, hostname):
    write(root, "/etc/hostname", hostname + "\n")
    write(root, "/etc/ld.so.conf", "include /etc/ld.so.conf.d/*.conf\n")
    write(root, "/etc/ld.so.conf.d/x86_64-linux-gnu.conf", "/usr/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu\n")
    os.makedirs(os.path.join(root, "usr/lib/x86_64-linux-gnu"), exist_ok=True)
    os.makedirs(os.path.join(root, "dev"), exist_ok=True)
    write(root, "/usr/lib/x86_64-linux-gnu/.keep", "")
    write(root, "/dev/null", "")
    # A host bridge and an Intel NIC: not NVIDIA, must be ignored.
    pci_function(root, "0000:00:00.0", 0x8086, 0x2020, 0x060000, "")
    pci_function(root, "0000:00:1f.6", 0x8086, 0x15b8, 0x020000, "e1000e")


def proc_modules(root, names):
    lines = []
    sizes = {"nvidia_uvm": 1048576, "nvidia_drm": 69632, "nvidia_modeset": 1196032, "nvidia": 35332096,
             "nouveau": 2318336, "drm_kms_helper": 200704, "ext4": 942080}
    for n in names:
        lines.append(f"{n} {sizes.get(n, 16384)} 0 - Live 0x0000000000000000{' (POE)' if n.startswith('nvidia') else ''}")
    write(root, "/proc/modules", "\n".join(lines) + "\n")


def nvidia_driver(root, version, gpus, model, flavour="proprietary", uvm=True):
    mods = ["nvidia_uvm", "nvidia_drm", "nvidia_modeset", "nvidia", "ext4"] if uvm else ["nvidia", "ext4"]
    proc_modules(root, mods)
    if flavour == "open":
        line = f"NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  {version}  Release Build  (dvs-builder@U16-A24-9-2)  Thu Feb 22 01:44:30 UTC 2024"
    else:
        line = f"NVRM version: NVIDIA UNIX x86_64 Kernel Module  {version}  Sun Dec 27 19:00:34 UTC 2020"
    write(root, "/proc/driver/nvidia/version", line + "\nGCC version:  gcc version 9.3.0 (Ubuntu 9.3.0-17ubuntu1~20.04) \n")
    write(root, "/sys/module/nvidia/version", version + "\n")
    write(root, "/dev/nvidiactl", "")
    if uvm:
        write(root, "/dev/nvidia-uvm", "")
        write(root, "/dev/nvidia-uvm-tools", "")
    for minor, (bus, uuid) in enumerate(gpus):
        write(root, f"/proc/driver/nvidia/gpus/{bus}/information",
              f"Model: \t\t {model}\nIRQ:   \t\t {30 + minor}\nGPU UUID: \t {uuid}\nVideo BIOS: \t 88.00.4f.00.09\n"
              f"Bus Type: \t PCIe\nDMA Size: \t 47 bits\nDMA Mask: \t 0x7fffffffffff\nBus Location: \t {bus}\n"
              f"Device Minor: \t {minor}\nGPU Excluded:\t No\n")
        write(root, f"/dev/nvidia{minor}", "")


def persistenced(root, pid=1834):
    write(root, "/run/nvidia-persistenced/nvidia-persistenced.pid", f"{pid}\n")
    write(root, "/run/nvidia-persistenced/socket", "")
    write(root, f"/proc/{pid}/comm", "nvidia-persistenced\n")


def uuid_for(i, seed):
    return f"GPU-{seed:08x}-{i:04x}-4c1e-9d2b-{(seed * 7919 + i) & 0xffffffffffff:012x}"


def nvml_bus(bus):
    dom, rest = bus.split(":", 1)
    return f"{int(dom, 16):08X}:{rest.upper()}"


def numa_layout(n_gpus, cpus_per_node, nodes=2):
    """GPU i's NUMA node and its CPUs: the first half of the GPUs on node 0, with
    hyper-threads (node k holds k*c..(k+1)*c-1 and the same + nodes*c)."""
    def at(i):
        node = min(i * nodes // max(n_gpus, 1), nodes - 1)
        lo, ht = node * cpus_per_node, nodes * cpus_per_node + node * cpus_per_node
        return node, f"{lo}-{lo + cpus_per_node - 1},{ht}-{ht + cpus_per_node - 1}"
    return at


def nvswitch_links(i):
    """HGX H100: 18 NVLinks per GPU to 4 NVSwitches, 5+4+4+5."""
    links = []
    for sw, n in zip(NVSWITCH_BUSES, (5, 4, 4, 5)):
        links += [{"active": True, "remote_bus_id": nvml_bus(sw), "remote_device_id": "0x22A310DE"}] * n
    return links


def client_facts(spec, i, n_gpus):
    """What real NVML clients (pynvml, gpustat, nvtop, Slurm) read beyond gpudoctor's queries."""
    node, cpus = numa_layout(n_gpus, 56 if spec is H100 else 6)(i)
    gfx = list(range(spec["max_gfx"], spec["idle_gfx"] - 1, -15))
    facts = {
        "brand": spec["brand"], "architecture": spec["arch"], "compute_capability": spec["cc"],
        "vbios_version": spec["vbios"], "board_part_number": spec["part"],
        "power_default_limit_mw": spec["power_limit"], "power_min_limit_mw": spec["power_min"],
        "power_max_limit_mw": spec["power_limit"],
        "applications_clocks_mhz": {"graphics": spec["app_gfx"], "mem": spec["max_mem"]},
        "default_applications_clocks_mhz": {"graphics": spec["app_gfx"], "mem": spec["max_mem"]},
        "supported_clocks_mhz": {"mem": [spec["max_mem"]], "graphics": gfx},
        "encoder_util": 0, "decoder_util": 0, "numa_node": node, "cpu_affinity": cpus,
        "multiprocessor_count": spec["sms"], "num_gpu_cores": spec["cores"], "memory_bus_width": spec["bus_width"],
        "bar1_total_bytes": spec["bar1"], "compute_mode": 0, "processes": [],
        "inforom_image_version": spec["inforom"]["image"],
        "inforom_versions": {k: v for k, v in spec["inforom"].items() if k != "image" and v},
        "display_mode": False, "virtualization_mode": 0, "ecc_mode_default": True,
        "supported_clock_event_reasons": "0x00000000000001FF", "accounting_mode": False, "multi_gpu_board": False,
    }
    if spec["retired_pages"]:
        facts["retired_pages"] = {"single_bit": [], "double_bit": []}
    if spec["nvlink_version"]:
        facts["nvlink_version"] = spec["nvlink_version"]
    if spec is H100:
        facts["gsp_firmware"] = True  # Hopper runs GSP firmware (the open kernel module requires it)
        facts["pcie_switch"] = f"switch{i // 2}"  # HGX H100: two GPUs behind each PCIe switch
    if spec["mig"] is not None:
        facts["mig_mode"] = spec["mig"]
    if spec is H100:
        facts["nvlinks"] = nvswitch_links(i)
    return facts


def sim_gpu(spec, bus, i, seed, persistence, temp=34, n_gpus=None, **over):
    n_gpus = n_gpus or (8 if spec is H100 else 4)
    g = {
        "name": spec["name"], "uuid": uuid_for(i, seed), "serial": f"03231{seed % 100000:05d}{i:03d}",
        "bus_id": nvml_bus(bus), "pci_device_id": f"0x{spec['device']:04X}10DE",
        "pci_subsystem_id": f"0x{spec['subsys']:08X}", "minor": i, "persistence_mode": persistence,
        "temperature_c": temp, "slowdown_temp_c": spec["slowdown"], "shutdown_temp_c": spec["shutdown"],
        "power_mw": 38000 + 1000 * i, "power_limit_mw": spec["power_limit"], "energy_mj": 912345678 + i,
        "memory_total_bytes": spec["mem"], "memory_used_bytes": 0, "utilization_gpu": 0, "utilization_memory": 0,
        "clocks_mhz": {"graphics": spec["idle_gfx"], "sm": spec["idle_gfx"], "mem": spec["max_mem"]},  # idle
        "max_clocks_mhz": {"graphics": spec["max_gfx"], "sm": spec["max_gfx"], "mem": spec["max_mem"]},
        "clock_event_reasons": 1, "pstate": 0, "fan_percent": None, "ecc_mode": True,
        "ecc_errors": {"corrected_volatile": 0, "corrected_aggregate": 0, "uncorrected_volatile": 0,
                       "uncorrected_aggregate": 0},
        "retired_pages_pending": False,
        "remapped_rows": ({"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}
                          if spec["remap"] else None),
        "pcie": {"gen": spec["gen"], "width": 16, "max_gen": spec["gen"], "max_width": 16,
                 "tx_kbps": 0, "rx_kbps": 0, "replay_counter": 0},
    }
    g.update(client_facts(spec, i, n_gpus))
    g.update(over)
    return g


def scenario(name, description, build, nvml=None, config=None):
    d = os.path.join(OUT, name)
    if os.path.exists(os.path.join(d, "root")):
        shutil.rmtree(os.path.join(d, "root"))
    os.makedirs(os.path.join(d, "root"), exist_ok=True)
    build(os.path.join(d, "root"))
    cfg = {"description": description}
    cfg.update(config or {})
    if nvml is not None:
        with open(os.path.join(d, "nvml.json"), "w") as f:
            json.dump(nvml, f, indent=2)
            f.write("\n")
    elif os.path.exists(os.path.join(d, "nvml.json")):
        os.remove(os.path.join(d, "nvml.json"))
    with open(os.path.join(d, "scenario.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def v100_node(root, seed, driver="nvidia", with_persistenced=False, version="460.32.03", gpus_in_proc=4):
    base_root(root, "hpc-v100-node")
    for bus in AZURE_V100_BUSES:
        pci_function(root, bus, 0x10DE, V100["device"], V100["cls"], driver)
    if driver == "nvidia":
        nvidia_driver(root, version, [(b, uuid_for(i, seed)) for i, b in enumerate(AZURE_V100_BUSES[:gpus_in_proc])],
                      V100["name"])
    if with_persistenced:
        persistenced(root)


def nvml_doc(version, gpus, **extra):
    major = int(version.split(".")[0])
    # The NVML API major version: 12 from R525 on (nvml.h NVML_API_VERSION), 11 before.
    doc = {"driver_version": version, "nvml_version": f"{12 if major >= 525 else 11}.{version}",
           "cuda_driver_version": 11020 if major < 465 else 11030, "init_delay_ms": 0, "faults": [], "gpus": gpus}
    doc.update(extra)
    return doc


def main():
    seed = 0x5EED
    v100_gpus = lambda pers, n=4: [sim_gpu(V100, b, i, seed, pers) for i, b in enumerate(AZURE_V100_BUSES[:n])]

    scenario("healthy-4xv100-azure", "Healthy 4x V100 node with Azure-style non-zero PCI domains, persistence on",
             lambda r: v100_node(r, seed, with_persistenced=True),
             nvml_doc("460.32.03", v100_gpus(True)), {"args": ["--expect-gpus", "4"]})

    scenario("seed-lost-one-gpu",
             "The seed's broken node: 4 GPUs on PCI, NVML answers for 3, persistence off, slow init",
             lambda r: v100_node(r, seed),
             nvml_doc("460.32.03", v100_gpus(False, 3), init_delay_ms=1200),
             {"args": ["--expect-gpus", "4"],
              "expect_text": ["bd71:00:00.0 has fallen off the bus", "Persistence mode is off",
                              "systemctl enable --now nvidia-persistenced", "Reboot the node", "nvmlInit took 1."]})

    scenario("seed-no-devices",
             "The seed at its worst: 4 GPUs on PCI, NVML finds none ('No devices were found'), no persistenced",
             lambda r: v100_node(r, seed),
             nvml_doc("460.32.03", [], init_delay_ms=1200),
             {"expect_text": ["5b0a:00:00.0 has fallen off the bus", "nvidia-persistenced is not running",
                              "NVML answers for 0 of 4 GPU(s)"]})

    scenario("nvml-hang-init", "NVML hangs inside nvmlInit_v2 (wedged driver); --timeout 2",
             lambda r: v100_node(r, seed, with_persistenced=True),
             nvml_doc("460.32.03", v100_gpus(True), faults=[{"call": "nvmlInit", "hang": True}]),
             {"args": ["--timeout", "2"], "max_seconds": 3, "expect_text": ["nvmlInit_v2 never returned"]})

    scenario("nvml-hang-gpu", "NVML hangs in nvmlDeviceGetTemperature on GPU index 2; --timeout 2",
             lambda r: v100_node(r, seed, with_persistenced=True),
             nvml_doc("460.32.03", v100_gpus(True),
                      faults=[{"call": "nvmlDeviceGetTemperature", "gpu": 2, "hang": True}]),
             {"args": ["--timeout", "2"], "max_seconds": 3,
              "expect_text": ["nvmlDeviceGetTemperature on GPU b111:00:00.0 (index 2) never returned", "left unchecked because of the hang: GPU index 3 of 4"]})

    scenario("driver-reinstalled-no-reboot",
             "Driver user space upgraded to 465.19.01 while kernel module 460.32.03 stays loaded",
             lambda r: v100_node(r, seed, with_persistenced=True),
             nvml_doc("465.19.01", v100_gpus(True), faults=[{"call": "nvmlInit", "return": "LIB_RM_VERSION_MISMATCH"}]),
             {"expect_text": ["kernel module 460.32.03 is loaded, user space is 465.19.01"]})

    def no_driver(r):
        base_root(r, "hpc-v100-node")
        for bus in AZURE_V100_BUSES:
            pci_function(r, bus, 0x10DE, V100["device"], V100["cls"], "")
        proc_modules(r, ["ext4", "drm_kms_helper"])
    scenario("no-driver-loaded", "4 GPUs on PCI, user space installed, kernel module not loaded",
             no_driver, nvml_doc("460.32.03", [], faults=[{"call": "nvmlInit", "return": "DRIVER_NOT_LOADED"}]))

    def nouveau(r):
        base_root(r, "workstation")
        pci_function(r, "0000:01:00.0", 0x10DE, 0x1E07, 0x030000, "nouveau")
        pci_function(r, "0000:01:00.1", 0x10DE, 0x10F7, 0x040300, "snd_hda_intel")
        proc_modules(r, ["nouveau", "drm_kms_helper", "ext4"])
    scenario("nouveau-bound", "A GeForce bound to nouveau (its HDA audio function must be ignored), no NVIDIA driver",
             nouveau)

    def no_gpu(r):
        base_root(r, "cpu-node")
        proc_modules(r, ["ext4"])
    scenario("no-gpu", "A node without any NVIDIA GPU", no_gpu)

    def h100(r):
        base_root(r, "dgx-h100")
        for bus in H100_BUSES:
            pci_function(r, bus, 0x10DE, H100["device"], H100["cls"], "nvidia", speed="32.0 GT/s PCIe")
        for bus in NVSWITCH_BUSES:
            pci_function(r, bus, 0x10DE, 0x22A3, 0x068000, "nvidia")
        nvidia_driver(r, "550.54.15", [(b, uuid_for(i, 0x4100)) for i, b in enumerate(H100_BUSES)], H100["name"],
                      flavour="open")
        persistenced(r, 2211)
    scenario("healthy-8xh100", "Healthy 8x H100 with 4 NVSwitches (filtered by class), open kernel module",
             h100, nvml_doc("550.54.15", [sim_gpu(H100, b, i, 0x4100, True) for i, b in enumerate(H100_BUSES)],
                            cuda_driver_version=12040),
             {"args": ["--expect-gpus", "8"]})

    def malformed(r):
        v100_node(r, seed, with_persistenced=True)
        write(r, "/sys/bus/pci/devices/9e65:00:00.0/current_link_width", "\x00\xff\xfejunk")
        write(r, "/proc/driver/nvidia/version", "NVRM version: garbage without a version\n")
        write(r, "/run/nvidia-persistenced/nvidia-persistenced.pid", "not-a-pid\n")
    scenario("malformed-proc-sys", "Truncated/garbled sysfs and procfs files: named in probe.problems, no crash",
             malformed, nvml_doc("460.32.03", v100_gpus(True)))

    scenario("legacy-nvml", "An old NVML without _v2/_v3 symbols or newer optional calls: falls back, stays healthy",
             lambda r: v100_node(r, seed, with_persistenced=True), nvml_doc("460.32.03", v100_gpus(True)),
             {"sim": "legacy"})
    hardware_scenarios()
    linker_scenarios()
    kernel_log_scenarios()
    container_scenarios()


def hardware_scenarios():
    """Issue 3 item 5: thermal, PCIe width and memory health from NVML + sysfs."""
    def h100_node(r, hot_index=None, narrow_index=None, version="550.54.15"):
        base_root(r, "dgx-h100")
        for i, bus in enumerate(H100_BUSES):
            width = 8 if i == narrow_index else 16
            pci_function(r, bus, 0x10DE, H100["device"], H100["cls"], "nvidia", width=width, speed="32.0 GT/s PCIe")
        nvidia_driver(r, version, [(b, uuid_for(i, 0x4100)) for i, b in enumerate(H100_BUSES)], H100["name"],
                      flavour="open")
        persistenced(r, 2211)

    def gpus(overrides):
        return [sim_gpu(H100, b, i, 0x4100, True, **overrides.get(i, {})) for i, b in enumerate(H100_BUSES)]

    scenario("hw-thermal-slowdown", "GPU 3 at 89 C (its slowdown threshold) with HW thermal slowdown active",
             lambda r: h100_node(r),
             nvml_doc("550.54.15", gpus({3: {"temperature_c": 89, "clock_event_reasons": 0x44,
                                              "clocks_mhz": {"graphics": 1095, "sm": 1095, "mem": 2619}}}),
                      cuda_driver_version=12040),
             {"expect_text": ["at 89 °C, at or above its slowdown threshold", "HW thermal slowdown (0x40)"]})

    scenario("hw-pcie-x8", "GPU 5's PCIe link trained at x8 of x16 (idle speed drops elsewhere are not reported)",
             lambda r: h100_node(r, narrow_index=5),
             nvml_doc("550.54.15", gpus({5: {"pcie": {"gen": 5, "width": 8, "max_gen": 5, "max_width": 16}},
                                         1: {"pcie": {"gen": 1, "width": 16, "max_gen": 5, "max_width": 16}}}),
                      cuda_driver_version=12040),
             {"expect_text": ["runs its PCIe link at x8 of x16"]})

    # Field 230 (the recovery action) and Xid 154 exist from R570 on: this node runs 570.
    def ecc_node(r):
        h100_node(r, version="570.124.06")
        write(r, "/var/log/kern.log",
              "2026-11-27T01:12:09.113200+00:00 dgx-h100 kernel: NVRM: Xid (PCI:0000:3a:00): 48, pid=51544, "
              "name=python3, Ch 00000008, An uncorrectable double bit error (DBE) has been detected on GPU in the "
              "framebuffer at partition 2, subpartition 0.\n"
              "2026-11-27T01:12:09.113977+00:00 dgx-h100 kernel: NVRM: Xid (PCI:0000:3a:00): 154, GPU recovery "
              "action changed from 0x0 (None) to 0x1 (Reset Required)\n")
    scenario("hw-ecc-remap-pending",
             "GPU 2 had a double-bit ECC error (Xid 48 in the kernel log); a row remap is pending and the driver's "
             "recovery action (field 230, Xid 154) is GPU reset",
             ecc_node,
             nvml_doc("570.124.06", gpus({2: {"ecc_errors": {"corrected_volatile": 3, "corrected_aggregate": 12,
                                                            "uncorrected_volatile": 1, "uncorrected_aggregate": 1},
                                             "remapped_rows": {"correctable": 0, "uncorrectable": 1,
                                                               "pending": True, "failure": False},
                                             "recovery_action": 1}}),
                      cuda_driver_version=12080),
             {"args": ["--kernel-log", "{root}/var/log/kern.log", "--since", "all"],
              "expect_text": ["uncorrectable (double-bit) ECC", "remapped rows pending = yes",
                              "the driver's recovery action is 'GPU reset'", "NVML field 230",
                              "Xid (PCI:0000:3a:00): 154"]})

    def geforce(r):
        base_root(r, "workstation")
        pci_function(r, "0000:01:00.0", 0x10DE, 0x2204, 0x030000, "nvidia")
        pci_function(r, "0000:01:00.1", 0x10DE, 0x1AEF, 0x040300, "snd_hda_intel")
        nvidia_driver(r, "550.54.15", [("0000:01:00.0", uuid_for(0, 0x3090))], "NVIDIA GeForce RTX 3090")
        persistenced(r)
    rtx = dict(V100, name="NVIDIA GeForce RTX 3090", device=0x2204, slowdown=98, shutdown=101, remap=False, gen=4)
    scenario("hw-fan-dead", "A GeForce at 82 C whose fan reads 0 % (dead fan)", geforce,
             nvml_doc("550.54.15", [sim_gpu(rtx, "0000:01:00.0", 0, 0x3090, True, temperature_c=82, fan_percent=0,
                                            ecc_mode=None)], cuda_driver_version=12040),
             {"expect_text": ["while its fan reads 0 %"]})


    cuda_failure_scenarios()


def cuda_failure_scenarios():
    """CUDA failures the fake libcuda reproduces (its "cuda" section)."""
    def hgx(r):
        base_root(r, "hgx-h100")
        for bus in H100_BUSES:
            pci_function(r, bus, 0x10DE, H100["device"], H100["cls"], "nvidia", speed="32.0 GT/s PCIe")
        for bus in NVSWITCH_BUSES:
            pci_function(r, bus, 0x10DE, 0x22A3, 0x068000, "nvidia")
        nvidia_driver(r, "550.54.15", [(b, uuid_for(i, 0x4200)) for i, b in enumerate(H100_BUSES)], H100["name"],
                      flavour="open")
        persistenced(r, 2211)
    scenario("cuda-fabric-manager-down",
             "HGX 8x H100 with NVSwitches whose nvidia-fabricmanager is not running: NVML is fine, cuInit returns "
             "CUDA_ERROR_SYSTEM_NOT_READY (802)",
             hgx, nvml_doc("550.54.15", [dict(sim_gpu(H100, b, i, 0x4200, True), fabric_state="not_started")
                                         for i, b in enumerate(H100_BUSES)],
                           cuda_driver_version=12040, cuda={"init_return": "SYSTEM_NOT_READY"}),
             {"args": ["--expect-gpus", "8"],
              "expect_text": ["cuInit returned SYSTEM_NOT_READY (802)", "systemctl enable --now nvidia-fabricmanager"]})


def linker_scenarios():
    """Issue 3 item 1, the linker audit. The runner compiles the libraries (scenario.json "libs"), copies the fake
    libcuda ("cuda_sim_copies"), runs the real `ldconfig -r` and then makes the cache stale ("after_ldconfig");
    only links, text and 0-byte files are committed."""
    seed = 0x5EED
    lib = "/usr/lib/x86_64-linux-gnu"
    gpus = [sim_gpu(V100, b, i, seed, True) for i, b in enumerate(AZURE_V100_BUSES)]

    def container(r):
        v100_node(r, seed, with_persistenced=True)
        write(r, "/.dockerenv", "")
    scenario("libs-seed-container",
             "The seed's container after the host went back to 460.32.03: libcuda.so.1 -> a 0-byte "
             "libcuda.so.465.19.01 beside the real 460.32.03 libcuda, the cache still naming removed 465 files",
             container, nvml_doc("460.32.03", gpus),
             {"libs": [[f"{lib}/libcuda.so.465.19.01", "libcuda.so.1"],
                       [f"{lib}/libnvidia-ptxjitcompiler.so.465.19.01", "libnvidia-ptxjitcompiler.so.1"],
                       [f"{lib}/libnvidia-ptxjitcompiler.so.460.32.03", "libnvidia-ptxjitcompiler.so.1"],
                       [f"{lib}/libnvidia-fatbinaryloader.so.465.19.01", "libnvidia-fatbinaryloader.so.465.19.01"]],
              "after_ldconfig": [["truncate", f"{lib}/libcuda.so.465.19.01"],
                                 ["truncate", f"{lib}/libnvidia-ptxjitcompiler.so.465.19.01"],
                                 ["rm", f"{lib}/libnvidia-fatbinaryloader.so.465.19.01"]],
              "expect_text": ["libcuda.so.1 -> libcuda.so.465.19.01 (0 bytes, 465.19.01), but ldconfig would point "
                              "it at libcuda.so.460.32.03", "libnvidia-fatbinaryloader.so.465.19.01, which no "
                              "longer exists", "sudo ldconfig"]})

    def two_versions(r):
        v100_node(r, seed, with_persistenced=True)
        symlink(r, f"{lib}/libcuda.so", "libcuda.so.450.102.04")
    scenario("libs-two-driver-versions",
             "Leftover 450.102.04 driver libraries beside the 460.32.03 in use (ldconfig prefers 460); the libcuda.so "
             "development link still points at 450",
             two_versions, nvml_doc("460.32.03", gpus),
             {"libs": [[f"{lib}/libcuda.so.450.102.04", "libcuda.so.1"],
                       [f"{lib}/libnvidia-ml.so.450.102.04", "libnvidia-ml.so.1"],
                       [f"{lib}/libnvidia-ptxjitcompiler.so.450.102.04", "libnvidia-ptxjitcompiler.so.1"],
                       [f"{lib}/libnvidia-ptxjitcompiler.so.460.32.03", "libnvidia-ptxjitcompiler.so.1"]],
              "expect_text": ["Driver libraries of 2 versions are installed side by side: 450.102.04, 460.32.03",
                              "libcuda.so is 450.102.04", f"sudo ln -sfn libcuda.so.1 {lib}/libcuda.so"]})

    stubs = "/usr/local/cuda-11.2/targets/x86_64-linux/lib/stubs"

    def stub_first(r):
        v100_node(r, seed, with_persistenced=True)
        write(r, "/etc/ld.so.conf.d/000-cuda-stubs.conf", stubs + "\n")  # sorts before x86_64-linux-gnu.conf
    scenario("libs-cuda-stub-first",
             "The CUDA toolkit's stubs dir listed in /etc/ld.so.conf.d ahead of the driver: ldconfig links "
             "stubs/libcuda.so.1 and caches it first; the stub's cuInit returns STUB_LIBRARY (34)",
             stub_first, nvml_doc("460.32.03", gpus, cuda={"init_return": "STUB_LIBRARY"}),
             {"cuda_sim_copies": [f"{stubs}/libcuda.so"],
              "expect_text": ["The CUDA toolkit's stub libcuda is found before the driver's", f"{stubs}/libcuda.so.1"]})

    scenario("libs-nvml-missing",
             "Driver 460.32.03 loaded and libcuda installed, but no libnvidia-ml.so.1 anywhere (partial install)",
             lambda r: v100_node(r, seed, with_persistenced=True), nvml_doc("460.32.03", gpus),
             {"install_nvml": False, "ldconfig": True,
              "expect_text": ["libnvidia-ml.so.1 missing while the nvidia kernel module 460.32.03 is loaded"]})

    def hostile(r):
        v100_node(r, seed, with_persistenced=True)
        write(r, f"{lib}/libnvidia-opencl.so.460.32.03", "INPUT(-lnvidia-opencl-real)\n")
    scenario("libs-hostile-inputs",
             "A corrupt ld.so.cache, an ld.so.conf include loop, a symlink loop and a text file posing as a library: "
             "each named, no crash, NVML still found in the default dir",
             hostile, nvml_doc("460.32.03", gpus),
             {"after_ldconfig": [["write", "glibc-ld.so.cache1.1\x00junk", "/etc/ld.so.cache"],
                                 # after ldconfig: the real one recurses on an include loop for seconds
                                 ["write", "include /etc/ld.so.conf.d/*.conf\n", "/etc/ld.so.conf.d/loop.conf"],
                                 ["symlink", "libnvidia-cfg.so.1", f"{lib}/libnvidia-cfg.so.1"]],  # ldconfig drops it
              "expect_text": ["/etc/ld.so.cache: truncated header", "libnvidia-cfg.so.1 (symlink loop)",
                              "include loop"]})


def kernel_log_scenarios():
    """Kernel log scenarios: the node's log handed over as --kernel-log {root}/var/log/kern.log."""
    seed = 0x5EED
    gpus = [sim_gpu(V100, b, i, seed, True) for i, b in enumerate(AZURE_V100_BUSES)]
    host = "hpc-v100-node"

    def kern(stamp, text):
        return f"{stamp} {host} kernel: {text}\n"

    def boot_lines(day, uptime_s):
        lines = [kern(f"Nov {day:2d} 06:00:00", "[    0.000000] Linux version 5.4.0-137-generic (buildd@lcy02-amd64-009)")]
        lines.append(kern(f"Nov {day:2d} 06:00:09", "[    9.104512] nvidia: module license 'NVIDIA' taints kernel."))
        for i, bus in enumerate(AZURE_V100_BUSES):
            lines.append(kern(f"Nov {day:2d} 06:00:11", f"[   11.3{i}0000] NVRM: GPU at PCI:{bus[:-2]}: {uuid_for(i, seed)}"))
        lines.append(kern(f"Nov {day:2d} 06:00:12", f"[   12.003001] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  460.32.03"))
        lines.append(kern(f"Nov {day:2d} 06:{uptime_s // 60 % 60:02d}:{uptime_s % 60:02d}",
                          f"[{uptime_s:5d}.000000] e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex"))
        return lines

    def xid79_previous_boot(r):
        v100_node(r, seed, with_persistenced=True)
        log = boot_lines(20, 300)  # three boots ago: outside the default window
        log.append(kern("Nov 20 09:12:44", "[11564.118271] NVRM: Xid (PCI:5b0a:00:00): 48, pid=4410, name=python3, "
                        "An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer"))
        log += boot_lines(24, 420)  # the previous boot: the GPU falls off, the node is rebooted
        log.append(kern("Nov 26 21:47:03", "[309421.772210] NVRM: Xid (PCI:9E65:00:00): 13, pid=20371, "
                        "name=ray::WorkerDict, Graphics Exception: ESR 0x504648=0x1000a 0x504650=0x0"))
        for _ in range(2):  # rsyslog logged it twice: one event
            log.append(kern("Nov 27 02:58:41", "[328417.550913] NVRM: Xid (PCI:BD71:00:00): 79, pid=20371, "
                            "name=ray::WorkerDict, GPU has fallen off the bus."))
        log.append(kern("Nov 27 02:58:41", "[328417.550990] NVRM: GPU bd71:00:00.0: GPU has fallen off the bus."))
        log.append(kern("Nov 27 02:58:41", "[328417.551104] NVRM: kgspRcAndNotifyAllChannels_IMPL: RC all channels "
                        "for critical error 79."))
        log.append(kern("Nov 27 03:02:10", "[328626.000000] sysrq: Resetting"))
        log += boot_lines(27, 180)  # this boot: all four GPUs answer again
        write(r, "/var/log/kern.log", "".join(log))

    scenario("xid79-previous-boot",
             "Xid 79 on bd71:00:00.0 before the last reboot (syslog kern.log with three boots; an older Xid 48 is "
             "outside the default window); NVML answers for all four GPUs now",
             xid79_previous_boot, nvml_doc("460.32.03", gpus),
             {"args": ["--kernel-log", "{root}/var/log/kern.log"],
              "expect_text": ["xid.fallen_off_bus", "GPU bd71:00:00.0 fell off the bus in the previous boot",
                              "kernel log, previous boot, Nov 27 02:58:41: NVRM: Xid (PCI:BD71:00:00): 79",
                              "kernel log: bd71:00:00.0 is GPU-"]})

    def stuck_in_driver(r):
        """Issue "why the driver hangs": nvidia-smi stuck in D inside the driver holding GPU 2 after a GSP RPC
        timeout; the kernel's hung-task report names it; a jbd2 task in D on disk I/O must not be blamed."""
        v100_node(r, seed, with_persistenced=True)
        bus2 = AZURE_V100_BUSES[2][:-2].upper()

        def proc(pid, comm, state, fds, wchan="0", stack=""):
            write(r, f"/proc/{pid}/stat", f"{pid} ({comm}) {state} 1 {pid} {pid} 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 "
                                          f"0 {pid * 10} 1000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3\n")
            write(r, f"/proc/{pid}/wchan", wchan)
            if stack:
                write(r, f"/proc/{pid}/stack", stack)
            os.makedirs(os.path.join(r, f"proc/{pid}/fd"), exist_ok=True)
            for n, target in enumerate(fds):
                symlink(r, f"/proc/{pid}/fd/{n}", target)
        proc(1, "systemd", "S", ["/dev/null"])
        proc(1834, "nvidia-persiste", "S", ["/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia1", "/dev/nvidia2",
                                            "/dev/nvidia3"])
        proc(4410, "python3", "S", ["/dev/null", "/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia2"])
        proc(48211, "nvidia-smi", "D", ["/dev/null", "/dev/nvidiactl", "/dev/nvidia2"], "os_acquire_rwlock_write",
             "[<0>] os_acquire_rwlock_write+0x31/0x40 [nvidia]\n[<0>] _nv042409rm+0x10/0x40 [nvidia]\n"
             "[<0>] rm_ioctl+0x63/0xb0 [nvidia]\n[<0>] nvidia_ioctl+0x5c9/0x8c0 [nvidia]\n"
             "[<0>] __x64_sys_ioctl+0x8d/0xd0\n")
        proc(612, "jbd2/nvme0n1p2-", "D", [], "jbd2_journal_commit_transaction",
             "[<0>] jbd2_journal_commit_transaction+0x1b4/0x1a90 [jbd2]\n")
        write(r, "/proc/stat", "cpu  1 2 3 4\nbtime 1795000000\n")
        log = boot_lines(27, 180)
        log.append(kern("Nov 27 09:41:12", f"[13011.402117] NVRM: Xid (PCI:{bus2}): 119, pid=48211, name=nvidia-smi, "
                        "Timeout after 6s of waiting for RPC response from GPU2 GSP! Expected function 76 "
                        "(GSP_RM_CONTROL) (0x20800a4c 0x4)."))
        for line in ["[13134.161616] INFO: task nvidia-smi:48211 blocked for more than 122 seconds.",
                     "[13134.161630]       Tainted: P           OE     5.4.0-137-generic #154-Ubuntu",
                     "[13134.161633] \"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.",
                     "[13134.161635] nvidia-smi      D    0 48211  48190 0x00004000",
                     "[13134.161640] Call Trace:",
                     "[13134.161645]  __schedule+0x2e3/0x740",
                     "[13134.161652]  schedule+0x42/0xb0",
                     "[13134.161655]  rwsem_down_write_slowpath+0x244/0x4d0",
                     "[13134.161660]  os_acquire_rwlock_write+0x31/0x40 [nvidia]",
                     "[13134.161700]  _nv042409rm+0x10/0x40 [nvidia]",
                     "[13134.161720]  nvidia_ioctl+0x5c9/0x8c0 [nvidia]",
                     "[13134.161730]  do_syscall_64+0x57/0x190",
                     "[13134.161740]  entry_SYSCALL_64_after_hwframe+0x44/0xa9"]:
            log.append(kern("Nov 27 09:43:15", line))
        log.append(kern("Nov 27 09:44:00", "[13178.000000] e1000e 0000:00:1f.6 eno1: NIC Link is Up 1000 Mbps Full Duplex"))
        write(r, "/var/log/kern.log", "".join(log))

    scenario("hang-stuck-in-driver",
             "NVML hangs on GPU index 2 after a GSP RPC timeout (Xid 119): nvidia-smi is stuck in D inside the driver "
             "holding /dev/nvidia2, the kernel reported it as a hung task; a jbd2 task in D on disk I/O is not the "
             "driver's; --timeout 2",
             stuck_in_driver,
             nvml_doc("460.32.03", gpus, faults=[{"call": "nvmlDeviceGetTemperature", "gpu": 2, "hang": True}]),
             {"args": ["--timeout", "2", "--kernel-log", "{root}/var/log/kern.log"], "max_seconds": 4,
              "expect_text": ["Why it hangs: GSP RPC timeout (Xid 119/120); tasks stuck in the driver",
                              "1 process(es) stuck inside the NVIDIA driver on GPU b111:00:00.0: nvidia-smi (pid 48211)",
                              "also holding it: python3 (pid 4410, state S)",
                              "The kernel reported 1 stall(s) inside the NVIDIA driver this boot: hung task nvidia-smi "
                              "(pid 48211), blocked for 122 s",
                              "the stalled process was using GPU b111:00:00.0"],
              "expect_not_text": ["jbd2"]})


CLI_INFO_460 = """NVRM version:   460.32.03
CUDA version:   11.2

Device Index:   0
Device Minor:   0
Model:          Tesla V100-PCIE-16GB
Brand:          Tesla
GPU UUID:       GPU-00005eed-0000-4c1e-9d2b-00000002f7c5
Bus Location:   00005b0a:00:00.0
Architecture:   7.0
"""


def shell_script(root, path, body):
    write(root, path, "#!/bin/sh\n" + body)
    os.chmod(os.path.join(root, path.lstrip("/")), 0o755)


def container_scenarios():
    """Issue 3 item 3: the container runtime on the host, and gpudoctor inside a container."""
    seed = 0x5EED
    gpus = [sim_gpu(V100, b, i, seed, True) for i, b in enumerate(AZURE_V100_BUSES)]

    def docker_host(r, cli_body, daemon=None, links=()):
        v100_node(r, seed, with_persistenced=True)
        write(r, "/sys/fs/cgroup/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n")
        write(r, "/proc/devices", "Character devices:\n  1 mem\n195 nvidia-frontend\n508 nvidia-uvm\n"
                                  "509 nvidia-caps\n\nBlock devices:\n  8 sd\n")
        write(r, "/etc/docker/daemon.json", json.dumps(daemon or {
            "runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}, indent=4) + "\n")
        write(r, "/etc/nvidia-container-runtime/config.toml",
              "disable-require = false\n\n[nvidia-container-cli]\nenvironment = []\nload-kmods = true\n"
              "ldconfig = \"@/sbin/ldconfig\"\n\n[nvidia-container-runtime]\nlog-level = \"info\"\n"
              "mode = \"auto\"\nruntimes = [\"docker-runc\", \"runc\"]\n")
        write(r, "/sbin/ldconfig", "")
        shell_script(r, "/usr/bin/nvidia-container-runtime", "exit 0\n")
        shell_script(r, "/usr/bin/nvidia-container-cli", cli_body)
        for link, target in links:
            symlink(r, link, target)

    cli_ok = "cat <<'EOF'\n" + CLI_INFO_460 + "EOF\n"
    cli_args = ["--container-cli", "{root}/usr/bin/nvidia-container-cli"]
    scenario("container-cgroup2-no-devchar",
             "Docker host on cgroup v2 (systemd cgroup driver by default) with the nvidia runtime; no /dev/char links "
             "for the NVIDIA nodes except nvidiactl: containers lose their GPUs after `systemctl daemon-reload`",
             lambda r: docker_host(r, cli_ok, links=[("/dev/char/195:255", "../nvidiactl")]),
             nvml_doc("460.32.03", gpus),
             {"args": cli_args, "expect_text": ["6 of 7 NVIDIA device nodes lack their /dev/char link",
                                                "/dev/char/508:0 -> /dev/nvidia-uvm: missing",
                                                "Docker's default on cgroup v2",
                                                "nvidia-container-cli info works: driver 460.32.03"]})

    scenario("container-cli-hangs",
             "nvidia-container-cli info never answers (wedged toolkit); --timeout 2: reported, killed, no hang",
             lambda r: docker_host(r, "exec sleep 60\n", daemon={
                 "runtimes": {"nvidia": {"path": "nvidia-container-runtime"}},
                 "exec-opts": ["native.cgroupdriver=cgroupfs"]}),
             nvml_doc("460.32.03", gpus),
             {"args": cli_args + ["--timeout", "2"], "max_seconds": 2.6,
              "expect_text": ["nvidia-container-cli info did not answer in "]})

    def broken_toolkit(r):
        docker_host(r, "echo 'nvidia-container-cli: initialization error: driver error: failed to process request' "
                       ">&2\nexit 1\n",
                    daemon={"default-runtime": "nvidia",
                            "runtimes": {"nvidia": {"path": "/usr/local/bin/nvidia-container-runtime"}},
                            "exec-opts": ["native.cgroupdriver=cgroupfs"]})
        write(r, "/etc/nvidia-container-runtime/config.toml",
              "[nvidia-container-cli]\nldconfig = \"@/sbin/ldconfig.real\"\n")
        write(r, "/etc/cdi/nvidia.yaml",
              "cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n- name: all\n  containerEdits:\n"
              "    deviceNodes:\n    - path: /dev/nvidia0\ncontainerEdits:\n  mounts:\n"
              "  - hostPath: /usr/lib/x86_64-linux-gnu/libcuda.so.455.45.01\n"
              "    containerPath: /usr/lib/x86_64-linux-gnu/libcuda.so.455.45.01\n"
              "  - hostPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.455.45.01\n"
              "    containerPath: /usr/lib/x86_64-linux-gnu/libnvidia-ml.so.455.45.01\n")
    scenario("container-toolkit-broken",
             "The seed's toolkit error (driver error: failed to process request), daemon.json naming a runtime "
             "that is not installed, Ubuntu's ldconfig.real on another distribution, a CDI spec from driver 455",
             broken_toolkit, nvml_doc("460.32.03", gpus),
             {"args": cli_args, "expect_text": ["nvidia-container-cli fails", "sudo ldconfig",
                                                "CDI spec /etc/cdi/nvidia.yaml mounts driver 455.45.01 libraries",
                                                "ldconfig = \"@/sbin/ldconfig.real\" does not exist"]})

    def inside(r, given):
        base_root(r, "3f2a9c81d0b4")
        for bus in AZURE_V100_BUSES:  # sysfs is not namespaced: the host's four GPUs
            pci_function(r, bus, 0x10DE, V100["device"], V100["cls"], "nvidia")
        nvidia_driver(r, "460.32.03", [(AZURE_V100_BUSES[i], uuid_for(i, seed)) for i in given], V100["name"])
        write(r, "/.dockerenv", "")
        write(r, "/proc/1/cgroup", "0::/\n")
    scenario("container-inside-one-gpu",
             "gpudoctor inside a Docker container given one of the host's four V100s (docker run --gpus device=1): "
             "the other three are not reported as fallen off",
             lambda r: inside(r, [1]), nvml_doc("460.32.03", [sim_gpu(V100, AZURE_V100_BUSES[1], 0, seed, True)]),
             {"expect_text": ["Running inside a container with 1 of the host's 4 GPU(s)",
                              "1 of 4 GPU(s) on the PCI bus answer through NVML; 3 not given to this container"]})

    scenario("container-nvml-unknown-error",
             "Inside a container after `systemctl daemon-reload` on a cgroup-v2 host: 'Failed to initialize NVML: "
             "Unknown Error'",
             lambda r: inside(r, [0, 1, 2, 3]),
             nvml_doc("460.32.03", gpus, faults=[{"call": "nvmlInit", "return": "UNKNOWN"}]),
             {"expect_text": ["Inside a container NVML fails to initialise ('Unknown Error', 999)",
                              "Recreate this container"]})


if __name__ == "__main__":
    sys.exit(main())
