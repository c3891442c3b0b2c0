// Reward settings from the typed config, and judges resolved through the plugin registry.
#pragma once

#include "config/config.hpp"
#include "plugin/registry.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {

// [rewards] -> RewardSettings: judges with their rubric text (custom rubrics from
// [rewards.rubrics.<name>]) and plugin config merged over [plugins.<plugin>]; escalation is
// enabled when a large model is configured.
RewardSettings reward_settings_from_config(const config::Config& config);

DriftSettings drift_settings_from_config(const config::DriftConfig& drift);

// Creates one judge instance per spec through `registry` (which must outlive the engine's
// use of the resolver only during RewardEngine::create; handles keep their instances alive).
JudgeResolver registry_judge_resolver(plugin::Registry& registry);

}  // namespace atlas::rewards
