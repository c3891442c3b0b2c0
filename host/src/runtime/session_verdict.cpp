// The verdict on a finished session: judges, drift, review decision.
#include "runtime/session_verdict.hpp"

#include "common/log.hpp"
#include "config/loader.hpp"
#include "rewards/from_config.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

std::vector<rewards::StepEvidence> step_evidence(const std::vector<std::unique_ptr<StepState>>& steps) {
  std::vector<rewards::StepEvidence> evidence;
  for (const auto& s : steps) {
    rewards::StepEvidence e;
    e.step_id = s->step.id;
    e.description = s->step.description;
    e.output = s->output;
    e.attempts = static_cast<int>(s->attempts.size());
    e.executed = !s->attempts.empty();
    e.status = std::string(status_name(s->status));
    e.trace.messages = s->messages;
    e.trace.tool_calls = s->tool_calls;
    e.trace.text = s->trace;
    e.guidance = s->guidance;
    if (!s->attempts.empty()) e.validation_json = s->attempts.back().verdict_json;
    evidence.push_back(std::move(e));
  }
  return evidence;
}

void decide_review(SessionVerdict& verdict, bool require_approval, bool failed, const std::string& unvalidated_step) {
  verdict.review_status = ReviewStatus::kPending;
  verdict.review_notes.clear();
  if (verdict.drift_alert) {
    verdict.review_notes = verdict.drift_message;
  } else if (!require_approval && !failed && !unvalidated_step.empty()) {
    verdict.review_notes = "Held for review: step " + unvalidated_step + " was not validated (the teacher was unreachable).";
  } else if (!require_approval && !failed) {
    verdict.review_status = ReviewStatus::kApproved;
    verdict.review_notes = "Auto-approved (review gating disabled).";
  }
}

std::string review_reason(const SessionVerdict& verdict) {
  if (verdict.drift_alert) return "drift_alert";
  return verdict.review_status == ReviewStatus::kApproved ? "approval_not_required" : "approval_required";
}

SessionVerdict Session::judge(bool store_ok, SessionStatus status, const std::string& unvalidated_step) {
  SessionVerdict verdict;
  // Step evidence for the judges (and the stored step rows).
  std::vector<rewards::StepEvidence> evidence = step_evidence(steps_);
  rewards::SessionEvidence sev;
  sev.session_id = session_id_;
  sev.task = task_.task;
  sev.plan_json = plan_to_json_text(plan_);
  sev.final_answer = final_answer_;
  sev.execution_mode = report_.lane;
  for (const auto& s : steps_)
    if (s->attempts.size() > 1 || !s->guidance.empty()) sev.teacher_intervened = true;
  sev.expected_json = task_.expected_json;
  sev.learning_key = learning_key_;

  auto& step_rewards = verdict.step_rewards;
  auto& reward = verdict.reward;
  const bool succeeded = status == SessionStatus::kSucceeded;
  if (rt_.rewards && !succeeded)
    verdict.reward_unavailable = "not judged: the session " + std::string(status_name(status));
  if (rt_.rewards && succeeded) {
    std::string reward_event = events_->emit(event_type::kReward, "start", "judge", root_event_, "{}");
    rewards::EngineHooks hooks;
    hooks.on_event = [this, reward_event](std::string_view ev) { on_plugin_event(ev, reward_event, ""); };
    hooks.cancelled = [this] { return stopped(); };
    if (rt_.rewards->has_step_judges()) step_rewards = rt_.rewards->judge_steps(sev, evidence, hooks);
    sev.steps = rewards::summarize_steps(evidence, step_rewards);
    if (rt_.rewards->has_session_judges()) {
      auto r = rt_.rewards->judge_session(sev, hooks);
      if (r && r->has_verdict()) {
        reward = std::move(*r);
      } else {
        // No verdict is not a score: no reward, and the reason (the judges' errors) is kept.
        verdict.reward_unavailable = r ? r->no_verdict_reason() : r.status().to_string();
        if (r) verdict.unjudged_audit_json = r->reward_audit_json;
        log::warn("runtime", "session reward unavailable: " + verdict.reward_unavailable);
      }
    }
    events_->emit(event_type::kReward, "session", "judge", reward_event,
                  reward ? "{\"score\":" + std::to_string(reward->score) +
                               ",\"escalated\":" + (reward->escalated ? "true" : "false") +
                               ",\"judge_calls\":" + std::to_string(reward->judge_calls) + "}"
                         : std::string("{\"score\":null}"));
  }
  // Drift against the key's earlier sessions (this one excluded).
  if (reward && store_ok && cfg_.drift.enabled) {
    auto baseline = rt_.store->reward_baseline(learning_key_, cfg_.drift.window, session_id_);
    if (baseline) {
      std::string rows = "[";
      for (size_t i = 0; i < baseline->size(); ++i) rows += (i ? "," : "") + (*baseline)[i];
      rows += "]";
      auto drift = rewards::check_drift_json(reward->reward_stats_json, rows, rewards::drift_settings(cfg_.drift),
                                             learning_key_);
      if (drift && drift->checked) {
        verdict.drift_payload = drift->payload_json;
        verdict.drift_alert = drift->alert;
        verdict.drift_message = drift->message;
      }
    }
  }
  // The environment wins at persistence (ATLAS_REVIEW_REQUIRE_APPROVAL), as in Atlas.
  verdict.review_policy = config::review_policy(cfg_.review);
  decide_review(verdict, verdict.review_policy.require_approval, !succeeded, unvalidated_step);
  return verdict;
}

}  // namespace atlas::runtime
