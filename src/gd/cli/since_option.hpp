// Validators of the time options every command shares: --since (kernel log
// window), --until / history --since, --timeout.
#pragma once

#include <ctime>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

#include "gd/probe/kernel_log.hpp"
#include "gd/util/time.hpp"

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

// --until (and history's --since): what util::parse_time_ms accepts.
inline CLI::Validator time_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (util::parse_time_ms(value, util::now_unix_ms())) return std::string();
        return "expected " + std::string(util::k_time_forms);
      },
      "TIME", "time");
}

// --timeout: seconds or a duration ("2", "2.5", "500ms", "1m"); never nan, inf or <= 0.
inline CLI::Validator timeout_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto d = util::parse_duration(value);
        if (!d) return "not a duration: expected seconds (10, 2.5) or 500ms, 1m";
        if (*d < std::chrono::milliseconds(100) || *d > std::chrono::hours(1)) return "must be between 100ms and 1h";
        value = std::to_string(static_cast<double>(d->count()) / 1000.0);  // the option stores seconds
        return std::string();
      },
      "DURATION", "timeout");
}

// --quiet-time (the ledger's transient problems): a duration from 1m to 30d,
// stored as seconds.
inline CLI::Validator quiet_time_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        auto d = util::parse_duration(value);
        if (!d) return "not a duration: expected 30m, 1h, 2d";
        if (*d < std::chrono::minutes(1) || *d > std::chrono::hours(24 * 30)) return "must be between 1m and 30d";
        value = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(*d).count());
        return std::string();
      },
      "DURATION", "quiet-time");
}

}  // namespace gd::cli
