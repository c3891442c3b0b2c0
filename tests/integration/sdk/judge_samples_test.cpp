// A judge written from the words of atlas/plugin_abi.h (ATLAS_CAP_JUDGE_SAMPLES), loaded as a
// real .so and run through the rewards cascade: what the header tells vendors must be what the
// host reads.
#include <gtest/gtest.h>

#include <filesystem>

#include "plugin/registry.hpp"
#include "rewards/from_config.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {
namespace {

TEST(JudgeSamplesPerHeader, EverySampleOfTheRepliesArrayIsScored) {
  plugin::Registry registry;
  plugin::RegistryOptions opts;
  opts.use_default_dirs = false;
  opts.files = {std::filesystem::path(ATLAS_TEST_FIXTURE_DIR) / "fixture_judge_samples.so"};
  ASSERT_TRUE(registry.discover(opts).is_ok());
  ASSERT_NE(registry.find(plugin::Kind::kJudge, "judge_samples"), nullptr)
      << (registry.diagnostics().empty() ? std::string("no diagnostics") : registry.diagnostics()[0].message);

  RewardSettings settings;  // three tier-1 samples at 0.2, 0.5 and 0.8
  JudgeSpec spec;
  spec.plugin = "judge_samples";
  spec.rubric = "outcome";
  settings.session_judges = {spec};
  auto engine = RewardEngine::create(settings, registry_judge_resolver(registry));
  ASSERT_TRUE(engine.is_ok()) << engine.status().to_string();

  SessionEvidence session;
  session.session_id = "7";
  session.task = "What is 6 times 7?";
  session.final_answer = "42";
  session.execution_mode = "auto";
  auto out = (*engine)->judge_session(session);
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  ASSERT_EQ(out->judges.size(), 1u);
  // Only the "replies" path can produce the failed sample: asked one temperature at a time, the
  // fixture answers every request with a plain reply.
  EXPECT_EQ(out->judges[0].tier1_valid, 2) << out->reward_audit_json;
  EXPECT_EQ(out->judges[0].tier1_invalid, 1) << "the {\"error\"} entry is one failed sample";
  EXPECT_NEAR(out->score, 0.7, 1e-9);
  EXPECT_NE(out->reward_audit_json.find("sample model overloaded"), std::string::npos) << out->reward_audit_json;
}

}  // namespace
}  // namespace atlas::rewards
