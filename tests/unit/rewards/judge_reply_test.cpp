// Robust parsing of judge model replies (plugins/judges/llm/judge_reply.cpp).
#include <gtest/gtest.h>

#include "judge_reply.hpp"

namespace atlas_judge_llm {
namespace {

TEST(JudgeReply, PlainObject) {
  auto r = parse_reply(R"({"principles":[{"name":"c","weight":1,"description":"x"}],"score":0.8,"rationale":"fine","uncertainty":0.1})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_DOUBLE_EQ(r.score, 0.8);
  EXPECT_DOUBLE_EQ(r.uncertainty, 0.1);
  EXPECT_EQ(r.rationale, "fine");
  EXPECT_NE(r.principles_json.find("\"c\""), std::string::npos);
}

TEST(JudgeReply, FencesProseAndTrailingCommas) {
  auto r = parse_reply("Sure! Here is the evaluation.\n```json\n{\n  \"score\": 0.6,\n  \"uncertainty\": 0.2,\n  "
                       "\"rationale\": \"has {braces} inside\",\n}\n```\nLet me know.");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_DOUBLE_EQ(r.score, 0.6);
  EXPECT_EQ(r.rationale, "has {braces} inside");
  auto prose = parse_reply("My answer: {\"score\": 0.3, \"uncertainty\": 0.5} -- done");
  ASSERT_TRUE(prose.ok) << prose.error;
  EXPECT_DOUBLE_EQ(prose.score, 0.3);
}

TEST(JudgeReply, PrefersTheObjectWithAScore) {
  auto r = parse_reply(R"(Context {"note": 1} then {"score": 0.9, "uncertainty": 0.0})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_DOUBLE_EQ(r.score, 0.9);
}

TEST(JudgeReply, ScoreForms) {
  struct Case {
    const char* score;
    bool ok;
    double value;
  };
  for (const Case& c : {Case{"\"0.7\"", true, 0.7}, Case{"\"85%\"", true, 0.85}, Case{"\"4/5\"", true, 0.8},
                        Case{"1.02", true, 1.0}, Case{"-0.01", true, 0.0}, Case{"7", false, 0},
                        Case{"85", false, 0}, Case{"\"high\"", false, 0}, Case{"null", false, 0},
                        Case{"\"120%\"", false, 0}, Case{"true", false, 0}}) {
    auto r = parse_reply(std::string(R"({"score": )") + c.score + R"(, "uncertainty": 0.1})");
    EXPECT_EQ(r.ok, c.ok) << c.score << " -> " << r.error;
    if (c.ok && r.ok) {
      EXPECT_NEAR(r.score, c.value, 1e-12) << c.score;
    }
    if (!c.ok) {
      EXPECT_NE(r.error.find("score"), std::string::npos) << r.error;
    }
  }
}

TEST(JudgeReply, UnusableRepliesSayWhy) {
  EXPECT_NE(parse_reply("").error.find("empty"), std::string::npos);
  EXPECT_NE(parse_reply("It was good.").error.find("no JSON object"), std::string::npos);
  EXPECT_NE(parse_reply(R"({"score": 0.5})").error.find("uncertainty"), std::string::npos);
  EXPECT_NE(parse_reply(R"({"verdict": "fine"})").error.find("score"), std::string::npos);
  EXPECT_FALSE(parse_reply("{\"score\": 0.5, \"uncertainty\": ").ok);
}

TEST(JudgeReply, MalformedPrinciplesAreDropped) {
  auto r = parse_reply(R"({"score":0.5,"uncertainty":0.1,"principles":[{"name":"a","weight":"0.5"},{"weight":1},"x",
                          {"name":"b","weight":0.5,"description":["list"]}]})");
  ASSERT_TRUE(r.ok);
  EXPECT_EQ(r.principles_json,
            R"([{"name":"a","weight":0.5,"description":""},{"name":"b","weight":0.5,"description":"[\"list\"]"}])");
}

}  // namespace
// A reply nested 200,000 levels deep fails with the reason, in one scan (no rescans of its
// 200,000 inner objects), instead of overflowing the plugin's stack.
TEST(JudgeReply, DeepNestingIsRejectedWithTheReason) {
  std::string nest;
  for (int i = 0; i < 200000; ++i) nest += "{\"a\":";
  nest += "1" + std::string(200000, '}');
  for (const std::string& reply : {"{\"score\": " + std::string(200000, '[') + std::string(200000, ']') + "}",
                                   "```json\n" + nest + "\n```", nest}) {
    auto r = parse_reply(reply);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.error, "the reply's JSON is nested deeper than 256 levels of arrays/objects");
  }
  EXPECT_FALSE(parse_reply(std::string(400000, '{') + "{\"score\": 0.5}").ok);  // ends: the scan has a budget
}

}  // namespace atlas_judge_llm
