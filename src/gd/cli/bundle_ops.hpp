// `collect --bundle`: what setup_collect hands to the bundle writer (cli/bundle.cpp).
#pragma once

#include <cstdint>
#include <string>

#include "gd/cli/node_options.hpp"

namespace gd::cli {

struct BundleOptions {
  std::string path;            // FILE.tar.gz
  bool redact = false;         // serials, UUIDs and host names replaced consistently
  std::string db;              // the history ("" = watch's default)
  std::int64_t window_s = 7200;  // the history window around the latest incident
};

// Writes the bundle; 0 when written (whatever the node's state), 3 when it could not be.
int write_bundle(NodeOptions& o, const BundleOptions& b);

}  // namespace gd::cli
