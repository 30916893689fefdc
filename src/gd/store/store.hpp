// The history database of `watch`: SQLite in WAL mode (synchronous=NORMAL),
// schema versioned by numbered migrations. Each tick lands in `samples` (one
// row per GPU, a column per metric of gpu_metrics()); maintain() later packs
// every finished hour into compressed per-GPU blocks (block_codec.hpp) with
// per-minute and per-hour roll-ups (rollup.hpp), and drops what is past
// retention. Also an inventory of GPUs by bus id, and events. Errors are
// values; a full or read-only disk is reported as WriteError::Kind so the
// caller keeps the rows in memory and retries.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gd/store/rollup.hpp"
#include "gd/util/fd.hpp"
#include "gd/util/result.hpp"

struct sqlite3;

namespace gd::store {

struct SampleRow {
  std::int64_t ts = 0;  // unix seconds
  std::string bus_id;
  std::vector<std::optional<std::int64_t>> values;  // gpu_metrics() order
};

struct EventRow {
  std::int64_t id = 0;     // assigned by the store
  std::int64_t ts_ms = 0;  // unix milliseconds
  std::string type;        // "gpu_lost", "finding_raised", ...
  std::string gpu;         // bus id, "" when about the node
  std::string detail;      // JSON object text
};

// A GPU's identity at its bus id, as last seen.
struct GpuIdentity {
  std::string bus_id;
  std::string uuid;
  std::string serial;
  std::string model;
  std::optional<std::int64_t> slowdown_celsius;  // the GPU's own thresholds; nullopt: not reported
  std::optional<std::int64_t> shutdown_celsius;
};

struct WriteError {
  enum class Kind { full, read_only, corrupt, other } kind = Kind::other;
  std::string message;
};

struct SampleQuery {
  std::optional<std::string> gpu;  // bus id
  std::int64_t since = 0;          // unix seconds, inclusive
  std::int64_t until = INT64_MAX;  // exclusive
};

enum class Resolution { raw, minute, hour };
std::string_view resolution_name(Resolution r);
std::optional<Resolution> parse_resolution(std::string_view s);

// How long each resolution is kept, in days (docs/watch.md, "Retention").
struct Retention {
  int raw_days = 30;
  int minute_days = 90;
  int hour_days = 730;
};

struct MaintainReport {
  int hours_packed = 0;
  std::int64_t rows_packed = 0;
  std::int64_t blocks_deleted = 0;
  bool more = false;  // finished hours still wait in `samples` (the next call goes on)
};

struct HistoryQuery {
  std::optional<std::string> gpu;        // bus id
  std::int64_t since = 0;                // unix seconds, inclusive
  std::int64_t until = INT64_MAX;        // exclusive
  std::optional<Resolution> resolution;  // nullopt = auto: raw where raw exists, else minute, else hour
  std::vector<std::size_t> metrics;      // gpu_metrics() indexes; empty = all
};

// One row of `history`: a raw sample (every stat = the value, count 1) or a
// roll-up bucket starting at ts.
struct HistoryRow {
  std::int64_t ts = 0;
  std::string bus_id;
  Resolution resolution = Resolution::raw;
  std::vector<std::optional<MetricStat>> values;  // gpu_metrics() order; the metrics not asked for are nullopt
};

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens (creating folders and the file) and migrates. A file SQLite calls
  // corrupt, or that fails quick_check, is renamed to PATH.corrupt-<unix
  // time> and a new one started; `notice` then says so.
  // Check::quick runs PRAGMA quick_check (seconds on a large file: the daemon
  // does it at start); Check::none skips it. Queries use open_for_query.
  enum class Check { quick, none };
  static Result<std::unique_ptr<Store>> open(const std::string& path, std::string* notice = nullptr,
                                             Check check = Check::quick);

  // The one-writer lock of the database at path (PATH.lock, flock held while
  // the Fd lives): a second daemon on the same file would double every event.
  // Error: another process holds it (its pid named). An empty Fd: no lock file
  // can be made there (then neither can the database: open reports that).
  static Result<util::Fd> lock_writer(const std::string& path);

  // Opens an existing history database for queries (`history`, `events`,
  // any reader): read-only, never created, migrated or moved aside. A file
  // that is not an SQLite database, or is one but not gpudoctor's history, is
  // an error naming it, and the file is left byte-identical (no -wal/-shm
  // left behind either: without a live writer it is read immutable).
  static Result<std::unique_ptr<Store>> open_for_query(const std::string& path);

  // Writes samples, inventory and events in one transaction; all or nothing.
  // On success fills each event's id.
  std::optional<WriteError> write(const std::vector<SampleRow>& samples, const std::vector<GpuIdentity>& inventory,
                                  std::vector<EventRow>& events);

  Result<std::vector<GpuIdentity>> inventory();
  // Bus ids whose latest gpu_lost / gpu_back event is gpu_lost: lost when the
  // daemon last knew, so a restart does not record the same loss again.
  Result<std::vector<std::string>> lost_gpus();
  // Raw rows (recent and packed), ordered by ts, then bus id.
  Result<std::vector<SampleRow>> samples(const SampleQuery& q);
  // Calls visit for each row of the query, ordered by ts then bus id (auto:
  // hour roll-ups, then minute roll-ups, then raw rows, each where the finer
  // one does not reach back). A roll-up row is visited when its bucket
  // overlaps [since, until); the current hour's come from its raw rows.
  // Returns the number of rows visited.
  Result<std::int64_t> history(const HistoryQuery& q, const std::function<void(const HistoryRow&)>& visit);
  // Per (bus id, metric) the figures over the query's range (`history
  // --summary`): whole hours from the hour roll-ups (the same figures their
  // raw rows give, without decoding them), the partial hours at the edges at
  // q.resolution.
  Result<std::map<std::pair<std::string, std::size_t>, MetricStat>> summarize(const HistoryQuery& q);
  // Maximum of one metric per bus id over [since, until).
  Result<std::vector<std::pair<std::string, std::int64_t>>> max_per_gpu(std::size_t metric, std::int64_t since,
                                                                        std::int64_t until);
  // Events in [since_ms, until_ms) of the given types (empty: all), by id.
  Result<std::vector<EventRow>> events(std::int64_t since_ms, std::int64_t until_ms,
                                       const std::vector<std::string>& types);
  // Events by any of: time range, types, id; oldest id first or newest time first; at most limit.
  struct EventQuery {
    std::int64_t since_ms = INT64_MIN, until_ms = INT64_MAX;
    std::vector<std::string> types;  // empty: all
    std::optional<std::int64_t> id;
    bool newest_first = false;
    std::int64_t limit = -1;  // -1: no limit
  };
  Result<std::vector<EventRow>> find_events(const EventQuery& q);
  // The time of the newest raw sample (unix s; an hour already packed: its end); nullopt when there is none.
  Result<std::optional<std::int64_t>> last_sample_ts();
  // Packs finished hours (ts < the hour of now_s) from `samples` into blocks
  // and roll-ups, at most max_hours of them, each in its own transaction
  // (crash-safe, and idempotent: rows are either still in `samples` or in
  // their block); then deletes blocks wholly past their retention.
  Result<MaintainReport> maintain(std::int64_t now_s, const Retention& r, int max_hours = 4);

  // "ok", or what PRAGMA integrity_check reported.
  Result<std::string> integrity_check();
  // PRAGMA quick_check(1): "ok", or the first problem (cheaper than integrity_check; the daemon runs it every
  // 15 minutes so pages corrupted under it are noticed, not written around).
  Result<std::string> quick_check();
  // Caps the file at about max_bytes (PRAGMA max_page_count); writes past it
  // fail with WriteError::Kind::full, as on a full disk.
  void limit_size(std::int64_t max_bytes);
  // Copies the WAL into the main file and truncates it.
  void checkpoint();
  // True when SQLite opened the file read-only (a read-only filesystem or file).
  bool read_only() const;
  int schema_version() const { return m_version; }
  const std::string& path() const { return m_path; }
  // Why the file at path() is no longer the one this Store writes (deleted,
  // or replaced by another file); nullopt while it is. Writes into a deleted
  // file succeed and are lost: the daemon checks this every tick.
  std::optional<std::string> file_changed() const;

 private:
  Store(sqlite3* db, std::string path);
  Result<bool> migrate();
  Result<std::int64_t> gpu_id(const std::string& bus_id);
  Result<bool> load_gpu_names();
  std::optional<std::int64_t> find_gpu(const std::string& bus_id) const;
  struct Chunk;
  using ChunkFn = std::function<void(const Chunk&)>;
  Result<bool> raw_chunks(const HistoryQuery& q, std::span<const std::size_t> cols, const ChunkFn& fn);
  Result<bool> rollup_chunks(Resolution res, const HistoryQuery& q, std::span<const std::size_t> cols,
                             const ChunkFn& fn);
  Result<bool> pack_hour(std::int64_t hour);
  Result<std::optional<std::int64_t>> oldest(Resolution res);

  sqlite3* m_db = nullptr;
  std::string m_path;
  std::uint64_t m_dev = 0, m_ino = 0;  // of the file opened
  int m_version = 0;
  std::map<std::string, std::int64_t> m_gpu_ids;    // bus id -> gpus.id, committed rows only
  std::map<std::int64_t, std::string> m_gpu_names;  // gpus.id -> bus id, loaded per query
};

// The default database path: /var/lib/gpudoctor/history.db as root, else
// $XDG_STATE_HOME/gpudoctor/history.db (~/.local/state/... when unset).
std::string default_db_path();

}  // namespace gd::store
