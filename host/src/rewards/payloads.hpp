// Atlas-shaped reward payloads (docs/rewards.md, "Payloads"): `reward` (AtlasRewardBreakdown dict),
// `reward_stats`, `reward_audit`, and the metadata `reward_summary`.
//
// With one judge the payloads are exactly Atlas's. With several judges: reward.score and
// reward_stats.score/score_mean are the weighted combination of the judges' scores; the
// spread and uncertainty statistics are taken over all judges' final samples together;
// reward.judges has one entry per judge; raw.judges records weights and sample counts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rewards/rewards.hpp"

namespace atlas::rewards {

struct PayloadContext {
  std::string level = "session";  // session | step
  std::optional<int64_t> step_id;
  std::string execution_mode;
  bool teacher_intervened = false;
  std::string focus_prompt;
  std::string timestamp;  // ISO-8601 UTC, stored as reward_stats.timestamp
};

// Weighted mean of the verdicts' scores (weights normalised over the verdicts). 0.0 for none.
double combine_scores(const std::vector<JudgeVerdict>& verdicts);

// Fills out.score, reward_json, reward_stats_json, reward_summary_json and reward_audit_json
// from out.judges and `audit_entries` (each a JSON object text).
void build_payloads(RewardOutcome& out, const PayloadContext& ctx, const std::vector<std::string>& audit_entries);

// The Atlas placeholder reward of a step that was not judged, with the reason in raw.
std::string skipped_step_reward(int64_t step_id, std::string_view reason);

}  // namespace atlas::rewards
