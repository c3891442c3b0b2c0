// Judge requests (docs/plugin-contracts.md "judge") built from the runtime's evidence.
// The host sends the whole trace; the judge plugin truncates it to its own prompt budget.
#pragma once

#include <string>
#include <vector>

#include "common/json.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {

// Base request for one judge: level, rubric, task, plan, step or steps, final answer,
// expected, execution mode, focus prompt. The cascade adds temperature/model/stage/samples.
json::Document session_judge_request(const SessionEvidence& session, const JudgeSpec& spec,
                                     const std::string& focus_prompt);
json::Document step_judge_request(const SessionEvidence& session, const StepEvidence& step, const JudgeSpec& spec,
                                  const std::string& focus_prompt);

// A copy of `base` with the per-call keys: "temperature", "model" ("small" | "large"),
// "stage" ("tier1" | "arbiter") and, for the arbiter, "samples" [{sample, score, uncertainty,
// rationale, principles}].
std::string sample_request(const json::Document& base, double temperature, bool arbiter,
                           const std::vector<JudgeSample>& tier1_samples);

// A copy of `base` asking for every tier-1 sample at once (ATLAS_CAP_JUDGE_SAMPLES):
// "temperatures" [t1, ...] instead of "temperature", "model": "small", "stage": "tier1".
std::string batch_request(const json::Document& base, const std::vector<double>& temperatures);

}  // namespace atlas::rewards
