#include "gd/host/elf.hpp"

#include <filesystem>
#include <fstream>
#include <random>

#include <gtest/gtest.h>

namespace gd::host {
namespace {

namespace fs = std::filesystem;

// encode_elf_library's layout: the offsets the corruption tests poke at.
constexpr std::size_t k_phdr_at = 64;
constexpr std::size_t k_dyn_at = 176;  // 5 entries: NEEDED, STRTAB, STRSZ, SONAME, NULL

void set_le(std::string& b, std::size_t at, std::uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

void set_dyn(std::string& b, int index, std::uint64_t tag, std::uint64_t val) {
  set_le(b, k_dyn_at + 16 * index, tag, 8);
  set_le(b, k_dyn_at + 16 * index + 8, val, 8);
}

std::string tiny_library() { return encode_elf_library("libfoo.so.1", {"libc.so.6"}); }

Result<ElfInfo> parse(const std::string& bytes, std::uint16_t machine = k_elf_machine_x86_64) {
  return parse_elf(memory_source(bytes), machine);
}

std::string error_of(const std::string& bytes) {
  auto r = parse(bytes);
  return r ? std::string("(parsed)") : r.error().message;
}

TEST(Elf, ReadsSonameAndNeeded) {
  auto r = parse(tiny_library());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->soname, "libfoo.so.1");
  EXPECT_EQ(r->needed, std::vector<std::string>{"libc.so.6"});
  EXPECT_EQ(r->machine, k_elf_machine_x86_64);
  EXPECT_EQ(r->type, 3);
}

TEST(Elf, RejectsEmptyAndNonElf) {
  EXPECT_EQ(error_of(""), "empty file (0 bytes)");
  EXPECT_NE(error_of("hello world").find("not an ELF file"), std::string::npos);
  EXPECT_NE(error_of("!<arch>\n").find("not an ELF file"), std::string::npos);
}

TEST(Elf, RejectsTruncatedHeader) {
  EXPECT_NE(error_of(tiny_library().substr(0, 40)).find("truncated: 40 bytes"), std::string::npos);
}

TEST(Elf, RejectsOtherClassesEndiannessAndArchitectures) {
  auto b = tiny_library();
  b[4] = 1;
  EXPECT_NE(error_of(b).find("32-bit ELF"), std::string::npos);
  b = tiny_library();
  b[5] = 2;
  EXPECT_NE(error_of(b).find("big-endian"), std::string::npos);
  b = tiny_library();
  set_le(b, 18, k_elf_machine_aarch64, 2);
  EXPECT_EQ(error_of(b), "ELF for aarch64, expected x86-64");
  EXPECT_TRUE(parse(b, k_elf_machine_aarch64));
}

TEST(Elf, TellsForeignAbisFromBrokenFiles) {
  auto b = tiny_library();
  EXPECT_FALSE(foreign_elf(b));
  EXPECT_FALSE(foreign_elf("not an ELF file at all"));
  EXPECT_FALSE(foreign_elf(b.substr(0, 10)));
  b[4] = 1;
  set_le(b, 18, 3, 2);
  EXPECT_EQ(foreign_elf(b), "32-bit ELF for i386");
  b = tiny_library();
  set_le(b, 18, k_elf_machine_aarch64, 2);
  EXPECT_EQ(foreign_elf(b), "ELF for aarch64");
  EXPECT_FALSE(foreign_elf(b, k_elf_machine_aarch64));
  b = tiny_library();
  b[5] = 2;
  b[18] = 0;
  b[19] = 21;
  EXPECT_EQ(foreign_elf(b), "big-endian ELF for ppc64");
}

TEST(Elf, RejectsTruncatedFile) {
  auto b = tiny_library();
  EXPECT_NE(error_of(b.substr(0, 200)).find("truncated: section header table"), std::string::npos);
  set_le(b, 40, 0, 8);  // no section headers: the PT_LOAD check still sees the cut
  EXPECT_NE(error_of(b.substr(0, 200)).find("truncated: a PT_LOAD segment"), std::string::npos);
}

TEST(Elf, RejectsBrokenProgramHeaders) {
  auto b = tiny_library();
  set_le(b, 32, 1 << 20, 8);
  EXPECT_NE(error_of(b).find("program header table (offset 1048576"), std::string::npos);
  b = tiny_library();
  set_le(b, 56, 0xffff, 2);
  EXPECT_NE(error_of(b).find("too many program headers"), std::string::npos);
  b = tiny_library();
  set_le(b, 54, 32, 2);
  EXPECT_NE(error_of(b).find("program header size 32"), std::string::npos);
  b = tiny_library();
  set_le(b, 56, 0, 2);
  EXPECT_NE(error_of(b).find("no program headers"), std::string::npos);
  b = tiny_library();
  set_le(b, k_phdr_at + 56 + 8, 0xffffffffffffff00ull, 8);  // PT_DYNAMIC offset wraps around
  EXPECT_NE(error_of(b).find("PT_DYNAMIC segment"), std::string::npos);
}

TEST(Elf, RejectsBrokenDynamicSection) {
  auto b = tiny_library();
  set_dyn(b, 4, 10, 23);  // DT_NULL overwritten
  EXPECT_EQ(error_of(b), "dynamic section has no DT_NULL terminator");
  b = tiny_library();
  set_dyn(b, 1, 5, 0x900000);
  EXPECT_EQ(error_of(b), "DT_STRTAB address 0x900000 is not inside any PT_LOAD segment");
  b = tiny_library();
  set_dyn(b, 1, 12, 0);  // DT_STRTAB replaced by DT_INIT
  EXPECT_NE(error_of(b).find("no DT_STRTAB"), std::string::npos);
  b = tiny_library();
  set_dyn(b, 3, 14, 5000);
  EXPECT_EQ(error_of(b), "DT_SONAME offset 5000 is beyond the string table (23 bytes)");
  b = tiny_library();
  set_dyn(b, 2, 10, 15);  // DT_STRSZ cuts "libfoo.so.1" (at 11, after "libc.so.6") before its NUL
  EXPECT_EQ(error_of(b), "DT_SONAME string at offset 11 has no terminating NUL within 4 bytes");
  b = tiny_library();
  set_le(b, k_phdr_at + 56 + 32, 1 << 20, 8);  // PT_DYNAMIC larger than the file
  EXPECT_NE(error_of(b).find("truncated: the PT_DYNAMIC segment"), std::string::npos);
}

TEST(Elf, NoDynamicSegmentMeansNoSoname) {
  auto b = tiny_library();
  set_le(b, k_phdr_at + 56, 6, 4);  // PT_DYNAMIC -> PT_PHDR
  auto r = parse(b);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->soname);
}

TEST(Elf, SurvivesEveryTruncationAndRandomCorruption) {
  auto good = tiny_library();
  for (std::size_t n = 0; n < good.size(); ++n) EXPECT_FALSE(parse(good.substr(0, n))) << n;
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    auto b = good;
    for (int k = 0; k < 4; ++k) b[rng() % b.size()] = static_cast<char>(rng());
    (void)parse(b);  // must return, ok or error
  }
}

TEST(Elf, ReadsLittleOfAHugeFile) {
  auto image = tiny_library();
  std::uint64_t read_bytes = 0;
  ByteSource src{std::uint64_t{1} << 32, [&](std::uint64_t off, std::size_t len) -> Result<std::string> {
                   read_bytes += len;
                   std::string out(len, '\0');
                   if (off < image.size()) out.replace(0, std::min(len, image.size() - off), image.substr(off, len));
                   return out;
                 }};
  ASSERT_TRUE(parse_elf(src));
  EXPECT_LT(read_bytes, 16u << 10);
}

TEST(Elf, ReadsRealLibraryThroughHostRoot) {
  fs::path sim = GD_SIM_NVML;
  HostRoot host(sim.parent_path());
  auto r = read_elf(host, "/" + sim.filename().string());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->soname, "libnvidia-ml.so.1");
}

TEST(Elf, ReadElfNamesTheFile) {
  auto dir = fs::temp_directory_path() / "gd_elf_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "empty.so.1").close();
  std::ofstream(dir / "cut.so.1", std::ios::binary) << tiny_library().substr(0, 120);
  fs::create_symlink("loop-b.so", dir / "loop-a.so");
  fs::create_symlink("loop-a.so", dir / "loop-b.so");
  HostRoot host(dir);
  EXPECT_EQ(read_elf(host, "/empty.so.1").error().message, "/empty.so.1: empty file (0 bytes)");
  EXPECT_NE(read_elf(host, "/cut.so.1").error().message.find("/cut.so.1: truncated"), std::string::npos);
  EXPECT_EQ(read_elf(host, "/sub").error().message, "/sub: not a regular file");
  EXPECT_NE(read_elf(host, "/missing.so").error().message.find("does not exist"), std::string::npos);
  EXPECT_NE(read_elf(host, "/loop-a.so").error().message.find("too many levels"), std::string::npos);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace gd::host
