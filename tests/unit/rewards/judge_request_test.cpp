#include <gtest/gtest.h>

#include "rewards/judge_request.hpp"

namespace atlas::rewards {
namespace {

TEST(JudgeRequest, SessionRequestCarriesTheContract) {
  SessionEvidence s;
  s.task = "t";
  s.plan_json = R"({"steps":[{"id":1,"description":"d","depends_on":[]}]})";
  s.final_answer = "42";
  s.execution_mode = "coach";
  s.expected_json = R"({"exact":"42"})";
  s.steps.push_back({1, "d", "out", 0.5});
  JudgeSpec spec;
  spec.rubric = "custom";
  spec.rubric_text = "Be strict.";
  auto base = session_judge_request(s, spec, "focus on safety");
  auto req = json::parse(sample_request(base, 0.5, false, {})).value();
  EXPECT_EQ(json::get_string(req, "level"), "session");
  EXPECT_EQ(json::get_string(req["rubric"], "name"), "custom");
  EXPECT_EQ(json::get_string(req["rubric"], "text"), "Be strict.");
  EXPECT_EQ(req["plan"]["steps"].Size(), 1u);
  EXPECT_EQ(json::get_string(req, "final_answer"), "42");
  EXPECT_EQ(json::get_string(req["expected"], "exact"), "42");
  EXPECT_EQ(json::get_string(req, "focus_prompt"), "focus on safety");
  EXPECT_EQ(json::get_double(req, "temperature"), 0.5);
  EXPECT_EQ(json::get_string(req, "model"), "small");
  EXPECT_EQ(json::get_string(req, "stage"), "tier1");
  EXPECT_FALSE(req.HasMember("samples"));
}

TEST(JudgeRequest, StepRequestCarriesTraceAndArbiterGetsSamples) {
  SessionEvidence s;
  s.task = "t";
  s.plan_json = "not json";  // shown as text rather than dropped
  s.expected_json = R"({"exact":"final"})";  // belongs to the final answer: not sent to step judges
  StepEvidence st;
  st.step_id = 4;
  st.description = "look up";
  st.output = "found";
  st.attempts = 2;
  st.guidance = {"use the index"};
  st.validation_json = R"({"valid":true})";
  llm::Message m;
  m.role = "assistant";
  m.tool_calls.push_back({"c1", "search", R"({"q":"x"})"});
  st.trace.messages.push_back(m);
  st.trace.tool_calls.push_back({"c1", "search", R"({"q":"x"})", "3 hits", false});
  JudgeSpec spec;
  spec.rubric = "process";
  auto base = step_judge_request(s, st, spec, "");
  JudgeSample a;
  a.score = 0.2;
  a.uncertainty = 0.6;
  a.rationale = "r";
  auto req = json::parse(sample_request(base, 0.3, true, {a})).value();
  EXPECT_EQ(json::get_string(req, "plan"), "not json");
  EXPECT_FALSE(req.HasMember("expected"));
  const auto& step = req["step"];
  EXPECT_EQ(json::get_int(step, "id"), 4);
  EXPECT_EQ(json::get_int(step, "attempts"), 2);
  EXPECT_EQ(json::get_string(step["guidance"][0], ""), "");
  EXPECT_EQ(std::string(step["guidance"][0].GetString()), "use the index");
  EXPECT_TRUE(json::get_bool(step["validation"], "valid"));
  EXPECT_EQ(json::get_string(step["trace"]["tool_calls"][0], "result"), "3 hits");
  EXPECT_EQ(json::get_string(step["trace"]["messages"][0]["tool_calls"][0]["arguments"], "q"), "x");
  EXPECT_FALSE(json::get_bool(step["trace"], "truncated", true));
  EXPECT_EQ(json::get_string(req, "model"), "large");
  EXPECT_EQ(json::get_string(req, "stage"), "arbiter");
  ASSERT_EQ(req["samples"].Size(), 1u);
  EXPECT_EQ(json::get_double(req["samples"][0], "score"), 0.2);
  EXPECT_EQ(json::get_int(req["samples"][0], "sample"), 0);
}

}  // namespace
}  // namespace atlas::rewards
