// The judge cascade through RewardEngine::judge_session with in-process judges.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>

#include "fake_judge.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {
namespace {

using testing::by_temperature;
using testing::FakeJudge;
using testing::reply;

SessionEvidence session() {
  SessionEvidence s;
  s.session_id = "7";
  s.task = "Sum 2 and 3";
  s.final_answer = "5";
  s.execution_mode = "auto";
  return s;
}

JudgeSpec outcome_spec(double weight = 1.0) {
  JudgeSpec s;
  s.plugin = "fake";
  s.rubric = "outcome";
  s.weight = weight;
  return s;
}

RewardOutcome judge_one(FakeJudge& fake, CascadeSettings cascade = {}) {
  RewardSettings settings;
  settings.cascade = cascade;
  RewardEngine engine(settings, {fake.bind(outcome_spec())}, {});
  auto out = engine.judge_session(session());
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return std::move(out).value();
}

json::Document doc(const std::string& text) { return std::move(json::parse(text).value()); }

// Atlas's worked example (docs/rewards.md): 0.8/0.7/0.6 with uncertainty 0.1 and thresholds 1.0 -> no escalation.
TEST(Cascade, WorkedExampleWithLooseThresholds) {
  FakeJudge fake;
  fake.respond = by_temperature(0.8, 0.7, 0.6, 0.1);
  CascadeSettings c;
  c.variance_threshold = 1.0;
  c.uncertainty_threshold = 1.0;
  RewardOutcome out = judge_one(fake, c);
  EXPECT_EQ(fake.calls.load(), 3);
  EXPECT_NEAR(out.score, 0.7, 1e-9);
  EXPECT_TRUE(out.has_verdict());
  EXPECT_FALSE(out.escalated);
  auto stats = doc(out.reward_stats_json);
  EXPECT_NEAR(json::get_double(stats, "score_stddev"), 0.08165, 1e-5);
  EXPECT_EQ(json::get_int(stats, "sample_count"), 3);
  EXPECT_NEAR(json::get_double(stats, "best_uncertainty"), 0.1, 1e-9);
  auto reward = doc(out.reward_json);
  const auto& judge = reward["judges"][0];
  // best = the first sample on ties: the T=0.2 call
  EXPECT_EQ(json::get_string(judge, "rationale"), "t0.2");
  EXPECT_NEAR(judge["samples"][0]["score"].GetDouble(), 0.8, 1e-9);
}

TEST(Cascade, WorkedExampleWithDefaultThresholdsDoesNotEscalate) {
  FakeJudge fake;
  fake.respond = by_temperature(0.8, 0.7, 0.6, 0.1);
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(fake.calls.load(), 3);
  EXPECT_FALSE(out.escalated);
  EXPECT_NEAR(out.score, 0.7, 1e-9);
}

TEST(Cascade, WideSpreadEscalatesAndArbiterScoreWins) {
  FakeJudge fake;
  fake.respond = by_temperature(0.9, 0.5, 0.4, 0.1, /*arbiter=*/0.42);  // pstdev 0.2160
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(fake.calls.load(), 4);
  EXPECT_TRUE(out.escalated);
  EXPECT_NEAR(out.score, 0.42, 1e-9);
  auto reward = doc(out.reward_json);
  EXPECT_EQ(json::get_string(reward["judges"][0], "escalation_reason"), "tier1_variance_or_uncertainty");
  EXPECT_EQ(reward["judges"][0]["samples"].Size(), 1u);
  EXPECT_EQ(json::get_int(doc(out.reward_stats_json), "sample_count"), 1);
  // The arbiter saw the three tier-1 samples, at temperature 0.3 on the large model.
  auto reqs = fake.parsed_requests();
  const json::Document* arb = nullptr;
  for (const auto& r : reqs) {
    if (json::get_string(r, "stage") == "arbiter") arb = &r;
  }
  ASSERT_NE(arb, nullptr);
  EXPECT_EQ(json::get_string(*arb, "model"), "large");
  EXPECT_NEAR(json::get_double(*arb, "temperature"), 0.3, 1e-9);
  EXPECT_EQ((*arb)["samples"].Size(), 3u);
  auto audit = doc(out.reward_audit_json);
  ASSERT_EQ(audit.Size(), 4u);
  EXPECT_EQ(json::get_string(audit[3], "stage"), "arbiter");
}

// Escalation boundaries: exactly at a threshold does not escalate, just above does.
struct BoundaryCase {
  double a, b, c, unc;
  bool escalates;
};
class EscalationBoundary : public ::testing::TestWithParam<BoundaryCase> {};

TEST_P(EscalationBoundary, StrictlyGreaterThanThreshold) {
  const auto p = GetParam();
  FakeJudge fake;
  fake.respond = by_temperature(p.a, p.b, p.c, p.unc);
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(out.escalated, p.escalates);
  EXPECT_EQ(fake.calls.load(), p.escalates ? 4 : 3);
}

INSTANTIATE_TEST_SUITE_P(
    Thresholds, EscalationBoundary,
    ::testing::Values(
        // scores 0.35/0.65/0.5: pstdev = sqrt(0.045/3) = 0.1225 -> no
        BoundaryCase{0.35, 0.65, 0.5, 0.1, false},
        // 0.35/0.65/0.35: mean 0.45, pstdev = sqrt((0.01+0.04+0.01)/3)=0.1414 -> no
        BoundaryCase{0.35, 0.65, 0.35, 0.1, false},
        // 0.2/0.5/0.5 + mean .4: devs .2,.1,.1 -> pstdev sqrt(0.06/3)=0.1414 no; 0.2/0.5/0.55: 0.1546 yes
        BoundaryCase{0.2, 0.5, 0.55, 0.1, true},
        // uncertainty exactly 0.3 -> no; 0.3000001 and 0.31 -> yes
        BoundaryCase{0.7, 0.7, 0.7, 0.3, false}, BoundaryCase{0.7, 0.7, 0.7, 0.31, true},
        BoundaryCase{0.7, 0.7, 0.7, 0.3000001, true}));

// Population std-dev of exactly 0.15: two samples 0.35 and 0.65 (third invalid).
TEST(Cascade, SpreadExactlyAtThresholdDoesNotEscalate) {
  for (double hi : {0.65, 0.6500001}) {
    FakeJudge fake;
    fake.respond = [hi](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
      if (json::get_string(d, "stage") == "arbiter") return reply(0.5, 0.0);
      const double t = json::get_double(d, "temperature");
      if (t < 0.3) return reply(0.35, 0.1);
      if (t < 0.6) return reply(hi, 0.1);
      return Status(StatusCode::kInvalidArgument, "unusable reply");
    };
    RewardOutcome out = judge_one(fake);
    EXPECT_EQ(out.escalated, hi > 0.65) << "hi=" << hi;
  }
}

TEST(Cascade, OneValidSampleNeverEscalates) {
  FakeJudge fake;
  fake.respond = [](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
    if (json::get_double(d, "temperature") < 0.3) return reply(0.9, 0.9);
    return std::string("not json at all");
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(fake.calls.load(), 3);
  EXPECT_FALSE(out.escalated);
  EXPECT_NEAR(out.score, 0.9, 1e-9);
  EXPECT_EQ(out.judges[0].tier1_valid, 1);
  EXPECT_EQ(out.judges[0].tier1_invalid, 2);
  auto audit = doc(out.reward_audit_json);
  ASSERT_EQ(audit.Size(), 3u);
  EXPECT_TRUE(audit[1].HasMember("error"));
}

TEST(Cascade, NoValidSampleGivesSyntheticSample) {
  FakeJudge fake;
  fake.respond = [](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    return Status(StatusCode::kUnavailable, "provider down");
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(fake.calls.load(), 3);  // no arbiter
  EXPECT_FALSE(out.escalated);
  EXPECT_EQ(out.score, 0.0);
  auto stats = doc(out.reward_stats_json);
  EXPECT_EQ(json::get_double(stats, "uncertainty_mean"), 1.0);
  auto reward = doc(out.reward_json);
  EXPECT_EQ(json::get_string(reward["judges"][0], "rationale"), "No valid reward sample produced.");
  auto audit = doc(out.reward_audit_json);
  EXPECT_NE(json::get_string(audit[0], "error").find("provider down"), std::string::npos);
  // A judge outage is not a verdict: the runtime stores no reward, with this reason.
  EXPECT_FALSE(out.has_verdict());
  EXPECT_NE(out.no_verdict_reason().find("no judge produced a valid verdict"), std::string::npos);
  EXPECT_NE(out.no_verdict_reason().find("provider down"), std::string::npos) << out.no_verdict_reason();
}

TEST(Cascade, OutOfRangeScoresAreInvalidSamples) {
  FakeJudge fake;
  fake.respond = [](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
    const double t = json::get_double(d, "temperature");
    if (t < 0.3) return std::string(R"({"score": 8, "uncertainty": 0.1})");
    if (t < 0.6) return std::string(R"({"score": "0.8", "uncertainty": 0.1})");
    return std::string(R"({"score": 0.6})");  // no uncertainty
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(out.judges[0].tier1_valid, 0);
  EXPECT_EQ(out.score, 0.0);
  auto audit = doc(out.reward_audit_json);
  EXPECT_NE(json::get_string(audit[0], "error").find("outside [0, 1]"), std::string::npos);
  EXPECT_NE(json::get_string(audit[2], "error").find("uncertainty"), std::string::npos);
}

TEST(Cascade, FailedArbiterKeepsTier1Samples) {
  FakeJudge fake;
  fake.respond = [](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
    if (json::get_string(d, "stage") == "arbiter") return Status(StatusCode::kDeadlineExceeded, "arbiter timed out");
    const double t = json::get_double(d, "temperature");
    return reply(t < 0.3 ? 0.9 : t < 0.6 ? 0.5 : 0.4, 0.1);
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(fake.calls.load(), 4);
  EXPECT_FALSE(out.escalated);
  EXPECT_NEAR(out.score, (0.9 + 0.5 + 0.4) / 3, 1e-9);
  auto audit = doc(out.reward_audit_json);
  ASSERT_EQ(audit.Size(), 4u);
  EXPECT_EQ(json::get_string(audit[3], "stage"), "arbiter");
  EXPECT_NE(json::get_string(audit[3], "error").find("arbiter timed out"), std::string::npos);
}

TEST(Cascade, EscalationDisabledWithoutLargeModel) {
  FakeJudge fake;
  fake.respond = by_temperature(0.9, 0.5, 0.4, 0.1);
  CascadeSettings c;
  c.escalation_enabled = false;
  RewardOutcome out = judge_one(fake, c);
  EXPECT_EQ(fake.calls.load(), 3);
  EXPECT_FALSE(out.escalated);
}

TEST(Cascade, TierOneSamplesRunConcurrently) {
  // Each call waits until all three have arrived; serial execution would time out.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  FakeJudge fake;
  fake.respond = [&](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived >= 3; })) {
      return Status(StatusCode::kDeadlineExceeded, "samples were not concurrent");
    }
    return reply(0.8, 0.1);
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(out.judges[0].tier1_valid, 3);
}

TEST(Cascade, WeightedJudgesCombine) {
  FakeJudge good, bad;
  good.respond = by_temperature(1.0, 1.0, 1.0, 0.0);
  bad.respond = by_temperature(0.0, 0.0, 0.0, 0.2);
  JudgeSpec a = outcome_spec(3.0);
  a.identifier = "correctness";
  JudgeSpec b = outcome_spec(1.0);
  b.rubric = "helpfulness";
  RewardEngine engine(RewardSettings{}, {good.bind(a), bad.bind(b)}, {});
  auto out = engine.judge_session(session());
  ASSERT_TRUE(out.is_ok());
  EXPECT_NEAR(out->score, 0.75, 1e-9);
  auto reward = doc(out->reward_json);
  ASSERT_EQ(reward["judges"].Size(), 2u);
  EXPECT_EQ(json::get_string(reward["judges"][0], "identifier"), "correctness");
  EXPECT_EQ(json::get_string(reward["judges"][1], "identifier"), "helpfulness");
  EXPECT_NEAR(reward["raw"]["judges"][0]["weight"].GetDouble(), 3.0, 1e-9);
  auto stats = doc(out->reward_stats_json);
  EXPECT_NEAR(json::get_double(stats, "score"), 0.75, 1e-9);
  EXPECT_EQ(json::get_int(stats, "sample_count"), 6);
  EXPECT_EQ(json::get_double(stats, "best_uncertainty"), 0.0);
}

TEST(Cascade, DeterministicJudgeIsSampledOnceWithoutTemperature) {
  FakeJudge fake;
  fake.respond = [](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    return reply(1.0, 0.0, "exact match");
  };
  RewardEngine engine(RewardSettings{}, {fake.bind(outcome_spec(), /*uses_llm=*/false)}, {});
  auto out = engine.judge_session(session());
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(fake.calls.load(), 1);
  EXPECT_EQ(out->score, 1.0);
  auto reward = doc(out->reward_json);
  EXPECT_TRUE(reward["judges"][0]["samples"][0]["temperature"].IsNull());
}

TEST(Cascade, NoSessionJudgeIsAClearError) {
  RewardEngine engine(RewardSettings{}, {}, {});
  auto out = engine.judge_session(session());
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(out.status().message().find("session_judges"), std::string::npos);
}

TEST(Cascade, UsageFromLlmCallEventsPerRole) {
  FakeJudge fake;
  auto scores = by_temperature(0.9, 0.5, 0.4, 0.1);
  fake.respond = [&](const json::Document& d, const plugin::CallContext& ctx) -> Result<std::string> {
    const bool arb = json::get_string(d, "stage") == "arbiter";
    ctx.on_event(arb ? R"({"type":"llm_call","role":"arbiter","usage":{"prompt_tokens":100,"completion_tokens":20,"total_tokens":120},"latency_seconds":0.5,"outcome":"ok"})"
                     : R"({"type":"llm_call","role":"judge","usage":{"prompt_tokens":10,"completion_tokens":5,"total_tokens":15},"latency_seconds":0.1,"outcome":"ok"})");
    return scores(d, ctx);
  };
  std::atomic<int> forwarded{0};
  EngineHooks hooks;
  hooks.on_event = [&](std::string_view) { ++forwarded; };
  RewardEngine engine(RewardSettings{}, {fake.bind(outcome_spec())}, {});
  auto out = engine.judge_session(session(), hooks);
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(forwarded.load(), 4);
  EXPECT_EQ(out->usage.judge.calls, 3);
  EXPECT_EQ(out->usage.judge.total_tokens, 45);
  EXPECT_EQ(out->usage.arbiter.calls, 1);
  EXPECT_EQ(out->usage.arbiter.prompt_tokens, 100);
  auto u = doc(out->usage.to_json());
  EXPECT_EQ(u["arbiter"]["total_tokens"].GetInt64(), 120);
}

TEST(Cascade, UsageFallsBackToTheJudgeResponse) {
  FakeJudge fake;
  fake.respond = [](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    return std::string(R"({"score":0.5,"uncertainty":0.1,"usage":{"prompt_tokens":7,"completion_tokens":3}})");
  };
  RewardOutcome out = judge_one(fake);
  EXPECT_EQ(out.usage.judge.calls, 3);
  EXPECT_EQ(out.usage.judge.total_tokens, 30);
}

TEST(Cascade, CreateNamesTheFailingJudge) {
  RewardSettings settings;
  settings.session_judges.push_back(outcome_spec());
  JudgeSpec missing;
  missing.plugin = "nope";
  settings.step_judges.push_back(missing);
  FakeJudge fake;
  fake.respond = by_temperature(1, 1, 1, 0);
  auto engine = RewardEngine::create(settings, [&](const JudgeSpec& s) -> Result<BoundJudge> {
    if (s.plugin == "nope") return not_found("no judge plugin named \"nope\"");
    return fake.bind(s);
  });
  ASSERT_FALSE(engine.is_ok());
  EXPECT_NE(engine.status().message().find("rewards.step_judges[0] (plugin \"nope\")"), std::string::npos);
}

}  // namespace
}  // namespace atlas::rewards

namespace atlas::rewards {
namespace {

TEST(Cascade, CancelledSessionGetsNoReward) {
  testing::FakeJudge fake;
  fake.respond = testing::by_temperature(0.8, 0.8, 0.8, 0.1);
  std::atomic<bool> stop{false};
  EngineHooks hooks;
  hooks.cancelled = [&] { return stop.load(); };
  RewardEngine engine(RewardSettings{}, {fake.bind(outcome_spec())}, {fake.bind(outcome_spec())});
  stop = true;
  auto out = engine.judge_session(session(), hooks);
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kCancelled);
  StepEvidence step;
  step.step_id = 1;
  auto steps = engine.judge_steps(session(), {step}, hooks);
  EXPECT_FALSE(steps[0].judged);
  EXPECT_EQ(steps[0].skip_reason, "cancelled");
  EXPECT_EQ(fake.calls.load(), 0);  // nothing was sent once cancelled
}

// ---- judges that take every tier-1 sample in one call (ATLAS_CAP_JUDGE_SAMPLES) -------------

RewardOutcome judge_batched(FakeJudge& fake, CascadeSettings cascade = {}, EngineHooks hooks = {}) {
  RewardSettings settings;
  settings.cascade = cascade;
  RewardEngine engine(settings, {fake.bind(outcome_spec(), true, true)}, {});
  auto out = engine.judge_session(session(), hooks);
  EXPECT_TRUE(out.is_ok()) << out.status().to_string();
  return std::move(out).value();
}

TEST(CascadeBatched, OneCallCarriesEveryTemperatureAndTheArbiterStaysSeparate) {
  FakeJudge fake;
  fake.respond = testing::batched(by_temperature(0.9, 0.5, 0.4, 0.1));
  RewardOutcome out = judge_batched(fake);
  ASSERT_EQ(fake.calls.load(), 2) << "one tier-1 call for three samples, then the arbiter";
  auto reqs = fake.parsed_requests();
  const json::Document& tier1 = json::get_string(reqs[0], "stage") == "tier1" ? reqs[0] : reqs[1];
  const json::Document& arbiter = json::get_string(reqs[0], "stage") == "arbiter" ? reqs[0] : reqs[1];
  ASSERT_TRUE(json::find(tier1, "temperatures"));
  EXPECT_FALSE(json::find(tier1, "temperature"));
  EXPECT_EQ(json::dump(tier1["temperatures"]), "[0.2,0.5,0.8]");
  EXPECT_EQ(json::get_string(arbiter, "model"), "large");
  EXPECT_EQ(arbiter["samples"].Size(), 3u) << "the arbiter sees the three tier-1 samples";
  EXPECT_TRUE(out.escalated);
  EXPECT_NEAR(out.score, 0.42, 1e-9);
  // The audit keeps one tier-1 entry per sample, with its own temperature and rationale.
  auto audit = doc(out.reward_audit_json);
  std::string entries = json::dump(audit);
  EXPECT_NE(entries.find(R"("temperature":0.5)"), std::string::npos) << entries;
  EXPECT_NE(entries.find("t0.8"), std::string::npos) << entries;
}

TEST(CascadeBatched, SameVerdictAsOneCallPerSample) {
  FakeJudge per_sample, batched;
  per_sample.respond = by_temperature(0.8, 0.7, 0.6, 0.1);
  batched.respond = testing::batched(by_temperature(0.8, 0.7, 0.6, 0.1));
  CascadeSettings c;
  c.variance_threshold = 1.0;
  c.uncertainty_threshold = 1.0;
  RewardOutcome a = judge_one(per_sample, c), b = judge_batched(batched, c);
  EXPECT_EQ(per_sample.calls.load(), 3);
  EXPECT_EQ(batched.calls.load(), 1);
  EXPECT_EQ(a.reward_json, b.reward_json);
  auto stats_a = doc(a.reward_stats_json), stats_b = doc(b.reward_stats_json);
  stats_a.RemoveMember("timestamp");
  stats_b.RemoveMember("timestamp");
  EXPECT_EQ(json::dump(stats_a), json::dump(stats_b));
}

TEST(CascadeBatched, AnErrorReplyIsOneInvalidSample) {
  FakeJudge fake;
  fake.respond = testing::batched([](const json::Document& d, const plugin::CallContext&) -> Result<std::string> {
    if (json::get_double(d, "temperature") > 0.6) return unavailable("judge model overloaded");
    return reply(0.7, 0.1);
  });
  RewardOutcome out = judge_batched(fake);
  EXPECT_EQ(out.judges[0].tier1_valid, 2);
  EXPECT_EQ(out.judges[0].tier1_invalid, 1);
  EXPECT_NEAR(out.score, 0.7, 1e-9);
  EXPECT_NE(out.reward_audit_json.find("UNAVAILABLE: judge model overloaded"), std::string::npos)
      << out.reward_audit_json;
}

TEST(CascadeBatched, AWrongNumberOfRepliesInvalidatesTheBatchWithAClearError) {
  FakeJudge fake;
  fake.respond = [](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    return R"({"replies":[)" + reply(0.9, 0.1) + "]}";
  };
  RewardOutcome out = judge_batched(fake);
  EXPECT_EQ(out.judges[0].tier1_valid, 0);
  EXPECT_EQ(out.judges[0].tier1_invalid, 3);
  EXPECT_EQ(out.judges[0].samples[0].stage, "synthetic");
  EXPECT_NE(out.reward_audit_json.find("answered 1 replies for 3 temperatures"), std::string::npos)
      << out.reward_audit_json;
}

TEST(CascadeBatched, UsagePerSampleFromTheBatchsLlmCallEvents) {
  FakeJudge fake;
  auto scores = testing::batched(by_temperature(0.7, 0.7, 0.7, 0.1));
  fake.respond = [&](const json::Document& d, const plugin::CallContext& ctx) -> Result<std::string> {
    const json::Value* temps = json::find(d, "temperatures");
    for (rapidjson::SizeType i = 0; temps && i < temps->Size(); ++i) {
      const int p = 10 * static_cast<int>(i + 1);  // 10, 20, 30: one event per sample, in order
      ctx.on_event(R"({"type":"llm_call","role":"judge","usage":{"prompt_tokens":)" + std::to_string(p) +
                   R"(,"completion_tokens":1,"total_tokens":)" + std::to_string(p + 1) + R"(},"outcome":"ok"})");
    }
    return scores(d, ctx);
  };
  RewardOutcome out = judge_batched(fake);
  EXPECT_EQ(out.usage.judge.calls, 3);
  EXPECT_EQ(out.usage.judge.prompt_tokens, 60);
  auto audit = doc(out.reward_audit_json);
  std::string text = json::dump(audit);
  for (const char* tokens : {R"("prompt_tokens":10)", R"("prompt_tokens":20)", R"("prompt_tokens":30)"})
    EXPECT_NE(text.find(tokens), std::string::npos) << tokens << " in " << text;
}

}  // namespace
}  // namespace atlas::rewards
