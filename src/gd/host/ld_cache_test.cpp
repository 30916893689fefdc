#include "gd/host/ld_cache.hpp"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

namespace gd::host {
namespace {

namespace fs = std::filesystem;

const std::vector<LdCacheEntry> k_entries = {
    {"libnvidia-ml.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", k_ld_flags_x86_64_libc6},
    {"libcuda.so.1", "/usr/lib/x86_64-linux-gnu/libcuda.so.1", k_ld_flags_x86_64_libc6},
    {"libc.so.6", "/lib/i386-linux-gnu/libc.so.6", 0x0003},
};

void put_le32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

void set_le32(std::string& bytes, std::size_t at, std::uint32_t v) {
  std::string le;
  put_le32(le, v);
  bytes.replace(at, 4, le);
}

// An old-format ("ld.so-1.7.0") cache: offsets relative to the string table.
std::string old_format(const std::vector<LdCacheEntry>& entries) {
  std::string out("ld.so-1.7.0", 11);
  out += '\0';
  put_le32(out, static_cast<std::uint32_t>(entries.size()));
  std::string strings;
  for (const auto& e : entries) {
    put_le32(out, e.flags);
    put_le32(out, static_cast<std::uint32_t>(strings.size()));
    strings += e.name + '\0';
    put_le32(out, static_cast<std::uint32_t>(strings.size()));
    strings += e.path + '\0';
  }
  return out + strings;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::vector<LdCacheEntry>& entries, const LdCacheEntry& want) {
  for (const auto& e : entries)
    if (e.name == want.name && e.path == want.path && e.flags == want.flags) return true;
  return false;
}

TEST(ParseLdCache, NewFormatRoundTrip) {
  auto parsed = parse_ld_cache(encode_ld_cache(k_entries));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].name, "libnvidia-ml.so.1");
  EXPECT_EQ((*parsed)[0].path, "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1");
  EXPECT_EQ((*parsed)[0].flags, 0x0303u);
  EXPECT_EQ((*parsed)[2].flags, 0x0003u);
  auto empty = parse_ld_cache(encode_ld_cache({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(ParseLdCache, OldFormat) {
  auto parsed = parse_ld_cache(old_format(k_entries));
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[1].name, "libcuda.so.1");
  EXPECT_EQ((*parsed)[1].path, "/usr/lib/x86_64-linux-gnu/libcuda.so.1");
}

TEST(ParseLdCache, OldThenNewFormatNewWins) {
  std::vector<LdCacheEntry> old_entries = {{"libold.so.1", "/old/libold.so.1", 1}};
  std::string bytes("ld.so-1.7.0", 11);
  bytes += '\0';
  put_le32(bytes, 1);
  bytes.append(12, '\0');  // one old entry; its strings are never read
  bytes.append(4, '\0');   // pads 28 to the 8-byte boundary
  bytes += encode_ld_cache(k_entries);
  auto parsed = parse_ld_cache(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message;
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ((*parsed)[0].name, "libnvidia-ml.so.1");
}

TEST(ParseLdCache, RejectsWrongMagic) {
  for (std::string_view junk : {std::string_view(""), std::string_view("x"),
                                std::string_view("\x7f"
                                                 "ELF\2\1\1",
                                                 7),
                                std::string_view("glibc-ld.so.cach"), std::string_view("ld.so-1.7")}) {
    auto r = parse_ld_cache(junk);
    EXPECT_FALSE(r) << junk;
  }
  auto r = parse_ld_cache("#!/bin/sh\necho hi\n");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "bad magic \"#!/bin/sh?echo hi\": not an ld.so cache");
}

TEST(ParseLdCache, RejectsEveryTruncation) {
  for (const std::string& whole : {encode_ld_cache(k_entries), old_format(k_entries)}) {
    for (std::size_t n = 1; n < whole.size(); ++n) {
      auto r = parse_ld_cache(std::string_view(whole).substr(0, n));
      EXPECT_FALSE(r) << "prefix of " << n << " bytes parsed";
    }
  }
}

TEST(ParseLdCache, RejectsHostileCounts) {
  std::string bytes = encode_ld_cache(k_entries);
  set_le32(bytes, 20, 0xffffffffu);
  auto r = parse_ld_cache(bytes);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("nlibs 4294967295 is larger than the file allows"), 0u);
  std::string old = old_format(k_entries);
  set_le32(old, 12, 1000000);
  EXPECT_FALSE(parse_ld_cache(old));
}

TEST(ParseLdCache, RejectsHostileOffsetsAndStrings) {
  std::string bytes = encode_ld_cache(k_entries);
  std::string far = bytes;
  set_le32(far, 48 + 4, 0xfffffff0u);  // entry 0 key
  auto r = parse_ld_cache(far);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message.find("entry 0: name offset 4294967280 is beyond the end"), 0u);
  std::string no_nul = bytes;
  no_nul.back() = 'x';
  r = parse_ld_cache(no_nul);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("has no terminating NUL"), std::string::npos);
  std::string version = bytes;
  version[19] = '9';
  r = parse_ld_cache(version);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message, "unsupported format version \"1.9\"");
  std::string big = bytes;
  big[28] = 3;
  EXPECT_FALSE(parse_ld_cache(big));
}

TEST(ParseLdCache, SurvivesJunk) {
  std::string seed = encode_ld_cache(k_entries);
  std::uint32_t state = 12345;
  for (int round = 0; round < 2000; ++round) {
    std::string bytes = seed;
    for (int flips = 0; flips < 4; ++flips) {
      state = state * 1664525u + 1013904223u;
      bytes[(state >> 8) % bytes.size()] = static_cast<char>(state >> 24);
    }
    auto r = parse_ld_cache(bytes);  // must neither crash nor throw
    if (r) {
      for (const auto& e : *r) EXPECT_LE(e.path.size(), bytes.size());
    }
  }
}

// The real ldconfig writes a cache for a tree holding a tiny shared object
// whose SONAME is libnvidia-ml.so.1; parse every format it can write.
class RealLdconfig : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "gd_ld_cache_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    m_dir = tmpl;
    for (const char* candidate : {"/sbin/ldconfig", "/usr/sbin/ldconfig", "/usr/bin/ldconfig"})
      if (fs::exists(candidate)) m_ldconfig = candidate;
    if (m_ldconfig.empty()) GTEST_SKIP() << "no ldconfig";
    fs::path lib = m_dir / "usr/lib/x86_64-linux-gnu";
    fs::create_directories(lib);
    fs::create_directories(m_dir / "etc");
    std::ofstream(m_dir / "ml.c") << "int nvmlInit_v2(void) { return 0; }\n";
    std::ofstream(m_dir / "etc/ld.so.conf") << "/usr/lib/x86_64-linux-gnu\n";
    std::string cc = "cc -shared -fPIC -Wl,-soname,libnvidia-ml.so.1 -o '" +
                     (lib / "libnvidia-ml.so.460.32.03").string() + "' '" + (m_dir / "ml.c").string() + "' 2>/dev/null";
    if (std::system(cc.c_str()) != 0) GTEST_SKIP() << "no C compiler to build a shared object";
    fs::create_symlink("libnvidia-ml.so.460.32.03", lib / "libnvidia-ml.so.1");
  }
  void TearDown() override {
    std::error_code ec;
    if (!m_dir.empty()) fs::remove_all(m_dir, ec);
  }
  // Runs ldconfig -r on the tree; "" for the default format. False if ldconfig fails.
  bool run_ldconfig(const std::string& format, const std::string& cache) {
    std::string cmd = m_ldconfig + " -r '" + m_dir.string() + "' -C " + cache;
    if (!format.empty()) cmd += " -c " + format;
    return std::system((cmd + " >/dev/null 2>&1").c_str()) == 0;
  }

  fs::path m_dir;
  std::string m_ldconfig;
};

TEST_F(RealLdconfig, ParsesWhatLdconfigWrites) {
  const LdCacheEntry want{"libnvidia-ml.so.1", "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.1", 0x0303};
  ASSERT_TRUE(run_ldconfig("", "/etc/ld.so.cache"));
  auto bytes = read_all(m_dir / "etc/ld.so.cache");
  ASSERT_EQ(bytes.substr(0, 20), "glibc-ld.so.cache1.1");
  auto parsed = parse_ld_cache(bytes);
  ASSERT_TRUE(parsed) << parsed.error().message;
#if defined(__x86_64__)
  EXPECT_TRUE(contains(*parsed, want));
#endif
  for (std::string format : {"old", "compat", "new"}) {
    std::string cache = "/etc/ld.so.cache." + format;
    if (!run_ldconfig(format, cache)) continue;  // newer glibc dropped some formats
    auto other = parse_ld_cache(read_all(m_dir / cache.substr(1)));
    ASSERT_TRUE(other) << format << ": " << other.error().message;
#if defined(__x86_64__)
    EXPECT_TRUE(contains(*other, want)) << format;
#endif
  }
}

}  // namespace
}  // namespace gd::host
