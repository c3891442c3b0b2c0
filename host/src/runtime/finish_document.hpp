// The document a session stores when it finishes (Store::finish_session): status, final
// answer, the session metadata (reference keys: execution_mode, token_usage, adaptive_summary,
// learning_history, teacher_notes, reward_summary, drift, review, ...), the plan, one row per
// step, rewards and the review decision. A pure function of the session's state, so its shape
// is pinned by a golden test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "config/config.hpp"
#include "runtime/lane.hpp"
#include "runtime/plan.hpp"
#include "runtime/session_state.hpp"
#include "runtime/session_verdict.hpp"

namespace atlas::runtime {

struct FinishInput {
  const std::string& session_id;
  bool failed;
  const std::string& error;  // "" = none; redacted here
  const std::string& final_answer;
  const std::string& lane;  // auto | paired | coach
  const LaneDecision& decision;
  const json::Value& metadata;  // the session metadata so far (an object)
  const json::Value& learning_history;
  const std::string& token_usage_json;  // TokenLedger::to_json()
  const Plan& plan;
  const Plan& original_plan;  // the student's plan before review (empty = none)
  const std::vector<std::unique_ptr<StepState>>& steps;
  const SessionVerdict& verdict;
  const config::ReviewConfig& review;
  double seconds;  // wall time so far
  bool interrupted = false;  // Ctrl-C/SIGTERM stopped it: stored `interrupted` whatever `failed` says
};

json::Document build_finish_document(const FinishInput& in);

}  // namespace atlas::runtime
