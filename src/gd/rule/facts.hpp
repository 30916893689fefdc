// Small pure questions about a Snapshot that several rules ask.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gd/model/snapshot.hpp"

namespace gd::rule {

// PCI GPUs (not audio, not NVSwitch) present on the node.
bool has_pci_gpus(const model::Snapshot& s);
// True when there is nothing NVIDIA here at all: no GPU on PCI, no module,
// and NVML (if any) answers with zero devices.
bool no_nvidia_gpu(const model::Snapshot& s);
// NVML initialised and enumerated (maybe partly, if a later call hung).
bool nvml_answered(const model::Snapshot& s);
// Bus ids of GPUs NVML answered for (handle obtained and PCI info read).
std::vector<std::string> nvml_bus_ids(const model::Snapshot& s);
// Where each GPU on the PCI bus stands: answering through NVML, bound to
// another driver (vfio-pci for a VM, nouveau), not given to this container,
// or none of these (no answer: lost or not reached).
struct GpuAccounting {
  std::size_t on_pci = 0;
  std::vector<std::string> answering;       // bus ids
  std::vector<std::string> other_driver;    // "0000:3b:00.0 (vfio-pci)"
  std::vector<std::string> not_given;       // bus ids (inside a container)
  std::vector<std::string> unanswered;      // bus ids: bound to nvidia or unbound, yet NVML has no record
};
GpuAccounting account_gpus(const model::Snapshot& s);
// "3 of 4 GPU(s) answer through NVML; 1 bound to vfio-pci: 0000:3b:00.0 (vfio-pci)" (no "All" unless all do).
std::string accounting_text(const GpuAccounting& a);

// NVML answers for this GPU now: a handle, PCI info, and no query said
// GPU_IS_LOST or RESET_REQUIRED.
bool nvml_answers_for(const model::Snapshot& s, std::string_view bus_id);

// Dangling driver-library links that lead through /etc/alternatives: dpkg's
// (Debian's update-alternatives), repaired by reinstalling the package or
// update-alternatives, never by rm. ldconfig deletes such a dangling .so.N link.
std::vector<const model::LibEntry*> dangling_alternatives_links(const model::Snapshot& s);

// nvidia-persistenced is running (pid file + live process).
bool persistenced_running(const model::Snapshot& s);
// "4.52 s" / "12 ms"
std::string format_ms(double ms);
// The evidence line for the NVML init time, when measured.
std::optional<std::string> init_time_evidence(const model::Snapshot& s);
// User-space driver version: the version in the NVML library's file name, else
// what the library itself reports (nvmlSystemGetNVMLVersion "12.535.261.03"
// answers before init, so plain-file installs get a version check too).
std::optional<std::string> user_space_version(const model::Snapshot& s);

}  // namespace gd::rule
