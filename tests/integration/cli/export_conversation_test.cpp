// export --conversation per-session|per-step with --guidance context|exclude: a real coach
// `atlas-host run` (openai adapter, the Python MCP test server's echo tool, mock-llm as every
// model) stores a plan of three steps; step 2 calls a tool, is rejected by the teacher, gets
// guidance and is accepted on its second attempt (which calls the tool again). The exported rows
// are checked against the trainers' own rules (tests/support/trainer_rules.hpp).
#include <gtest/gtest.h>

#include <memory>
#include <sstream>

#include "cli_support.hpp"
#include "common/json.hpp"
#include "support/mock_llm_fixture.hpp"
#include "support/trainer_rules.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

namespace rules = atlas::testing::trainer_rules;

constexpr const char* kTask = "Summarise what the echo server says";
constexpr const char* kGuidance = "MENTION-PONG: call echo with pong";

// Rules are tried top to bottom; the first match answers (docs/mock-llm.md).
const std::string kScenario = std::string(R"({"default":"error","rules":[
  {"name":"plan","match":{"system_contains":"must plan"},"response":{"json":{"steps":[
     {"id":1,"description":"collect the facts","depends_on":[]},
     {"id":2,"description":"ask the echo tool","depends_on":[1]},
     {"id":3,"description":"write the summary","depends_on":[2]}]}}},
  {"name":"plan-review","match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[],"concerns":null}}},
  {"name":"synthesis","match":{"system_contains":"writing the final answer"},"response":{"text":"FINAL: the server says pong"}},
  {"name":"judge","match":{"system_contains":"impartial evaluator"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"arbiter","match":{"system_contains":"senior arbiter"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"reject","match":{"system_contains":"You are the teacher","last_user_contains":"draft two"},"response":{"json":{"valid":false,"guidance":")") +
                              kGuidance + R"("}}},
  {"name":"accept","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
  {"name":"after-pong","match":{"last_message_contains":"ECHO-pong"},"response":{"text":"step two: pong"}},
  {"name":"after-ping","match":{"last_message_contains":"ECHO-ping"},"response":{"text":"draft two"}},
  {"name":"retry","match":{"system_contains":"You are the student agent","last_user_contains":"MENTION-PONG"},
   "response":{"tool_calls":[{"id":"call-pong","name":"echo","arguments":{"text":"ECHO-pong"}}]}},
  {"name":"step2","match":{"system_contains":"You are the student agent","last_user_contains":"Step 2:"},
   "response":{"tool_calls":[{"id":"call-ping","name":"echo","arguments":{"text":"ECHO-ping"}}]}},
  {"name":"step3","match":{"system_contains":"You are the student agent","last_user_contains":"Step 3:"},"response":{"text":"step three: summary of pong"}},
  {"name":"step1","match":{"system_contains":"You are the student agent","last_user_contains":"Step 1:"},"response":{"text":"step one: facts"}}]})";

// One coach session, run once for the whole suite (a real run is slow under the sanitizers).
class ExportConversationCli : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::make_unique<TempDir>("export-conversation");
    mock_ = std::make_unique<testing::MockLlm>(kScenario);
    ASSERT_TRUE(mock_->ok());
    const std::string server = std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/mcp/servers/modern_server.py";
    write_file(dir_->path() / "atlas.toml",
               mock_config(mock_->openai_base(),
                           "[orchestration]\nforced_mode = \"coach\"\nmax_retries = 2\n"
                           "[[agent.mcp_servers]]\nname = \"t\"\ncommand = \"python3\"\nargs = [\"" +
                               server +
                               "\"]\n[learning]\nenabled = false\n[routing]\nprobe = \"history\"\n"
                               "[review]\nrequire_approval = false\n",
                           "sqlite://" + (dir_->path() / "atlas.db").string()));
    CliResult r = run_cli(dir_->path(), "run -c atlas.toml --task " + sh_quote(kTask) + " --json");
    ASSERT_EQ(r.exit_code, 0) << r.all();
    auto doc = json::parse(r.out, "run --json");
    ASSERT_TRUE(doc.is_ok()) << r.out;
    ASSERT_EQ(json::get_string(*doc, "status"), "succeeded") << r.out;
    ASSERT_EQ(json::get_string(*doc, "final_answer"), "FINAL: the server says pong") << r.out;
  }
  static void TearDownTestSuite() {
    mock_.reset();
    dir_.reset();
  }
  void SetUp() override {
    if (!dir_ || !fs::exists(dir_->path() / "atlas.db")) GTEST_SKIP() << "the coach run failed (see the suite set-up)";
  }

  static CliResult export_cli(const std::string& args) {
    return run_cli(dir_->path(), "export --include-all-statuses --database-url " +
                                     sh_quote("sqlite://" + (dir_->path() / "atlas.db").string()) + " " + args);
  }

  // Exports and returns the rows; `lineage` gets the sidecar's lines.
  static std::vector<json::Document> rows(const std::string& args, std::vector<json::Document>* lineage = nullptr) {
    const fs::path out = dir_->path() / "out.jsonl";
    fs::remove(out);
    CliResult r = export_cli("--output " + sh_quote(out.string()) + " " + args);
    EXPECT_EQ(r.exit_code, 0) << args << "\n" << r.all();
    std::vector<json::Document> docs;
    std::istringstream in(read_file(out));
    for (std::string line; std::getline(in, line);) docs.push_back(json::parse(line, "row").value());
    if (lineage) {
      std::istringstream side(read_file(out.string() + ".lineage.jsonl"));
      for (std::string line; std::getline(side, line);) lineage->push_back(json::parse(line, "lineage").value());
    }
    return docs;
  }

  // The messages of a row as "role: content" (tool calls as "role: call NAME ARGS").
  static std::vector<std::string> turns(const json::Value& row) {
    std::vector<std::string> out;
    for (const auto& m : row["messages"].GetArray()) {
      std::string role = json::get_string(m, "role");
      if (const json::Value* calls = json::find(m, "tool_calls"); calls && calls->IsArray() && !calls->Empty()) {
        const json::Value& fn = (*calls)[0]["function"];
        const json::Value& args = fn["arguments"];
        out.push_back(role + ": call " + json::get_string(fn, "name") + " " +
                      (args.IsString() ? std::string(args.GetString()) : json::dump(args)));
      } else {
        out.push_back(role + ": " + json::get_string(m, "content"));
      }
    }
    return out;
  }

  static bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
  }

  // Every assistant turn with its weight: "weight content".
  static std::vector<std::string> weighted_assistant_turns(const json::Value& row) {
    std::vector<std::string> out;
    auto t = turns(row);
    for (rapidjson::SizeType i = 0; i < row["messages"].Size(); ++i)
      if (json::get_string(row["messages"][i], "role") == "assistant")
        out.push_back(std::to_string(json::get_int(row["messages"][i], "weight", -1)) + " " + t[i].substr(11));
    return out;
  }

  static std::unique_ptr<TempDir> dir_;
  static std::unique_ptr<testing::MockLlm> mock_;
};

std::unique_ptr<TempDir> ExportConversationCli::dir_;
std::unique_ptr<testing::MockLlm> ExportConversationCli::mock_;

TEST_F(ExportConversationCli, PerSessionIsTheDefaultAndCarriesEveryStepInOrder) {
  auto def = rows("--format trl-sft");
  auto explicit_rows = rows("--format trl-sft --conversation per-session");
  ASSERT_EQ(def.size(), 1u);
  ASSERT_EQ(explicit_rows.size(), 1u);
  EXPECT_TRUE(def[0] == explicit_rows[0]) << "per-session is the default";
  const json::Value& row = def[0];
  EXPECT_EQ(rules::trl_sft(row), "") << json::dump(row);
  // The rejected attempt is stored (its tool call and answer are in the session trace), so the
  // conversation leaving it out is the exporter's doing.
  const std::string trace = json::dump(rows("--format atlas-jsonl")[0]);
  EXPECT_TRUE(contains(trace, "ECHO-ping") && contains(trace, "draft two")) << trace;
  auto t = turns(row);
  ASSERT_EQ(t.size(), 11u) << json::dump(row);
  EXPECT_EQ(t[0].rfind("system: ", 0), 0u);
  EXPECT_EQ(t[1], std::string("user: ") + kTask);
  // Step 1: its prompt as sent, its answer.
  EXPECT_TRUE(contains(t[2], "Step 1: collect the facts")) << t[2];
  EXPECT_EQ(t[3], "assistant: step one: facts");
  // Step 2: the prompt of the accepted attempt (with step 1's validated result and the guidance),
  // only the accepted attempt's tool call and result, its answer. The rejected attempt (its ping
  // call, "draft two") appears nowhere.
  EXPECT_TRUE(contains(t[4], "Step 2: ask the echo tool")) << t[4];
  EXPECT_TRUE(contains(t[4], "step one: facts")) << "the dependency's result, as the student got it: " << t[4];
  EXPECT_TRUE(contains(t[4], std::string("Guidance from your teacher on earlier attempts:\n- ") + kGuidance)) << t[4];
  EXPECT_EQ(t[5], "assistant: call echo {\"text\":\"ECHO-pong\"}");
  EXPECT_EQ(t[6], "tool: ECHO-pong");
  EXPECT_EQ(t[7], "assistant: step two: pong");
  EXPECT_TRUE(contains(t[8], "Step 3: write the summary")) << t[8];
  EXPECT_EQ(t[9], "assistant: step three: summary of pong");
  EXPECT_EQ(t[10], "assistant: FINAL: the server says pong");
  const std::string all = json::dump(row);
  EXPECT_FALSE(contains(all, "ECHO-ping")) << all;
  EXPECT_FALSE(contains(all, "draft two")) << all;
  ASSERT_TRUE(row["messages"][5]["tool_calls"][0]["function"]["arguments"].IsObject()) << "TRL: arguments as a dict";
  EXPECT_EQ(json::get_string(row["tools"][0]["function"], "name"), "echo");
}

TEST_F(ExportConversationCli, GuidanceExcludeGivesTheStepPromptWithoutIt) {
  auto row = rows("--format trl-sft --guidance exclude");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(rules::trl_sft(row[0]), "") << json::dump(row[0]);
  auto t = turns(row[0]);
  ASSERT_EQ(t.size(), 11u);
  EXPECT_TRUE(contains(t[4], "Step 2: ask the echo tool")) << t[4];
  EXPECT_FALSE(contains(json::dump(row[0]), "MENTION-PONG")) << json::dump(row[0]);
  EXPECT_FALSE(contains(json::dump(row[0]), "Guidance from your teacher")) << json::dump(row[0]);
  EXPECT_EQ(t[5], "assistant: call echo {\"text\":\"ECHO-pong\"}") << "the accepted answer stays";
}

TEST_F(ExportConversationCli, OpenAiPerSessionWeighsEveryAcceptedTurnAndKeepsGuidanceOutOfAssistantTurns) {
  for (const char* guidance : {"context", "exclude"}) {
    auto row = rows(std::string("--format openai-ft --guidance ") + guidance);
    ASSERT_EQ(row.size(), 1u);
    EXPECT_EQ(rules::openai_chat(row[0]), "") << json::dump(row[0]);
    EXPECT_EQ(weighted_assistant_turns(row[0]),
              (std::vector<std::string>{"1 step one: facts", "1 call echo {\"text\":\"ECHO-pong\"}", "1 step two: pong",
                                        "1 step three: summary of pong", "1 FINAL: the server says pong"}))
        << guidance;
    EXPECT_TRUE(row[0]["messages"][5]["tool_calls"][0]["function"]["arguments"].IsString()) << "OpenAI: a JSON string";
    for (const auto& m : row[0]["messages"].GetArray()) {
      if (json::get_string(m, "role") == "assistant") {
        EXPECT_FALSE(contains(json::get_string(m, "content"), "MENTION-PONG")) << "guidance is never an assistant turn";
      }
    }
  }
}

TEST_F(ExportConversationCli, PerStepGivesOneRowPerStepAsTheStudentSawIt) {
  std::vector<json::Document> lineage;
  auto sft = rows("--format trl-sft --conversation per-step", &lineage);
  ASSERT_EQ(sft.size(), 4u) << "three steps, then the final answer synthesis";
  ASSERT_EQ(lineage.size(), 4u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(rules::trl_sft(sft[i]), "") << json::dump(sft[i]);
    EXPECT_EQ(json::get_int(sft[i], "step_id"), static_cast<int64_t>(i + 1));
    EXPECT_EQ(json::get_int(lineage[i], "step_id"), static_cast<int64_t>(i + 1)) << "the sidecar names the step";
    auto t = turns(sft[i]);
    ASSERT_GE(t.size(), 3u);
    // Each step was a fresh call: the executor's system prompt, the step's prompt, its answer.
    EXPECT_EQ(t[0].rfind("system: ", 0), 0u);
    EXPECT_EQ(t[1].rfind("user: Task:\n", 0), 0u) << t[1];
    EXPECT_NE(t[1].find("Step " + std::to_string(i + 1) + ":"), std::string::npos) << t[1];
  }
  auto step2 = turns(sft[1]);
  EXPECT_EQ(step2.size(), 5u);
  EXPECT_TRUE(contains(step2[1], "step one: facts")) << "prior results as the student saw them: " << step2[1];
  EXPECT_TRUE(contains(step2[1], kGuidance)) << step2[1];
  EXPECT_EQ(step2.back(), "assistant: step two: pong");
  EXPECT_TRUE(contains(turns(sft[2])[1], "step two: pong")) << "step 3 saw step 2's validated result";

  auto excluded = rows("--format trl-sft --conversation per-step --guidance exclude");
  ASSERT_EQ(excluded.size(), 4u);
  EXPECT_FALSE(contains(turns(excluded[1])[1], "MENTION-PONG")) << turns(excluded[1])[1];
  EXPECT_TRUE(contains(turns(excluded[1])[1], "Step 2: ask the echo tool"));

  auto openai = rows("--format openai-ft --conversation per-step");
  ASSERT_EQ(openai.size(), 4u);
  for (const auto& r : openai) EXPECT_EQ(rules::openai_chat(r), "") << json::dump(r);
  EXPECT_EQ(weighted_assistant_turns(openai[1]),
            (std::vector<std::string>{"1 call echo {\"text\":\"ECHO-pong\"}", "1 step two: pong"}));
}

TEST_F(ExportConversationCli, PerStepEndsWithTheFinalAnswerSynthesisAsTheStudentWasAskedForIt) {
  std::vector<json::Document> lineage;
  auto sft = rows("--format trl-sft --conversation per-step", &lineage);
  ASSERT_EQ(sft.size(), 4u);
  const json::Value& row = sft[3];
  EXPECT_EQ(rules::trl_sft(row), "") << json::dump(row);
  EXPECT_TRUE(json::get_bool(row, "synthesis")) << json::dump(row);
  EXPECT_EQ(json::find(row, "step_id"), nullptr) << "the synthesis is no step";
  EXPECT_TRUE(json::get_bool(lineage[3], "synthesis")) << json::dump(lineage[3]);
  EXPECT_EQ(json::find(lineage[3], "step_id"), nullptr);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(json::find(sft[i], "synthesis"), nullptr) << "step rows are no synthesis";
  auto t = turns(row);
  ASSERT_EQ(t.size(), 3u) << json::dump(row);
  // The synthesizer's own system prompt (the mock matched it by this text), not the executor's.
  EXPECT_TRUE(contains(t[0], "writing the final answer")) << t[0];
  EXPECT_NE(t[0], turns(sft[0])[0]) << "step 1 was sent the executor's system prompt";
  // Its user message as sent: the task and every step's validated result, as JSON.
  EXPECT_EQ(t[1].rfind(std::string("user: Task:\n") + kTask + "\n\nStep results (JSON):\n", 0), 0u) << t[1];
  for (const char* result : {"step one: facts", "step two: pong", "step three: summary of pong"})
    EXPECT_TRUE(contains(t[1], result)) << result << " in " << t[1];
  EXPECT_FALSE(contains(t[1], "draft two")) << "the rejected attempt's answer is no step result: " << t[1];
  EXPECT_EQ(t[2], "assistant: FINAL: the server says pong");

  auto openai = rows("--format openai-ft --conversation per-step");
  ASSERT_EQ(openai.size(), 4u);
  EXPECT_EQ(rules::openai_chat(openai[3]), "") << json::dump(openai[3]);
  EXPECT_EQ(weighted_assistant_turns(openai[3]), (std::vector<std::string>{"1 FINAL: the server says pong"}));
  auto per_session = rows("--format trl-sft");
  ASSERT_EQ(per_session.size(), 1u);
  EXPECT_EQ(json::find(per_session[0], "synthesis"), nullptr) << "per-session rows are unchanged";
}

TEST_F(ExportConversationCli, CorrectionsUseTheStepPromptAsSent) {
  auto with = rows("--format trl-sft-corrections");
  ASSERT_EQ(with.size(), 1u);
  EXPECT_EQ(rules::trl_sft(with[0]), "") << json::dump(with[0]);
  auto t = turns(with[0]);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_TRUE(contains(t[1], "step one: facts")) << t[1];
  EXPECT_TRUE(contains(t[1], kGuidance)) << t[1];
  EXPECT_EQ(t[2], "assistant: step two: pong");
  auto without = rows("--format trl-sft-corrections --guidance exclude");
  ASSERT_EQ(without.size(), 1u);
  EXPECT_FALSE(contains(turns(without[0])[1], "MENTION-PONG"));
}

TEST_F(ExportConversationCli, ConversationOnAnotherFormatOrAnUnknownValueIsAUsageError) {
  const fs::path out = dir_->path() / "refused.jsonl";
  for (const char* format : {"trl-dpo", "trl-sft-corrections", "trl-grpo", "atlas-jsonl", "tokens-jsonl"}) {
    CliResult r = export_cli("--output " + sh_quote(out.string()) + " --format " + format + " --conversation per-step");
    EXPECT_EQ(r.exit_code, 2) << format << "\n" << r.all();
    EXPECT_TRUE(contains(r.err, "--conversation applies to conversation rows")) << r.err;
    EXPECT_TRUE(contains(r.err, format)) << r.err;
  }
  CliResult unknown = export_cli("--output " + sh_quote(out.string()) + " --format trl-sft --conversation per-turn");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.all();
  EXPECT_TRUE(contains(unknown.err, "--conversation per-turn: use per-session")) << unknown.err;
  // Refused before any database is opened.
  CliResult no_db = run_cli(dir_->path(),
                            "export --format trl-dpo --conversation per-step --output x.jsonl "
                            "--database-url sqlite:///nonexistent/dir/none.db");
  EXPECT_EQ(no_db.exit_code, 2) << no_db.all();
  EXPECT_TRUE(contains(no_db.err, "--conversation applies to conversation rows")) << no_db.err;
  CliResult guidance = export_cli("--output " + sh_quote(out.string()) + " --format trl-sft --guidance teacher");
  EXPECT_EQ(guidance.exit_code, 2) << guidance.all();
  EXPECT_FALSE(fs::exists(out));
}

}  // namespace
}  // namespace atlas::cli_test
