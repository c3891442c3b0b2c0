// The model preflight of `run` and `quickstart`: a missing key, an unreachable endpoint or an
// unknown model stops the command once, before any session is started or stored.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "cli_support.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

const char* kScenario = R"({"models": ["mock-model"], "rules": [
  {"match": {"system_contains": "You are the teacher"}, "response": {"json": {"valid": true}}},
  {"match": {"system_contains": "impartial evaluator"}, "response": {"json": {"score": 0.8, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
  {"match": {"system_contains": "senior arbiter"}, "response": {"json": {"score": 0.8, "uncertainty": 0.1, "rationale": "ok", "principles": []}}},
  {"response": {"text": "fine"}}]})";

size_t count(const std::string& hay, const std::string& needle) {
  size_t n = 0;
  for (size_t at = hay.find(needle); at != std::string::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

// Forty tasks and a teacher whose key is not set: one message naming the role and the variable,
// exit 1, no model call, no session stored.
TEST(Preflight, MissingTeacherKeyFailsTheBatchOnceBeforeAnySession) {
  testing::MockLlm mock(kScenario);
  TempDir dir("preflight-key");
  std::string toml = mock_config(mock.openai_base(), "", "sqlite://" + (dir.path() / "a.db").string());
  // The teacher talks to the provider's public endpoint with a key nobody set.
  toml =
      replace_table(toml, "teacher.llm",
                    "provider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"ATLAS_PREFLIGHT_MISSING_KEY\"\n");
  write_file(dir.path() / "atlas.toml", toml);
  std::string tasks;
  for (int i = 0; i < 40; ++i) tasks += "\"task " + std::to_string(i) + "\"\n";
  write_file(dir.path() / "tasks.jsonl", tasks);

  CliResult r = run_cli(dir.path(), "run --tasks tasks.jsonl --concurrency 4");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_EQ(count(r.all(), "ATLAS_PREFLIGHT_MISSING_KEY"), 1u) << r.all();
  EXPECT_NE(r.err.find("teacher [teacher.llm]"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("nothing was run"), std::string::npos) << r.all();
  EXPECT_TRUE(mock.requests("openai.chat").empty());
  EXPECT_FALSE(fs::exists(dir.path() / "a.db"));

  // One task is no different: the run does not exit 0 with a teacher it cannot call.
  CliResult one = run_cli(dir.path(), "run --task 'only one'");
  EXPECT_EQ(one.exit_code, 1) << one.all();
  EXPECT_NE(one.err.find("ATLAS_PREFLIGHT_MISSING_KEY"), std::string::npos) << one.all();
}

TEST(Preflight, UnknownModelIsNamedWithTheModelsTheEndpointLists) {
  testing::MockLlm mock(kScenario);
  TempDir dir("preflight-model");
  std::string toml = mock_config(mock.openai_base(), "", "");
  toml = replace_table(
      toml, "student.llm",
      "provider = \"openai\"\nmodel = \"mock-modle\"\napi_key_env = \"\"\napi_base = \"" + mock.openai_base() + "\"\n");
  write_file(dir.path() / "atlas.toml", toml);
  write_file(dir.path() / "tasks.jsonl", "\"a\"\n\"b\"\n");
  CliResult r = run_cli(dir.path(), "run -c atlas.toml --tasks tasks.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("student [student.llm]: model \"mock-modle\" is not among the models"), std::string::npos)
      << r.all();
  EXPECT_NE(r.err.find("mock-model"), std::string::npos) << r.all();
  EXPECT_TRUE(mock.requests("openai.chat").empty());
  EXPECT_FALSE(mock.requests("models").empty());  // it asked the endpoint, once per endpoint
  EXPECT_EQ(mock.requests("models").size(), 1u);
}

TEST(Preflight, UnreachableEndpointIsReportedAndNoPreflightSkipsTheCheck) {
  testing::MockLlm mock(kScenario);
  TempDir dir("preflight-down");
  std::string toml = mock_config(mock.openai_base(), "[orchestration]\nforced_mode = \"auto\"\n", "");
  // The learning model on a port nothing listens on (port 1 is privileged and unused).
  toml =
      replace_table(toml, "learning.llm",
                    "provider = \"openai\"\nmodel = \"m\"\napi_key_env = \"\"\napi_base = \"http://127.0.0.1:1/v1\"\n");
  write_file(dir.path() / "atlas.toml", toml);
  CliResult r = run_cli(dir.path(), "run --task 'x'");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("learning [learning.llm]"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("unreachable"), std::string::npos) << r.all();
  EXPECT_TRUE(mock.requests("openai.chat").empty());
  // --no-preflight starts anyway; the session itself does not need the learning model to finish.
  CliResult forced = run_cli(dir.path(), "run --task 'x' --no-preflight --json");
  EXPECT_EQ(forced.exit_code, 0) << forced.all();
}

TEST(Preflight, AHealthyConfigPassesAndTheBatchTableEndsWithASummary) {
  testing::MockLlm mock(kScenario);
  TempDir dir("preflight-ok");
  write_file(dir.path() / "atlas.toml", mock_config(mock.openai_base(), "[orchestration]\nforced_mode = \"paired\"\n",
                                                    "sqlite://" + (dir.path() / "a.db").string()));
  write_file(dir.path() / "tasks.jsonl", "\"first\"\n\"second\"\n\"third\"\n");
  CliResult r = run_cli(dir.path(), "run --tasks tasks.jsonl --concurrency 2");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  // Session ids (1..3 in a fresh database) are in the table, and a summary line closes it.
  auto ids = sqlite_rows(dir.path() / "a.db", "SELECT id FROM sessions ORDER BY id");
  ASSERT_EQ(ids.size(), 3u);
  // Rows after the header and its rule: "#  session  task ...", the second column is the id.
  std::istringstream lines(r.out);
  std::string line;
  std::set<std::string> shown;
  bool in_rows = false;
  while (std::getline(lines, line)) {
    if (line.rfind("#  session", 0) == 0) continue;
    if (line.rfind("---", 0) == 0) {
      in_rows = true;
      continue;
    }
    if (!in_rows || line.find("task(s):") != std::string::npos) continue;
    std::istringstream cols(line);
    std::string number, session;
    cols >> number >> session;
    shown.insert(session);
  }
  std::set<std::string> stored;
  for (const auto& row : ids) stored.insert(row[0]);
  EXPECT_EQ(shown, stored) << r.out;
  EXPECT_NE(r.out.find("3 task(s): 3 succeeded, 0 failed"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace atlas::cli_test
