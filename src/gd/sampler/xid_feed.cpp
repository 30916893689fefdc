#include "gd/sampler/xid_feed.hpp"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "gd/model/history_event.hpp"
#include "gd/probe/kernel_log.hpp"

namespace gd::sampler {

std::string LineAssembler::feed(std::string_view chunk) {
  std::string out;
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (!m_skipping) {
      std::size_t room = m_max - m_partial.size();
      if (piece.size() > room) {
        m_partial.append(piece.substr(0, room));
        m_skipping = true;
        ++m_cut;
      } else {
        m_partial.append(piece);
      }
    }
    if (nl == std::string_view::npos) break;
    out += m_partial;
    out += '\n';
    m_partial.clear();
    m_skipping = false;
    chunk.remove_prefix(nl + 1);
  }
  return out;
}

std::vector<model::KernelEvent> parse_new_kernel_lines(std::string_view lines, std::int64_t now_unix_s) {
  std::vector<model::KernelEvent> out;
  if (lines.find("NVRM") == std::string_view::npos) return out;
  probe::KernelLogWindow all{std::nullopt, std::nullopt, "all"};
  probe::KernelLogParser parser(all, now_unix_s);
  parser.feed(lines);
  for (auto& e : parser.finish().events)
    if (e.kind == model::KernelEventKind::xid || e.kind == model::KernelEventKind::fallen_off_bus) out.push_back(std::move(e));
  return out;
}

XidSighting sighting_from_kernel(const model::KernelEvent& e, std::int64_t ts_ms) {
  return {XidSighting::Source::kernel_log, e.bus_id.value_or(""), e.xid, e.pid, e.process, e.message, ts_ms};
}

std::optional<store::EventRow> XidTracker::add(const XidSighting& s) {
  while (!m_recent.empty() && m_recent.front().ts_ms < s.ts_ms - m_window_ms) m_recent.pop_front();
  if (s.xid) {
    for (auto& r : m_recent) {
      if (r.paired || r.source == s.source || r.bus_id != s.bus_id || r.xid != *s.xid) continue;
      if (std::llabs(r.ts_ms - s.ts_ms) > m_window_ms) continue;
      r.paired = true;
      return std::nullopt;
    }
    m_recent.push_back({s.source, s.bus_id, *s.xid, s.ts_ms, false});
    ++m_counts[{s.bus_id, *s.xid}];
  }
  nlohmann::json d = {{"source", s.source == XidSighting::Source::nvml ? "nvml" : "kernel_log"}};
  d["code"] = s.xid ? nlohmann::json(*s.xid) : nlohmann::json(nullptr);
  if (s.pid) d["pid"] = *s.pid;
  if (s.process) d["process"] = *s.process;
  if (!s.message.empty()) d["message"] = s.message;
  return store::EventRow{0, s.ts_ms, std::string(model::history_event_name(s.xid ? model::HistoryEvent::xid : model::HistoryEvent::fallen_off_bus)), s.bus_id,
                         d.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
}

}  // namespace gd::sampler
