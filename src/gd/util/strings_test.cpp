#include "gd/util/strings.hpp"

#include <gtest/gtest.h>

namespace gd::util {
namespace {

// Text from node files (host names, GPU names, log lines) must not drive the
// terminal: controls (C0, DEL, C1 such as CSI) and invalid UTF-8 become '?',
// valid text in any script is kept.
TEST(Printable, KeepsTextReplacesEscapesAndInvalidUtf8) {
  EXPECT_EQ(printable("Tesla V100-SXM2 \t ok"), "Tesla V100-SXM2 \t ok");
  EXPECT_EQ(printable("GPU \xC3\xA9t\xC3\xA9 \xE6\xB8\xA9\xE5\xBA\xA6"), "GPU \xC3\xA9t\xC3\xA9 \xE6\xB8\xA9\xE5\xBA\xA6");
  EXPECT_EQ(printable("a\x1b]0;owned\x07z"), "a?]0;owned?z");  // OSC title
  EXPECT_EQ(printable("a\x1b[2Jz\x7f"), "a?[2Jz?");           // clear screen, DEL
  EXPECT_EQ(printable("a\xC2\x9B" "2Jz"), "a?2Jz");           // C1 CSI, as UTF-8
  EXPECT_EQ(printable("a\x9b" "2Jz"), "a?2Jz");               // C1 CSI, a lone byte
  EXPECT_EQ(printable("\xff\xfe.db"), "??.db");
  EXPECT_EQ(printable("\xC0\xAF"), "??");              // overlong '/'
  EXPECT_EQ(printable("\xED\xA0\x80"), "???");         // a surrogate
  EXPECT_EQ(printable("x\xE6\xB8"), "x??");            // cut short
  EXPECT_EQ(printable("line\nforged"), "line?forged");  // a forged newline
  EXPECT_EQ(printable(std::string(300, 'a'), 10), std::string(10, 'a') + "...");
  // The cut is at a character boundary.
  EXPECT_EQ(printable("\xE6\xB8\xA9\xE6\xB8\xA9\xE6\xB8\xA9", 4), "\xE6\xB8\xA9\xE6\xB8\xA9...");
}

TEST(C1ControlAt, FindsOnlyTheTwoByteC1Sequences) {
  std::string_view s = "a\xc2\x9b" "b\xc2\xa0" "c\xc2";
  EXPECT_EQ(c1_control_at(s, 1), 0x9b);   // U+009B, CSI
  EXPECT_EQ(c1_control_at(s, 0), -1);
  EXPECT_EQ(c1_control_at(s, 4), -1);     // U+00A0 is text
  EXPECT_EQ(c1_control_at(s, 7), -1);     // a lone C2 at the end
}

TEST(ValidUtf8, ReplacesOnlyInvalidSequences) {
  EXPECT_EQ(valid_utf8("node-\xC3\xA9"), "node-\xC3\xA9");
  EXPECT_EQ(valid_utf8("node\xff-7"), "node\xEF\xBF\xBD-7");
  EXPECT_EQ(valid_utf8("a\x1b" "b"), "a\x1b" "b");  // controls are the format's to escape
}

TEST(JoinCapped, NamesTheRest) {
  EXPECT_EQ(join_capped({"a", "b", "c"}, ", ", 2), "a, b (and 1 more)");
  EXPECT_EQ(join_capped({"a", "b"}, ", ", 2), "a, b");
}

}  // namespace
}  // namespace gd::util
