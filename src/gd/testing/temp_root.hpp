// Test helper: a throw-away directory standing in for a node's root, removed
// with everything in it when the object goes. Only *_test.cpp include this.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "gd/host/host_root.hpp"

namespace gd::testing {

class TempRoot {
 public:
  TempRoot() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "gd_test_root_XXXXXX").string();
    m_dir = ::mkdtemp(tmpl.data()) ? tmpl : "";
  }
  TempRoot(const TempRoot&) = delete;
  TempRoot& operator=(const TempRoot&) = delete;
  ~TempRoot() {
    std::error_code ec;
    if (!m_dir.empty()) std::filesystem::remove_all(m_dir, ec);
  }
  // Writes a file at a host path ("/proc/modules"); returns where it is.
  std::filesystem::path write(const std::string& host_path, std::string_view content = "", bool exec = false) const {
    auto p = at(host_path);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << content;
    if (exec) ::chmod(p.c_str(), 0755);
    return p;
  }
  void link(const std::string& target, const std::string& host_path) const {
    auto p = at(host_path);
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_symlink(target, p);
  }
  void mkdir(const std::string& host_path) const { std::filesystem::create_directories(at(host_path)); }
  std::filesystem::path at(const std::string& host_path) const { return m_dir / host_path.substr(1); }
  host::HostRoot host() const { return host::HostRoot(m_dir); }
  const std::filesystem::path& dir() const { return m_dir; }

 private:
  std::filesystem::path m_dir;
};

}  // namespace gd::testing
