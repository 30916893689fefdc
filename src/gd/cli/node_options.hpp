// Options shared by commands that probe a node (check, collect, churn, fix):
// --root, --nvml, --timeout, and how a snapshot of the node is taken.
#pragma once

#include <string>

#include "gd/model/snapshot.hpp"
#include "gd/probe/probe.hpp"

namespace CLI {
class App;
}

namespace gd::cli {

struct NodeOptions {
  std::string root = "/";
  probe::ProbeOptions probe;
};

// Adds --root, --nvml, --timeout (and the other probe options) to sub.
void add_node_options(CLI::App& sub, NodeOptions& o);

// Runs every probe on the node the options describe (LD_LIBRARY_PATH from
// this process's environment).
// Error when --root is not a node root (probe::check_node_root).
Result<model::Snapshot> snapshot_node(NodeOptions& o);

}  // namespace gd::cli
