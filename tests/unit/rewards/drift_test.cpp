// Atlas's drift example (docs/rewards.md, "Drift"), adjusted for our baseline, which EXCLUDES the session
// being checked (Atlas's includes it): the rows below are earlier sessions only, so the
// baseline statistics are exactly those the Atlas test asserts (n=10, mean 0.8,
// pstdev 0.05) without the current session diluting them.
#include <gtest/gtest.h>

#include <cmath>

#include "rewards/drift.hpp"

namespace atlas::rewards {
namespace {

std::string stats(double score, double uncertainty = 0.1) {
  return R"({"score":)" + std::to_string(score) + R"(,"score_mean":)" + std::to_string(score) +
         R"(,"uncertainty_mean":)" + std::to_string(uncertainty) + R"(,"best_uncertainty":)" +
         std::to_string(uncertainty) + "}";
}

// Ten earlier sessions: five at 0.75 and five at 0.85 -> mean 0.8, population std-dev 0.05.
std::string baseline10() {
  std::string rows = "[";
  for (int i = 0; i < 10; ++i) rows += (i ? "," : "") + stats(i % 2 ? 0.85 : 0.75);
  return rows + "]";
}

TEST(Drift, ScoreZAlertVector) {
  auto r = check_drift_json(stats(1.0), baseline10(), DriftSettings{}, "key-1");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_TRUE(r->checked);
  EXPECT_EQ(r->baseline.sample_count, 10);
  EXPECT_NEAR(*r->baseline.score.mean, 0.8, 1e-9);
  EXPECT_NEAR(*r->baseline.score.stddev, 0.05, 1e-9);
  EXPECT_NEAR(*r->score_z, 4.0, 1e-6);
  EXPECT_NEAR(*r->score_delta, 0.2, 1e-9);
  EXPECT_TRUE(r->alert);
  EXPECT_EQ(r->reason, "score_z");
  EXPECT_EQ(r->message, "Reward drift alert (score_z)");
  auto p = json::parse(r->payload_json).value();
  EXPECT_TRUE(json::get_bool(p, "alert"));
  EXPECT_TRUE(json::get_bool(p, "drift_alert"));
  EXPECT_EQ(json::get_string(p, "reason"), "score_z");
  EXPECT_EQ(json::get_string(p, "learning_key"), "key-1");
  EXPECT_EQ(json::get_string(p, "message"), "Reward drift alert (score_z)");
  EXPECT_EQ(json::get_int(p["baseline"], "sample_count"), 10);
  EXPECT_NEAR(json::get_double(p["baseline"], "score_stddev"), 0.05, 1e-9);
  // MAD: median 0.8, every deviation 0.05 -> mad_z = 0.2 / (1.4826 * 0.05) = 2.698 (below 3)
  EXPECT_NEAR(*r->score_mad_z, 0.2 / (1.4826 * 0.05), 1e-6);
}

TEST(Drift, IncludingTheCurrentSessionWouldHideTheAlert) {
  // What Atlas computes: the same ten rows plus the current session's own 1.0 -> z ~ 2.54.
  std::string rows = baseline10();
  rows.insert(rows.size() - 1, "," + stats(1.0));
  auto atlas_like = check_drift_json(stats(1.0), rows, DriftSettings{}, "k");
  ASSERT_TRUE(atlas_like.is_ok());
  EXPECT_FALSE(atlas_like->alert);
  EXPECT_LT(*atlas_like->score_z, 3.0);
}

TEST(Drift, InsufficientBaselineVector) {
  auto r = check_drift_json(stats(1.0), "[" + stats(0.8) + "," + stats(0.8) + "]", DriftSettings{}, "k");
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->alert);
  EXPECT_EQ(r->reason, "insufficient_baseline");
  EXPECT_EQ(r->baseline.sample_count, 2);
  auto p = json::parse(r->payload_json).value();
  EXPECT_EQ(json::get_string(p, "reason"), "insufficient_baseline");
  EXPECT_FALSE(p.HasMember("message"));
}

TEST(Drift, MedianBasedAlertWhenStdDevIsInflatedByAnOutlier) {
  // Baseline: many 0.8s and one 0.0 outlier inflate the std-dev (z small), but the median/MAD
  // view sees the current 0.6 as far off: values 0.79..0.81 -> MAD 0.01.
  std::string rows = "[" + stats(0.0);
  for (double v : {0.79, 0.8, 0.81, 0.8, 0.79, 0.81, 0.8, 0.8}) rows += "," + stats(v);
  rows += "]";
  auto r = check_drift_json(stats(0.6), rows, DriftSettings{}, "k");
  ASSERT_TRUE(r.is_ok());
  EXPECT_LT(std::fabs(*r->score_z), 3.0);
  EXPECT_TRUE(r->alert);
  EXPECT_EQ(r->reason, "score_mad_z");
}

TEST(Drift, UncertaintyDrift) {
  std::string rows = "[";
  for (int i = 0; i < 6; ++i) rows += (i ? "," : "") + stats(0.8, i % 2 ? 0.12 : 0.08);
  rows += "]";
  auto r = check_drift_json(stats(0.8, 0.9), rows, DriftSettings{}, "k");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->alert);
  EXPECT_EQ(r->reason, "uncertainty_z");
  EXPECT_FALSE(r->score_z.has_value());  // baseline scores all equal: std-dev 0 -> no z
}

TEST(Drift, ThresholdIsInclusive) {
  DriftSettings s;
  s.z_threshold = 4.0;
  auto r = check_drift_json(stats(1.0), baseline10(), s, "k");
  ASSERT_TRUE(r.is_ok());
  // z = 4.0 (up to rounding) >= 4.0; floating noise may land either side, so test 3.999 instead
  s.z_threshold = 3.999;
  r = check_drift_json(stats(1.0), baseline10(), s, "k");
  EXPECT_TRUE(r->alert);
  s.z_threshold = 4.001;
  r = check_drift_json(stats(1.0), baseline10(), s, "k");
  EXPECT_FALSE(r->alert);
  EXPECT_TRUE(r->reason.empty());
}

TEST(Drift, StorageResponseShapeAndBadInput) {
  auto r = check_drift_json(stats(1.0), R"({"reward_stats":)" + baseline10() + "}", DriftSettings{}, "k");
  ASSERT_TRUE(r.is_ok());
  EXPECT_TRUE(r->alert);
  EXPECT_FALSE(check_drift_json("{", "[]", DriftSettings{}, "k").is_ok());
  auto bad = check_drift_json(stats(1.0), R"({"rows": []})", DriftSettings{}, "k");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("reward_stats"), std::string::npos);
}

TEST(Drift, DisabledDoesNothing) {
  DriftSettings s;
  s.enabled = false;
  auto r = check_drift_json(stats(1.0), baseline10(), s, "k");
  ASSERT_TRUE(r.is_ok());
  EXPECT_FALSE(r->checked);
  EXPECT_FALSE(r->alert);
  EXPECT_TRUE(r->payload_json.empty());
}

}  // namespace
}  // namespace atlas::rewards
