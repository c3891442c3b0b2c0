// [rewards] / [drift] config -> engine settings.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "rewards/from_config.hpp"

namespace atlas::rewards {
namespace {

TEST(FromConfig, JudgesRubricsAndThresholds) {
  config::Config c;
  c.rewards.samples = 5;
  c.rewards.temperatures = {0.1, 0.9};
  c.rewards.variance_threshold = 0.2;
  c.rewards.uncertainty_threshold = 0.4;
  c.rewards.judge_prompt = "focus";
  c.rewards.max_judge_calls_per_session = 12;
  c.rewards.rubrics["tone"].text = "Be polite.";
  config::JudgeSpec s;
  s.plugin = "llm";
  s.rubric = "tone";
  s.weight = 2.0;
  s.config_json = R"({"max_trace_chars": 1000})";
  c.rewards.session_judges = {s};
  config::JudgeSpec v;
  v.plugin = "verifiable";
  c.rewards.step_judges = {v};
  RewardSettings r = settings(c);
  EXPECT_EQ(r.cascade.samples, 5);
  EXPECT_EQ(r.cascade.temperatures, (std::vector<double>{0.1, 0.9}));
  EXPECT_EQ(r.cascade.variance_threshold, 0.2);
  EXPECT_EQ(r.cascade.uncertainty_threshold, 0.4);
  EXPECT_FALSE(r.cascade.escalation_enabled);  // no judge model configured
  EXPECT_EQ(r.focus_prompt, "focus");
  EXPECT_EQ(r.max_judge_calls_per_session, 12);
  ASSERT_EQ(r.session_judges.size(), 1u);
  EXPECT_EQ(r.session_judges[0].rubric_text, "Be polite.");
  EXPECT_EQ(r.session_judges[0].weight, 2.0);
  auto cfg = json::parse(r.session_judges[0].config_json).value();
  EXPECT_EQ(json::get_int(cfg, "max_trace_chars"), 1000);
  ASSERT_EQ(r.step_judges.size(), 1u);
  EXPECT_EQ(r.step_judges[0].plugin, "verifiable");

  c.rewards.large_model.model = "big";
  EXPECT_TRUE(settings(c).cascade.escalation_enabled);
}

// Regression: the runtime escalated with only [rewards.small_model] (the arbiter then runs on
// the small model) while the settings function said no; there is one answer now.
TEST(FromConfig, EscalationWithOnlyTheSmallModel) {
  config::Config c;
  c.rewards.small_model.model = "small";
  EXPECT_TRUE(settings(c).cascade.escalation_enabled);
}

TEST(FromConfig, Drift) {
  config::DriftConfig d;
  d.enabled = false;
  d.window = 20;
  d.z_threshold = 2.5;
  d.min_baseline = 3;
  DriftSettings s = drift_settings(d);
  EXPECT_FALSE(s.enabled);
  EXPECT_EQ(s.window, 20);
  EXPECT_EQ(s.z_threshold, 2.5);
  EXPECT_EQ(s.min_baseline, 3);
}

}  // namespace
}  // namespace atlas::rewards
