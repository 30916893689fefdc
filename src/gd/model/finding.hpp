// Finding: one verdict of one rule, with the evidence it used and the fix.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gd::model {

enum class Severity { ok = 0, warning = 1, critical = 2 };

std::string_view severity_name(Severity s);

struct Finding {
  std::string id;                  // stable dotted rule id: "gpu.fell_off_bus"
  Severity severity = Severity::ok;
  std::optional<std::string> gpu;  // lowercase sysfs bus id when about one GPU
  std::string summary;             // one line
  std::vector<std::string> evidence;
  std::string cause;
  std::vector<std::string> fix;    // commands or steps, in order
  bool needs_root = false;
  bool needs_reboot = false;
  // Raised only from evidence of earlier boots (the kernel log's previous
  // boot): history, not the node's state now. The ledger keeps it but does not
  // count it as seen again.
  bool earlier_boots_only = false;
};

}  // namespace gd::model
