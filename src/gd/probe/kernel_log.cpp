#include "gd/probe/kernel_log.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <array>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <ctime>
#include <utility>

#if defined(__SSE2__) || defined(__x86_64__)
#include <immintrin.h>
#endif

#include <fmt/format.h>

#include "gd/host/kernel_log_source.hpp"
#include "gd/probe/driver.hpp"
#include "gd/probe/state.hpp"
#include "gd/model/bus_id.hpp"
#include "gd/model/xid_catalog.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::probe {

namespace {

constexpr std::string_view k_nvrm = "NVRM: ";
constexpr std::size_t k_max_message = 1024;
constexpr int k_max_pending_lines = 4;

using util::starts_with;

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }

// (memmem must not see a null pointer: an empty view may have one. Found by fuzz_kernel_log.)
bool contains(std::string_view hay, std::string_view needle) {
  if (needle.size() > hay.size()) return false;
  if (needle.empty()) return true;
  return ::memmem(hay.data(), hay.size(), needle.data(), needle.size()) != nullptr;
}

// Removes and returns the leading run of decimal digits (at most max_digits).
std::string_view take_digits(std::string_view& s, std::size_t max_digits = 20) {
  std::size_t n = 0;
  while (n < s.size() && n < max_digits && is_digit(s[n])) ++n;
  auto out = s.substr(0, n);
  s.remove_prefix(n);
  return out;
}

void skip_spaces(std::string_view& s) {
  while (!s.empty() && s[0] == ' ') s.remove_prefix(1);
}

int to_int(std::string_view digits) {
  int v = 0;
  for (char c : digits) v = v * 10 + (c - '0');
  return v;
}

// ---- when a line was written -------------------------------------------

using Clock = KernelLogParser::Clock;

struct Prefix {
  enum class Kind { text, boot_separator, dictionary } kind = Kind::text;
  std::string_view stamp;  // the time as written
  Clock clock = Clock::none;
  std::optional<double> mono_s;
  std::optional<std::uint64_t> kmsg_usec;
  std::string_view message;  // what follows the prefix
  bool foreign = false;      // a syslog line of another program (its tag is not "kernel:")
};

// "  219.470994]" (after '['): seconds since boot; s is left after "] ".
std::optional<double> take_mono(std::string_view& s) {
  std::string_view t = s;
  skip_spaces(t);
  auto whole = take_digits(t, 12);
  if (whole.empty()) return std::nullopt;
  auto v = static_cast<double>(util::parse_u64(whole).value_or(0));
  if (!t.empty() && t[0] == '.') {
    t.remove_prefix(1);
    auto frac = take_digits(t, 9);
    double scale = 0.1;
    for (char c : frac) v += (c - '0') * scale, scale /= 10;
  }
  if (t.empty() || t[0] != ']') return std::nullopt;
  t.remove_prefix(1);
  if (!t.empty() && t[0] == ' ') t.remove_prefix(1);
  s = t;
  return v;
}

// "[  219.470994] msg" or "[Fri Nov 27 03:00:00 2026] msg" (dmesg -T).
void bracket_prefix(std::string_view line, Prefix& p) {
  std::string_view s = line.substr(1);
  if (auto mono = take_mono(s)) {
    p.mono_s = mono;
    p.stamp = util::trim(line.substr(1, line.size() - s.size() - 1));
    if (!p.stamp.empty() && p.stamp.back() == ']') p.stamp.remove_suffix(1);
    p.message = s;
    return;
  }
  auto close = line.find(']');
  if (close == std::string_view::npos || close > 40 || close < 2 || is_digit(line[1])) return;
  p.stamp = line.substr(1, close - 1);
  p.clock = Clock::ctime;
  p.message = line.substr(close + 1);
  skip_spaces(p.message);
}

// "6,1234,5678901,-;message" (a /dev/kmsg record).
bool kmsg_prefix(std::string_view line, Prefix& p) {
  std::string_view s = line;
  if (take_digits(s, 4).empty() || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  if (take_digits(s).empty() || s.empty() || s[0] != ',') return false;
  s.remove_prefix(1);
  auto usec = take_digits(s);
  if (usec.empty() || s.empty() || s[0] != ',') return false;
  auto semi = s.find(';');
  if (semi == std::string_view::npos || semi > 16) return false;
  p.kmsg_usec = util::parse_u64(usec);
  if (p.kmsg_usec) p.mono_s = static_cast<double>(*p.kmsg_usec) / 1e6;
  p.message = s.substr(semi + 1);
  return true;
}

// After a syslog/journal time stamp: "host kernel: [  12.3] message".
// `syslog`: the stamp was a syslog one, so a tag other than "kernel:" is
// another program's line.
void host_and_tag(std::string_view rest, Prefix& p, bool syslog = false) {
  skip_spaces(rest);
  p.message = rest;
  auto space = rest.find(' ');
  if (space == std::string_view::npos) return;
  std::string_view after_host = rest.substr(space + 1);
  if (!starts_with(after_host, "kernel: ")) {  // not a syslog line (dmesg --time-format iso), or not the kernel
    p.foreign = syslog;
    return;
  }
  after_host.remove_prefix(8);
  p.message = after_host;
  if (!after_host.empty() && after_host[0] == '[') {
    std::string_view s = after_host.substr(1);
    if (auto mono = take_mono(s)) {
      p.mono_s = mono;
      p.message = s;
    }
  }
}

// "2026-11-27T03:00:00[.frac][zone] ..." (journal short-iso, rsyslog, dmesg --time-format iso).
bool iso_prefix(std::string_view line, Prefix& p) {
  if (line.size() < 19 || line[4] != '-' || line[7] != '-' || (line[10] != 'T' && line[10] != ' ') || line[13] != ':' ||
      line[16] != ':')
    return false;
  auto end = line.find(' ', 11);
  if (end == std::string_view::npos) end = line.size();
  p.stamp = line.substr(0, end);
  p.clock = Clock::iso;
  host_and_tag(line.substr(end), p);
  return true;
}

// "Nov 27 03:00:00[.123456] host kernel: ..." (syslog, journal short/short-precise).
bool syslog_prefix(std::string_view line, Prefix& p) {
  if (line.size() < 15 || !util::month_index(line.substr(0, 3)) || line[3] != ' ' || line[9] != ':' || line[12] != ':')
    return false;
  auto end = line.find(' ', 7);
  if (end == std::string_view::npos) return false;
  p.stamp = line.substr(0, end);
  p.clock = Clock::syslog;
  host_and_tag(line.substr(end), p, true);
  return true;
}

Prefix parse_prefix(std::string_view line) {
  Prefix p;
  p.message = line;
  if (line.empty()) return p;
  char c = line[0];
  if (c == '[') {
    bracket_prefix(line, p);
  } else if (c == '-' && (starts_with(line, "-- Boot ") || starts_with(line, "-- Reboot --"))) {
    p.kind = Prefix::Kind::boot_separator;
  } else if (c == ' ' && line.size() > 1 && is_upper(line[1]) && line.find('=') != std::string_view::npos) {
    p.kind = Prefix::Kind::dictionary;  // a /dev/kmsg record's " KEY=value" continuation
  } else if (is_digit(c)) {
    if (!kmsg_prefix(line, p)) iso_prefix(line, p);
  } else if (is_upper(c)) {
    syslog_prefix(line, p);
  }
  return p;
}

// ---- which lines need the full parse ------------------------------------
//
// A line matters when it holds an anchor: "NVRM: " (the driver), "INFO: "
// (hung tasks, RCU stalls), "LOCKUP" (hard lockups), "CPU#" (soft lockups)
// or "Linux version " (a boot). One pass looks for one rare byte of each
// ('V', 'F', 'K', '#', 'L') and checks the anchor around it; every other line
// is only skimmed for its boot clues.

// Which anchor a byte is part of: k_anchor_nvrm for "NVRM: ", k_anchor_other
// for the rest, 0 for none.
constexpr unsigned k_anchor_nvrm = 1, k_anchor_other = 2;
unsigned anchor_at(std::string_view s, std::size_t i) {
  auto at = [&](std::size_t from, std::string_view word) {
    return from <= i && from + word.size() <= s.size() && s.compare(from, word.size(), word) == 0;
  };
  switch (s[i]) {
    case 'V': return i >= 1 && at(i - 1, "NVRM: ") ? k_anchor_nvrm : 0;
    case 'F': return i >= 2 && at(i - 2, "INFO: ") ? k_anchor_other : 0;
    case 'K': return i >= 3 && at(i - 3, "LOCKUP") ? k_anchor_other : 0;
    case '#': return i >= 3 && at(i - 3, "CPU#") ? k_anchor_other : 0;
    case 'L': return at(i, "Linux version ") ? k_anchor_other : 0;
    default: return 0;
  }
}

// An NVRM message that can be no event and no part of one (not an Xid, GPU,
// API-mismatch, RmInitAdapter, load-banner or other driver-form message): the
// driver's chatter.
bool nvrm_chatter(std::string_view line) {
  if (line.size() < 6) return false;
  const void* hit = ::memmem(line.data(), line.size(), "NVRM: ", 6);
  if (!hit) return false;
  std::string_view body = line.substr(static_cast<const char*>(hit) - line.data() + 6);
  if (body.empty()) return true;
  switch (body[0]) {
    case 'X': if (util::starts_with(body, "Xid ")) return false; break;
    case 'T': if (util::starts_with(body, "The NVIDIA GPU ")) return false; break;
    case 'A': if (util::starts_with(body, "API mismatch")) return false; break;
    case 'G': if (util::starts_with(body, "GPU ")) return false; break;
    case 'R': if (util::starts_with(body, "RmInitAdapter")) return false; break;
    case 'l': if (util::starts_with(body, "loading NVIDIA UNIX") || util::starts_with(body, "loaded NVIDIA UNIX")) return false; break;
    default: break;
  }
  // (a continuation line matters only while a message is pending: checked by the caller)
  return model::match_driver_message(body) == nullptr;
}

// The whole seconds of "  219.470994]" (after '[') into `seconds`; false unless that form. (A flag and an out
// parameter, not an optional<double>: returning that one cost a store-forwarding stall, half of this
// function's time.)
bool whole_seconds(const char* p, const char* end, double& seconds) {
  while (p < end && *p == ' ') ++p;
  std::uint64_t v = 0;
  const char* digits = p;
  while (p < end && is_digit(*p) && p - digits < 12) v = v * 10 + static_cast<unsigned>(*p++ - '0');
  if (p == digits || p >= end || (*p != '.' && *p != ']')) return false;
  seconds = static_cast<double>(v);
  return true;
}

// The seconds-since-boot stamp of a kernel line (whole seconds: enough to
// see it go back) without parsing its prefix fully: "[  12.3] ...", a
// /dev/kmsg record, or a syslog line's "kernel: [  12.3]", into `seconds`; false for other
// programs' lines and other formats.
bool quick_mono(std::string_view line, double& seconds) {
  if (line.empty()) return false;
  const char* end = line.data() + line.size();
  if (line[0] == '[') return whole_seconds(line.data() + 1, end, seconds);
  if (is_digit(line[0])) {
    auto mono = parse_prefix(line).mono_s;
    if (mono) seconds = *mono;
    return mono.has_value();
  }
  if (!is_upper(line[0])) return false;
  std::size_t span = std::min<std::size_t>(line.size(), 160);
  const void* b = std::memchr(line.data(), '[', span);
  if (!b) return false;
  std::size_t at = static_cast<const char*>(b) - line.data();
  if (at < 8 || std::memcmp(line.data() + at - 8, "kernel: ", 8) != 0) return false;
  return whole_seconds(line.data() + at + 1, end, seconds);
}

// ---- the kernel's stall reports ---------------------------------------------

constexpr int k_max_report_lines = 80;
constexpr std::size_t k_max_driver_frames = 16;

// "NAME:PID" -> name, pid (the name may hold ':').
void take_task(std::string_view task, model::KernelEvent& e) {
  auto colon = task.rfind(':');
  if (colon == std::string_view::npos) return;
  if (auto pid = util::parse_u64(task.substr(colon + 1)); pid && *pid <= 0x7fffffff) e.pid = static_cast<int>(*pid);
  if (colon > 0) e.process = util::printable(task.substr(0, colon), 64);
}

// The decimal number right after `word` in s, if any.
std::optional<std::uint64_t> number_after(std::string_view s, std::string_view word) {
  auto at = s.find(word);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = s.substr(at + word.size());
  auto digits = take_digits(rest, 12);
  return digits.empty() ? std::nullopt : util::parse_u64(digits);
}

// The first line of a stall report -> its event (kind, task, CPU, seconds).
std::optional<model::KernelEvent> stall_start(std::string_view m) {
  model::KernelEvent e;
  if (auto at = m.find("INFO: task "); at != std::string_view::npos) {
    std::string_view rest = m.substr(at + 11);
    auto blocked = rest.find(" blocked for more than ");
    if (blocked == std::string_view::npos) return std::nullopt;
    e.kind = model::KernelEventKind::hung_task;
    take_task(rest.substr(0, blocked), e);
    if (auto n = number_after(rest, " blocked for more than ")) e.stalled_s = static_cast<double>(*n);
    return e;
  }
  if (auto at = m.find("soft lockup - CPU#"); at != std::string_view::npos) {
    e.kind = model::KernelEventKind::soft_lockup;
    if (auto n = number_after(m, "CPU#"); n && *n < 1'000'000) e.cpu = static_cast<int>(*n);
    if (auto n = number_after(m, " stuck for ")) e.stalled_s = static_cast<double>(*n);
    auto open = m.rfind('['), close = m.rfind(']');
    if (open != std::string_view::npos && close != std::string_view::npos && close > open)
      take_task(m.substr(open + 1, close - open - 1), e);
    return e;
  }
  if (m.find("detected hard LOCKUP on cpu ") != std::string_view::npos) {
    e.kind = model::KernelEventKind::hard_lockup;
    if (auto n = number_after(m, "LOCKUP on cpu "); n && *n < 1'000'000) e.cpu = static_cast<int>(*n);
    return e;
  }
  if (m.find("INFO: rcu_") != std::string_view::npos && m.find("detected stall") != std::string_view::npos) {
    e.kind = model::KernelEventKind::rcu_stall;
    return e;
  }
  return std::nullopt;
}

// A call-trace frame: "[? ][[<addr>] ]symbol+0xOFF/0xLEN[ [module]]" -> its
// text and module ("" for the core kernel); nullopt for any other line.
struct Frame {
  std::string_view text, module;
};
std::optional<Frame> parse_frame(std::string_view t) {
  if (starts_with(t, "? ")) t.remove_prefix(2);
  if (starts_with(t, "[<")) {  // older kernels: "[<ffffffffc0a1b2c3>] symbol+0x1/0x2 [nvidia]"
    auto close = t.find(">] ");
    if (close == std::string_view::npos) return std::nullopt;
    t.remove_prefix(close + 3);
  }
  auto plus = t.find("+0x");
  if (plus == 0 || plus == std::string_view::npos || t.substr(0, plus).find(' ') != std::string_view::npos)
    return std::nullopt;
  if (t.find("/0x", plus) == std::string_view::npos) return std::nullopt;
  Frame f{t, ""};
  auto open = t.find(" [", plus);
  if (open != std::string_view::npos) {
    auto close = t.find(']', open);
    if (close == std::string_view::npos) return std::nullopt;
    f.module = t.substr(open + 2, close - open - 2);
    f.text = t.substr(0, close + 1);
  }
  return f;
}

bool is_driver_module(std::string_view module) { return starts_with(module, "nvidia"); }

// Register dumps and section markers inside a report: "RSP: 0018:...",
// "R10: ...", "FS: ...", "Code: ...", "<IRQ>", "</NMI>", "NMI backtrace for cpu 3".
bool is_report_context(std::string_view t) {
  if (starts_with(t, "<") || starts_with(t, "Code: ") || starts_with(t, "NMI backtrace") ||
      starts_with(t, "Sending NMI") || starts_with(t, "Hardware name:") || starts_with(t, "Modules linked in:") ||
      starts_with(t, "rcu: ") || starts_with(t, "(detected by") || starts_with(t, "Workqueue:"))
    return true;
  auto colon = t.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 5) return false;
  for (char c : t.substr(0, colon))
    if (!is_upper(c) && !is_digit(c)) return false;
  return true;  // "RAX:", "R10:", "CR2:", "PKRU:"
}

// ---- wall-clock time ---------------------------------------------------


std::optional<std::int64_t> iso_time(std::string_view s) { return util::parse_iso_time(s); }

// "Nov 27 03:00:00" (syslog, local time, no year: the latest not in the future).
std::optional<std::int64_t> syslog_time(std::string_view s, std::int64_t now) {
  auto month = util::month_index(s.substr(0, 3));
  std::string_view d = util::trim(s.substr(4, 2));
  auto hms = util::parse_clock(s.substr(7));
  if (!month || !hms || d.empty() || !util::parse_u64(d)) return std::nullopt;
  std::time_t now_t = static_cast<std::time_t>(now);
  std::tm now_tm{};
  localtime_r(&now_t, &now_tm);
  int day = static_cast<int>(*util::parse_u64(d));
  auto t = util::local_unix_time(now_tm.tm_year + 1900, *month, day, (*hms)[0], (*hms)[1], (*hms)[2]);
  if (t && *t > now + 86400) t = util::local_unix_time(now_tm.tm_year + 1899, *month, day, (*hms)[0], (*hms)[1], (*hms)[2]);
  return t;
}

std::string iso_utc(std::int64_t usec) {
  std::time_t t = static_cast<std::time_t>(usec / 1'000'000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:06}Z", buf, usec % 1'000'000);
}

// ---- NVRM messages -------------------------------------------------------

// Removes "key=value, " from the front of s; value is nullopt when absent.
std::optional<std::string_view> take_field(std::string_view& s, std::string_view key) {
  if (!starts_with(s, key)) return std::nullopt;
  s.remove_prefix(key.size());
  auto end = s.find(", ");
  auto value = s.substr(0, end);
  s.remove_prefix(end == std::string_view::npos ? s.size() : end + 2);
  return value;
}

// "Xid (PCI:0000:01:00 GPU-I:05): 31, pid=12, name=python, ..." -> event.
std::optional<model::KernelEvent> parse_xid(std::string_view body) {
  std::string_view s = body.substr(4);
  skip_spaces(s);
  if (!starts_with(s, "(")) return std::nullopt;
  auto close = s.find(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::string_view dev = util::trim(s.substr(1, close - 1));
  dev = dev.substr(0, dev.find(' '));
  s.remove_prefix(close + 1);
  if (!starts_with(s, ":")) return std::nullopt;
  s.remove_prefix(1);
  skip_spaces(s);
  // The code is a whole decimal number followed by ',' (or the end): "0x4f",
  // "79abc" and numbers longer than NVIDIA's codes are not an Xid.
  auto code = take_digits(s, 12);
  if (code.empty() || code.size() > 5 || (!s.empty() && s[0] != ',' && s[0] != ' ')) return std::nullopt;
  model::KernelEvent e;
  e.kind = model::KernelEventKind::xid;
  e.xid = to_int(code);
  e.bus_id = model::normalize_bus_id(dev);
  if (starts_with(s, ",")) s.remove_prefix(1);
  skip_spaces(s);
  if (auto pid = take_field(s, "pid=")) {
    if (auto n = util::parse_u64(*pid); n && *n <= 0x7fffffff) e.pid = static_cast<int>(*n);
  }
  if (auto name = take_field(s, "name=")) {
    if (!name->empty() && *name != "<unknown>") e.process = util::printable(*name, 64);
  }
  return e;
}

// The bus id right after prefix ("GPU 0000:06:00.0: ..." -> 0000:06:00.0).
std::optional<std::string> bus_after(std::string_view body, std::string_view prefix) {
  if (!starts_with(body, prefix)) return std::nullopt;
  std::string_view s = body.substr(prefix.size());
  auto end = s.find_first_of(" ,(#");  // ('#': rsyslog writes a line break as "#012")
  std::string_view id = s.substr(0, end);
  while (!id.empty() && (id.back() == ':' || id.back() == '.')) id.remove_suffix(1);
  return model::normalize_bus_id(id);
}

using model::KernelEventKind;

model::KernelEvent simple_event(KernelEventKind kind, std::optional<std::string> bus_id) {
  model::KernelEvent e;
  e.kind = kind;
  e.bus_id = std::move(bus_id);
  return e;
}

// The GPU a driver-form message names: "GPU 0000:3b:00.0: ...", "... GPU at PCI:0000:3b:00 ...",
// "... (PCI:0000:06:00.0)", "... device 0000:01:00.0 with ..."; nullopt when it names none.
std::optional<std::string> bus_in(std::string_view body) {
  if (auto b = bus_after(body, "GPU ")) return b;
  for (std::string_view marker : {"PCI:", "device "}) {
    auto at = body.find(marker);
    if (at == std::string_view::npos) continue;
    std::string_view id = body.substr(at + marker.size());
    id = id.substr(0, id.find_first_of(" ,()!"));
    while (!id.empty() && (id.back() == ':' || id.back() == '.')) id.remove_suffix(1);
    if (auto b = model::normalize_bus_id(id)) return b;
  }
  return std::nullopt;
}

// "RmInitAdapter failed! (0x62:0x65:1792)": the stage and the NV_STATUS (the line number is the driver's source line).
void rm_init_fields(std::string_view body, model::KernelEvent& e) {
  auto at = body.find("failed! (0x");
  if (at == std::string_view::npos) return;
  std::string_view rest = body.substr(at + 11);
  auto hex = [](std::string_view& r) -> std::optional<unsigned> {
    std::size_t n = 0;
    while (n < r.size() && n < 8 && std::isxdigit(static_cast<unsigned char>(r[n]))) ++n;
    if (n == 0) return std::nullopt;
    auto v = static_cast<unsigned>(std::strtoul(std::string(r.substr(0, n)).c_str(), nullptr, 16));
    r.remove_prefix(n);
    return v;
  };
  auto stage = hex(rest);
  if (!stage || !starts_with(rest, ":0x")) return;
  rest.remove_prefix(3);
  auto status = hex(rest);
  if (!status || rest.empty() || rest[0] != ':') return;
  e.rm_stage = stage;
  e.rm_status = status;
}

bool is_continuation(std::string_view body) { return !body.empty() && (is_lower(body[0]) || body[0] == '('); }

std::string nvrm_text(std::string_view body) { return fmt::format("NVRM: {}", body); }

// "... the client has the version 535.104.05, but ... this kernel module has the version 535.86.10. ..."
void api_versions(std::string_view body, model::KernelEvent& e) {
  auto version_after = [&](std::string_view word) -> std::optional<std::string> {
    auto at = body.find(word);
    if (at == std::string_view::npos) return std::nullopt;
    std::string_view v = body.substr(at + word.size());
    skip_spaces(v);
    std::size_t n = 0;
    while (n < v.size() && n < 32 && (is_digit(v[n]) || v[n] == '.')) ++n;
    while (n > 0 && v[n - 1] == '.') --n;  // the sentence's full stop
    if (n == 0) return std::nullopt;
    return std::string(v.substr(0, n));
  };
  e.client_version = version_after("has the version");
  e.module_version = version_after("kernel module has the version");
}

bool pending_complete(KernelEventKind kind, std::string_view body) {
  if (kind == KernelEventKind::fallen_off_bus) return contains(body, "fallen off the bus");
  return contains(body, "kernel module has the version ") || contains(body, "kernel module has the version\t");
}

}  // namespace

// ---- the parser ----------------------------------------------------------

KernelLogParser::KernelLogParser(KernelLogWindow window, std::int64_t now_unix_s)
    : m_window(std::move(window)), m_now_unix_s(now_unix_s) {}

void KernelLogParser::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    if (m_at_line_start && m_partial.empty() && !m_cutting) {  // whole lines: the vectorised pass
      std::size_t used = scan_lines(chunk);
      chunk.remove_prefix(used);
      if (chunk.empty()) return;
    }
    if (m_at_line_start) {  // NUL runs (a log file after a crash) are skipped
      std::size_t i = 0;
      while (i < chunk.size() && chunk[i] == '\0') ++i;
      chunk.remove_prefix(i);
      if (chunk.empty()) return;
      m_at_line_start = false;
    }
    const void* nl = std::memchr(chunk.data(), '\n', chunk.size());
    if (!nl) {
      append_partial(chunk);
      return;
    }
    std::size_t len = static_cast<const char*>(nl) - chunk.data();
    std::string_view piece = chunk.substr(0, len);
    if (m_partial.empty() && !m_cutting) {  // the whole line is here: no copy
      if (len > k_kernel_log_max_line) ++m_out.lines_cut;
      line(piece.substr(0, k_kernel_log_max_line));
    } else {
      append_partial(piece);
      line(m_partial);
      m_partial.clear();
    }
    m_cutting = false;
    m_at_line_start = true;
    chunk.remove_prefix(len + 1);
  }
}

void KernelLogParser::append_partial(std::string_view piece) {
  if (m_cutting) return;
  std::size_t room = k_kernel_log_max_line - m_partial.size();
  if (piece.size() > room) {
    piece = piece.substr(0, room);
    m_cutting = true;
    ++m_out.lines_cut;
  }
  m_partial.append(piece);
}

namespace {

// The line scan: finds each line's end and the anchor bytes ('V', 'F', 'K', '#', 'L': see anchor_at) in it,
// 16 bytes at a time (SSE2, every x86-64) or 32 (AVX2, where the CPU has it), a slice at a time; the lines
// found are handed on after each slice (so the vector code calls nothing it cannot inline).
struct LineEnd {
  std::size_t begin, nl;
  unsigned anchored;
};
constexpr std::size_t k_scan_slice = 2048;  // bytes per slice: at most that many line ends

struct LineScan {
  const char* base;
  std::size_t n;
  LineEnd* out;
  std::size_t i = 0, start = 0, count = 0;
  unsigned anchored = 0;  // the anchors found in the line so far

  [[gnu::always_inline]] void end_line(std::size_t nl) {
    out[count++] = LineEnd{start, nl, anchored};
    start = nl + 1;
    anchored = 0;
  }
  [[gnu::always_inline]] void anchor(std::size_t pos) {
    anchored |= anchor_at(std::string_view(base + start, n - start), pos - start);
  }
  // The newline and anchor bits of the bytes at i (bit k: byte i + k).
  [[gnu::always_inline]] void bits(std::uint64_t newlines, std::uint64_t anchors) {
    for (std::uint64_t all = newlines | anchors; all; all &= all - 1) {
      unsigned bit = static_cast<unsigned>(__builtin_ctzll(all));
      if (newlines >> bit & 1) end_line(i + bit);
      else anchor(i + bit);
    }
  }
  void bytes(std::size_t stop) {  // one at a time
    for (; i < stop; ++i) {
      char c = base[i];
      if (c == '\n') end_line(i);
      else if (c == 'V' || c == 'F' || c == 'K' || c == '#' || c == 'L') anchor(i);
    }
  }
};

#if defined(__SSE2__)
void scan_sse2(LineScan& s, std::size_t stop) {
  const __m128i nl = _mm_set1_epi8('\n'), v = _mm_set1_epi8('V'), f = _mm_set1_epi8('F'), k = _mm_set1_epi8('K'),
                h = _mm_set1_epi8('#'), l = _mm_set1_epi8('L');
  for (; s.i + 16 <= stop; s.i += 16) {
    __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s.base + s.i));
    __m128i any = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, v), _mm_cmpeq_epi8(x, f)),
                               _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, k), _mm_cmpeq_epi8(x, h)),
                                            _mm_cmpeq_epi8(x, l)));
    s.bits(static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(x, nl))),
           static_cast<unsigned>(_mm_movemask_epi8(any)));
  }
}
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GD_SCAN_AVX2 1
[[gnu::target("avx2")]] void scan_avx2(LineScan& s, std::size_t stop) {
  const __m256i nl = _mm256_set1_epi8('\n'), v = _mm256_set1_epi8('V'), f = _mm256_set1_epi8('F'),
                k = _mm256_set1_epi8('K'), h = _mm256_set1_epi8('#'), l = _mm256_set1_epi8('L');
  for (; s.i + 32 <= stop; s.i += 32) {
    __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(s.base + s.i));
    __m256i any = _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, v), _mm256_cmpeq_epi8(x, f)),
                                  _mm256_or_si256(_mm256_or_si256(_mm256_cmpeq_epi8(x, k), _mm256_cmpeq_epi8(x, h)),
                                                  _mm256_cmpeq_epi8(x, l)));
    s.bits(static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, nl))),
           static_cast<std::uint32_t>(_mm256_movemask_epi8(any)));
  }
}
#endif

// The widest scan this CPU runs, over [s.i, stop); leaves fewer bytes than its width.
void scan_wide(LineScan& s, std::size_t stop) {
#if defined(GD_SCAN_AVX2)
  static const bool avx2 = __builtin_cpu_supports("avx2");
  if (avx2) return scan_avx2(s, stop);
#endif
#if defined(__SSE2__)
  scan_sse2(s, stop);
#else
  s.bytes(stop);
#endif
}

// Calls on_line(begin, end, anchored) for each complete line at the front of `chunk` (up to its last
// newline); returns the bytes used. Pure: the threaded feed runs it on either thread.
template <typename OnLine>
std::size_t scan_complete_lines(std::string_view chunk, OnLine&& on_line, unsigned* rest_anchored = nullptr) {
  std::array<LineEnd, k_scan_slice> ends;
  LineScan s{chunk.data(), chunk.size(), ends.data()};
  while (s.i < s.n) {
    s.count = 0;
    std::size_t stop = std::min(s.n, s.i + k_scan_slice);
    scan_wide(s, stop);
    if (stop == s.n) s.bytes(stop);  // (a slice ends where a vector does; only the last has bytes left)
    for (std::size_t k = 0; k < s.count; ++k) on_line(ends[k].begin, ends[k].nl, ends[k].anchored);
  }
  if (rest_anchored) *rest_anchored = s.anchored;  // (of the text after the last newline)
  return s.start;
}

// The anchors a line holds (k_anchor_nvrm | k_anchor_other), as the line scan finds them: for a line that
// came in pieces, which the vectorised pass over whole lines did not see.
unsigned anchors(std::string_view s) {
  unsigned found = 0, rest = 0;
  scan_complete_lines(s, [&](std::size_t, std::size_t, unsigned a) { found |= a; }, &rest);
  return found | rest;
}

}  // namespace

// What a complete line's text alone says (no parser state): where it is once
// leading NULs (a log file after a crash) and a trailing CR are dropped, its
// anchors, and what the skim would read from it.
struct KernelLogParser::LineMark {
  enum class Skim : std::uint8_t {
    stamp,              // a plain line: only its boot clue is read (quick_mono, when it is marked)
    kmsg_continuation,  // a /dev/kmsg record's " KEY=value" line: nothing to read
    needs_parse,        // maybe a journalctl boot separator: parsed in full
    too_long,           // longer than k_kernel_log_max_line: cut (len is the cut length)
  };
  std::uint32_t begin = 0;  // offset of the line (after its NULs) in the text scanned
  std::uint32_t len = 0;    // (a run: up to its last line's newline)
  double mono_s = 0;        // Skim::stamp: the whole seconds since boot its stamp says (quick_mono), if has_mono
  std::uint8_t anchored = 0;
  Skim skim = Skim::stamp;
  bool has_mono = false;
  bool chatter = false;     // an "NVRM: " line that is only the driver's chatter (nvrm_chatter)
  // A run (lines > 1, made by the threaded feed): consecutive lines that are only skimmed, unless a report
  // is open or (has_chatter) a message is pending, and whose stamps never go back by more than 1 s after
  // the first. mono_s is the first stamp, `lead` the lines before it, last_mono_s the last.
  std::uint32_t lines = 1, lead = 0;
  double last_mono_s = 0;
  bool has_chatter = false;
};

// Adds the line marked `m` (its newline at `nl`) to `marks`: to the run the last mark is, when it can join.
// A line joins only what the parser would only skim unless a report is open or a message pending: lines with
// no anchor but the driver's chatter.
[[gnu::always_inline]] inline void KernelLogParser::add_mark(std::vector<LineMark>& marks, const LineMark& m, std::size_t nl) {
  auto skimmed = [](const LineMark& x) {
    return x.skim == LineMark::Skim::stamp && (x.anchored == 0 || (x.anchored == k_anchor_nvrm && x.chatter));
  };
  if (!marks.empty() && skimmed(m)) {
    auto& r = marks.back();
    if (skimmed(r) && !(m.has_mono && r.has_mono && m.mono_s + 1.0 < r.last_mono_s)) {
      ++r.lines;
      r.len = static_cast<std::uint32_t>(nl - r.begin);
      if (m.has_mono) {
        if (!r.has_mono) {
          r.has_mono = true;
          r.mono_s = m.mono_s;
          r.lead = r.lines - 1;
        }
        r.last_mono_s = m.mono_s;
      }
      r.has_chatter = r.has_chatter || m.chatter;
      return;
    }
  }
  marks.push_back(m);
  auto& r = marks.back();
  r.last_mono_s = r.mono_s;
  r.has_chatter = r.chatter;
}

[[gnu::always_inline]] inline KernelLogParser::LineMark KernelLogParser::mark_line(std::string_view raw, std::size_t begin, unsigned anchored) {
  LineMark m;
  std::size_t nuls = 0;
  while (nuls < raw.size() && raw[nuls] == '\0') ++nuls;
  raw.remove_prefix(nuls);
  m.begin = static_cast<std::uint32_t>(begin + nuls);
  m.anchored = static_cast<std::uint8_t>(anchored);
  if (raw.size() > k_kernel_log_max_line) {
    m.skim = LineMark::Skim::too_long;
    m.len = static_cast<std::uint32_t>(k_kernel_log_max_line);
    return m;
  }
  if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
  m.len = static_cast<std::uint32_t>(raw.size());
  if (!raw.empty() && raw[0] == '-') {
    m.skim = LineMark::Skim::needs_parse;
  } else if (raw.size() > 1 && raw[0] == ' ' && is_upper(raw[1]) && raw.find('=') != std::string_view::npos) {
    m.skim = LineMark::Skim::kmsg_continuation;
  } else {
    m.has_mono = quick_mono(raw, m.mono_s);
  }
  // (read here, on the thread that scanned the line while it is in that core's cache: the parser then
  // never touches the text of a line it only skims)
  m.chatter = anchored == k_anchor_nvrm && nvrm_chatter(raw);
  return m;
}

// One complete line as marked: what the parser's state adds to its mark.
void KernelLogParser::marked_line(const char* base, const LineMark& m) {
  std::string_view raw(base + m.begin, m.len);
  if (m.skim == LineMark::Skim::too_long) {
    ++m_out.lines_cut;
    return line(raw);
  }
  ++m_out.lines_scanned;
  // The driver's chatter with no other anchor, and nothing pending that it could continue, is only skimmed.
  unsigned anchored = m.anchored;
  if (anchored == k_anchor_nvrm && !m_pending && !m_report && m.chatter) anchored = 0;
  if (anchored || m_report || !skim_mark(m)) parse_line(raw);
}

// A run of marked lines: counted and its stamps checked at once, unless the parser's state means one of them
// is parsed after all; then line by line.
void KernelLogParser::marked_run(const char* base, const LineMark& m) {
  if (m_report || (m.has_chatter && m_pending)) {
    scan_lines(std::string_view(base + m.begin, m.len + 1));  // (up to and with its last newline)
    return;
  }
  m_out.lines_scanned += m.lines;
  m_lines_in_boot += m.lead;
  if (m.has_mono) {
    boot_clues(false, m.mono_s);
    m_last_mono_s = m.last_mono_s;
  }
  m_lines_in_boot += m.lines - m.lead;
}

std::size_t KernelLogParser::scan_lines(std::string_view chunk) {
  const char* base = chunk.data();
  return scan_complete_lines(chunk, [&](std::size_t begin, std::size_t end, unsigned anchored) {
    marked_line(base, mark_line(std::string_view(base + begin, end - begin), begin, anchored));
  });
}

Result<std::uint64_t> KernelLogParser::feed_threaded(const Producer& produce, std::size_t block_bytes) {
  if (!m_at_line_start || !m_partial.empty() || m_cutting || m_records)  // (not the first feed: no split)
    return produce(host::ByteSink([this](std::string_view chunk) { feed(chunk); }));
  block_bytes = std::max<std::size_t>(block_bytes, 1);
  // A block's text: [0, head_end) ends a line begun in an earlier block (feed() holds its start);
  // [head_end, marked_end) is whole lines, each described by a mark; the rest, a line not ended yet, goes to
  // feed() as well (the last block's, or one longer than a block).
  // The reader cuts blocks at their last newline, so a block's lines can be marked by either thread: the
  // parser marks the block it takes next when no mark is there yet; the reader, rather than wait for a free
  // block, marks the newest block still unmarked. Which thread marked a block does not change its marks.
  enum class Marks : std::uint8_t { none, marking, done };
  struct Block {
    std::string text;  // text.size() is the room; the first `size` bytes are the block's
    std::size_t size = 0, head_end = 0, marked_end = 0;
    Marks marks_state = Marks::none;  // (under mu)
    std::vector<LineMark> marks;
  };
  auto mark_block = [](Block& b) {
    std::string_view text(b.text.data(), b.marked_end);
    std::size_t head = b.head_end;
    b.marks.clear();
    scan_complete_lines(text.substr(head), [&](std::size_t begin, std::size_t end, unsigned a) {
      add_mark(b.marks, mark_line(text.substr(head + begin, end - begin), head + begin, a), head + end);
    });
  };
  constexpr std::size_t k_read = 128 << 10;  // the most one read brings
  struct Abort {};  // this thread stopped: unwinds the reader out of produce
  constexpr std::size_t k_blocks = 6;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::unique_ptr<Block>> full, free;
  std::size_t made = 0;
  bool done = false, stop = false;
  std::exception_ptr failure;
  std::optional<Result<std::uint64_t>> result;

  std::thread reader([&] {
    std::unique_ptr<Block> cur;
    bool mid_line = false;  // the text sent so far ends inside a line
    // Marks the newest unmarked block waiting for the parser; false when there is none. (lock: on mu)
    auto mark_one = [&](std::unique_lock<std::mutex>& lock) {
      auto it = std::find_if(full.rbegin(), full.rend(), [](const auto& b) { return b->marks_state == Marks::none; });
      if (it == full.rend()) return false;
      Block* b = it->get();  // (the parser waits for a block being marked before it reads or frees it)
      b->marks_state = Marks::marking;
      lock.unlock();
      mark_block(*b);
      lock.lock();
      b->marks_state = Marks::done;
      cv.notify_all();
      return true;
    };
    auto take = [&] {
      std::unique_lock lock(mu);
      while (!stop && free.empty() && made >= k_blocks)
        if (!mark_one(lock)) cv.wait(lock);
      if (stop) throw Abort{};
      std::unique_ptr<Block> b;
      if (!free.empty()) {
        b = std::move(free.front());
        free.pop_front();
      } else {
        ++made;
        b = std::make_unique<Block>();
      }
      b->text.resize(std::max(b->text.size(), block_bytes + k_read));
      b->marks.clear();
      b->size = b->head_end = b->marked_end = 0;
      b->marks_state = Marks::none;
      return b;
    };
    auto send = [&](bool last) {
      std::string_view text(cur->text.data(), cur->size);
      if (mid_line) {
        auto nl = text.find('\n');
        cur->head_end = nl == std::string_view::npos ? text.size() : nl + 1;
      }
      std::size_t head = cur->head_end;
      const void* nl = head < text.size() ? ::memrchr(text.data() + head, '\n', text.size() - head) : nullptr;
      cur->marked_end = nl ? static_cast<const char*>(nl) - text.data() + 1 : head;
      std::string carry;  // a line not ended yet, moved to the next block when lines were marked before it
      if (!last && cur->marked_end > head && cur->marked_end < text.size()) {
        carry.assign(text.substr(cur->marked_end));
        cur->size = cur->marked_end;
      }
      std::string_view t(cur->text.data(), cur->size);
      mid_line = cur->marked_end < t.size() || (head == t.size() && !t.empty() && t.back() != '\n');
      if (cur->marked_end == head) cur->marks_state = Marks::done;  // (no whole line in it)
      {
        std::lock_guard lock(mu);
        full.push_back(std::move(cur));
      }
      cv.notify_all();
      if (!last) {
        cur = take();
        if (carry.size() + k_read > cur->text.size()) cur->text.resize(carry.size() + k_read);
        carry.copy(cur->text.data(), carry.size());
        cur->size = carry.size();
      }
    };
    try {
      cur = take();
      // The reader reads straight into the block; a producer with only views has them copied in.
      auto filled = [&](std::size_t n) {
        cur->size += n;
        if (cur->size >= block_bytes) send(false);
      };
      host::ByteSink sink(
          [&]() -> std::span<char> {
            if (cur->text.size() - cur->size < k_read) cur->text.resize(cur->size + k_read);
            return std::span<char>(cur->text.data() + cur->size, cur->text.size() - cur->size);
          },
          filled);
      sink.chunk = [&](std::string_view chunk) {
        while (!chunk.empty()) {
          std::size_t n = std::min(chunk.size(), block_bytes);
          if (cur->text.size() - cur->size < n) cur->text.resize(cur->size + std::max(n, k_read));
          chunk.copy(cur->text.data() + cur->size, n);
          chunk.remove_prefix(n);
          filled(n);
        }
      };
      result = produce(sink);
      if (cur->size) send(true);
      std::unique_lock lock(mu);  // all read: help mark what is left
      while (!stop && mark_one(lock)) {
      }
    } catch (const Abort&) {
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard lock(mu);
      done = true;
    }
    cv.notify_all();
  });

  try {
    while (true) {
      std::unique_ptr<Block> b;
      bool mark_here = false;
      {
        std::unique_lock lock(mu);
        cv.wait(lock, [&] { return !full.empty() || done; });
        if (full.empty()) break;
        b = std::move(full.front());
        full.pop_front();
        cv.wait(lock, [&] { return b->marks_state != Marks::marking || done; });
        mark_here = b->marks_state != Marks::done;  // (none; or marking, by a reader that has stopped)
        if (mark_here) b->marks_state = Marks::marking;
      }
      if (mark_here) mark_block(*b);
      std::string_view text(b->text.data(), b->size);
      if (b->head_end) feed(text.substr(0, b->head_end));
      for (const auto& m : b->marks) m.lines > 1 ? marked_run(text.data(), m) : marked_line(text.data(), m);
      if (b->marked_end < text.size()) feed(text.substr(b->marked_end));
      {
        std::lock_guard lock(mu);
        free.push_back(std::move(b));
      }
      cv.notify_all();
    }
  } catch (...) {
    {
      std::lock_guard lock(mu);
      stop = true;
    }
    cv.notify_all();
    reader.join();
    throw;
  }
  reader.join();
  if (failure) std::rethrow_exception(failure);
  return result ? std::move(*result) : Result<std::uint64_t>(std::uint64_t{0});
}

// A line that came in pieces (or was cut): judged exactly as the line scan judges a whole one, so the result
// does not depend on how the text was chunked.
void KernelLogParser::line(std::string_view raw) { marked_line(raw.data(), mark_line(raw, 0, anchors(raw))); }

void KernelLogParser::parse_line(std::string_view raw) {
  Prefix p = parse_prefix(raw);
  if (p.kind == Prefix::Kind::dictionary) return;
  boot_clues(p.kind == Prefix::Kind::boot_separator || starts_with(p.message, "Linux version "), p.mono_s);
  if (p.kind == Prefix::Kind::boot_separator) return;
  ++m_lines_in_boot;
  if (p.foreign) return;  // another program's line between the kernel's
  Stamp stamp;
  stamp.text =
      p.kmsg_usec ? fmt::format("{}.{:06}", *p.kmsg_usec / 1'000'000, *p.kmsg_usec % 1'000'000) : std::string(p.stamp);
  stamp.mono_s = p.mono_s;
  stamp.clock = p.clock;
  message(p.message, stamp);
}

bool KernelLogParser::skim_mark(const LineMark& m) {
  if (m.skim == LineMark::Skim::needs_parse) return false;
  if (m.skim == LineMark::Skim::stamp) {
    boot_clues(false, m.has_mono ? std::optional<double>(m.mono_s) : std::nullopt);
    ++m_lines_in_boot;
  }
  return true;
}

// A new boot starts at a boundary line, or when the seconds-since-boot stamp goes back by more than 1 s.
void KernelLogParser::boot_clues(bool boundary, std::optional<double> mono_s) {
  if (mono_s) {
    if (m_last_mono_s && *mono_s + 1.0 < *m_last_mono_s) boundary = true;
    m_last_mono_s = mono_s;
  }
  if (boundary && m_lines_in_boot > 0) new_boot();
}

void KernelLogParser::feed_record(std::string_view message_text, int boot, std::int64_t realtime_usec) {
  m_records = true;
  if (boot != m_boot) {
    flush_pending();
    finish_report();
    m_boot = boot;
    m_seen.clear();
  }
  ++m_out.lines_scanned;
  message_text = message_text.substr(0, k_kernel_log_max_line);
  if (!m_report && !anchors(message_text)) return;
  Stamp stamp;
  stamp.text = iso_utc(realtime_usec);
  stamp.unix_s = realtime_usec / 1'000'000;
  message(message_text, stamp);
}

// One kernel message: part of an open stall report, the start of one, or an NVRM line.
void KernelLogParser::message(std::string_view text, const Stamp& stamp) {
  if (m_report && report_line(text)) return;
  const void* hit = text.size() >= k_nvrm.size() ? ::memmem(text.data(), text.size(), k_nvrm.data(), k_nvrm.size()) : nullptr;
  if (hit) return nvrm(text.substr(static_cast<const char*>(hit) - text.data() + k_nvrm.size()), stamp);
  start_report(text, stamp);
}

bool KernelLogParser::start_report(std::string_view text, const Stamp& stamp) {
  auto e = stall_start(text);
  if (!e) return false;
  finish_report();
  m_report = Report{std::move(*e), std::string(util::trim(text).substr(0, k_max_message)), stamp, 1, false};
  return true;
}

// A line after a report's first: consumed (true) while it belongs to the
// report; a line that ends it (an NVRM line, a new report, a non-frame after
// the call trace) finishes the report and is left to the caller (false).
bool KernelLogParser::report_line(std::string_view text) {
  auto& r = *m_report;
  std::string_view t = util::trim(text);
  if (++r.lines > k_max_report_lines || contains(t, k_nvrm) || stall_start(t)) {
    finish_report();
    return false;
  }
  if (starts_with(t, "RIP: ")) {
    std::string_view rip = t.substr(5);
    if (auto colon = rip.find(':'); colon != std::string_view::npos && colon <= 4) rip.remove_prefix(colon + 1);
    if (!r.event.rip) r.event.rip = util::printable(rip, 160);
    return true;
  }
  if (t == "Call Trace:") {
    r.in_trace = true;
    return true;
  }
  if (t == "</TASK>" || starts_with(t, "---[ end trace")) {
    finish_report();
    return true;
  }
  if (auto f = parse_frame(t)) {
    r.in_trace = true;
    if (is_driver_module(f->module) && r.event.driver_frames.size() < k_max_driver_frames)
      r.event.driver_frames.push_back(util::printable(f->text, 160));
    return true;
  }
  if (starts_with(t, "CPU: ")) {  // "CPU: 3 PID: 4242 Comm: nvidia-smi Tainted: ..."
    auto cpu = number_after(t, "CPU: ");
    auto pid = number_after(t, " PID: ");
    if (!r.event.cpu && cpu && *cpu < 1'000'000) r.event.cpu = static_cast<int>(*cpu);
    if (!r.event.pid && pid && *pid <= 0x7fffffff) r.event.pid = static_cast<int>(*pid);
    if (auto comm = t.find(" Comm: "); comm != std::string_view::npos && !r.event.process) {
      std::string_view name = t.substr(comm + 7);
      name = name.substr(0, name.find(' '));
      if (!name.empty()) r.event.process = util::printable(name, 64);
    }
    return true;
  }
  if (!r.in_trace || is_report_context(t)) return true;  // before the trace: whatever the kernel prints
  finish_report();
  return false;
}

// Keeps the report as an event when its RIP or a frame is in an [nvidia*]
// module; a stall elsewhere is only counted.
void KernelLogParser::finish_report() {
  if (!m_report) return;
  Report r = std::move(*m_report);
  m_report.reset();
  bool in_driver = !r.event.driver_frames.empty() || (r.event.rip && contains(*r.event.rip, "[nvidia"));
  if (!in_driver) {
    ++m_out.stalls_elsewhere;
    return;
  }
  emit(std::move(r.event), r.first_line, r.stamp);
}

void KernelLogParser::nvrm(std::string_view body, const Stamp& stamp) {
  if (m_pending) {
    if (is_continuation(body)) return continue_pending(body);
    flush_pending();
  }
  if (starts_with(body, "Xid ")) {
    if (auto e = parse_xid(body)) emit(std::move(*e), nvrm_text(body), stamp);
  } else if (starts_with(body, "The NVIDIA GPU ")) {
    start_pending(KernelEventKind::fallen_off_bus, body, stamp);
  } else if (starts_with(body, "API mismatch")) {
    start_pending(KernelEventKind::api_mismatch, body, stamp);
  } else if (starts_with(body, "GPU at PCI:")) {
    gpu_uuid(body);
  } else if (starts_with(body, "loading NVIDIA UNIX") || starts_with(body, "loaded NVIDIA UNIX")) {
    module_loaded(body);
  } else if ((starts_with(body, "GPU ") || starts_with(body, "RmInitAdapter")) && contains(body, "RmInitAdapter failed")) {
    auto e = simple_event(KernelEventKind::rm_init_failed, bus_after(body, "GPU "));
    rm_init_fields(body, e);
    emit(std::move(e), nvrm_text(body), stamp);
  } else if (starts_with(body, "GPU ") && contains(body, "fallen off the bus")) {
    emit(simple_event(KernelEventKind::fallen_off_bus, bus_after(body, "GPU ")), nvrm_text(body), stamp);
  } else if (const auto* form = model::match_driver_message(body)) {
    auto e = simple_event(form->kind, bus_in(body));
    e.form = std::string(form->form);
    emit(std::move(e), nvrm_text(body), stamp);
  }
}

// "GPU at PCI:0000:2b:00: GPU-0b11d014-1685-04bd-26ed-5fc0bc1c44ae"
void KernelLogParser::gpu_uuid(std::string_view body) {
  std::string_view s = body.substr(7);
  auto sep = s.find(": GPU-");
  if (sep == std::string_view::npos) return;
  auto bus = model::normalize_bus_id(s.substr(0, sep));
  std::string_view uuid = s.substr(sep + 2);
  uuid = uuid.substr(0, uuid.find_first_of(" ,"));
  if (!bus || uuid.size() <= 4 || uuid.size() > 64) return;
  m_out.gpu_uuids[*bus] = util::printable(uuid, 64);
  auto& marks = m_out.init_marks;
  auto it = std::find_if(marks.begin(), marks.end(),
                         [&](const model::GpuInitMarks& m) { return m.bus_id == *bus && m.boot == m_boot; });
  if (it != marks.end()) {
    ++it->lines;
    it->uuid = m_out.gpu_uuids[*bus];
  } else if (marks.size() < 4096) {
    marks.push_back({*bus, m_boot, 1, m_out.gpu_uuids[*bus]});
  }
}

// "loading NVIDIA UNIX x86_64 Kernel Module  535.129.03  Thu Oct 19 ..." or
// "loading NVIDIA UNIX Open Kernel Module for x86_64  570.86.15  Release Build ...":
// the same words as /proc/driver/nvidia/version's first line after "NVRM version: ".
void KernelLogParser::module_loaded(std::string_view body) {
  auto v = parse_proc_driver_version(fmt::format("NVRM version: {}", body.substr(body.find("NVIDIA UNIX"), 256)));
  if (!v || m_out.module_loads.size() >= 1024) return;
  m_out.module_loads.push_back({m_boot, v->version, v->flavour});
}

void KernelLogParser::start_pending(KernelEventKind kind, std::string_view body, const Stamp& stamp) {
  m_pending = Pending{kind, std::string(body.substr(0, k_max_message)), stamp, 1};
  if (pending_complete(kind, body)) flush_pending();
}

void KernelLogParser::continue_pending(std::string_view body) {
  auto& p = *m_pending;
  if (p.body.size() < k_max_message) p.body.append(" ").append(body.substr(0, k_max_message - p.body.size()));
  ++p.lines;
  if (pending_complete(p.kind, p.body) || p.lines >= k_max_pending_lines) flush_pending();
}

// Emits the pending message; a GPU message that never said "fallen off the
// bus" (e.g. "... is not supported by ...") is dropped.
void KernelLogParser::flush_pending() {
  if (!m_pending) return;
  Pending p = std::move(*m_pending);
  m_pending.reset();
  if (p.kind == KernelEventKind::fallen_off_bus) {
    if (!pending_complete(p.kind, p.body)) return;
    emit(simple_event(p.kind, bus_after(p.body, "The NVIDIA GPU ")), nvrm_text(p.body), p.stamp);
  } else {
    auto e = simple_event(p.kind, std::nullopt);
    api_versions(p.body, e);
    emit(std::move(e), nvrm_text(p.body), p.stamp);
  }
}

void KernelLogParser::emit(model::KernelEvent e, std::string_view text, const Stamp& stamp) {
  e.message = util::printable(text, k_max_message);
  e.timestamp = util::printable(stamp.text, 64);
  auto unix_s = wall_time(stamp);
  bool too_old = m_window.since_unix_s && unix_s && *unix_s < *m_window.since_unix_s;
  if (too_old || (m_records && m_window.min_boot && m_boot < *m_window.min_boot)) {
    ++m_out.events_outside_window;
    return;
  }
  e.boot = m_boot;
  e.unix_s = unix_s;
  // The same record read twice (a log saved twice into one file) has the same
  // kernel time stamp: key on it (microseconds), or on a sub-second wall
  // stamp. A syslog stamp alone (whole seconds) cannot tell a repeat from a
  // duplicate: such lines are all kept.
  std::string key;
  if (stamp.mono_s) key = fmt::format("{:.6f}", *stamp.mono_s);
  else if (stamp.text.find('.') != std::string::npos) key = stamp.text;
  if (!key.empty() && !m_seen.insert(key.append("\x1f").append(e.message)).second) return;  // a duplicate
  if (m_out.events.size() >= k_kernel_log_max_events) {
    ++m_dropped;
    return;
  }
  m_out.events.push_back(std::move(e));
}

std::optional<std::int64_t> KernelLogParser::wall_time(const Stamp& stamp) const {
  if (stamp.unix_s) return stamp.unix_s;
  switch (stamp.clock) {
    case Clock::iso:
      return iso_time(stamp.text);
    case Clock::ctime:
      return util::parse_ctime(stamp.text);
    case Clock::syslog:
      return syslog_time(stamp.text, m_now_unix_s);
    case Clock::none:
      break;
  }
  if (m_boot_time_unix_s && stamp.mono_s) return *m_boot_time_unix_s + static_cast<std::int64_t>(*stamp.mono_s);
  return std::nullopt;
}

void KernelLogParser::new_boot() {
  flush_pending();
  finish_report();
  ++m_boot;
  m_lines_in_boot = 0;
  m_seen.clear();  // duplicates are within one boot
  prune_old_boots();
}

// Text counts boots up from its first; events of boots that can no longer be
// inside the window are dropped as soon as a newer boot starts.
void KernelLogParser::prune_old_boots() {
  if (!m_window.min_boot || m_records) return;
  int keep_from = m_boot + *m_window.min_boot;
  auto removed = std::erase_if(m_out.events, [keep_from](const model::KernelEvent& e) { return *e.boot < keep_from; });
  m_out.events_outside_window += removed;
}

// Events that name no bus id get one where the log tells it: a message that
// names a GPU by UUID, through that boot's "GPU at PCI:...: GPU-<uuid>" lines
// (else any boot's); a GSP failure (printed without a bus id) from the
// RmInitAdapter failure that follows it in the same boot.
void KernelLogParser::place_events() {
  std::map<std::pair<int, std::string>, std::string> by_uuid;  // (boot, uuid) -> bus id
  std::map<std::string, std::string> any_boot;
  for (const auto& m : m_out.init_marks)
    if (!m.uuid.empty()) {
      by_uuid[{m.boot, m.uuid}] = m.bus_id;
      any_boot[m.uuid] = m.bus_id;
    }
  for (const auto& [bus, uuid] : m_out.gpu_uuids) any_boot.emplace(uuid, bus);
  std::optional<std::string> next_rm_bus;
  std::optional<int> next_rm_boot;
  for (auto it = m_out.events.rbegin(); it != m_out.events.rend(); ++it) {
    auto& e = *it;
    if (e.kind == KernelEventKind::rm_init_failed) {
      next_rm_bus = e.bus_id;
      next_rm_boot = e.boot;
      continue;
    }
    if (e.bus_id) continue;
    if (auto at = e.message.find("GPU-"); at != std::string::npos && !any_boot.empty()) {
      std::string uuid = e.message.substr(at, e.message.find_first_of(" ,)", at) - at);
      if (auto u = by_uuid.find({e.boot.value_or(0), uuid}); u != by_uuid.end()) e.bus_id = u->second;
      else if (auto a = any_boot.find(uuid); a != any_boot.end()) e.bus_id = a->second;
    }
    if (!e.bus_id && e.kind == KernelEventKind::gsp_failed && next_rm_boot == e.boot) e.bus_id = next_rm_bus;
  }
}

model::KernelLog KernelLogParser::finish() {
  if (!m_partial.empty()) line(m_partial);
  m_partial.clear();
  flush_pending();
  finish_report();
  if (!m_records) {
    prune_old_boots();
    for (auto& e : m_out.events) e.boot = *e.boot - m_boot;
    for (auto& m : m_out.init_marks) m.boot -= m_boot;
    for (auto& m : m_out.module_loads) m.boot -= m_boot;
  }
  place_events();
  if (m_last_boot_time_unix_s)
    for (auto& e : m_out.events)
      if (e.boot == 0 && !e.unix_s)
        if (double mono = 0; std::sscanf(e.timestamp.c_str(), "%lf", &mono) == 1 && mono >= 0 && mono < 1e9 &&
                             e.timestamp.find_first_not_of("0123456789.") == std::string::npos)
          e.unix_s = *m_last_boot_time_unix_s + static_cast<std::int64_t>(mono);
  if (m_window.min_boot)
  {
    std::erase_if(m_out.init_marks, [&](const model::GpuInitMarks& m) { return m.boot < *m_window.min_boot; });
    std::erase_if(m_out.module_loads, [&](const model::ModuleLoad& m) { return m.boot < *m_window.min_boot; });
  }
  if (m_dropped)
    m_out.problems.push_back(
        fmt::format("kernel log: {} event(s) beyond the first {} were not kept", m_dropped, k_kernel_log_max_events));
  m_out.window = m_window.description;
  return std::move(m_out);
}

void note_cut_short(model::KernelLog& log, std::string_view what, std::uint64_t bytes) {
  log.incomplete = true;
  log.problems.push_back(fmt::format("kernel log: {}: {:.1f} MB read before the time limit (--timeout); the rest was "
                                     "not read, so its events are not known",
                                     what, static_cast<double>(bytes) / 1e6));
}

model::KernelLog parse_kernel_log(std::string_view text, const KernelLogWindow& window, std::int64_t now_unix_s) {
  KernelLogParser parser(window, now_unix_s);
  parser.feed(text);
  return parser.finish();
}

// ---- --since ---------------------------------------------------------------

namespace {

}  // namespace

Result<KernelLogWindow> parse_since(std::string_view text, std::int64_t now_unix_s) {
  KernelLogWindow w;
  if (text == "previous-boot") return w;
  if (text == "boot") return KernelLogWindow{0, std::nullopt, "this boot"};
  if (text == "all") return KernelLogWindow{std::nullopt, std::nullopt, "the whole log"};
  if (auto t = util::parse_time_ms(text, now_unix_s * 1000)) {
    bool ago = util::parse_duration(text).has_value();
    return KernelLogWindow{std::nullopt, *t / 1000, (ago ? "the last " : "since ") + std::string(text)};
  }
  return make_error(fmt::format("--since \"{}\": expected boot, previous-boot, all, {}", util::printable(text, 40),
                                util::k_time_forms));
}

// ---- reading the node's log ------------------------------------------------

namespace {


host::JournalLimits journal_limits(const KernelLogWindow& w) {
  host::JournalLimits limits;
  limits.max_boots = w.min_boot ? std::optional<int>(1 - *w.min_boot) : std::nullopt;
  if (w.since_unix_s) limits.since_usec = *w.since_unix_s * 1'000'000;
  return limits;
}

model::KernelLog parse_journal(const host::JournalRead& j, const KernelLogWindow& window, std::int64_t now) {
  KernelLogParser parser(window, now);
  for (const auto& r : j.records) parser.feed_record(r.message, r.boot, r.realtime_usec);
  auto log = parser.finish();
  log.source = j.source;
  log.lines_scanned = j.entries_read;
  log.problems.insert(log.problems.end(), j.problems.begin(), j.problems.end());
  return log;
}

model::KernelLog parse_kmsg(const host::KmsgRead& k, const KernelLogWindow& window, std::int64_t now) {
  KernelLogParser parser(window, now);
  if (k.boot_time_unix_s) parser.set_boot_time(*k.boot_time_unix_s);
  parser.feed(k.text);
  auto log = parser.finish();
  log.source = "/dev/kmsg";
  log.problems.insert(log.problems.end(), k.problems.begin(), k.problems.end());
  return log;
}

}  // namespace

model::KernelLog read_kernel_log_file(const std::string& file, const KernelLogWindow& window, std::int64_t now,
                               std::optional<std::int64_t> boot_time, host::Deadline deadline) {
  KernelLogParser parser(window, now);
  if (boot_time) parser.set_last_boot_time(*boot_time);
  bool cut = false;
  auto bytes = parser.feed_threaded([&](const auto& sink) { return host::stream_file(file, sink, UINT64_MAX, deadline, &cut); });
  auto log = parser.finish();
  log.source = fmt::format("file {}", file);
  if (cut) note_cut_short(log, file == "-" ? "stdin" : file, bytes.value_or(0));
  if (!bytes) {
    log.problems.push_back(bytes.error().message);
    if (log.lines_scanned == 0) log.unavailable = bytes.error().message;
  }
  return log;
}

model::KernelLog read_kernel_log(const host::HostRoot& root, const KernelLogOptions& options) {
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  auto window = parse_since(options.since.empty() ? "previous-boot" : options.since, now);
  if (!window) {
    model::KernelLog log;
    log.unavailable = window.error().message;
    log.problems.push_back(window.error().message);
    return log;
  }
  std::optional<std::int64_t> boot_time;
  if (auto stat = root.read_file("/proc/stat", 1 << 20)) boot_time = parse_boot_time(*stat);
  if (!options.file.empty()) return read_kernel_log_file(options.file, *window, now, boot_time, options.deadline);
  auto journal = host::read_journal(root, journal_limits(*window));
  if (journal) return parse_journal(*journal, *window, now);
  std::string why = journal.error().message;
  if (root.is_live()) {
    auto kmsg = host::read_kmsg(root);
    if (kmsg) return parse_kmsg(*kmsg, *window, now);
    why += "; " + kmsg.error().message;
  } else {
    // An offline root: its syslog-style files, as the node's rsyslog wrote them.
    for (const char* file : {"/var/log/kern.log", "/var/log/syslog", "/var/log/messages"}) {
      if (root.kind_followed(file) != host::FileKind::regular) continue;
      KernelLogParser parser(*window, now);
      if (boot_time) parser.set_last_boot_time(*boot_time);
      bool cut = false;
      auto bytes = parser.feed_threaded([&](const auto& sink) {
        return host::stream_root_file(root, file, sink, UINT64_MAX, options.deadline, &cut);
      });
      auto log = parser.finish();
      log.source = fmt::format("file {} in the root", file);
      if (cut) note_cut_short(log, file, bytes.value_or(0));
      if (bytes) return log;
      why += "; " + bytes.error().message;
    }
    why += "; no /var/log/kern.log, syslog or messages in the root, and /dev/kmsg is read on the live root only "
           "(pass the node's log with --kernel-log FILE)";
  }
  model::KernelLog log;
  log.unavailable = why;
  log.window = window->description;
  return log;
}

}  // namespace gd::probe
