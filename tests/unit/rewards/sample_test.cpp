#include <gtest/gtest.h>

#include "rewards/sample.hpp"

namespace atlas::rewards {
namespace {

TEST(Sample, ParsesContractAndKeepsOnlyWellFormedPrinciples) {
  auto r = parse_judge_response(
      R"({"score":0.75,"uncertainty":0.2,"rationale":"fine","model":"gpt-x","raw_response":"{...}",
          "principles":[{"name":"correctness","weight":0.6,"description":"right"},
                        {"name":"no weight"},{"weight":0.4},{"name":"n","weight":0.4,"description":{"k":1}}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->sample.score, 0.75);
  EXPECT_EQ(r->sample.uncertainty, 0.2);
  EXPECT_EQ(r->sample.rationale, "fine");
  EXPECT_EQ(r->model, "gpt-x");
  auto p = json::parse(r->sample.principles_json).value();
  ASSERT_EQ(p.Size(), 2u);
  EXPECT_EQ(json::get_string(p[1], "description"), R"({"k":1})");
}

TEST(Sample, RejectsWhatIsNotASample) {
  for (const char* bad : {"", "[1,2]", "nope", R"({"score":0.5})", R"({"uncertainty":0.5})",
                          R"({"score":"0.5","uncertainty":0.1})", R"({"score":1.5,"uncertainty":0.1})",
                          R"({"score":0.5,"uncertainty":-0.1})"}) {
    auto r = parse_judge_response(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

JudgeSample s(double score, double unc) {
  JudgeSample x;
  x.score = score;
  x.uncertainty = unc;
  return x;
}

TEST(Sample, EscalationRule) {
  EXPECT_FALSE(should_escalate({}, 0.15, 0.3));
  EXPECT_FALSE(should_escalate({s(0.0, 0.9)}, 0.15, 0.3));  // one valid sample never escalates
  EXPECT_FALSE(should_escalate({s(0.35, 0.1), s(0.65, 0.1)}, 0.15, 0.3));       // pstdev exactly 0.15
  EXPECT_TRUE(should_escalate({s(0.35, 0.1), s(0.6500001, 0.1)}, 0.15, 0.3));   // just above
  EXPECT_FALSE(should_escalate({s(0.5, 0.3), s(0.5, 0.1)}, 0.15, 0.3));         // uncertainty exactly 0.3
  EXPECT_TRUE(should_escalate({s(0.5, 0.3000001), s(0.5, 0.1)}, 0.15, 0.3));    // just above
  EXPECT_TRUE(should_escalate({s(0.9, 0.1), s(0.5, 0.1), s(0.4, 0.1)}, 0.15, 0.3));  // Atlas's example: 0.2160
}

TEST(Sample, SyntheticSampleIsAtlas) {
  JudgeSample x = synthetic_sample();
  EXPECT_EQ(x.score, 0.0);
  EXPECT_EQ(x.uncertainty, 1.0);
  EXPECT_EQ(x.rationale, "No valid reward sample produced.");
  EXPECT_EQ(x.principles_json, "[]");
}

}  // namespace
}  // namespace atlas::rewards
