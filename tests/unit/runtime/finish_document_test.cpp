// The document a session stores at finish, pinned by a golden file: every key the exports,
// review and Atlas tooling read is here, so a change to its shape must be deliberate.
// After an intended change: ATLAS_UPDATE_GOLDEN=1 ./runtime_unit_tests --gtest_filter='FinishDocument.*'
#include "runtime/finish_document.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::runtime {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares with the golden file (or rewrites it when ATLAS_UPDATE_GOLDEN is set).
void expect_golden(const std::string& name, const json::Value& doc) {
  const fs::path golden = fs::path(ATLAS_TEST_SOURCE_DIR) / "tests/unit/runtime/golden" / name;
  std::string text = json::dump_pretty(doc) + "\n";
  if (std::getenv("ATLAS_UPDATE_GOLDEN")) {
    std::ofstream(golden, std::ios::binary) << text;
  }
  ASSERT_TRUE(fs::exists(golden)) << "missing golden file " << golden;
  EXPECT_EQ(text, slurp(golden)) << "the finish document changed; if intended, regenerate with ATLAS_UPDATE_GOLDEN=1";
}

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  EXPECT_TRUE(d.is_ok()) << text;
  return d ? std::move(*d) : json::Document();
}

// A coach session of two steps: the first validated on the second attempt after guidance
// (with a tool call and an adapter trace), the second failed with a secret in its reason.
struct CoachSession {
  std::string session_id = "42";
  std::string error;
  std::string final_answer = "Paris is the capital of France.";
  std::string lane = "coach";
  LaneDecision decision;
  json::Document metadata = parse(R"({"learning_key":"k1","source":"atlas-host run","tags":["geo"]})");
  json::Document history = parse(R"({"entries":[],"count":0})");
  std::string token_usage = R"({"prompt_tokens":10,"completion_tokens":5,"total_tokens":15,"calls":2})";
  Plan plan, original_plan;
  std::vector<std::unique_ptr<StepState>> steps;
  SessionVerdict verdict;
  config::ReviewConfig review;

  CoachSession() {
    secrets::register_secret("ATLAS_TEST_FINISH_KEY", "sk-abcdefghijklmnopqrstuvwxyz0123456789");
    decision.lane = config::Lane::kCoach;
    decision.confidence = 0.25;
    decision.source = "probe_confidence";
    plan.steps = {{1, "Find the capital", {}, ""}, {2, "Write the answer", {1}, ""}};
    original_plan.steps = {{1, "Find it", {}, ""}};

    auto s1 = std::make_unique<StepState>();
    s1->step = plan.steps[0];
    s1->status = StepStatus::kPassed;
    s1->output = "Paris";
    s1->guidance = {"Name the city."};
    s1->attempts.push_back(
        {1, "France", R"({"valid":false,"guidance":"Name the city."})", StepStatus::kFailed, "Name the city."});
    s1->attempts.push_back({2, "Paris", R"({"valid":true,"guidance":null})", StepStatus::kPassed, ""});
    s1->messages = {
        {"system", "be brief", {}, {}, {}}, {"user", "capital?", {}, {}, {}}, {"assistant", "Paris", {}, {}, {}}};
    s1->tool_calls.push_back({"c1", "lookup", R"({"q":"France"})", "Paris", false});
    s1->trace = "adapter says hi";
    s1->started_us = 1700000000000000;
    s1->ended_us = 1700000001500000;
    auto s2 = std::make_unique<StepState>();
    s2->step = plan.steps[1];
    s2->status = StepStatus::kFailed;
    s2->reason = "provider said: invalid key sk-abcdefghijklmnopqrstuvwxyz0123456789";
    s2->attempts.push_back({1, "", "", StepStatus::kError, ""});
    steps.push_back(std::move(s1));
    steps.push_back(std::move(s2));

    rewards::StepRewardOutcome r1;
    r1.step_id = 1;
    r1.judged = true;
    r1.reward_json = R"({"score":0.9,"judges":[],"rationale":"ok"})";
    verdict.step_rewards.push_back(r1);
    rewards::RewardOutcome reward;
    reward.score = 0.8;
    reward.reward_json = R"({"score":0.8,"judges":[{"identifier":"process"}]})";
    reward.reward_stats_json = R"({"score":0.8,"timestamp":"2024-01-01T00:00:00Z"})";
    reward.reward_audit_json = R"([{"stage":"tier1"}])";
    reward.reward_summary_json = R"({"score":0.8,"score_stddev":0.0})";
    verdict.reward = reward;
    verdict.drift_payload = R"({"z":4.2,"alert":true})";
    verdict.drift_alert = true;
    verdict.drift_message = "reward drifted";
    decide_review(verdict, /*require_approval=*/true, /*failed=*/false);
  }

  json::Document build(bool failed = false) const {
    return build_finish_document({session_id, failed, error, final_answer, lane, decision, metadata, history,
                                  token_usage, plan, original_plan, steps, verdict, review, 12.5});
  }
};

TEST(FinishDocument, CoachSessionWithRewardsDriftAndReview) {
  CoachSession s;
  json::Document doc = s.build();
  expect_golden("finish_document_coach.json", doc);
  // What the golden file must never lose, stated outright.
  EXPECT_EQ(json::get_string(doc, "review_status"), "pending");
  EXPECT_EQ(json::get_string(doc, "review_reason"), "drift_alert");
  EXPECT_EQ(json::dump(*json::find(doc, "steps")).find("sk-abcdefghijklmnop"), std::string::npos)
      << "step reasons are stored redacted";
}

TEST(FinishDocument, FailedSessionWithoutRewardsHasNullRewardsAndPlaceholders) {
  CoachSession s;
  s.error = "the student could not write the final answer: key sk-abcdefghijklmnopqrstuvwxyz0123456789";
  s.final_answer.clear();
  s.original_plan.steps.clear();
  s.verdict = SessionVerdict{};
  decide_review(s.verdict, /*require_approval=*/false, /*failed=*/true);
  json::Document doc = s.build(/*failed=*/true);
  expect_golden("finish_document_failed.json", doc);
  EXPECT_EQ(json::get_string(doc, "status"), "failed");
  EXPECT_EQ(json::get_string(doc, "review_status"), "pending") << "a failed session is never auto-approved";
  EXPECT_TRUE(json::find(doc, "reward")->IsNull());
  EXPECT_EQ(json::dump(doc).find("sk-abcdefghijklmnop"), std::string::npos) << "the error is stored redacted";
}

TEST(FinishDocument, ReviewDecision) {
  SessionVerdict v;
  decide_review(v, /*require_approval=*/false, /*failed=*/false);
  EXPECT_EQ(v.review_status, ReviewStatus::kApproved);
  EXPECT_EQ(review_reason(v), "approval_not_required");
  decide_review(v, /*require_approval=*/true, /*failed=*/false);
  EXPECT_EQ(v.review_status, ReviewStatus::kPending);
  EXPECT_EQ(review_reason(v), "approval_required");
  v.drift_alert = true;
  v.drift_message = "drift";
  decide_review(v, /*require_approval=*/false, /*failed=*/false);
  EXPECT_EQ(v.review_status, ReviewStatus::kPending) << "a drift alert holds the session even without approval gating";
  EXPECT_EQ(v.review_notes, "drift");
  EXPECT_EQ(review_reason(v), "drift_alert");
}

}  // namespace
}  // namespace atlas::runtime
