// Checks of the verifiable judge (plugins/judges/verifiable/), including the child process runner.
#include <gtest/gtest.h>

#include <atlas/sdk.hpp>

#include "checks.hpp"
#include "command_check.hpp"

namespace atlas_judge_verifiable {
namespace {

TEST(VerifiableChecks, NormalizeAndExact) {
  TextOptions o;
  EXPECT_EQ(normalize("  a \n\t b  ", o), "a b");
  EXPECT_TRUE(check_exact(" Paris\n", "Paris", o).passed);
  EXPECT_FALSE(check_exact("paris", "Paris", o).passed);
  o.case_sensitive = false;
  EXPECT_TRUE(check_exact("paris", "Paris", o).passed);
}

TEST(VerifiableChecks, ContainsListsWhatIsMissing) {
  auto r = check_contains("alpha beta", {"alpha", "gamma", "delta"}, TextOptions{});
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.detail.find("\"gamma\", \"delta\""), std::string::npos);
}

TEST(VerifiableChecks, RegexUsesEcmaScriptAndRejectsBadPatterns) {
  EXPECT_TRUE(check_regex("order 1234 shipped", {"\\d{4}", "^order"}, TextOptions{}).passed);
  EXPECT_FALSE(check_regex("order shipped", {"\\d+"}, TextOptions{}).passed);
  EXPECT_THROW(check_regex("x", {"(a"}, TextOptions{}), atlas::sdk::Error);
}

TEST(VerifiableChecks, JsonSchemaReportsKeywordAndPointer) {
  rapidjson::Document schema;
  schema.Parse(R"({"type":"object","properties":{"n":{"type":"integer","maximum":10}}})");
  EXPECT_TRUE(check_json_schema(R"({"n":3})", schema).passed);
  auto r = check_json_schema(R"({"n":30})", schema);
  EXPECT_FALSE(r.passed);
  EXPECT_NE(r.detail.find("maximum"), std::string::npos);
  EXPECT_NE(r.detail.find("/n"), std::string::npos);
}

TEST(CommandRunner, ExitCodeStdoutAndStdin) {
  auto r = run_command({"sh", "-c", "cat; echo; echo err >&2; exit 4"}, "hello", 10, 1000);
  ASSERT_TRUE(r.started) << r.start_error;
  EXPECT_TRUE(r.exited);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.stdout_text, "hello\n");
  EXPECT_EQ(r.stderr_text, "err\n");
}

TEST(CommandRunner, CaptureIsCapped) {
  auto r = run_command({"sh", "-c", "head -c 100000 /dev/zero | tr '\\0' a"}, "", 10, 50);
  ASSERT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_text.substr(0, 50), std::string(50, 'a'));
  EXPECT_NE(r.stdout_text.find("99950 bytes truncated"), std::string::npos);
}

TEST(CommandRunner, TimeoutKillsTheWholeGroup) {
  // The grandchild keeps stdout open; the runner must still stop at the timeout.
  auto r = run_command({"sh", "-c", "sleep 60 & sleep 60"}, "", 0.3, 100);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(CommandRunner, ChildThatClosesOutputsButKeepsRunningStillTimesOut) {
  auto r = run_command({"sh", "-c", "exec >&- 2>&-; sleep 60"}, "", 0.3, 100);
  ASSERT_TRUE(r.started);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.seconds, 5.0);
}

TEST(CommandRunner, MissingProgram) {
  auto r = run_command({"/nonexistent/program-xyz"}, "", 1, 100);
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.start_error.find("program-xyz"), std::string::npos);
}

}  // namespace
}  // namespace atlas_judge_verifiable
