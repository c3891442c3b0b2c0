// Prompts of the llm judge (plugins/judges/llm/judge_prompt.cpp).
#include <gtest/gtest.h>

#include "judge_prompt.hpp"

namespace atlas_judge_llm {
namespace {

rapidjson::Document doc(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.c_str());
  EXPECT_FALSE(d.HasParseError()) << s;
  return d;
}

TEST(JudgePrompt, TruncateMiddleMarksWhatIsMissing) {
  bool cut = false;
  std::string s = "HEAD" + std::string(1000, '.') + "TAIL";
  std::string t = truncate_middle(s, 100, &cut);
  EXPECT_TRUE(cut);
  EXPECT_EQ(t.rfind("HEAD", 0), 0u);
  EXPECT_EQ(t.substr(t.size() - 4), "TAIL");
  EXPECT_NE(t.find("TRUNCATED: 908 characters omitted"), std::string::npos);
  bool not_cut = false;
  EXPECT_EQ(truncate_middle("short", 100, &not_cut), "short");
  EXPECT_FALSE(not_cut);
}

TEST(JudgePrompt, StepPromptShowsTraceToolResultsAndOutput) {
  auto req = doc(R"({"level":"step","rubric":{"name":"process","text":""},"task":"T",
    "step":{"id":2,"description":"fetch","output":"OUT","attempts":2,"guidance":["retry with page 2"],
            "trace":{"messages":[{"role":"assistant","content":"calling","tool_calls":[{"id":"1","name":"get","arguments":{"p":2}}]},
                                 {"role":"tool","name":"get","content":"PAGE-2-BODY"}],
                     "tool_calls":[{"name":"get","arguments":{"p":2},"result":"PAGE-2-BODY","is_error":false},
                                   {"name":"get","arguments":{"p":3},"result":"404","is_error":true}]}}})");
  Prompt p = build_prompt(req, PromptLimits{});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_NE(p.system.find("Rubric \"process\""), std::string::npos);
  EXPECT_NE(p.system.find("ONE STEP"), std::string::npos);
  EXPECT_NE(p.user.find("PAGE-2-BODY"), std::string::npos);
  EXPECT_NE(p.user.find("ERROR: 404"), std::string::npos);
  EXPECT_NE(p.user.find("retry with page 2"), std::string::npos);
  EXPECT_NE(p.user.find("## Step output\nOUT"), std::string::npos);
  EXPECT_NE(p.user.find("attempts: 2"), std::string::npos);
  EXPECT_FALSE(p.trace_truncated);
}

TEST(JudgePrompt, TraceBudgetIsEnforcedAndFlagged) {
  std::string big(30000, 'z');
  auto req = doc(R"({"level":"step","step":{"id":1,"description":"d","output":"o","trace":{"tool_calls":[{"name":"a","arguments":{},"result":")" +
                 big + R"("},{"name":"b","arguments":{},"result":"LAST-RESULT"}]}}})");
  PromptLimits limits;
  limits.max_trace_chars = 2000;
  Prompt p = build_prompt(req, limits);
  ASSERT_TRUE(p.ok);
  EXPECT_TRUE(p.trace_truncated);
  EXPECT_LT(p.user.size(), 4000u);
  EXPECT_NE(p.user.find("Trace (TRUNCATED"), std::string::npos);
  EXPECT_NE(p.user.find("LAST-RESULT"), std::string::npos);  // the tail survives
}

TEST(JudgePrompt, SessionPromptAndArbiter) {
  auto req = doc(R"({"level":"session","stage":"arbiter","model":"large","rubric":{"name":"outcome"},"task":"T",
    "steps":[{"id":1,"description":"d1","output_summary":"s1","reward":0.5}],"final_answer":"FA","expected":{"exact":"FA"},
    "samples":[{"sample":0,"score":0.9,"uncertainty":0.1,"rationale":"R0"}],"focus_prompt":"FOCUS"})");
  Prompt p = build_prompt(req, PromptLimits{});
  ASSERT_TRUE(p.ok) << p.error;
  EXPECT_NE(p.system.find("senior arbiter"), std::string::npos);
  EXPECT_NE(p.system.find("FOCUS"), std::string::npos);
  EXPECT_NE(p.user.find("step reward: 0.5"), std::string::npos);
  EXPECT_NE(p.user.find("## Final answer\nFA"), std::string::npos);
  EXPECT_NE(p.user.find("Expected answer"), std::string::npos);
  EXPECT_NE(p.user.find("\"R0\""), std::string::npos);
}

TEST(JudgePrompt, RubricResolution) {
  auto builtin = build_prompt(doc(R"({"level":"session","rubric":{"name":"helpfulness"}})"), PromptLimits{});
  ASSERT_TRUE(builtin.ok);
  EXPECT_NE(builtin.system.find("useful"), std::string::npos);
  auto defaulted = build_prompt(doc(R"({"level":"step","step":{"id":1}})"), PromptLimits{});
  ASSERT_TRUE(defaulted.ok);
  EXPECT_EQ(defaulted.rubric_name, "process");
  auto from_config = build_prompt(doc(R"({"level":"session","rubric":{"name":"tone"}})"), PromptLimits{}, "BE KIND");
  ASSERT_TRUE(from_config.ok);
  EXPECT_NE(from_config.system.find("BE KIND"), std::string::npos);
  auto unknown = build_prompt(doc(R"({"level":"session","rubric":{"name":"tone"}})"), PromptLimits{});
  EXPECT_FALSE(unknown.ok);
  EXPECT_NE(unknown.error.find("[rewards.rubrics.tone]"), std::string::npos);
  auto bad_level = build_prompt(doc(R"({"level":"epoch"})"), PromptLimits{});
  EXPECT_FALSE(bad_level.ok);
  auto no_step = build_prompt(doc(R"({"level":"step"})"), PromptLimits{});
  EXPECT_FALSE(no_step.ok);
}

}  // namespace
}  // namespace atlas_judge_llm
