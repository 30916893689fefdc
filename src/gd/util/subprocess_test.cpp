#include "gd/util/subprocess.hpp"

#include <gtest/gtest.h>

#include "gd/testing/temp_root.hpp"

namespace gd::util {
namespace {

using namespace std::chrono_literals;

TEST(Subprocess, RunsByArgvAndCapturesOutput) {
  // A shell metacharacter in an argument stays a literal argument.
  auto r = run({"/bin/echo", "a; rm -rf /tmp/nothing"}, 5s);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "a; rm -rf /tmp/nothing\n");
}

TEST(Subprocess, ReportsExitCodeAndStderr) {
  auto r = run({"/bin/sh", "-c", "echo oops >&2; exit 7"}, 5s);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.err, "oops\n");
}

TEST(Subprocess, KillsAtTheDeadline) {
  auto start = Clock::now();
  auto r = run({"/bin/sleep", "30"}, 300ms);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(Clock::now() - start, 2s);
}

TEST(Subprocess, DeadlineHoldsWhenAGrandchildKeepsThePipeOpen) {
  auto start = Clock::now();
  auto r = run({"/bin/sh", "-c", "sleep 30 & exit 0"}, 300ms);
  EXPECT_LT(Clock::now() - start, 2s);
  (void)r;
}

TEST(Subprocess, MissingProgramIsAnErrorNotACrash) {
  auto r = run({"/nonexistent/program"}, 1s);
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.err.find("/nonexistent/program"), std::string::npos);
}

TEST(Subprocess, OutputIsCapped) {
  auto r = run({"/bin/sh", "-c", "head -c 100000 /dev/zero"}, 5s, 1000);
  EXPECT_EQ(r.out.size(), 1000u);
}

TEST(Subprocess, HelpersAreFoundBesideTheBinaryOrInLibexec) {
  testing::TempRoot t;
  auto build = t.write("/build/gpudoctor", "", true).string();
  t.write("/build/gpudoctor-worker", "", true);
  EXPECT_EQ(helper_exe("gpudoctor-worker", build), t.at("/build/gpudoctor-worker").string());
  // The package's layout: /usr/bin/gpudoctor, /usr/libexec/gpudoctor/gpudoctor-worker.
  auto installed = t.write("/usr/bin/gpudoctor", "", true).string();
  t.write("/usr/libexec/gpudoctor/gpudoctor-worker", "", true);
  EXPECT_EQ(helper_exe("gpudoctor-worker", installed), t.at("/usr/bin/../libexec/gpudoctor/gpudoctor-worker").string());
  // Not executable, or absent: none (the caller falls back to gpudoctor itself).
  t.write("/usr/libexec/gpudoctor/gpudoctor-churn-child", "", false);
  EXPECT_EQ(helper_exe("gpudoctor-churn-child", installed), "");
  EXPECT_EQ(helper_exe("gpudoctor-worker", "gpudoctor"), "");
}

}  // namespace
}  // namespace gd::util
