#include "gd/bundle/bundle.hpp"

#include <cctype>

#include <fmt/format.h>

#include "gd/host/kernel_log_source.hpp"

namespace gd::bundle {

namespace {

bool hex(char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; }

// The UUID (without its prefix) at text[i], 8-4-4-4-12, or 0.
std::size_t uuid_at(std::string_view text, std::size_t i) {
  static constexpr int k_groups[] = {8, 4, 4, 4, 12};
  std::size_t at = i;
  for (int g = 0; g < 5; ++g) {
    for (int k = 0; k < k_groups[g]; ++k, ++at)
      if (at >= text.size() || !hex(text[at])) return 0;
    if (g < 4) {
      if (at >= text.size() || text[at] != '-') return 0;
      ++at;
    }
  }
  if (at < text.size() && (hex(text[at]) || text[at] == '-')) return 0;
  return at - i;
}

bool word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.'; }

}  // namespace

void Redactor::add_serial(const std::string& serial) {
  if (serial.size() < 4 || m_serials.contains(serial)) return;  // "N/A", "0": not identifying, and too common
  m_serials.emplace(serial, fmt::format("SERIAL-{}", m_serials.size() + 1));
}

void Redactor::add_host(const std::string& host) {
  if (host.size() < 2 || m_hosts.contains(host)) return;
  m_hosts.emplace(host, fmt::format("node-{}", m_hosts.size() + 1));
}

std::string Redactor::uuid_for(const std::string& uuid) {
  auto it = m_uuids.find(uuid);
  if (it == m_uuids.end()) it = m_uuids.emplace(uuid, fmt::format("00000000-0000-0000-0000-{:012}", m_uuids.size() + 1)).first;
  return it->second;
}

std::string Redactor::apply(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    // UUIDs after GPU- / MIG- (any case of the hex digits; the lowercase form is the key).
    if ((text.compare(i, 4, "GPU-") == 0 || text.compare(i, 4, "MIG-") == 0) && (i == 0 || !word_char(text[i - 1]))) {
      if (std::size_t n = uuid_at(text, i + 4)) {
        std::string key(text.substr(i + 4, n));
        for (auto& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        out.append(text.substr(i, 4)).append(uuid_for(key));
        i += 4 + n;
        ++m_count;
        continue;
      }
    }
    bool replaced = false;
    for (const auto* table : {&m_serials, &m_hosts}) {
      for (const auto& [from, to] : *table) {
        if (text.compare(i, from.size(), from) != 0) continue;
        bool starts = i == 0 || !word_char(text[i - 1]);
        bool ends = i + from.size() >= text.size() || !word_char(text[i + from.size()]);
        if (!starts || !ends) continue;
        out += to;
        i += from.size();
        ++m_count;
        replaced = true;
        break;
      }
      if (replaced) break;
    }
    if (!replaced) out += text[i++];
  }
  return out;
}

Result<std::vector<util::TarEntry>> read_bundle(const std::string& path) {
  std::string data;
  constexpr std::size_t k_max = std::size_t{256} << 20;
  auto read = host::stream_file(path, [&](std::string_view chunk) { data.append(chunk); }, k_max + 1);
  if (!read) return read.error();
  if (data.size() > k_max) return make_error(fmt::format("{}: larger than 256 MiB: not a gpudoctor bundle", path));
  return parse_bundle(data, path);
}

Result<std::vector<util::TarEntry>> parse_bundle(std::string_view data, const std::string& name) {
  auto entries = util::read_tar_gz(data);
  if (!entries) return make_error(fmt::format("{}: {}", name, entries.error().message));
  if (!member(*entries, k_manifest))
    return make_error(fmt::format("{}: a tar.gz without {}: not a gpudoctor bundle", name, k_manifest));
  return entries;
}

const util::TarEntry* member(const std::vector<util::TarEntry>& entries, std::string_view name) {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace gd::bundle
