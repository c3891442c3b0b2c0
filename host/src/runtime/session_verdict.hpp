// The verdict on a finished session: the judges' rewards, the drift check against the
// learning key's earlier sessions, and the review decision that follows from both.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "rewards/rewards.hpp"
#include "runtime/session_state.hpp"

namespace atlas::runtime {

struct SessionVerdict {
  std::vector<rewards::StepRewardOutcome> step_rewards;
  std::optional<rewards::RewardOutcome> reward;
  std::string drift_payload;  // "" when drift was not checked
  bool drift_alert = false;
  std::string drift_message;
  // The review policy applied: [review] with the environment read at persistence time.
  config::ReviewConfig review_policy;
  ReviewStatus review_status = ReviewStatus::kPending;
  std::string review_notes;
  // Why there is no reward (judges configured): not judged (failed/interrupted), or no judge
  // produced a verdict. Stored as metadata.reward_unavailable; a missing verdict is never 0.0.
  std::string reward_unavailable;
  std::string unjudged_audit_json;  // the judges' audit when they gave no verdict
};

// The evidence the judges see for each step (also what the stored step rows are built from).
std::vector<rewards::StepEvidence> step_evidence(const std::vector<std::unique_ptr<StepState>>& steps);

// Review decision: a drift alert holds the session for review with the drift message; a
// successful session is approved at once when approval is not required, unless a step of it
// was not validated (`unvalidated_step`: its id; the teacher was unreachable); otherwise pending.
void decide_review(SessionVerdict& verdict, bool require_approval, bool failed, const std::string& unvalidated_step = "");

// Why the runtime chose the review status: drift_alert | approval_not_required | approval_required.
std::string review_reason(const SessionVerdict& verdict);

}  // namespace atlas::runtime
