// The pieces export rows are built from: step and session reward fields, format schemas.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "data/session_trace.hpp"

namespace atlas::data {
namespace {

TEST(StepScore, AnUnjudgedStepsPlaceholderIsNotAScore) {
  auto judged = json::parse(R"({"evaluation":{"reward":{"score":0.75}}})").value();
  auto placeholder = json::parse(
                         R"({"evaluation":{"reward":{"score":0.0,"rationale":"not_judged",
                              "raw":{"skipped":true,"reason":"no_rewards"}}}})")
                         .value();
  auto none = json::parse(R"({"evaluation":{}})").value();
  EXPECT_EQ(step_score(judged), 0.75);
  EXPECT_FALSE(step_score(placeholder).has_value());
  EXPECT_FALSE(step_score(none).has_value());
}

TEST(SessionUncertainty, ComesFromRewardStats) {
  auto with = json::parse(R"({"reward_stats":{"score":0.5,"uncertainty_mean":0.2}})").value();
  auto without = json::parse(R"({"reward_stats":{"score":0.5}})").value();
  EXPECT_EQ(session_uncertainty(with), 0.2);
  EXPECT_FALSE(session_uncertainty(without).has_value());
}

}  // namespace
}  // namespace atlas::data
