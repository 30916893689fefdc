#include "gd/ledger/ledger.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "gd/model/json_io.hpp"
#include "gd/rule/facts.hpp"
#include "gd/rule/rule.hpp"
#include "gd/util/strings.hpp"
#include "gd/util/time.hpp"

namespace gd::ledger {

using model::Latch;
using model::Ledger;
using model::LedgerEntry;
using model::LedgerState;
using model::Severity;
using model::key;

namespace {

constexpr std::size_t k_max_evidence = 8;
constexpr std::size_t k_max_boots_seen = 16;
constexpr std::size_t k_max_repairs = 8;

LedgerEntry* find_open(Ledger& l, std::string_view id, std::string_view gpu) {
  for (auto& e : l.entries)
    if (e.state == LedgerState::open && e.id == id && e.gpu == gpu) return &e;
  return nullptr;
}

// The newest closed entry of the problem (to reopen rather than duplicate).
LedgerEntry* find_closed(Ledger& l, std::string_view id, std::string_view gpu) {
  LedgerEntry* best = nullptr;
  for (auto& e : l.entries)
    if (e.state != LedgerState::open && e.id == id && e.gpu == gpu &&
        (!best || e.cleared_unix_s >= best->cleared_unix_s))
      best = &e;
  return best;
}

const model::NvmlGpu* nvml_gpu(const model::Snapshot& s, std::string_view bus) {
  for (const auto& g : s.nvml.gpus)
    if (g.bus_id && *g.bus_id == bus) return &g;
  return nullptr;
}

template <class T> void push_capped(std::vector<T>& v, T x, std::size_t cap) {
  v.push_back(std::move(x));
  if (v.size() > cap) v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - cap));
}

void add_repair(LedgerEntry& e, std::int64_t now, const std::string& boot, std::string what, UpdateReport& r) {
  for (const auto& x : e.repairs)
    if (x.what == what && x.boot_id == boot) return;
  r.repairs.push_back(fmt::format("{}: {}", key(e), what));
  push_capped(e.repairs, model::LedgerRepair{now, boot, std::move(what)}, k_max_repairs);
}

// Repairs since the problem was last seen: a reboot, a `fix` record for it, a
// different card in the slot.
void notice_repairs(LedgerEntry& e, const model::Snapshot& s, const std::string& boot, std::int64_t now,
                    UpdateReport& r) {
  if (!boot.empty() && !e.last_seen_boot_id.empty() && boot != e.last_seen_boot_id)
    add_repair(e, now, boot, "reboot", r);
  for (const auto& c : s.state.changes)
    if (c.finding == e.id && c.ts_unix_s >= e.raised_unix_s) {
      std::string what = fmt::format("fix: {} at {}", c.action, util::format_utc(c.ts_unix_s));
      if (!c.detail.empty()) what += " (" + util::printable(c.detail, 120) + ")";
      add_repair(e, c.ts_unix_s, c.boot_id, std::move(what), r);
    }
  if (const auto* g = e.gpu.empty() ? nullptr : nvml_gpu(s, e.gpu)) {
    if (!e.gpu_serial.empty() && g->serial && !g->serial->empty() && *g->serial != e.gpu_serial)
      add_repair(e, now, boot, fmt::format("card replaced: serial {} -> {}", e.gpu_serial, *g->serial), r);
    else if (e.gpu_serial.empty() && !e.gpu_uuid.empty() && g->uuid && !g->uuid->empty() && *g->uuid != e.gpu_uuid)
      add_repair(e, now, boot, fmt::format("card replaced: {} -> {}", e.gpu_uuid, *g->uuid), r);
  }
}

// Why this snapshot cannot prove the problem gone; "" when it can.
std::string cannot_recheck(const LedgerEntry& e, const model::Snapshot& s) {
  if (!e.gpu.empty() && s.nvml.state != model::NvmlState::ok)
    return fmt::format("NVML is {}", model::nvml_state_name(s.nvml.state));
  if (!e.gpu.empty() && !rule::nvml_answers_for(s, e.gpu)) return fmt::format("NVML does not answer for {}", e.gpu);
  bool from_log = util::starts_with(e.id, "xid.") || util::starts_with(e.id, "kernel_log.");
  if (from_log && s.kernel_log.source.empty()) return "no kernel log could be read";
  if (from_log && s.kernel_log.incomplete) return "the kernel log was not read to its end";
  if ((util::starts_with(e.id, "nvml.") || util::starts_with(e.id, "gpu.") || util::starts_with(e.id, "thermal.") ||
       util::starts_with(e.id, "memory.")) &&
      s.nvml.state != model::NvmlState::ok)
    return fmt::format("NVML is {}", model::nvml_state_name(s.nvml.state));
  if (util::starts_with(e.id, "cuda.") && s.cuda.state == model::CudaState::not_run) return "CUDA was not probed";
  return "";
}

std::string recheck_text(const LedgerEntry& e) {
  std::vector<std::string> parts;
  if (!e.gpu.empty()) parts.push_back(fmt::format("NVML answers for {}", e.gpu));
  if (util::starts_with(e.id, "xid.") || util::starts_with(e.id, "kernel_log."))
    parts.push_back("no such event in this boot's kernel log");
  parts.push_back("the rules no longer raise it");
  return util::join(parts, ", ");
}

void close(LedgerEntry& e, LedgerState how_state, std::int64_t now, std::string how, std::string_view by,
           UpdateReport& r) {
  e.state = how_state;
  e.seen_now = false;
  e.cleared_unix_s = now;
  e.cleared_how = std::move(how);
  e.cleared_by = std::string(by);
  r.cleared.push_back(fmt::format("{}: {}", key(e), e.cleared_how));
}

bool only_reboots(const LedgerEntry& e) {
  return std::all_of(e.repairs.begin(), e.repairs.end(), [](const auto& x) { return util::starts_with(x.what, "reboot"); });
}

void judge_unseen(LedgerEntry& e, const model::Snapshot& s, const UpdateOptions& o, UpdateReport& r) {
  e.seen_now = false;
  if (!cannot_recheck(e, s).empty()) return;  // not proven gone: stays as it is
  switch (e.latch) {
    case Latch::none:
      close(e, LedgerState::cleared, o.now_unix_s, "a complete re-check no longer raises it", o.writer, r);
      return;
    case Latch::transient:
      if (o.now_unix_s - e.last_seen_unix_s >= o.quiet_s)
        close(e, LedgerState::cleared, o.now_unix_s,
              fmt::format("quiet for {} s since {} (transient)", o.now_unix_s - e.last_seen_unix_s,
                          util::format_utc(e.last_seen_unix_s)),
              o.writer, r);
      return;
    case Latch::hardware:
      if (e.repairs.empty()) return;  // latched: nothing was repaired yet
      if (only_reboots(e) && e.occurrences >= 2) {
        std::string esc = fmt::format(
            "needs hardware: raised {} times; a reboot alone does not clear it (replace or reseat the GPU; a new "
            "card's serial clears it, or `gpudoctor ledger ack {} --reason TEXT`)",
            e.occurrences, key(e));
        if (e.escalation != esc) r.escalated.push_back(fmt::format("{}: {}", key(e), esc));
        e.escalation = std::move(esc);
        return;
      }
      close(e, LedgerState::cleared, o.now_unix_s,
            fmt::format("re-check passed after {}: {}", e.repairs.back().what, recheck_text(e)), o.writer, r);
      return;
  }
}

void prune(Ledger& l, std::int64_t now) {
  std::erase_if(l.entries, [now](const LedgerEntry& e) {
    return e.state != LedgerState::open && e.cleared_unix_s < now - k_recurrence_window_s;
  });
  while (l.entries.size() > k_max_entries) {
    auto oldest = l.entries.end();
    for (auto it = l.entries.begin(); it != l.entries.end(); ++it)
      if (it->state != LedgerState::open && (oldest == l.entries.end() || it->cleared_unix_s < oldest->cleared_unix_s))
        oldest = it;
    l.entries.erase(oldest == l.entries.end() ? l.entries.begin() : oldest);
  }
}

}  // namespace

UpdateReport update(Ledger& l, const model::Snapshot& s, const std::vector<model::Finding>& findings,
                    const UpdateOptions& o) {
  UpdateReport r;
  if (o.check_started_unix_ms != 0 && o.check_started_unix_ms < l.newest_check_unix_ms) {
    r.stale = true;
    return r;
  }
  l.newest_check_unix_ms = std::max(l.newest_check_unix_ms, o.check_started_unix_ms);
  const std::string boot = s.state.boot_id.value_or("");
  if (!boot.empty() && std::find(l.boots.begin(), l.boots.end(), boot) == l.boots.end())
    push_capped(l.boots, boot, k_max_boots);

  for (auto& e : l.entries)
    if (e.state == LedgerState::open) notice_repairs(e, s, boot, o.now_unix_s, r);

  std::set<std::string> seen;  // keys, not pointers: entries.push_back may move them
  for (const auto& f : findings) {
    if (f.severity == Severity::ok || util::starts_with(f.id, "ledger.")) continue;
    const auto* entry = rule::find_rule(f.id);
    const Latch latch = entry ? entry->latch : Latch::none;
    const std::string gpu = f.gpu.value_or("");
    const bool fresh = !f.earlier_boots_only;
    LedgerEntry* e = find_open(l, f.id, gpu);
    bool created = false;
    if (!e) {
      LedgerEntry* old = find_closed(l, f.id, gpu);
      // An earlier boot's log of a problem already closed tells nothing new.
      if (!fresh && old) continue;
      if (old) {
        e = old;
        e->occurrences += 1;
        e->repairs.clear();
        e->escalation.clear();
        e->cleared_unix_s = 0;
        e->cleared_how.clear();
        e->cleared_by.clear();
        e->state = LedgerState::open;
      } else {
        l.entries.push_back(LedgerEntry{});
        e = &l.entries.back();
        e->id = f.id;
        e->gpu = gpu;
        created = true;
      }
      e->raised_unix_s = o.now_unix_s;
      e->raised_boot_id = fresh ? boot : "";
      e->last_seen_unix_s = o.now_unix_s;
      e->severity = f.severity;
      // Who the card is, for telling a swap later: NVML when it answers, else the driver's log line.
      e->gpu_serial.clear();
      e->gpu_uuid.clear();
      if (const auto* g = gpu.empty() ? nullptr : nvml_gpu(s, gpu); g && rule::nvml_answers_for(s, gpu)) {
        e->gpu_serial = g->serial.value_or("");
        e->gpu_uuid = g->uuid.value_or("");
      }
      if (auto it = s.kernel_log.gpu_uuids.find(gpu); e->gpu_uuid.empty() && it != s.kernel_log.gpu_uuids.end())
        e->gpu_uuid = it->second;
      r.raised.push_back(fmt::format("{}: {}", key(*e), util::printable(f.summary, 200)));
      if (!fresh) add_repair(*e, o.now_unix_s, boot, "reboot (the problem is in an earlier boot's log)", r);
    }
    e->latch = latch;
    // A hardware fault keeps the worst it was; a configuration problem is as bad as it is now (an empty
    // library the loader no longer reaches after ldconfig is a warning, not the critical it was).
    e->severity = latch == Latch::hardware ? std::max(e->severity, f.severity) : f.severity;
    e->summary = f.summary;
    e->evidence.assign(f.evidence.begin(), f.evidence.begin() + static_cast<std::ptrdiff_t>(
                                                                    std::min(f.evidence.size(), k_max_evidence)));
    if (!fresh) continue;
    if (!boot.empty() && std::find(e->boots_seen.begin(), e->boots_seen.end(), boot) == e->boots_seen.end()) {
      if (!e->boots_seen.empty() && !created && e->raised_boot_id != boot) e->occurrences += 1;  // back in another boot
      push_capped(e->boots_seen, boot, k_max_boots_seen);
    }
    if (!e->repairs.empty()) {
      // Seen again after a repair: that repair did not hold.
      r.escalated.push_back(fmt::format("{}: came back after {}", key(*e), e->repairs.back().what));
      e->repairs.clear();
    }
    e->last_seen_unix_s = o.now_unix_s;
    e->last_seen_boot_id = boot;
    e->seen_now = true;
    seen.insert(key(*e));
  }

  for (auto& e : l.entries)
    if (e.state == LedgerState::open && !seen.count(key(e)))
      judge_unseen(e, s, o, r);
  prune(l, o.now_unix_s);
  return r;
}

Result<std::vector<std::string>> acknowledge(Ledger& l, std::string_view selector, std::string_view reason,
                                             std::int64_t now) {
  std::string why = util::printable(util::trim(reason), 200);
  if (why.empty()) return make_error("an acknowledgement needs a reason (--reason TEXT): it is kept in the ledger");
  std::vector<std::string> done;
  UpdateReport r;
  for (auto& e : l.entries) {
    if (e.state != LedgerState::open) continue;
    if (selector != "all" && selector != e.id && selector != key(e)) continue;
    close(e, LedgerState::acknowledged, now, "acknowledged: " + why, "ledger ack", r);
    done.push_back(key(e));
  }
  if (done.empty())
    return make_error(fmt::format("no open problem in the ledger is {} (see `gpudoctor ledger`)",
                                  util::printable(selector, 120)));
  return done;
}

std::int64_t now_unix_s() { return util::now_unix_ms() / 1000; }

Result<Session> Session::open(const host::HostRoot& root, std::chrono::milliseconds wait, std::string* notice) {
  if (auto made = root.make_dirs(model::k_state_dir, 0750); !made) return made.error();
  auto fd = root.open(model::k_ledger_lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
  if (!fd) return fd.error();
  auto until = std::chrono::steady_clock::now() + wait;
  while (::flock(fd->get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK && errno != EINTR)
      return make_error(fmt::format("{}: cannot lock", root.display_path(model::k_ledger_lock).string()));
    if (std::chrono::steady_clock::now() >= until)
      return make_error(fmt::format("{}: another gpudoctor holds the ledger for more than {} ms",
                                    root.display_path(model::k_ledger_lock).string(), wait.count()));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Session s(root, std::move(*fd));
  if (root.kind(model::k_ledger_file) == host::FileKind::missing) return s;
  auto text = root.read_file(model::k_ledger_file, 8u << 20);
  if (!text) return text.error();  // unreadable (too large, a FIFO): refuse rather than overwrite it
  auto parsed = model::parse_ledger(*text, root.display_path(model::k_ledger_file).string());
  if (parsed) {
    s.m_ledger = std::move(*parsed);
    s.m_read = *text;
    return s;
  }
  std::string aside = fmt::format("{}.corrupt-{}", model::k_ledger_file, now_unix_s());
  if (auto kept = root.write_file_atomic(aside, *text, 0640); !kept) return kept.error();
  if (notice)
    *notice = fmt::format("{}; kept it as {} and started an empty ledger", parsed.error().message,
                          root.display_path(aside).string());
  return s;
}

Status Session::save(std::string_view writer, std::int64_t now) {
  auto body = [](Ledger l) {
    l.updated_unix_s = 0;
    l.updated_by.clear();
    l.newest_check_unix_ms = 0;
    return model::to_json(l).dump();
  };
  if (!m_read.empty()) {
    auto before = model::parse_ledger(m_read, "ledger");
    if (before && body(*before) == body(m_ledger)) return ok_status();
  } else if (m_ledger.entries.empty()) {  // a healthy node gets no ledger file
    return ok_status();
  }
  m_ledger.updated_unix_s = now;
  m_ledger.updated_by = std::string(writer);
  std::string text = model::to_json(m_ledger).dump(1) + "\n";
  if (auto w = m_root->write_file_atomic(model::k_ledger_file, text, 0640); !w) return w.error();
  m_read = std::move(text);
  return ok_status();
}

Result<Recorded> record(const host::HostRoot& root, const model::Snapshot& s,
                        const std::vector<model::Finding>& findings, const UpdateOptions& o) {
  Recorded out;
  // A node with no ledger and nothing to put in one is left untouched (no
  // state dir, no lock file): a healthy node never gets a ledger.
  bool any = std::any_of(findings.begin(), findings.end(), [](const model::Finding& f) {
    return f.severity != Severity::ok && !util::starts_with(f.id, "ledger.");
  });
  if (!any && root.kind(model::k_ledger_file) == host::FileKind::missing) return out;
  auto session = Session::open(root, std::chrono::milliseconds(2000), &out.notice);
  if (!session) return session.error();
  out.report = update(session->ledger(), s, findings, o);
  if (auto saved = session->save(o.writer, o.now_unix_s); !saved)
    return make_error(fmt::format("the ledger could not be written: {}", saved.error().message));
  out.ledger = session->ledger();
  return out;
}

}  // namespace gd::ledger
