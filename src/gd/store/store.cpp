#include "gd/store/store.hpp"
#include "gd/util/strings.hpp"

#include <sys/stat.h>

#include <fcntl.h>
#include <sys/file.h>

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include <fmt/format.h>

#include "gd/store/gpu_metrics.hpp"
#include "gd/store/sqlite_stmt.hpp"

namespace gd::store {

namespace {

namespace fs = std::filesystem;

// Numbered migrations: index + 1 is the schema version they bring the file to.
// Never edit one that shipped; add a new one (a new metric column is an
// ALTER TABLE samples ADD COLUMN here).
constexpr const char* k_migrations[] = {
    R"sql(
CREATE TABLE gpus(id INTEGER PRIMARY KEY, bus_id TEXT NOT NULL UNIQUE, uuid TEXT NOT NULL DEFAULT '',
                  serial TEXT NOT NULL DEFAULT '', model TEXT NOT NULL DEFAULT '');
CREATE TABLE samples(ts INTEGER NOT NULL, gpu INTEGER NOT NULL,
  temp_celsius INTEGER, power_milliwatts INTEGER, power_limit_milliwatts INTEGER, energy_millijoules INTEGER,
  util_gpu_percent INTEGER, util_mem_percent INTEGER, mem_used_bytes INTEGER, mem_total_bytes INTEGER,
  clock_sm_mhz INTEGER, clock_mem_mhz INTEGER, clock_graphics_mhz INTEGER, clock_event_reasons INTEGER,
  pstate INTEGER, fan_percent INTEGER, pcie_gen INTEGER, pcie_width INTEGER, persistence_mode INTEGER,
  ecc_corrected_volatile INTEGER, ecc_uncorrected_volatile INTEGER, ecc_uncorrected_aggregate INTEGER,
  remapped_rows_correctable INTEGER, remapped_rows_uncorrectable INTEGER, remapped_rows_failure INTEGER,
  retired_pages_pending INTEGER,
  PRIMARY KEY(ts, gpu)) WITHOUT ROWID;
CREATE TABLE events(id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, type TEXT NOT NULL,
                    gpu TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}');
CREATE INDEX events_ts ON events(ts_ms);
CREATE INDEX events_type_ts ON events(type, ts_ms);
)sql",
    // 2: finished hours of `samples` packed per GPU (kind 0: raw, one hour per
    // block), and roll-ups (kind 1: per minute, one day per block; kind 2: per
    // hour, seven days per block); `data` is block_codec's encoding.
    R"sql(
CREATE TABLE blocks(kind INTEGER NOT NULL, t0 INTEGER NOT NULL, gpu INTEGER NOT NULL, rows INTEGER NOT NULL,
                    data BLOB NOT NULL, PRIMARY KEY(kind, t0, gpu));
)sql",
    // 3: each GPU's own temperature thresholds (°C), drawn by `report` on its temperature chart.
    R"sql(
ALTER TABLE gpus ADD COLUMN slowdown_celsius INTEGER;
ALTER TABLE gpus ADD COLUMN shutdown_celsius INTEGER;
)sql",
};

bool is_corrupt_code(int rc) { return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB; }

// Opens and configures; returns the SQLite result code of the first failure.
int open_configured(const std::string& path, sqlite3** db, std::string& err, bool quick_check) {
  int rc = sqlite3_open_v2(path.c_str(), db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    err = *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc);
    return rc;
  }
  sqlite3_busy_timeout(*db, 2000);
  sqlite3_extended_result_codes(*db, 1);
  for (const char* p : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"}) {
    if (!exec(*db, p, &err)) return sqlite3_extended_errcode(*db);
  }
  if (!quick_check) return SQLITE_OK;
  Stmt qc(*db, "PRAGMA quick_check(1)");
  if (!qc.ok()) {
    err = sqlite3_errmsg(*db);
    return sqlite3_extended_errcode(*db);
  }
  int step = qc.step();
  if (step != SQLITE_ROW) {
    err = sqlite3_errmsg(*db);
    return sqlite3_extended_errcode(*db);
  }
  if (std::string r = qc.text(0); r != "ok") {
    err = "quick_check: " + r;
    return SQLITE_CORRUPT;
  }
  return SQLITE_OK;
}

void move_aside(const std::string& path, const std::string& suffix) {
  std::error_code ec;
  fs::rename(path, path + suffix, ec);
  for (const char* side : {"-wal", "-shm"}) fs::rename(path + side, path + suffix + side, ec);
}

std::string column_list() {
  std::string s;
  for (const auto& m : gpu_metrics()) s += fmt::format(", {}", m.column);
  return s;
}

}  // namespace

Store::Store(sqlite3* db, std::string path) : m_db(db), m_path(std::move(path)) {
  struct stat st {};
  if (::stat(m_path.c_str(), &st) == 0) m_dev = st.st_dev, m_ino = st.st_ino;
}

std::optional<std::string> Store::file_changed() const {
  if (m_ino == 0) return std::nullopt;  // (opened through a name that could not be stat'ed: nothing to compare)
  struct stat st {};
  if (::stat(m_path.c_str(), &st) != 0)
    return fmt::format("history database {} was deleted under the daemon ({})", m_path, std::strerror(errno));
  if (st.st_dev != m_dev || st.st_ino != m_ino)
    return fmt::format("history database {} was replaced by another file under the daemon", m_path);
  return std::nullopt;
}

Store::~Store() {
  if (m_db) sqlite3_close_v2(m_db);
}

// Directories 0750 and the database 0640 whatever the umask (under umask 000
// they were 0777/0666): history names the node's processes and GPUs.
void create_private(const fs::path& path) {
  fs::path dir;
  for (const auto& part : path.parent_path()) {
    dir /= part;
    if (::mkdir(dir.c_str(), 0750) == 0) ::chmod(dir.c_str(), 0750);
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd >= 0) {
    ::fchmod(fd, 0640);
    ::close(fd);
  }
}

Result<util::Fd> Store::lock_writer(const std::string& path) {
  std::string lock = path + ".lock";
  create_private(path + ".lock");
  util::Fd fd(::open(lock.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return util::Fd();  // (no lock file can be made where the database cannot be either: open says why)
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    char buf[32] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    std::string pid = n > 0 ? util::printable(std::string_view(buf, static_cast<std::size_t>(n)), 20) : "?";
    while (!pid.empty() && (pid.back() == '?' || pid.back() == ' ')) pid.pop_back();
    return make_error(fmt::format("another gpudoctor watch (pid {}) writes {}: one database, one daemon (pass "
                                  "another --db)",
                                  pid.empty() ? "?" : pid, path));
  }
  std::string me = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) == 0) (void)!::pwrite(fd.get(), me.data(), me.size(), 0);
  return fd;
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path, std::string* notice, Check check) {
  create_private(path);
  sqlite3* db = nullptr;
  std::string err;
  int rc = open_configured(path, &db, err, check == Check::quick);
  if (rc != SQLITE_OK && is_corrupt_code(rc)) {
    sqlite3_close_v2(db);
    db = nullptr;
    std::string suffix = fmt::format(".corrupt-{}", std::time(nullptr));
    move_aside(path, suffix);
    create_private(path);
    if (notice)
      *notice = fmt::format("history database {} is corrupt ({}): moved aside to {}{} and started a new one", path, err,
                            path, suffix);
    rc = open_configured(path, &db, err, check == Check::quick);
  }
  if (rc != SQLITE_OK) {
    if (db) sqlite3_close_v2(db);
    return make_error(fmt::format("cannot open history database {}: {}", path, err));
  }
  std::unique_ptr<Store> store(new Store(db, path));
  if (auto m = store->migrate(); !m) return m.error();
  return store;
}

namespace {

// "file:" URI of a path: %, ?, # and non-printable bytes percent-encoded.
std::string file_uri(const std::string& path, std::string_view query) {
  std::string out = "file:";
  for (unsigned char c : path) {
    if (c == '%' || c == '?' || c == '#' || c < 0x21 || c > 0x7e) out += fmt::format("%{:02X}", c);
    else out += static_cast<char>(c);
  }
  return out + "?" + std::string(query);
}

// The first 16 bytes of an SQLite file.
constexpr std::string_view k_sqlite_magic{"SQLite format 3\0", 16};

Status looks_like_sqlite(const std::string& path) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || st.type() == fs::file_type::not_found)
    return make_error(fmt::format("no history database at {} (is `gpudoctor watch` running?)", path));
  if (st.type() != fs::file_type::regular) return make_error(fmt::format("{}: not a regular file", path));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return make_error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  char head[16] = {};
  std::size_t n = std::fread(head, 1, sizeof head, f);
  std::fclose(f);
  if (n != sizeof head || std::string_view(head, sizeof head) != k_sqlite_magic)
    return make_error(fmt::format("{} is not a gpudoctor history database (not an SQLite file); left unchanged", path));
  return ok_status();
}

}  // namespace

Result<std::unique_ptr<Store>> Store::open_for_query(const std::string& path) {
  if (auto s = looks_like_sqlite(path); !s) return s.error();
  // A live writer keeps PATH-wal: read through it. Without one, immutable:
  // SQLite then creates no -wal/-shm beside the file.
  bool writer = fs::exists(path + "-wal");
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(file_uri(path, writer ? "mode=ro" : "immutable=1").c_str(), &db,
                           SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string err = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    if (db) sqlite3_close_v2(db);
    return make_error(fmt::format("cannot open history database {}: {}", path, err));
  }
  sqlite3_busy_timeout(db, 2000);
  sqlite3_extended_result_codes(db, 1);
  std::unique_ptr<Store> store(new Store(db, path));
  int tables = 0;
  {
    Stmt t(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
               "('schema_version', 'gpus', 'samples', 'events')");
    if (!t.ok() || t.step() != SQLITE_ROW)
      return make_error(fmt::format("{}: cannot read: {} (not a database, or corrupt)", path, sqlite3_errmsg(db)));
    tables = static_cast<int>(t.i64(0));
  }
  if (tables != 4)
    return make_error(fmt::format("{} is an SQLite database but not gpudoctor's history (no schema_version, gpus, "
                                  "samples and events tables); left unchanged",
                                  path));
  Stmt v(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  if (!v.ok() || v.step() != SQLITE_ROW) return db_error(db, path);
  store->m_version = static_cast<int>(v.i64(0));
  constexpr int latest = static_cast<int>(std::size(k_migrations));
  if (store->m_version > latest)
    return make_error(fmt::format("{}: schema version {} is newer than this gpudoctor ({})", path, store->m_version,
                                  latest));
  if (store->m_version < latest)
    return make_error(fmt::format("{}: written by an older gpudoctor (schema {}, this one reads {}); `gpudoctor "
                                  "watch --db {}` upgrades it",
                                  path, store->m_version, latest, path));
  return store;
}

Result<bool> Store::migrate() {
  if (!exec(m_db, "CREATE TABLE IF NOT EXISTS schema_version(version INTEGER NOT NULL)")) return db_error(m_db, m_path);
  {
    Stmt s(m_db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
    if (!s.ok() || s.step() != SQLITE_ROW) return db_error(m_db, m_path);
    m_version = static_cast<int>(s.i64(0));
  }
  constexpr int latest = static_cast<int>(std::size(k_migrations));
  if (m_version > latest)
    return make_error(
        fmt::format("{}: schema version {} is newer than this gpudoctor ({})", m_path, m_version, latest));
  for (int v = m_version; v < latest; ++v) {
    std::string err;
    std::string sql =
        fmt::format("BEGIN IMMEDIATE; {} INSERT INTO schema_version VALUES({}); COMMIT;", k_migrations[v], v + 1);
    if (!exec(m_db, sql.c_str(), &err)) {
      exec(m_db, "ROLLBACK");
      return make_error(fmt::format("{}: migration {} failed: {}", m_path, v + 1, err));
    }
    m_version = v + 1;
  }
  return true;
}

Result<bool> Store::load_gpu_names() {
  Stmt s(m_db, "SELECT id, bus_id FROM gpus");
  m_gpu_names.clear();
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) m_gpu_names[s.i64(0)] = s.text(1);
  if (rc != SQLITE_DONE) return db_error(m_db, "gpus");
  return true;
}

std::optional<std::int64_t> Store::find_gpu(const std::string& bus_id) const {
  for (const auto& [id, bus] : m_gpu_names)
    if (bus == bus_id) return id;
  return std::nullopt;
}

Result<std::int64_t> Store::gpu_id(const std::string& bus_id) {
  if (auto it = m_gpu_ids.find(bus_id); it != m_gpu_ids.end()) return it->second;
  Stmt ins(m_db, "INSERT OR IGNORE INTO gpus(bus_id) VALUES(?)");
  ins.bind(1, bus_id);
  if (ins.step() != SQLITE_DONE) return db_error(m_db, "gpus");
  Stmt sel(m_db, "SELECT id FROM gpus WHERE bus_id = ?");
  sel.bind(1, bus_id);
  if (sel.step() != SQLITE_ROW) return db_error(m_db, "gpus");
  return m_gpu_ids[bus_id] = sel.i64(0);
}

std::optional<WriteError> Store::write(const std::vector<SampleRow>& samples, const std::vector<GpuIdentity>& inventory,
                                       std::vector<EventRow>& events) {
  auto fail = [&](std::string_view what) {
    int rc = sqlite3_extended_errcode(m_db);
    WriteError e;
    e.message = fmt::format("{}: {}: {}", m_path, what, sqlite3_errmsg(m_db));
    if ((rc & 0xff) == SQLITE_FULL)
      e.kind = WriteError::Kind::full;
    else if ((rc & 0xff) == SQLITE_READONLY || (rc & 0xff) == SQLITE_CANTOPEN)
      e.kind = WriteError::Kind::read_only;
    else if (is_corrupt_code(rc))
      e.kind = WriteError::Kind::corrupt;
    exec(m_db, "ROLLBACK");
    m_gpu_ids.clear();
    return e;
  };
  if (!exec(m_db, "BEGIN IMMEDIATE")) return fail("begin");
  for (const auto& g : inventory) {
    // A threshold not reported keeps the one the history has.
    Stmt s(m_db,
           "INSERT INTO gpus(bus_id, uuid, serial, model, slowdown_celsius, shutdown_celsius) "
           "VALUES(?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(bus_id) DO UPDATE SET uuid = ?2, serial = ?3, model = ?4, "
           "slowdown_celsius = COALESCE(?5, slowdown_celsius), shutdown_celsius = COALESCE(?6, shutdown_celsius)");
    s.bind(1, g.bus_id), s.bind(2, g.uuid), s.bind(3, g.serial), s.bind(4, g.model);
    s.bind(5, g.slowdown_celsius), s.bind(6, g.shutdown_celsius);
    if (s.step() != SQLITE_DONE) return fail("inventory");
  }
  if (!samples.empty()) {
    std::string params;
    for (size_t i = 0; i < gpu_metrics().size(); ++i) params += ", ?";
    Stmt ins(m_db, fmt::format("INSERT OR REPLACE INTO samples(ts, gpu{}) VALUES(?, ?{})", column_list(), params));
    if (!ins.ok()) return fail("prepare samples");
    for (const auto& row : samples) {
      auto id = gpu_id(row.bus_id);
      if (!id) return fail("gpu id");
      ins.bind(1, row.ts), ins.bind(2, *id);
      for (size_t i = 0; i < gpu_metrics().size(); ++i)
        ins.bind(static_cast<int>(i) + 3, i < row.values.size() ? row.values[i] : std::nullopt);
      if (ins.step() != SQLITE_DONE) return fail("samples");
      ins.reset();
    }
  }
  Stmt ev(m_db, "INSERT INTO events(ts_ms, type, gpu, detail) VALUES(?, ?, ?, ?)");
  for (auto& e : events) {
    ev.bind(1, e.ts_ms), ev.bind(2, e.type), ev.bind(3, e.gpu), ev.bind(4, e.detail);
    if (ev.step() != SQLITE_DONE) return fail("events");
    e.id = sqlite3_last_insert_rowid(m_db);
    ev.reset();
  }
  if (!exec(m_db, "COMMIT")) return fail("commit");
  return std::nullopt;
}

Result<std::vector<GpuIdentity>> Store::inventory() {
  Stmt s(m_db, "SELECT bus_id, uuid, serial, model, slowdown_celsius, shutdown_celsius FROM gpus ORDER BY bus_id");
  std::vector<GpuIdentity> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    out.push_back({s.text(0), s.text(1), s.text(2), s.text(3), s.opt(4), s.opt(5)});
  if (rc != SQLITE_DONE) return db_error(m_db, "inventory");
  return out;
}

Result<std::vector<std::string>> Store::lost_gpus() {
  Stmt s(m_db,
         "SELECT gpu, type FROM events WHERE id IN (SELECT MAX(id) FROM events WHERE type IN ('gpu_lost', 'gpu_back') "
         "GROUP BY gpu)");
  std::vector<std::string> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW)
    if (s.text(1) == "gpu_lost") out.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(m_db, "events");
  return out;
}

Result<std::vector<EventRow>> Store::events(std::int64_t since_ms, std::int64_t until_ms,
                                            const std::vector<std::string>& types) {
  EventQuery q;
  q.since_ms = since_ms, q.until_ms = until_ms, q.types = types;
  return find_events(q);
}

Result<std::vector<EventRow>> Store::find_events(const EventQuery& q) {
  std::string in;
  for (size_t i = 0; i < q.types.size(); ++i) in += fmt::format("{}?{}", i ? ", " : "", i + 4);
  Stmt s(m_db, fmt::format("SELECT id, ts_ms, type, gpu, detail FROM events WHERE ts_ms >= ?1 AND ts_ms < ?2{}{} "
                           "ORDER BY {} LIMIT ?3",
                           q.id ? fmt::format(" AND id = {}", *q.id) : "",
                           q.types.empty() ? "" : fmt::format(" AND type IN ({})", in),
                           q.newest_first ? "ts_ms DESC, id DESC" : "id"));
  if (!s.ok()) return db_error(m_db, "events");
  s.bind(1, q.since_ms), s.bind(2, q.until_ms), s.bind(3, q.limit);
  for (size_t i = 0; i < q.types.size(); ++i) s.bind(static_cast<int>(i) + 4, q.types[i]);
  std::vector<EventRow> out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out.push_back({s.i64(0), s.i64(1), s.text(2), s.text(3), s.text(4)});
  if (rc != SQLITE_DONE) return db_error(m_db, "events");
  return out;
}

Result<std::optional<std::int64_t>> Store::last_sample_ts() {
  // The newest raw row: unpacked rows are the newest, else the end of the newest packed hour (a block's rows are
  // not decoded for this; the caller reads the window anyway).
  Stmt s(m_db, "SELECT (SELECT MAX(ts) FROM samples), (SELECT MAX(t0) FROM blocks WHERE kind = 0)");
  if (!s.ok() || s.step() != SQLITE_ROW) return db_error(m_db, "last sample");
  if (auto ts = s.opt(0)) return std::optional<std::int64_t>(*ts);
  if (auto t0 = s.opt(1)) return std::optional<std::int64_t>(*t0 + 3599);
  return std::optional<std::int64_t>();
}

Result<std::string> Store::integrity_check() {
  Stmt s(m_db, "PRAGMA integrity_check");
  std::string out;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) out += (out.empty() ? "" : "; ") + s.text(0);
  if (rc != SQLITE_DONE) return db_error(m_db, "integrity_check");
  return out;
}

Result<std::string> Store::quick_check() {
  // Drop the connection's page cache first: pages corrupted on disk under the daemon would otherwise be
  // checked from the good copies it still holds (found by watch_e2e's corrupt_pages part).
  sqlite3_db_release_memory(m_db);
  Stmt s(m_db, "PRAGMA quick_check(1)");
  if (!s.ok()) return db_error(m_db, "quick_check");
  int rc = s.step();
  if (rc != SQLITE_ROW) return db_error(m_db, "quick_check");
  return s.text(0);
}

void Store::limit_size(std::int64_t max_bytes) {
  exec(m_db, fmt::format("PRAGMA max_page_count = {}", std::max<std::int64_t>(1, max_bytes / 4096)).c_str());
}

bool Store::read_only() const { return sqlite3_db_readonly(m_db, "main") == 1; }

void Store::checkpoint() { sqlite3_wal_checkpoint_v2(m_db, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr); }

std::string default_db_path() {
  if (::geteuid() == 0) return "/var/lib/gpudoctor/history.db";
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg && *xdg == '/') return fmt::format("{}/gpudoctor/history.db", xdg);
  const char* home = std::getenv("HOME");
  return fmt::format("{}/.local/state/gpudoctor/history.db", home && *home ? home : ".");
}

}  // namespace gd::store
