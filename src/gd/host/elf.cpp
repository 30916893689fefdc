#include "gd/host/elf.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <tuple>

#include <fmt/format.h>

#include "gd/util/strings.hpp"

namespace gd::host {

namespace {

// Layout from <elf.h> (Elf64_Ehdr, Elf64_Phdr, Elf64_Dyn).
constexpr std::size_t k_ehdr_size = 64;
constexpr std::size_t k_phdr_size = 56;
constexpr std::size_t k_shdr_size = 64;
constexpr std::size_t k_dyn_size = 16;
constexpr std::size_t k_max_phnum = 512;
constexpr std::size_t k_max_dynamic_bytes = 64 << 10;
constexpr std::size_t k_max_string = 4096;
constexpr std::size_t k_max_needed = 256;
constexpr std::uint32_t k_pt_load = 1;
constexpr std::uint32_t k_pt_dynamic = 2;
constexpr std::uint64_t k_dt_null = 0, k_dt_needed = 1, k_dt_strtab = 5, k_dt_strsz = 10, k_dt_soname = 14;

std::uint64_t le(std::string_view b, std::size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = v << 8 | static_cast<unsigned char>(b[at + i]);
  return v;
}

std::string machine_name(std::uint16_t m) {
  switch (m) {
    case 3:
      return "i386";
    case 40:
      return "arm";
    case 21:
      return "ppc64";
    case k_elf_machine_x86_64:
      return "x86-64";
    case k_elf_machine_aarch64:
      return "aarch64";
    case 243:
      return "riscv";
    default:
      return fmt::format("machine {}", m);
  }
}

// True when [offset, offset + length) lies inside a file of `size` bytes.
bool fits(std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return offset <= size && length <= size - offset;
}

struct Segment {
  std::uint64_t offset = 0, vaddr = 0, filesz = 0;
};

struct Layout {
  std::vector<Segment> loads;
  std::optional<Segment> dynamic;
};

Result<std::string> read_exact(const ByteSource& src, std::uint64_t offset, std::size_t length, std::string_view what) {
  auto bytes = src.read(offset, length);
  if (!bytes) return bytes;
  if (bytes->size() != length)
    return make_error(
        fmt::format("{}: read {} of {} bytes at offset {} (file shrank?)", what, bytes->size(), length, offset));
  return bytes;
}

Result<ElfInfo> check_header(std::string_view h, std::uint64_t size, std::uint16_t machine) {
  if (h.size() < 4 || h.substr(0, 4) !=
                          "\x7f"
                          "ELF")
    return make_error(fmt::format("not an ELF file (starts with \"{}\")", util::printable(h.substr(0, 4))));
  if (size < k_ehdr_size)
    return make_error(fmt::format("truncated: {} bytes, an ELF header needs {}", size, k_ehdr_size));
  if (h[4] == 1) return make_error("32-bit ELF (ELFCLASS32); a 64-bit library is needed");
  if (h[4] != 2) return make_error(fmt::format("unknown ELF class {}", static_cast<int>(h[4])));
  if (h[5] == 2) return make_error("big-endian ELF is not supported");
  if (h[5] != 1) return make_error(fmt::format("unknown ELF data encoding {}", static_cast<int>(h[5])));
  ElfInfo info;
  info.type = static_cast<std::uint16_t>(le(h, 16, 2));
  info.machine = static_cast<std::uint16_t>(le(h, 18, 2));
  if (info.machine != machine)
    return make_error(fmt::format("ELF for {}, expected {}", machine_name(info.machine), machine_name(machine)));
  return info;
}

Error past_eof(std::string_view what, std::uint64_t offset, std::uint64_t length, std::uint64_t size) {
  return make_error(fmt::format("truncated: {} (offset {}, {} bytes) ends past the end of the file ({} bytes)", what,
                                offset, length, size));
}

// The section header table sits at the end of a library, so a cut file loses it first.
std::optional<Error> check_section_table(std::string_view h, std::uint64_t size) {
  std::uint64_t shoff = le(h, 40, 8), shentsize = le(h, 58, 2), shnum = le(h, 60, 2);
  if (shoff == 0) return std::nullopt;
  if (shnum > 0 && shentsize != k_shdr_size)
    return make_error(fmt::format("section header size {} (expected {})", shentsize, k_shdr_size));
  std::uint64_t length = (shnum == 0 ? 1 : shnum) * k_shdr_size;
  if (!fits(shoff, length, size)) return past_eof("section header table", shoff, length, size);
  return std::nullopt;
}

Result<Layout> read_layout(const ByteSource& src, std::string_view h) {
  std::uint64_t phoff = le(h, 32, 8), phentsize = le(h, 54, 2), phnum = le(h, 56, 2);
  if (phnum == 0) return make_error("no program headers: not a loadable library");
  if (phnum == 0xffff || phnum > k_max_phnum) return make_error(fmt::format("too many program headers ({})", phnum));
  if (phentsize != k_phdr_size)
    return make_error(fmt::format("program header size {} (expected {})", phentsize, k_phdr_size));
  if (!fits(phoff, phnum * k_phdr_size, src.size))
    return past_eof("program header table", phoff, phnum * k_phdr_size, src.size);
  auto table = read_exact(src, phoff, phnum * k_phdr_size, "program headers");
  if (!table) return table.error();
  Layout out;
  for (std::size_t i = 0; i < phnum; ++i) {
    std::string_view p = std::string_view(*table).substr(i * k_phdr_size, k_phdr_size);
    auto type = le(p, 0, 4);
    if (type != k_pt_load && type != k_pt_dynamic) continue;
    Segment s{le(p, 8, 8), le(p, 16, 8), le(p, 32, 8)};
    std::string_view what = type == k_pt_load ? "a PT_LOAD segment" : "the PT_DYNAMIC segment";
    if (!fits(s.offset, s.filesz, src.size)) return past_eof(what, s.offset, s.filesz, src.size);
    if (type == k_pt_load)
      out.loads.push_back(s);
    else if (!out.dynamic)
      out.dynamic = s;
  }
  return out;
}

// The file offset of virtual address `addr`, and how many bytes its PT_LOAD holds from there.
std::optional<std::pair<std::uint64_t, std::uint64_t>> to_offset(const Layout& l, std::uint64_t addr) {
  for (const auto& s : l.loads)
    if (addr >= s.vaddr && addr - s.vaddr < s.filesz)
      return std::pair{s.offset + (addr - s.vaddr), s.filesz - (addr - s.vaddr)};
  return std::nullopt;
}

struct DynamicTags {
  std::optional<std::uint64_t> strtab, strsz, soname;
  std::vector<std::uint64_t> needed;
};

Result<DynamicTags> read_dynamic(const ByteSource& src, const Segment& dyn) {
  if (dyn.filesz > k_max_dynamic_bytes)
    return make_error(
        fmt::format("dynamic section is {} bytes, more than the {} a library has", dyn.filesz, k_max_dynamic_bytes));
  auto bytes = read_exact(src, dyn.offset, dyn.filesz, "dynamic section");
  if (!bytes) return bytes.error();
  DynamicTags t;
  for (std::size_t at = 0; at + k_dyn_size <= bytes->size(); at += k_dyn_size) {
    std::uint64_t tag = le(*bytes, at, 8), val = le(*bytes, at + 8, 8);
    if (tag == k_dt_null) return t;
    if (tag == k_dt_strtab && !t.strtab) t.strtab = val;
    if (tag == k_dt_strsz && !t.strsz) t.strsz = val;
    if (tag == k_dt_soname && !t.soname) t.soname = val;
    if (tag == k_dt_needed && t.needed.size() < k_max_needed) t.needed.push_back(val);
  }
  return make_error("dynamic section has no DT_NULL terminator");
}

struct StringTable {
  std::uint64_t offset = 0;  // in the file
  std::uint64_t size = 0;    // bytes readable: DT_STRSZ capped by the PT_LOAD that maps it
};

Result<StringTable> locate_strtab(const Layout& l, const DynamicTags& t) {
  if (!t.strtab) return make_error("dynamic section has DT_SONAME or DT_NEEDED but no DT_STRTAB");
  auto at = to_offset(l, *t.strtab);
  if (!at) return make_error(fmt::format("DT_STRTAB address {:#x} is not inside any PT_LOAD segment", *t.strtab));
  return StringTable{at->first, t.strsz ? std::min(*t.strsz, at->second) : at->second};
}

Result<std::string> string_at(const ByteSource& src, const StringTable& st, std::uint64_t offset,
                              std::string_view tag) {
  if (offset >= st.size)
    return make_error(fmt::format("{} offset {} is beyond the string table ({} bytes)", tag, offset, st.size));
  std::size_t length = static_cast<std::size_t>(std::min<std::uint64_t>(st.size - offset, k_max_string));
  auto bytes = read_exact(src, st.offset + offset, length, tag);
  if (!bytes) return bytes;
  auto nul = bytes->find('\0');
  if (nul == std::string::npos)
    return make_error(
        fmt::format("{} string at offset {} has no terminating NUL within {} bytes", tag, offset, length));
  return bytes->substr(0, nul);
}

Result<ElfInfo> read_strings(const ByteSource& src, const Layout& l, const DynamicTags& t, ElfInfo info) {
  if (!t.soname && t.needed.empty()) return info;
  auto st = locate_strtab(l, t);
  if (!st) return st.error();
  if (t.soname) {
    auto s = string_at(src, *st, *t.soname, "DT_SONAME");
    if (!s) return s.error();
    info.soname = std::move(*s);
  }
  for (auto off : t.needed) {
    auto s = string_at(src, *st, off, "DT_NEEDED");
    if (!s) return s.error();
    info.needed.push_back(std::move(*s));
  }
  return info;
}

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::optional<std::string> foreign_elf(std::string_view h, std::uint16_t machine) {
  if (h.size() < 20 || h.substr(0, 4) !=
                           "\x7f"
                           "ELF")
    return std::nullopt;
  auto m = static_cast<std::uint16_t>(le(h, 18, 2));
  if (h[5] == 2)
    m = static_cast<std::uint16_t>(static_cast<unsigned char>(h[18]) << 8 | static_cast<unsigned char>(h[19]));
  std::string what = h[4] == 1 ? "32-bit ELF" : h[4] == 2 ? "ELF" : "";
  if (what.empty() || (h[4] == 2 && h[5] == 1 && m == machine)) return std::nullopt;
  if (h[5] == 2) what = "big-endian " + what;
  return fmt::format("{} for {}", what, machine_name(m));
}

ByteSource memory_source(std::string_view bytes) {
  return ByteSource{bytes.size(), [bytes](std::uint64_t offset, std::size_t length) -> Result<std::string> {
                      if (offset >= bytes.size()) return std::string();
                      return std::string(bytes.substr(offset, length));
                    }};
}

std::string encode_elf_library(std::string_view soname, const std::vector<std::string>& needed, std::uint16_t machine) {
  constexpr std::uint64_t k_vaddr = 0x10000, k_dyn_at = 176;
  std::string strtab(1, '\0');
  std::string dyn;
  auto put = [](std::string& b, std::uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) b += static_cast<char>((v >> (8 * i)) & 0xff);
  };
  for (const auto& n : needed) {
    put(dyn, k_dt_needed, 8);
    put(dyn, strtab.size(), 8);
    strtab += n + '\0';
  }
  std::uint64_t soname_at = strtab.size();
  strtab += std::string(soname) + '\0';
  std::uint64_t str_at = std::max<std::uint64_t>(256, k_dyn_at + dyn.size() + 4 * k_dyn_size);
  for (auto [tag, val] : {std::pair{k_dt_strtab, k_vaddr + str_at}, std::pair{k_dt_strsz, std::uint64_t{strtab.size()}},
                          std::pair{k_dt_soname, soname_at}, std::pair{k_dt_null, std::uint64_t{0}}}) {
    put(dyn, tag, 8);
    put(dyn, val, 8);
  }
  std::uint64_t shoff = (str_at + strtab.size() + 7) & ~std::uint64_t{7};
  std::uint64_t size = shoff + k_shdr_size;
  std::string h(
      "\x7f"
      "ELF\x02\x01\x01",
      7);
  h.append(9, '\0');
  put(h, 3, 2);  // ET_DYN
  put(h, machine, 2);
  put(h, 1, 4);
  put(h, 0, 8);  // entry
  put(h, 64, 8);
  put(h, shoff, 8);
  put(h, 0, 4);
  for (std::uint64_t v : {64, 56, 2, 64, 1, 0}) put(h, v, 2);
  for (auto [type, off, len] :
       {std::tuple{k_pt_load, std::uint64_t{0}, size}, std::tuple{k_pt_dynamic, k_dyn_at, std::uint64_t{dyn.size()}}}) {
    put(h, type, 4);
    put(h, 6, 4);  // flags: rw
    put(h, off, 8);
    put(h, k_vaddr + off, 8);
    put(h, k_vaddr + off, 8);
    put(h, len, 8);
    put(h, len, 8);
    put(h, 8, 8);
  }
  std::string b(size, '\0');
  b.replace(0, h.size(), h);
  b.replace(k_dyn_at, dyn.size(), dyn);
  b.replace(str_at, strtab.size(), strtab);
  return b;
}

Result<ElfInfo> parse_elf(const ByteSource& src, std::uint16_t machine) {
  if (src.size == 0) return make_error("empty file (0 bytes)");
  auto header = src.read(0, k_ehdr_size);
  if (!header) return header.error();
  auto info = check_header(*header, src.size, machine);
  if (!info) return info;
  if (auto e = check_section_table(*header, src.size)) return *e;
  auto layout = read_layout(src, *header);
  if (!layout) return layout.error();
  if (!layout->dynamic) return info;  // static: no SONAME
  auto tags = read_dynamic(src, *layout->dynamic);
  if (!tags) return tags.error();
  return read_strings(src, *layout, *tags, std::move(*info));
}

Result<ElfInfo> read_elf(const HostRoot& host, std::string_view host_path, std::uint16_t machine) {
  auto fail = [&](std::string why) { return make_error(fmt::format("{}: {}", host_path, why)); };
  auto resolved = host.resolve(host_path);  // a dangling link or loop named as such
  if (!resolved) return resolved.error();
  auto opened = host.open(*resolved, O_RDONLY | O_NONBLOCK);
  if (!opened) return fail(opened.error().message.substr(opened.error().message.rfind(": ") + 2));
  Fd f{opened->release()};
  struct stat st {};
  if (::fstat(f.fd, &st) != 0 || !S_ISREG(st.st_mode)) return fail("not a regular file");
  ByteSource src{static_cast<std::uint64_t>(st.st_size),
                 [&f](std::uint64_t offset, std::size_t length) -> Result<std::string> {
                   std::string buf(length, '\0');
                   std::size_t got = 0;
                   while (got < length) {
                     ssize_t n = ::pread(f.fd, buf.data() + got, length - got, static_cast<off_t>(offset + got));
                     if (n < 0 && errno == EINTR) continue;
                     if (n < 0) return make_error(fmt::format("read failed: {}", std::strerror(errno)));
                     if (n == 0) break;
                     got += static_cast<std::size_t>(n);
                   }
                   buf.resize(got);
                   return buf;
                 }};
  auto info = parse_elf(src, machine);
  if (!info) return fail(info.error().message);
  return info;
}

}  // namespace gd::host
