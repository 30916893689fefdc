// A private temporary directory ($TMPDIR, else /tmp; mode 0700 by mkdtemp), removed with
// everything in it when the object goes. For a file SQLite must open by path (a bundle's
// history) while nothing else of the node is touched.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <fmt/format.h>
#include <unistd.h>

#include "gd/util/result.hpp"

namespace gd::util {

class TempDir {
 public:
  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (m_path.empty()) return;
    std::error_code ec;
    std::filesystem::remove_all(m_path, ec);
  }
  // Makes the directory (once); its path, or why it could not be made.
  Result<std::string> make(const std::string& prefix = "gd-") {
    if (!m_path.empty()) return m_path;
    const char* t = std::getenv("TMPDIR");
    std::string templ = (t && *t ? std::string(t) : std::string("/tmp")) + "/" + prefix + "XXXXXX";
    if (!::mkdtemp(templ.data())) return make_error(fmt::format("mkdtemp in {}: {}", templ, std::strerror(errno)));
    m_path = templ;
    return m_path;
  }
  const std::string& path() const { return m_path; }

 private:
  std::string m_path;
};

}  // namespace gd::util
