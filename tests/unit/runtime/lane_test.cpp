#include <gtest/gtest.h>

#include "runtime/lane.hpp"

namespace atlas::runtime {
namespace {

ProbeFn answering(std::optional<std::string> mode, std::optional<double> confidence, int* calls = nullptr) {
  return [=]() -> Result<ProbeAnswer> {
    if (calls) ++*calls;
    ProbeAnswer a;
    a.mode = mode;
    a.confidence = confidence;
    return a;
  };
}

TEST(Lane, DecisionOrder) {
  config::OrchestrationConfig orch;
  config::RoutingConfig routing;
  int calls = 0;
  orch.forced_mode = config::Lane::kCoach;
  EXPECT_EQ(decide_lane(orch, routing, 5, answering("auto", 1.0, &calls)).source, "forced");
  orch.forced_mode.reset();
  routing.mode_override = config::Lane::kAuto;
  EXPECT_EQ(decide_lane(orch, routing, 5, answering("coach", 0.1, &calls)).lane, config::Lane::kAuto);
  routing.mode_override.reset();
  LaneDecision none = decide_lane(orch, routing, 0, answering("auto", 1.0, &calls));
  EXPECT_EQ(none.lane, config::Lane::kPaired);
  EXPECT_EQ(none.source, "no_learning_history");
  EXPECT_EQ(calls, 0) << "the probe must not run without history";
  EXPECT_EQ(decide_lane(orch, routing, 3, answering("coach", 0.9, &calls)).lane, config::Lane::kCoach);
  EXPECT_EQ(calls, 1);
  routing.enabled = false;
  EXPECT_EQ(decide_lane(orch, routing, 3, answering("auto", 1, &calls)).source, "adaptive_disabled");
}

TEST(Lane, ConfidenceThresholdsAreConfigurable) {
  config::OrchestrationConfig orch;
  config::RoutingConfig routing;
  EXPECT_EQ(decide_lane(orch, routing, 1, answering(std::nullopt, 0.85)).lane, config::Lane::kAuto);
  EXPECT_EQ(decide_lane(orch, routing, 1, answering(std::nullopt, 0.84)).lane, config::Lane::kPaired);
  EXPECT_EQ(decide_lane(orch, routing, 1, answering(std::nullopt, 0.64)).lane, config::Lane::kCoach);
  routing.thresholds.auto_ = 0.95;
  EXPECT_EQ(decide_lane(orch, routing, 1, answering(std::nullopt, 0.9)).lane, config::Lane::kPaired);
}

TEST(Lane, ProbeFailureFailsOpenToFallback) {
  config::OrchestrationConfig orch;
  config::RoutingConfig routing;
  routing.fallback_mode = config::Lane::kCoach;
  LaneDecision d = decide_lane(orch, routing, 2, []() -> Result<ProbeAnswer> { return unavailable("no key"); });
  EXPECT_EQ(d.lane, config::Lane::kCoach);
  EXPECT_EQ(d.source, "probe_failed");
  EXPECT_NE(d.probe_error.find("no key"), std::string::npos);
  EXPECT_EQ(decide_lane(orch, routing, 2, answering(std::nullopt, std::nullopt)).source, "probe_fallback");
}

TEST(Lane, ProbeReplyNormalisation) {
  auto a = parse_probe_reply(R"({"mode":"AUTO","confidence":1.7})");
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(*a->mode, "auto");
  EXPECT_DOUBLE_EQ(*a->confidence, 1.0);
  auto b = parse_probe_reply(R"({"mode":"escalate","confidence":null})");
  EXPECT_FALSE(b->mode.has_value());
  EXPECT_FALSE(b->confidence.has_value());
}

}  // namespace
}  // namespace atlas::runtime
