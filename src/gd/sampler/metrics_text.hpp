// Prometheus text exposition (format 0.0.4) of a LiveState: gpudoctor's own
// names in base units (docs/watch.md lists them), and with dcgm_compat also
// dcgm-exporter's DCGM_FI_DEV_* names and labels.
#pragma once

#include <string>
#include <string_view>

#include "gd/sampler/live_state.hpp"

namespace gd::sampler {

enum class MetricsCompat { none, dcgm };

std::string render_metrics(const LiveState& s, MetricsCompat compat);

// A label value with \ " and newline escaped.
std::string escape_label(std::string_view v);

}  // namespace gd::sampler
