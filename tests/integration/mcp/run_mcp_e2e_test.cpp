// `atlas-host run` with the openai adapter, mock-llm as the provider and the npm filesystem
// MCP server: the student completes a file task through tool calls.
#include <gtest/gtest.h>

#include "integration/adapters/adapter_fixture.hpp"
#include "integration/adapters/run_e2e_support.hpp"
#include "mcp_fixture.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::testing {
namespace {

TEST(RunWithMcpTools, OpenAiStudentWritesAFileThroughTheFilesystemServer) {
  ATLAS_REQUIRE_NPM_SERVERS();
  TempDir dir;
  std::filesystem::create_directory(dir.path() / "work");
  std::string target = (dir.path() / "work" / "result.txt").string();
  MockLlm mock(R"({"rules": [
      {"match": {"last_message_contains": "Successfully wrote"}, "responses": [{"text": "Wrote result.txt with the answer 42."}]},
      {"match": {"has_tools": true}, "responses": [{"tool_calls": [{"id": "w1", "name": "write_file",
          "arguments": {"path": ")" + target + R"(", "content": "42\n"}}]}]}]})");
  ASSERT_TRUE(mock.ok());
  write_file(dir.path() / "agent.toml", R"(
[agent]
adapter = "openai"
max_tool_turns = 4
[[agent.mcp_servers]]
name = "fs"
command = ")" + kNodeDir + R"(/node_modules/.bin/mcp-server-filesystem"
args = [")" + (dir.path() / "work").string() + R"("]
[student.llm]
provider = "openai"
model = "mock-model"
api_base = ")" + mock.openai_base() + R"("
api_key_env = "ATLAS_E2E_UNSET_KEY"
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
  unsetenv("ATLAS_E2E_UNSET_KEY");
  auto r = run_atlas_host(dir.path(), "run --config agent.toml --task 'Write the answer 42 to result.txt' --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << "\n" << r.err;
  auto doc = parse_or_fail(r.out);
  EXPECT_EQ(json::get_string(doc, "status"), "succeeded") << r.out;
  EXPECT_NE(json::get_string(doc, "final_answer").find("Wrote result.txt"), std::string::npos) << r.out;
  EXPECT_EQ(slurp(target), "42\n");  // the tool call really ran
  // Two model calls: the tool call, then the answer after the tool result.
  auto reqs = mock.requests("openai.chat");
  ASSERT_GE(reqs.size(), 2u);
  EXPECT_NE(reqs.back().body.find("\"tool_call_id\":\"w1\""), std::string::npos) << reqs.back().body;
}

}  // namespace
}  // namespace atlas::testing
