// The --since option's validator, shared by check, collect and xid.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "gd/probe/kernel_log.hpp"

namespace gd::cli {

// Accepts what probe::parse_since accepts; its message names the forms.
inline CLI::Validator since_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto w = probe::parse_since(value, static_cast<std::int64_t>(std::time(nullptr)));
        if (w) return std::string();
        std::string_view m = w.error().message;
        return std::string(m.substr(m.rfind("--since ", 0) == 0 ? 8 : 0));  // CLI11 names the option itself
      },
      "WINDOW", "since");
}

}  // namespace gd::cli
