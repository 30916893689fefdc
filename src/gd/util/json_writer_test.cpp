#include "gd/util/json_writer.hpp"

#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace gd::util {
namespace {

// Writes an nlohmann tree through the writer (objects in their key order, which is nlohmann's).
void write(JsonWriter& w, const nlohmann::json& j) {
  if (j.is_object()) {
    w.begin_object();
    for (const auto& [k, v] : j.items()) {
      w.key(k);
      write(w, v);
    }
    w.end_object();
  } else if (j.is_array()) {
    w.begin_array();
    for (const auto& v : j) write(w, v);
    w.end_array();
  } else if (j.is_string()) {
    w.value(j.get_ref<const std::string&>());
  } else if (j.is_number_unsigned()) {
    w.value(j.get<std::uint64_t>());
  } else if (j.is_number_integer()) {
    w.value(j.get<std::int64_t>());
  } else if (j.is_number_float()) {
    w.value(j.get<double>());
  } else if (j.is_boolean()) {
    w.value(j.get<bool>());
  } else {
    w.null();
  }
}

nlohmann::json random_tree(std::mt19937& rng, int depth) {
  static const std::vector<std::string> strings = {
      "", "plain", "quote \" and \\ backslash", "tab\there\nnewline", std::string("nul\0in", 6), "\x1b[31mred",
      "caf\xc3\xa9", "bad \xff utf8", "cut \xe2\x82", "csi \xc2\x9b" "2J", "del \x7f", "\xf0\x9f\x98\x80 emoji"};
  switch (depth > 3 ? rng() % 6 : rng() % 8) {
    case 0: return strings[rng() % strings.size()];
    case 1: return static_cast<std::int64_t>(rng()) - (1ll << 31);
    case 2: return static_cast<std::uint64_t>(rng()) << 20;
    case 3: {
      double ds[] = {0.0, 22.0, 1.5, -3.25, 1e20, 1e-5, 123456789012345.0, 0.1};
      return ds[rng() % 8];
    }
    case 4: return rng() % 2 == 0;
    case 5: return nullptr;
    case 6: {
      auto a = nlohmann::json::array();
      for (unsigned n = rng() % 4; n; --n) a.push_back(random_tree(rng, depth + 1));
      return a;
    }
    default: {
      auto o = nlohmann::json::object();
      for (unsigned n = rng() % 4; n; --n) o[strings[rng() % strings.size()]] = random_tree(rng, depth + 1);
      return o;
    }
  }
}

std::string reference(const nlohmann::json& j, int indent) {
  return escape_json_c1(j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace));
}

TEST(JsonWriter, LaysOutAndEscapesExactlyAsNlohmannDump) {
  std::mt19937 rng(3);
  for (int i = 0; i < 2000; ++i) {
    auto j = random_tree(rng, 0);
    for (int indent : {2, -1, 4}) {
      std::string out;
      JsonWriter w(out, indent);
      write(w, j);
      ASSERT_EQ(out, reference(j, indent)) << "tree " << i << " indent " << indent;
    }
  }
}

TEST(JsonWriter, EmptyContainersAndOptionals) {
  std::string out;
  JsonWriter w(out);
  w.begin_object()
      .member("a", std::vector<std::string>{})
      .member("b", std::optional<int>())
      .member("c", std::optional<std::string>("x"))
      .key("d")
      .begin_object()
      .end_object()
      .end_object();
  EXPECT_EQ(out, "{\n  \"a\": [],\n  \"b\": null,\n  \"c\": \"x\",\n  \"d\": {}\n}");
  EXPECT_EQ(nlohmann::json::parse(out)["c"], "x");
}

TEST(JsonWriter, C1ControlsAreEscaped) {
  std::string out;
  JsonWriter(out, -1).value("a\xc2\x9b" "b");
  EXPECT_EQ(out, "\"a\\u009bb\"");
}

}  // namespace
}  // namespace gd::util
