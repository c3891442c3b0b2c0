// Step rewards: every executed step judged, concurrently, within a call budget.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <set>

#include "fake_judge.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {
namespace {

using testing::by_temperature;
using testing::FakeJudge;
using testing::reply;

std::vector<StepEvidence> steps(int n) {
  std::vector<StepEvidence> out;
  for (int i = 1; i <= n; ++i) {
    StepEvidence s;
    s.step_id = i;
    s.description = "step " + std::to_string(i);
    s.output = "output " + std::to_string(i);
    ToolCallEvidence tc;
    tc.name = "read_file";
    tc.arguments_json = R"({"path":"f)" + std::to_string(i) + R"(.txt"})";
    tc.result = "contents of file " + std::to_string(i);
    s.trace.tool_calls.push_back(tc);
    out.push_back(s);
  }
  return out;
}

JudgeSpec process_spec() {
  JudgeSpec s;
  s.plugin = "fake";
  s.rubric = "process";
  return s;
}

// Score = step id / 10, so each step's reward is recognisable.
std::function<Result<std::string>(const json::Document&, const plugin::CallContext&)> by_step() {
  return [](const json::Document& d, const plugin::CallContext& ctx) -> Result<std::string> {
    const int64_t id = json::get_int(d["step"], "id");
    if (std::to_string(id) != ctx.step_id) return internal_error("call context step id mismatch");
    return reply(static_cast<double>(id) / 10.0, 0.1, "step" + std::to_string(id));
  };
}

TEST(StepRewards, EveryExecutedStepIsJudged) {
  FakeJudge fake;
  fake.respond = by_step();
  RewardEngine engine(RewardSettings{}, {}, {fake.bind(process_spec())});
  auto ev = steps(3);
  ev[1].executed = false;
  SessionEvidence session;
  session.session_id = "1";
  auto out = engine.judge_steps(session, ev);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_TRUE(out[0].judged);
  EXPECT_NEAR(out[0].reward->score, 0.1, 1e-9);
  EXPECT_FALSE(out[1].judged);
  EXPECT_EQ(out[1].skip_reason, "not_executed");
  EXPECT_TRUE(out[2].judged);
  EXPECT_NEAR(out[2].reward->score, 0.3, 1e-9);
  EXPECT_EQ(fake.calls.load(), 6);
  auto r = json::parse(out[2].reward_json).value();
  EXPECT_EQ(json::get_string(r["raw"], "level"), "step");
  EXPECT_EQ(json::get_int(r["raw"], "step_id"), 3);
  EXPECT_EQ(json::get_string(r["judges"][0], "identifier"), "process");
  auto skipped = json::parse(out[1].reward_json).value();
  EXPECT_EQ(json::get_string(skipped["raw"], "reason"), "not_executed");
}

TEST(StepRewards, StepJudgeSeesItsToolResults) {
  FakeJudge fake;
  fake.respond = by_step();
  RewardEngine engine(RewardSettings{}, {}, {fake.bind(process_spec())});
  SessionEvidence session;
  session.task = "Summarise two files";
  engine.judge_steps(session, steps(2));
  for (const auto& req : fake.parsed_requests()) {
    EXPECT_EQ(json::get_string(req, "level"), "step");
    EXPECT_EQ(json::get_string(req, "task"), "Summarise two files");
    const int64_t id = json::get_int(req["step"], "id");
    const auto& call = req["step"]["trace"]["tool_calls"][0];
    EXPECT_EQ(json::get_string(call, "result"), "contents of file " + std::to_string(id));
    EXPECT_EQ(json::get_string(call["arguments"], "path"), "f" + std::to_string(id) + ".txt");
  }
}

TEST(StepRewards, AllStepSamplesRunAtOnce) {
  // 5 steps x 3 samples: every call waits until all 15 have arrived.
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  FakeJudge fake;
  fake.respond = [&](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    std::unique_lock lock(mu);
    ++arrived;
    cv.notify_all();
    if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return arrived >= 15; })) {
      return Status(StatusCode::kDeadlineExceeded, "step samples were not concurrent");
    }
    return reply(0.5, 0.1);
  };
  RewardEngine engine(RewardSettings{}, {}, {fake.bind(process_spec())});
  auto out = engine.judge_steps(SessionEvidence{}, steps(5));
  for (const auto& o : out) {
    ASSERT_TRUE(o.judged);
    EXPECT_EQ(o.reward->judges[0].tier1_valid, 3);
  }
}

TEST(StepRewards, BudgetSkipsStepsAndRecordsWhy) {
  FakeJudge fake;
  fake.respond = by_step();
  RewardSettings settings;
  settings.max_judge_calls_per_session = 7;  // room for two steps of 3 samples
  RewardEngine engine(settings, {}, {fake.bind(process_spec())});
  auto out = engine.judge_steps(SessionEvidence{}, steps(5));
  EXPECT_EQ(fake.calls.load(), 6);
  EXPECT_TRUE(out[0].judged);
  EXPECT_TRUE(out[1].judged);
  for (size_t i = 2; i < 5; ++i) {
    EXPECT_FALSE(out[i].judged);
    EXPECT_EQ(out[i].skip_reason, "budget");
    auto r = json::parse(out[i].reward_json).value();
    EXPECT_TRUE(json::get_bool(r["raw"], "skipped"));
    EXPECT_EQ(json::get_string(r["raw"], "reason"), "budget");
  }
  // The explicit argument overrides the configured budget.
  FakeJudge fake2;
  fake2.respond = by_step();
  RewardEngine engine2(settings, {}, {fake2.bind(process_spec())});
  auto all = engine2.judge_steps(SessionEvidence{}, steps(5), {}, 0);
  EXPECT_EQ(fake2.calls.load(), 15);
  for (const auto& o : all) EXPECT_TRUE(o.judged);
}

TEST(StepRewards, ArbiterNeedsBudgetToo) {
  FakeJudge fake;
  fake.respond = by_temperature(0.9, 0.5, 0.4, 0.1);  // always escalates
  RewardSettings settings;
  settings.max_judge_calls_per_session = 7;  // 2 steps x 3 samples + 1 arbiter
  RewardEngine engine(settings, {}, {fake.bind(process_spec())});
  auto out = engine.judge_steps(SessionEvidence{}, steps(2));
  EXPECT_EQ(fake.calls.load(), 7);
  ASSERT_TRUE(out[0].judged && out[1].judged);
  EXPECT_TRUE(out[0].reward->escalated);   // first in step order got the arbiter call
  EXPECT_FALSE(out[1].reward->escalated);  // second had no budget left
  auto audit = json::parse(out[1].reward->reward_audit_json).value();
  EXPECT_EQ(json::get_string(audit[audit.Size() - 1], "reason"), "budget");
}

TEST(StepRewards, NoStepJudgesMeansPlaceholders) {
  RewardEngine engine(RewardSettings{}, {}, {});
  auto out = engine.judge_steps(SessionEvidence{}, steps(2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].skip_reason, "no_step_judges");
  EXPECT_FALSE(out[0].reward_json.empty());
}

TEST(StepRewards, SummariesCarryStepRewardsIntoTheSessionJudge) {
  FakeJudge step_judge, session_judge;
  step_judge.respond = by_step();
  session_judge.respond = [](const json::Document&, const plugin::CallContext&) -> Result<std::string> {
    return reply(0.9, 0.1);
  };
  JudgeSpec outcome;
  outcome.plugin = "fake";
  outcome.rubric = "outcome";
  RewardEngine engine(RewardSettings{}, {session_judge.bind(outcome)}, {step_judge.bind(process_spec())});
  auto ev = steps(2);
  ev[0].output = std::string(1000, 'x');
  SessionEvidence session;
  auto step_out = engine.judge_steps(session, ev);
  session.steps = summarize_steps(ev, step_out, 100);
  ASSERT_EQ(session.steps.size(), 2u);
  EXPECT_LT(session.steps[0].output_summary.size(), 120u);
  ASSERT_TRUE(session.steps[1].reward.has_value());
  EXPECT_NEAR(*session.steps[1].reward, 0.2, 1e-9);
  ASSERT_TRUE(engine.judge_session(session).is_ok());
  auto reqs = session_judge.parsed_requests();
  ASSERT_FALSE(reqs.empty());
  const auto& req = reqs[0];
  EXPECT_EQ(json::get_string(req, "level"), "session");
  ASSERT_EQ(req["steps"].Size(), 2u);
  EXPECT_NEAR(req["steps"][1]["reward"].GetDouble(), 0.2, 1e-9);
}

}  // namespace
}  // namespace atlas::rewards
