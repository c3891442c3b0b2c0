// Reward settings from the typed config, and judges resolved through the plugin registry.
#pragma once

#include "config/config.hpp"
#include "plugin/registry.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {

// [rewards] -> RewardSettings, the one place the reward engine's settings come from (every
// command that judges uses it): judges with their rubric text (custom rubrics from
// [rewards.rubrics.<name>]) and plugin config merged over [plugins.<plugin>]. Escalation to the
// arbiter is enabled when a judge model is configured: the arbiter is [rewards.large_model],
// or [rewards.small_model] when no large model is given (as the model directory resolves
// "rewards.large_model").
RewardSettings settings(const config::Config& config);

// [drift] -> DriftSettings.
DriftSettings drift_settings(const config::DriftConfig& drift);

// Creates one judge instance per spec through `registry` (which must outlive the engine's
// use of the resolver only during RewardEngine::create; handles keep their instances alive).
JudgeResolver registry_judge_resolver(plugin::Registry& registry);

}  // namespace atlas::rewards
