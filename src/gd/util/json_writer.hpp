// A streaming JSON writer for large outputs (`xid --json` over a 100 MB log):
// values go straight into a string, laid out exactly as nlohmann's dump()
// lays them out (indent 2, or compact), with the same escaping: invalid UTF-8
// replaced by U+FFFD, C0 and C1 controls escaped. Building an nlohmann::json
// tree of every event first cost a sixth of `xid`'s time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gd::util {

class JsonWriter {
 public:
  // indent < 0: compact ({"a":1}); else pretty, indent spaces per level.
  explicit JsonWriter(std::string& out, int indent = 2) : m_out(out), m_indent(indent) {}

  JsonWriter& begin_object() { return open('{'); }
  JsonWriter& end_object() { return close('}'); }
  JsonWriter& begin_array() { return open('['); }
  JsonWriter& end_array() { return close(']'); }
  // In an object: the next member's key (its value follows).
  JsonWriter& key(std::string_view k);

  JsonWriter& value(std::string_view s);
  JsonWriter& value(const char* s) { return value(std::string_view(s)); }
  JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
  JsonWriter& value(std::int64_t v);
  JsonWriter& value(int v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(unsigned v) { return value(static_cast<std::int64_t>(v)); }
  JsonWriter& value(std::uint64_t v);
  JsonWriter& value(double v);
  JsonWriter& value(bool v);
  JsonWriter& null();
  // A value already written as JSON text (by the caller's guarantee: valid, and laid out as it should appear).
  JsonWriter& raw(std::string_view json_text);
  template <class T>
  JsonWriter& value(const std::optional<T>& v) {
    return v ? value(*v) : null();
  }
  template <class T>
  JsonWriter& value(const std::vector<T>& v) {
    begin_array();
    for (const auto& x : v) value(x);
    return end_array();
  }
  // key(k).value(v)
  template <class T>
  JsonWriter& member(std::string_view k, const T& v) {
    key(k);
    return value(v);
  }

 private:
  JsonWriter& open(char c);
  JsonWriter& close(char c);
  void before_value();
  void newline(std::size_t depth);
  void string(std::string_view s);

  struct Level {
    bool object = false;
    std::size_t count = 0;
  };
  std::string& m_out;
  int m_indent;
  std::vector<Level> m_levels;
  bool m_after_key = false;
};

// JSON text (from nlohmann's dump) with each C1 control (U+0080-U+009F) escaped as \u00XX: legal raw in JSON,
// but U+009B is CSI to a terminal that honours C1. Non-ASCII bytes only occur inside strings, so this is exact.
std::string escape_json_c1(std::string text);

}  // namespace gd::util
