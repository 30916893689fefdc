// The history database of `watch`: SQLite in WAL mode (synchronous=NORMAL),
// schema versioned by numbered migrations. One row per GPU per sample with a
// column per metric (gpu_metrics()), an inventory of GPUs by bus id, and
// events. Errors are values; a full or read-only disk is reported as
// WriteError::Kind so the caller keeps the rows in memory and retries.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

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

class Store {
 public:
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Opens (creating folders and the file) and migrates. A file SQLite calls
  // corrupt, or that fails quick_check, is renamed to PATH.corrupt-<unix
  // time> and a new one started; `notice` then says so.
  // Check::quick runs PRAGMA quick_check (seconds on a large file: the daemon
  // does it at start); Check::none is for queries.
  enum class Check { quick, none };
  static Result<std::unique_ptr<Store>> open(const std::string& path, std::string* notice = nullptr,
                                             Check check = Check::quick);

  // Writes samples, inventory and events in one transaction; all or nothing.
  // On success fills each event's id.
  std::optional<WriteError> write(const std::vector<SampleRow>& samples, const std::vector<GpuIdentity>& inventory,
                                  std::vector<EventRow>& events);

  Result<std::vector<GpuIdentity>> inventory();
  // Rows ordered by ts, then bus id.
  Result<std::vector<SampleRow>> samples(const SampleQuery& q);
  // Maximum of one metric per bus id over [since, until).
  Result<std::vector<std::pair<std::string, std::int64_t>>> max_per_gpu(std::size_t metric, std::int64_t since,
                                                                        std::int64_t until);
  // Events in [since_ms, until_ms) of the given types (empty: all), by id.
  Result<std::vector<EventRow>> events(std::int64_t since_ms, std::int64_t until_ms,
                                       const std::vector<std::string>& types);
  // Deletes samples older than `before` (unix seconds); returns rows deleted.
  Result<std::int64_t> prune_samples(std::int64_t before);

  // "ok", or what PRAGMA integrity_check reported.
  Result<std::string> integrity_check();
  // Caps the file at about max_bytes (PRAGMA max_page_count); writes past it
  // fail with WriteError::Kind::full, as on a full disk.
  void limit_size(std::int64_t max_bytes);
  // Copies the WAL into the main file and truncates it.
  void checkpoint();
  int schema_version() const { return m_version; }
  const std::string& path() const { return m_path; }

 private:
  Store(sqlite3* db, std::string path) : m_db(db), m_path(std::move(path)) {}
  Result<bool> migrate();
  Result<std::int64_t> gpu_id(const std::string& bus_id);

  sqlite3* m_db = nullptr;
  std::string m_path;
  int m_version = 0;
  std::map<std::string, std::int64_t> m_gpu_ids;  // bus id -> gpus.id, committed rows only
};

// The default database path: /var/lib/gpudoctor/history.db as root, else
// $XDG_STATE_HOME/gpudoctor/history.db (~/.local/state/... when unset).
std::string default_db_path();

}  // namespace gd::store
