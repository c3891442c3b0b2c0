// `atlas-host run` with the command adapter: the real binary, a real python3 agent, SQLite.
#include <gtest/gtest.h>

#include "adapter_fixture.hpp"
#include "run_e2e_support.hpp"

namespace atlas::testing {
namespace {

TEST(RunWithCommandAdapter, RunsARealChildProcessAgentAndStoresTheSession) {
  if (std::system("python3 -c 'pass' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 is not installed";
  TempDir dir;
  write_file(dir.path() / "agent.toml", R"(
[agent]
adapter = "command"
[agent.config]
command = ["python3", ")" + std::string(ATLAS_TEST_SOURCE_DIR) + R"(/plugins/adapters/command/examples/echo_agent.py"]
timeout_seconds = 60
[orchestration]
forced_mode = "auto"
[rewards]
session_judges = [{ plugin = "verifiable" }]
step_judges = []
[routing]
probe = "history"
[learning]
enabled = false
[storage]
database_url = "sqlite://)" + (dir.path() / "atlas.db").string() + R"("
[review]
require_approval = false
)");
  auto r = run_atlas_host(dir.path(), "run --config agent.toml --task 'count the vowels in banana' --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << "\n" << r.err;
  auto doc = parse_or_fail(r.out);
  EXPECT_EQ(json::get_string(doc, "status"), "succeeded") << r.out;
  // The echo agent answers with the last user message it received, so the task went through it.
  EXPECT_NE(json::get_string(doc, "final_answer").find("echo: "), std::string::npos) << r.out;
  EXPECT_NE(json::get_string(doc, "final_answer").find("count the vowels in banana"), std::string::npos) << r.out;
  EXPECT_GT(json::get_int(doc, "total_tokens"), 0) << r.out;
  EXPECT_TRUE(json::get_bool(doc, "stored")) << r.out;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "atlas.db"));
}

TEST(RunWithCommandAdapter, ABrokenAgentCommandFailsTheRunWithTheReason) {
  TempDir dir;
  write_file(dir.path() / "agent.toml", R"(
[agent]
adapter = "command"
[agent.config]
command = ["/nonexistent/my-agent"]
[orchestration]
forced_mode = "auto"
[rewards]
session_judges = [{ plugin = "verifiable" }]
step_judges = []
[routing]
probe = "history"
[learning]
enabled = false
[storage]
database_url = "sqlite://)" + (dir.path() / "atlas.db").string() + R"("
)");
  auto r = run_atlas_host(dir.path(), "run --config agent.toml --task 'anything'");
  EXPECT_EQ(r.exit_code, 1) << r.out << "\n" << r.err;
  EXPECT_NE((r.out + r.err).find("/nonexistent/my-agent"), std::string::npos) << r.out << "\n" << r.err;
}

}  // namespace
}  // namespace atlas::testing
