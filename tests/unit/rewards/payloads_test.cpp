// Atlas payload shapes (docs/rewards.md, "Payloads"): consumers read these keys.
#include <gtest/gtest.h>

#include <set>

#include "common/json.hpp"
#include "rewards/payloads.hpp"

namespace atlas::rewards {
namespace {

std::set<std::string> keys(const json::Value& v) {
  std::set<std::string> out;
  for (const auto& m : v.GetObject()) out.insert(m.name.GetString());
  return out;
}

RewardOutcome one_judge() {
  RewardOutcome out;
  JudgeVerdict v;
  v.identifier = "outcome";
  v.plugin = "llm";
  for (auto [s, u, r] : {std::tuple{0.8, 0.2, "a"}, std::tuple{0.6, 0.1, "b"}, std::tuple{0.7, 0.1, "c"}}) {
    JudgeSample js;
    js.score = s;
    js.uncertainty = u;
    js.rationale = r;
    js.temperature = 0.5;
    v.samples.push_back(js);
  }
  v.score = 0.7;
  out.judges.push_back(v);
  return out;
}

TEST(Payloads, RewardHasAtlasShape) {
  RewardOutcome out = one_judge();
  PayloadContext ctx;
  ctx.execution_mode = "paired";
  ctx.teacher_intervened = true;
  ctx.timestamp = "2026-11-25T21:00:00.000000Z";
  build_payloads(out, ctx, {R"({"stage":"tier1"})"});
  auto reward = json::parse(out.reward_json).value();
  EXPECT_EQ(keys(reward), (std::set<std::string>{"score", "rationale", "judges", "raw"}));
  EXPECT_TRUE(reward["rationale"].IsNull());
  const auto& j = reward["judges"][0];
  EXPECT_EQ(keys(j), (std::set<std::string>{"identifier", "score", "rationale", "principles", "samples", "escalated",
                                            "escalation_reason"}));
  // best = lowest uncertainty, first on ties -> "b"
  EXPECT_EQ(json::get_string(j, "rationale"), "b");
  EXPECT_TRUE(j["escalation_reason"].IsNull());
  EXPECT_EQ(keys(j["samples"][0]),
            (std::set<std::string>{"score", "rationale", "principles", "uncertainty", "temperature"}));
  const auto& raw = reward["raw"];
  EXPECT_EQ(json::get_string(raw, "execution_mode"), "paired");
  EXPECT_TRUE(json::get_bool(raw, "teacher_intervened"));
  EXPECT_TRUE(raw["focus_prompt"].IsNull());
  EXPECT_EQ(raw["samples"].Size(), 3u);
  EXPECT_EQ(keys(raw["samples"][0]), (std::set<std::string>{"score", "uncertainty"}));

  auto stats = json::parse(out.reward_stats_json).value();
  EXPECT_EQ(keys(stats), (std::set<std::string>{"score", "score_mean", "score_stddev", "sample_count",
                                                "uncertainty_mean", "uncertainty_stddev", "best_uncertainty",
                                                "timestamp"}));
  EXPECT_NEAR(json::get_double(stats, "score"), 0.7, 1e-9);
  EXPECT_NEAR(json::get_double(stats, "uncertainty_mean"), 0.4 / 3, 1e-9);
  EXPECT_NEAR(json::get_double(stats, "best_uncertainty"), 0.1, 1e-9);

  auto audit = json::parse(out.reward_audit_json).value();
  ASSERT_TRUE(audit.IsArray());
  EXPECT_EQ(audit.Size(), 1u);

  auto summary = json::parse(out.reward_summary_json).value();
  EXPECT_EQ(keys(summary), (std::set<std::string>{"score", "score_stddev", "uncertainty_mean", "uncertainty_stddev"}));
}

TEST(Payloads, SingleSampleHasZeroSpread) {
  RewardOutcome out;
  JudgeVerdict v;
  v.identifier = "x";
  JudgeSample s;
  s.score = 0.4;
  s.uncertainty = 0.3;
  v.samples = {s};
  v.score = 0.4;
  out.judges = {v};
  build_payloads(out, {}, {});
  auto stats = json::parse(out.reward_stats_json).value();
  EXPECT_EQ(json::get_double(stats, "score_stddev"), 0.0);
  EXPECT_EQ(json::get_double(stats, "uncertainty_stddev"), 0.0);
  EXPECT_EQ(json::get_int(stats, "sample_count"), 1);
}

TEST(Payloads, CombineUsesNormalisedWeights) {
  JudgeVerdict a, b, c;
  a.weight = 2.0;
  a.score = 1.0;
  b.weight = 1.0;
  b.score = 0.4;
  c.weight = 1.0;
  c.score = 0.0;
  EXPECT_NEAR(combine_scores({a, b, c}), (2.0 + 0.4) / 4.0, 1e-12);
  EXPECT_EQ(combine_scores({}), 0.0);
}

// One judge's outage (only the synthetic 0.0 sample) used to pull the weighted reward down as if
// it had scored 0.0; it has no opinion, so it is left out while another judge has a verdict.
TEST(Payloads, AJudgeWithoutAValidSampleIsLeftOutOfTheCombination) {
  JudgeVerdict ok, down;
  ok.weight = 1.0;
  ok.score = 0.9;
  ok.samples.push_back(JudgeSample{0.9, 0.1, "fine", "[]", 0.2, "tier1"});
  down.weight = 3.0;
  down.score = 0.0;
  down.samples.push_back(JudgeSample{0.0, 1.0, "no valid sample", "[]", std::nullopt, "synthetic"});
  EXPECT_TRUE(ok.has_verdict());
  EXPECT_FALSE(down.has_verdict());
  EXPECT_NEAR(combine_scores({ok, down}), 0.9, 1e-12);
  EXPECT_NEAR(combine_scores({down, ok}), 0.9, 1e-12);
  // Nobody has a verdict: Atlas's 0.0 stays (the runtime stores no reward for it anyway).
  EXPECT_EQ(combine_scores({down, down}), 0.0);
}

TEST(Payloads, SkippedStepKeepsAtlasPlaceholderShapeWithReason) {
  auto d = json::parse(skipped_step_reward(3, "budget")).value();
  EXPECT_EQ(json::get_double(d, "score"), 0.0);
  EXPECT_TRUE(d["judges"].IsArray());
  EXPECT_EQ(d["judges"].Size(), 0u);
  EXPECT_TRUE(json::get_bool(d["raw"], "skipped"));
  EXPECT_EQ(json::get_string(d["raw"], "reason"), "budget");
  EXPECT_EQ(json::get_int(d["raw"], "step_id"), 3);
}

}  // namespace
}  // namespace atlas::rewards
