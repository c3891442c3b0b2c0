// Lane decision (docs/runtime.md, session flow step 3): forced mode > routing disabled (paired) > mode override >
// no history (paired) > the probe's mode, or its confidence mapped by the thresholds >
// fallback. A probe failure fails open to the fallback lane.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "common/status.hpp"
#include "config/config.hpp"

namespace atlas::runtime {

struct ProbeAnswer {
  std::optional<std::string> mode;  // as returned (lower-cased)
  std::optional<double> confidence;
  std::string rationale;
  std::string raw_json = "null";
};

struct LaneDecision {
  config::Lane lane = config::Lane::kPaired;
  std::optional<double> confidence;
  // forced | adaptive_disabled | mode_override | no_learning_history | capability_probe |
  // probe_confidence | probe_failed | probe_fallback
  std::string source;
  std::optional<ProbeAnswer> probe;
  std::string probe_error;
  std::string to_json() const;
};

// Parses a probe plugin reply (docs/plugin-contracts.md "probe"): mode lower-cased and kept
// only when auto|paired|coach, confidence clamped to [0,1].
Result<ProbeAnswer> parse_probe_reply(std::string_view reply_json);

// Maps a confidence to a lane: >= auto threshold -> auto, >= paired -> paired, else coach.
config::Lane lane_for_confidence(double confidence, const config::RoutingThresholds& t);

using ProbeFn = std::function<Result<ProbeAnswer>()>;

// The lane when the configuration alone decides it (forced_mode, routing disabled, mode_override):
// no history or probe needed. nullopt when routing needs them.
std::optional<LaneDecision> static_lane_decision(const config::OrchestrationConfig& orchestration,
                                                 const config::RoutingConfig& routing);
LaneDecision decide_lane(const config::OrchestrationConfig& orchestration, const config::RoutingConfig& routing,
                         int64_t history_count, const ProbeFn& probe);

}  // namespace atlas::runtime
