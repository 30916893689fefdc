#include "gd/util/json_writer.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gd/util/strings.hpp"

namespace gd::util {

JsonWriter& JsonWriter::open(char c) {
  before_value();
  m_out += c;
  m_levels.push_back(Level{c == '{', 0});
  return *this;
}

JsonWriter& JsonWriter::close(char c) {
  bool empty = m_levels.empty() || m_levels.back().count == 0;
  if (!m_levels.empty()) m_levels.pop_back();
  if (!empty) newline(m_levels.size());
  m_out += c;
  return *this;
}

void JsonWriter::newline(std::size_t depth) {
  if (m_indent < 0) return;
  m_out += '\n';
  m_out.append(depth * static_cast<std::size_t>(m_indent), ' ');
}

void JsonWriter::before_value() {
  if (m_after_key) {  // an object member's value: its key wrote the separator
    m_after_key = false;
    return;
  }
  if (m_levels.empty()) return;
  if (m_levels.back().count++ > 0) m_out += ',';
  newline(m_levels.size());
}

JsonWriter& JsonWriter::key(std::string_view k) {
  if (!m_levels.empty() && m_levels.back().count++ > 0) m_out += ',';
  newline(m_levels.size());
  string(k);
  m_out += m_indent < 0 ? ":" : ": ";
  m_after_key = true;
  return *this;
}

void JsonWriter::string(std::string_view s) {
  bool plain = true;  // printable ASCII without '"' or '\': copied as it is
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    m_out += '"';
    m_out.append(s);
    m_out += '"';
    return;
  }
  // Everything else exactly as nlohmann escapes it (invalid UTF-8 replaced), then the C1 controls.
  m_out += escape_json_c1(nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

JsonWriter& JsonWriter::value(std::string_view s) {
  before_value();
  string(s);
  return *this;
}

JsonWriter& JsonWriter::value(std::int64_t v) {
  before_value();
  fmt::format_to(std::back_inserter(m_out), "{}", v);
  return *this;
}

JsonWriter& JsonWriter::value(std::uint64_t v) {
  before_value();
  fmt::format_to(std::back_inserter(m_out), "{}", v);
  return *this;
}

JsonWriter& JsonWriter::value(double v) {
  before_value();
  m_out += nlohmann::json(v).dump();  // (nlohmann's float format: 22.0, 1e+20; null for NaN)
  return *this;
}

JsonWriter& JsonWriter::value(bool v) {
  before_value();
  m_out += v ? "true" : "false";
  return *this;
}

JsonWriter& JsonWriter::null() {
  before_value();
  m_out += "null";
  return *this;
}

JsonWriter& JsonWriter::raw(std::string_view json_text) {
  before_value();
  m_out += json_text;
  return *this;
}

std::string escape_json_c1(std::string text) {
  if (text.find('\xc2') == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (int c1 = c1_control_at(text, i); c1 >= 0) {
      out += fmt::format("\\u{:04x}", c1);
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

}  // namespace gd::util
