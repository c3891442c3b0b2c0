// One judge sample: parsing a judge plugin's response, the escalation rule and the synthetic
// sample used when a judge produced nothing valid (docs/rewards.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {

// What a judge plugin call returned, beyond the sample itself (all optional in the contract).
struct ParsedJudgeResponse {
  JudgeSample sample;
  std::string model;         // model the plugin used, when it says
  std::string raw_response;  // the model's reply text, when the plugin passes it on
  std::string reasoning;
  std::optional<RoleUsage> usage;  // the plugin's own account of its LLM usage
};

// A response is a valid sample iff it is a JSON object with numeric `score` and `uncertainty`,
// both within [0, 1]. Principles are kept when they have a string `name` and a numeric
// `weight`. INVALID_ARGUMENT says what was wrong.
Result<ParsedJudgeResponse> parse_judge_response(std::string_view response_json);

// Thresholds are compared strictly ("greater than"). A tolerance of 1e-9 absorbs floating
// point noise so that a spread of exactly 0.15 (e.g. scores 0.35/0.65) does not escalate.
inline constexpr double kThresholdTolerance = 1e-9;
bool should_escalate(const std::vector<JudgeSample>& valid_samples, double variance_threshold,
                     double uncertainty_threshold);

// Atlas's sample for a judge with no valid sample: score 0.0, uncertainty 1.0.
JudgeSample synthetic_sample();

}  // namespace atlas::rewards
