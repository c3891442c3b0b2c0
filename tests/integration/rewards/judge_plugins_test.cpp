// The `llm` judge plugin, loaded from the build tree, judging through the host's LLM client
// against mock-llm on a real socket.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "judge_host.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::rewards {
namespace {

using atlas::testing::MockLlm;

std::string judge_json(double score, double uncertainty, const std::string& rationale) {
  return R"({"json":{"principles":[{"name":"correctness","weight":1.0,"description":"right answer"}],"score":)" +
         std::to_string(score) + R"(,"rationale":")" + rationale + R"(","uncertainty":)" + std::to_string(uncertainty) +
         R"(},"usage":{"prompt_tokens":100,"completion_tokens":10}})";
}

class LlmJudgeTest : public ::testing::Test {
 protected:
  void start(const std::string& scenario) {
    mock_ = std::make_unique<MockLlm>(scenario);
    ASSERT_TRUE(mock_->ok());
    services_ = std::make_shared<testing::JudgeHostServices>(std::map<std::string, config::ModelConfig>{
        {"rewards.small_model", mock_->model("openai", "judge-small")},
        {"rewards.large_model", mock_->model("openai", "judge-large")}});
    registry_ = testing::judge_registry(services_, ATLAS_TEST_PLUGIN_DIR);
    ASSERT_NE(registry_, nullptr);
    ASSERT_NE(registry_->find(plugin::Kind::kJudge, "llm"), nullptr) << "judge plugin llm not built into "
                                                                     << ATLAS_TEST_PLUGIN_DIR;
  }

  std::unique_ptr<RewardEngine> engine(RewardSettings settings) {
    auto e = RewardEngine::create(std::move(settings), registry_judge_resolver(*registry_));
    EXPECT_TRUE(e.is_ok()) << e.status().to_string();
    return e.is_ok() ? std::move(e).value() : nullptr;
  }

  // Bodies of the chat requests the mock received, parsed.
  std::vector<json::Document> bodies() {
    std::vector<json::Document> out;
    for (const auto& r : mock_->requests("openai.chat")) out.push_back(std::move(json::parse(r.body).value()));
    return out;
  }

  std::unique_ptr<MockLlm> mock_;
  std::shared_ptr<testing::JudgeHostServices> services_;
  std::unique_ptr<plugin::Registry> registry_;
};

SessionEvidence session() {
  SessionEvidence s;
  s.session_id = "11";
  s.task = "What is 6 times 7?";
  s.final_answer = "42";
  s.execution_mode = "auto";
  return s;
}

JudgeSpec llm_spec(std::string rubric) {
  JudgeSpec s;
  s.plugin = "llm";
  s.rubric = std::move(rubric);
  return s;
}

TEST_F(LlmJudgeTest, DisagreeingSamplesTriggerTheArbiterWhoseScoreWins) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"default":"error","rules":[
    {"name":"tier1","match":{"model":"judge-small"},"responses":[)" +
                                judge_json(0.9, 0.1, "great") + "," + judge_json(0.5, 0.1, "so-so") + "," +
                                judge_json(0.4, 0.1, "weak") + R"(],"after":"fall_through"},
    {"name":"arbiter","match":{"model":"judge-large"},"response":)" +
                                judge_json(0.61, 0.05, "arbiter decides") + R"(}]})"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("outcome")};
  auto e = engine(settings);
  ASSERT_NE(e, nullptr);
  auto out = e->judge_session(session());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_TRUE(out->escalated) << out->reward_audit_json;
  EXPECT_NEAR(out->score, 0.61, 1e-9);
  auto reward = json::parse(out->reward_json).value();
  EXPECT_EQ(json::get_string(reward["judges"][0], "rationale"), "arbiter decides");

  auto reqs = mock_->requests("openai.chat");
  ASSERT_EQ(reqs.size(), 4u);
  int small = 0, large = 0;
  for (const auto& r : reqs) {
    if (r.model == "judge-small") ++small;
    if (r.model == "judge-large") {
      ++large;
      EXPECT_EQ(r.headers.at("x-atlas-role"), "arbiter");
      // The arbiter sees the three earlier evaluations.
      EXPECT_NE(r.body.find("Earlier evaluations"), std::string::npos);
      EXPECT_NE(r.body.find("so-so"), std::string::npos);
      auto body = json::parse(r.body).value();
      EXPECT_NEAR(json::get_double(body, "temperature"), 0.3, 1e-9);
      EXPECT_EQ(json::get_string(body["response_format"], "type"), "json_object");
    }
  }
  EXPECT_EQ(small, 3);
  EXPECT_EQ(large, 1);
  // Token usage per role, from the host's llm_call events.
  EXPECT_EQ(out->usage.judge.calls, 3);
  EXPECT_EQ(out->usage.judge.prompt_tokens, 300);
  EXPECT_EQ(out->usage.arbiter.calls, 1);
  EXPECT_EQ(out->usage.arbiter.total_tokens, 110);
  // The three tier-1 samples used the three temperatures.
  std::set<double> temps;
  for (const auto& b : bodies()) {
    if (json::get_string(b, "model") == "judge-small") temps.insert(json::get_double(b, "temperature"));
  }
  EXPECT_EQ(temps, (std::set<double>{0.2, 0.5, 0.8}));
  // The plugin took the three temperatures in one call and sent the model calls as one batch.
  EXPECT_EQ(services_->batches.load(), 1);
}

TEST_F(LlmJudgeTest, TierOneSamplesOfOneJudgeGoOutTogether) {
  // Each reply takes 300 ms: one after the other, the three would arrive >= 300 ms apart.
  ASSERT_NO_FATAL_FAILURE(start(R"({"default":"error","latency_ms":300,"rules":[{"match":{"model":"judge-small"},"response":)" +
                                judge_json(0.8, 0.1, "fine") + "}]}"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("outcome")};
  auto out = engine(settings)->judge_session(session());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->judges[0].tier1_valid, 3);
  EXPECT_EQ(services_->batches.load(), 1);
  auto reqs = mock_->requests("openai.chat");
  ASSERT_EQ(reqs.size(), 3u);
  double first = reqs[0].received_monotonic, last = reqs[0].received_monotonic;
  for (const auto& r : reqs) {
    first = std::min(first, r.received_monotonic);
    last = std::max(last, r.received_monotonic);
  }
  EXPECT_LT(last - first, 0.3) << "the samples were sent one after the other";
  EXPECT_EQ(out->usage.judge.calls, 3);
  EXPECT_EQ(out->usage.judge.prompt_tokens, 300);
}

TEST_F(LlmJudgeTest, AgreeingSamplesDoNotEscalate) {
  ASSERT_NO_FATAL_FAILURE(
      start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"response":)" + judge_json(0.8, 0.1, "fine") + "}]}"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("outcome")};
  auto out = engine(settings)->judge_session(session());
  ASSERT_TRUE(out.is_ok());
  EXPECT_FALSE(out->escalated);
  EXPECT_NEAR(out->score, 0.8, 1e-9);
  EXPECT_EQ(mock_->requests("openai.chat").size(), 3u);
  // The session judge saw the task and the final answer with the built-in outcome rubric.
  auto all_bodies = bodies();
  ASSERT_FALSE(all_bodies.empty());
  const auto& b = all_bodies[0];
  const std::string system = json::get_string(b["messages"][0], "content");
  const std::string user = json::get_string(b["messages"][1], "content");
  EXPECT_NE(system.find("Rubric \"outcome\""), std::string::npos);
  EXPECT_NE(user.find("What is 6 times 7?"), std::string::npos);
  EXPECT_NE(user.find("## Final answer\n42"), std::string::npos);
}

TEST_F(LlmJudgeTest, StepJudgeSeesTheToolResultsOfItsStep) {
  ASSERT_NO_FATAL_FAILURE(
      start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"response":)" + judge_json(0.7, 0.1, "ok") + "}]}"));
  RewardSettings settings;
  settings.step_judges = {llm_spec("process")};
  auto e = engine(settings);
  std::vector<StepEvidence> steps(2);
  for (int i = 0; i < 2; ++i) {
    steps[i].step_id = i + 1;
    steps[i].description = "query table " + std::to_string(i + 1);
    steps[i].output = "step output " + std::to_string(i + 1);
    llm::Message assistant;
    assistant.role = "assistant";
    assistant.tool_calls.push_back({"call-" + std::to_string(i), "sql_query", R"({"table":"t)" + std::to_string(i + 1) + R"("})"});
    llm::Message tool;
    tool.role = "tool";
    tool.tool_call_id = "call-" + std::to_string(i);
    tool.name = "sql_query";
    tool.content = "TOOL-RESULT-STEP-" + std::to_string(i + 1) + ": 17 rows";
    steps[i].trace.messages = {assistant, tool};
    steps[i].trace.tool_calls.push_back({"call-" + std::to_string(i), "sql_query",
                                         R"({"table":"t)" + std::to_string(i + 1) + R"("})",
                                         "TOOL-RESULT-STEP-" + std::to_string(i + 1) + ": 17 rows", false});
  }
  auto out = e->judge_steps(session(), steps);
  ASSERT_EQ(out.size(), 2u);
  for (const auto& o : out) {
    ASSERT_TRUE(o.judged);
    EXPECT_NEAR(o.reward->score, 0.7, 1e-9);
  }
  auto all = bodies();
  ASSERT_EQ(all.size(), 6u);
  int saw[3] = {0, 0, 0};
  for (const auto& b : all) {
    const std::string user = json::get_string(b["messages"][1], "content");
    const bool step1 = user.find("query table 1") != std::string::npos;
    const int id = step1 ? 1 : 2;
    // Each step judge sees its own tool result, not the other step's.
    EXPECT_NE(user.find("TOOL-RESULT-STEP-" + std::to_string(id)), std::string::npos) << user;
    EXPECT_EQ(user.find("TOOL-RESULT-STEP-" + std::to_string(3 - id)), std::string::npos);
    EXPECT_NE(user.find("sql_query"), std::string::npos);
    EXPECT_NE(user.find("step output " + std::to_string(id)), std::string::npos);
    EXPECT_NE(json::get_string(b["messages"][0], "content").find("Rubric \"process\""), std::string::npos);
    ++saw[id];
  }
  EXPECT_EQ(saw[1], 3);
  EXPECT_EQ(saw[2], 3);
}

TEST_F(LlmJudgeTest, LongTraceIsTruncatedWithAMarker) {
  ASSERT_NO_FATAL_FAILURE(
      start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"response":)" + judge_json(0.7, 0.4, "ok") + "}]}"));
  RewardSettings settings;
  JudgeSpec spec = llm_spec("process");
  spec.config_json = R"({"max_trace_chars": 4000})";
  settings.step_judges = {spec};
  settings.cascade.samples = 1;
  StepEvidence step;
  step.step_id = 1;
  step.description = "dump logs";
  step.trace.tool_calls.push_back({"c", "read_log", "{}", "BEGIN-OF-LOG " + std::string(50000, 'x') + " END-OF-LOG", false});
  auto out = engine(settings)->judge_steps(session(), {step});
  ASSERT_TRUE(out[0].judged);
  auto all_bodies = bodies();
  ASSERT_FALSE(all_bodies.empty());
  const auto& b = all_bodies[0];
  const std::string user = json::get_string(b["messages"][1], "content");
  EXPECT_LT(user.size(), 12000u);
  EXPECT_NE(user.find("TRUNCATED"), std::string::npos);
  EXPECT_NE(user.find("BEGIN-OF-LOG"), std::string::npos);
  EXPECT_NE(user.find("END-OF-LOG"), std::string::npos);
}

TEST_F(LlmJudgeTest, MessyRepliesAreParsedAndUnusableOnesAreInvalidSamples) {
  // 1: fenced JSON with a trailing comma and a percentage; 2: prose with no JSON; 3: score 7.
  ASSERT_NO_FATAL_FAILURE(start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"responses":[
      {"text":"Here is my verdict:\n```json\n{\"score\": \"85%\", \"uncertainty\": 0.1, \"rationale\": \"good\",}\n```\nThanks."},
      {"text":"I think it is pretty good overall."},
      {"text":"{\"score\": 7, \"uncertainty\": 0.2}"}],"after":"repeat_last"}]})"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("helpfulness")};
  auto out = engine(settings)->judge_session(session());
  ASSERT_TRUE(out.is_ok());
  // Concurrent samples may receive the replies in any order: exactly one is valid.
  EXPECT_EQ(out->judges[0].tier1_valid, 1);
  EXPECT_EQ(out->judges[0].tier1_invalid, 2);
  EXPECT_NEAR(out->score, 0.85, 1e-9);
  const std::string audit = out->reward_audit_json;
  EXPECT_NE(audit.find("no JSON object"), std::string::npos);
  EXPECT_NE(audit.find("outside the required 0..1 scale"), std::string::npos);
}

TEST_F(LlmJudgeTest, ProviderDownGivesTheSyntheticSample) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"response":{"fault":"http_error","status":400,"error_message":"bad"}}]})"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("outcome")};
  auto out = engine(settings)->judge_session(session());
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(out->score, 0.0);
  EXPECT_EQ(out->judges[0].samples[0].stage, "synthetic");
  EXPECT_FALSE(out->escalated);
}

TEST_F(LlmJudgeTest, CustomRubricTextReachesThePrompt) {
  ASSERT_NO_FATAL_FAILURE(
      start(R"({"default":"error","rules":[{"match":{"model":"judge-small"},"response":)" + judge_json(0.8, 0.1, "ok") + "}]}"));
  RewardSettings settings;
  JudgeSpec spec = llm_spec("tone");
  spec.rubric_text = "Score the politeness of the answer; rudeness scores zero.";
  settings.session_judges = {spec};
  settings.focus_prompt = "Pay attention to units.";
  settings.cascade.samples = 1;
  ASSERT_TRUE(engine(settings)->judge_session(session()).is_ok());
  auto all_bodies = bodies();
  ASSERT_FALSE(all_bodies.empty());
  const auto& b = all_bodies[0];
  const std::string system = json::get_string(b["messages"][0], "content");
  EXPECT_NE(system.find("Rubric \"tone\""), std::string::npos);
  EXPECT_NE(system.find("rudeness scores zero"), std::string::npos);
  EXPECT_NE(system.find("Pay attention to units."), std::string::npos);
}

TEST_F(LlmJudgeTest, UnknownRubricWithoutTextIsAClearInvalidSample) {
  ASSERT_NO_FATAL_FAILURE(start(R"({"default":"echo"})"));
  RewardSettings settings;
  settings.session_judges = {llm_spec("nonexistent")};
  settings.cascade.samples = 1;
  auto out = engine(settings)->judge_session(session());
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(mock_->requests().size(), 0u);
  EXPECT_NE(out->reward_audit_json.find("rewards.rubrics.nonexistent"), std::string::npos);
}

}  // namespace
}  // namespace atlas::rewards
