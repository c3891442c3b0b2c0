// The `verifiable` judge plugin, loaded from the build tree, with no model configured at all.
#include <gtest/gtest.h>

#include <chrono>

#include "judge_host.hpp"

namespace atlas::rewards {
namespace {

class VerifiableJudgeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Services that know no model: any llm_complete would fail.
    registry_ = testing::judge_registry(std::make_shared<testing::JudgeHostServices>(
                                            std::map<std::string, config::ModelConfig>{}),
                                        ATLAS_TEST_PLUGIN_DIR);
    ASSERT_NE(registry_, nullptr);
    ASSERT_NE(registry_->find(plugin::Kind::kJudge, "verifiable"), nullptr);
  }

  Result<RewardOutcome> judge(const std::string& expected_json, const std::string& answer,
                              const std::string& config = "{}") {
    RewardSettings settings;
    JudgeSpec spec;
    spec.plugin = "verifiable";
    spec.config_json = config;
    settings.session_judges = {spec};
    settings.cascade.escalation_enabled = false;  // no large model
    auto engine = RewardEngine::create(settings, registry_judge_resolver(*registry_));
    if (!engine) return engine.status();
    SessionEvidence s;
    s.session_id = "3";
    s.task = "Answer with the number";
    s.final_answer = answer;
    s.expected_json = expected_json;
    return engine.value()->judge_session(s);
  }

  std::string rationale(const RewardOutcome& out) { return out.judges.at(0).samples.at(0).rationale; }

  std::unique_ptr<plugin::Registry> registry_;
};

TEST_F(VerifiableJudgeTest, ScoresASessionWithoutAnyModel) {
  auto out = judge(R"({"exact":"42"})", "  42\n");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->score, 1.0);
  EXPECT_EQ(out->judge_calls, 1);  // deterministic: one sample, no escalation
  EXPECT_EQ(out->usage.judge.calls, 0);
  auto stats = json::parse(out->reward_stats_json).value();
  EXPECT_EQ(json::get_double(stats, "uncertainty_mean"), 0.0);
  auto wrong = judge(R"({"exact":"42"})", "41");
  ASSERT_TRUE(wrong.is_ok());
  EXPECT_EQ(wrong->score, 0.0);
  EXPECT_NE(rationale(*wrong).find("differs from the expected"), std::string::npos);
}

TEST_F(VerifiableJudgeTest, FractionOfChecksPassed) {
  auto out = judge(R"({"contains":["alpha","beta"],"regex":"^\\d+ items","exact":"nope"})", "12 items: alpha, beta");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_NEAR(out->score, 2.0 / 3.0, 1e-9);
  const std::string r = rationale(*out);
  EXPECT_NE(r.find("contains: passed"), std::string::npos);
  EXPECT_NE(r.find("regex: passed"), std::string::npos);
  EXPECT_NE(r.find("exact: FAILED"), std::string::npos);
}

TEST_F(VerifiableJudgeTest, JsonSchemaWithStdRegexPatterns) {
  const std::string schema =
      R"({"json_schema":{"type":"object","required":["id"],"properties":{"id":{"type":"string","pattern":"^\\d+$"}}}})";
  auto good = judge(schema, R"({"id":"123"})");
  ASSERT_TRUE(good.is_ok());
  EXPECT_EQ(good->score, 1.0);
  // \d must really be enforced (RapidJSON's internal regex would silently accept this).
  auto bad = judge(schema, R"({"id":"12a"})");
  ASSERT_TRUE(bad.is_ok());
  EXPECT_EQ(bad->score, 0.0);
  EXPECT_NE(rationale(*bad).find("pattern"), std::string::npos);
  auto fenced = judge(schema, "```json\n{\"id\":\"7\"}\n```");
  ASSERT_TRUE(fenced.is_ok());
  EXPECT_EQ(fenced->score, 1.0);
  auto not_json = judge(schema, "id is 7");
  ASSERT_TRUE(not_json.is_ok());
  EXPECT_EQ(not_json->score, 0.0);
}

TEST_F(VerifiableJudgeTest, CommandCheckGetsTheOutputOnStdinAndCapturesStdout) {
  auto out = judge(R"({"command":["sh","-c","read x; test \"$x\" = 42 && echo verified-$x"]})", "42");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->score, 1.0);
  EXPECT_NE(rationale(*out).find("verified-42"), std::string::npos);
  auto fail = judge(R"({"command":"read x; echo wrong >&2; exit 3"})", "41");
  ASSERT_TRUE(fail.is_ok());
  EXPECT_EQ(fail->score, 0.0);
  EXPECT_NE(rationale(*fail).find("exit code 3"), std::string::npos);
  EXPECT_NE(rationale(*fail).find("wrong"), std::string::npos);
}

TEST_F(VerifiableJudgeTest, CommandTimeoutKillsTheProgram) {
  const auto start = std::chrono::steady_clock::now();
  auto out = judge(R"({"command":["sh","-c","sleep 30 & sleep 30"],"timeout_seconds":0.5})", "x");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->score, 0.0);
  EXPECT_NE(rationale(*out).find("timed out"), std::string::npos);
  EXPECT_LT(secs, 10.0);
}

TEST_F(VerifiableJudgeTest, LargeOutputToAProgramThatIgnoresStdinDoesNotHang) {
  auto out = judge(R"({"command":["true"]})", std::string(1 << 20, 'y'));
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->score, 1.0);
}

TEST_F(VerifiableJudgeTest, ConfigChecksApplyWhenTheTaskGivesNone) {
  auto out = judge("", "the answer is 42", R"({"checks":{"regex":"\\b42\\b"}})");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->score, 1.0);
}

TEST_F(VerifiableJudgeTest, NothingToCheckOrBadRegexIsAnInvalidSampleWithTheReason) {
  auto none = judge("", "42");
  ASSERT_TRUE(none.is_ok());
  EXPECT_EQ(none->judges[0].samples[0].stage, "synthetic");
  EXPECT_NE(none->reward_audit_json.find("nothing to verify"), std::string::npos);
  auto bad = judge(R"({"regex":"(unclosed"})", "42");
  ASSERT_TRUE(bad.is_ok());
  EXPECT_EQ(bad->score, 0.0);
  EXPECT_NE(bad->reward_audit_json.find("not a valid ECMAScript regular expression"), std::string::npos);
}

TEST_F(VerifiableJudgeTest, BadConfigIsRefusedWhenTheEngineIsBuilt) {
  auto out = judge(R"({"exact":"42"})", "42", R"({"checkz":{}})");
  ASSERT_FALSE(out.is_ok());
  EXPECT_NE(out.status().message().find("rewards.session_judges[0]"), std::string::npos);
}

}  // namespace
}  // namespace atlas::rewards
