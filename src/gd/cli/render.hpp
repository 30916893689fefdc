// Front-end rendering of findings: human text (colour only when asked) and
// the --json document. Renderers only read; they never probe.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "gd/model/finding.hpp"
#include "gd/model/snapshot.hpp"

namespace gd::cli {

struct TextOptions {
  bool color = false;
  bool verbose = false;  // probe timings and the per-GPU table
};

std::string render_text(const model::Snapshot& s, const std::vector<model::Finding>& findings, int exit_code,
                        const TextOptions& opt);
nlohmann::json render_json(const model::Snapshot& s, const std::vector<model::Finding>& findings, int exit_code);
// Markdown reference of every rule (docs/findings.md is this output).
std::string render_rules_markdown();
// Colour only on a terminal, never with --no-color or a non-empty NO_COLOR
// (no-color.org), in every command.
bool use_color(bool no_color_flag, int fd = 1);
// Dumps JSON safely (invalid UTF-8 from files is replaced, never thrown).
std::string dump_json(const nlohmann::json& j, int indent = 2);

}  // namespace gd::cli
