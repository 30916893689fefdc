// A prepared SQLite statement finalized on scope exit, and small helpers the
// store's files share (internal to gd/store).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "gd/util/result.hpp"

namespace gd::store {

// One prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) { m_rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &m_s, nullptr); }
  ~Stmt() { sqlite3_finalize(m_s); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return m_rc == SQLITE_OK; }
  sqlite3_stmt* get() { return m_s; }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(m_s, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(m_s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, const std::optional<std::int64_t>& v) {
    if (v)
      sqlite3_bind_int64(m_s, i, *v);
    else
      sqlite3_bind_null(m_s, i);
  }
  void bind_blob(int i, std::string_view v) {
    sqlite3_bind_blob(m_s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int step() { return sqlite3_step(m_s); }
  void reset() { sqlite3_reset(m_s), sqlite3_clear_bindings(m_s); }
  std::int64_t i64(int c) { return sqlite3_column_int64(m_s, c); }
  std::optional<std::int64_t> opt(int c) {
    if (sqlite3_column_type(m_s, c) == SQLITE_NULL) return std::nullopt;
    return sqlite3_column_int64(m_s, c);
  }
  std::string_view blob(int c) {
    const void* p = sqlite3_column_blob(m_s, c);
    return p ? std::string_view(static_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(m_s, c)))
             : std::string_view();
  }
  std::string text(int c) {
    auto* p = sqlite3_column_text(m_s, c);
    return p ? std::string(reinterpret_cast<const char*>(p), static_cast<size_t>(sqlite3_column_bytes(m_s, c))) : "";
  }

 private:
  sqlite3_stmt* m_s = nullptr;
  int m_rc = SQLITE_OK;
};

inline Error db_error(sqlite3* db, std::string_view what) {
  return make_error(fmt::format("{}: {}", what, sqlite3_errmsg(db)));
}

inline bool exec(sqlite3* db, const char* sql, std::string* err = nullptr) {
  char* msg = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &msg);
  if (rc != SQLITE_OK && err) *err = msg ? msg : sqlite3_errstr(rc);
  sqlite3_free(msg);
  return rc == SQLITE_OK;
}

}  // namespace gd::store
