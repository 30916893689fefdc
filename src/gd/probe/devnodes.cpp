#include "gd/probe/devnodes.hpp"

#include <algorithm>
#include <string>

#include <fmt/format.h>

namespace gd::probe {

namespace {

model::DevNode check_node(const host::HostRoot& host, std::string path) {
  host::FileKind kind = host.kind(path);
  if (kind == host::FileKind::symlink) kind = host.kind_followed(path);
  model::DevNode node;
  node.path = std::move(path);
  node.present = kind != host::FileKind::missing;
  node.char_device = kind == host::FileKind::char_device;
  return node;
}

}  // namespace

model::DevNodes read_devnodes(const host::HostRoot& host, const std::vector<unsigned>& minors) {
  model::DevNodes out;
  for (const char* fixed : {"/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools"})
    out.nodes.push_back(check_node(host, fixed));
  std::vector<unsigned> seen;
  for (unsigned minor : minors) {
    if (std::find(seen.begin(), seen.end(), minor) != seen.end()) continue;
    seen.push_back(minor);
    out.nodes.push_back(check_node(host, fmt::format("/dev/nvidia{}", minor)));
  }
  return out;
}

}  // namespace gd::probe
