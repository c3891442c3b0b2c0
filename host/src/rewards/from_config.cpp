#include "rewards/from_config.hpp"

namespace atlas::rewards {
namespace {

JudgeSpec spec_from(const config::Config& config, const config::JudgeSpec& c) {
  JudgeSpec s;
  s.plugin = c.plugin;
  s.rubric = c.rubric;
  s.weight = c.weight;
  s.config_json = config::merged_plugin_config(config, c.plugin, c.config_json);
  if (auto it = config.rewards.rubrics.find(c.rubric); it != config.rewards.rubrics.end()) {
    s.rubric_text = it->second.text;
  }
  return s;
}

}  // namespace

RewardSettings settings(const config::Config& config) {
  const auto& r = config.rewards;
  RewardSettings s;
  s.cascade.samples = r.samples;
  if (!r.temperatures.empty()) s.cascade.temperatures = r.temperatures;
  s.cascade.variance_threshold = r.variance_threshold;
  s.cascade.uncertainty_threshold = r.uncertainty_threshold;
  s.cascade.escalation_enabled = r.large_model.configured() || r.small_model.configured();
  for (const auto& j : r.session_judges) s.session_judges.push_back(spec_from(config, j));
  for (const auto& j : r.step_judges) s.step_judges.push_back(spec_from(config, j));
  s.max_judge_calls_per_session = r.max_judge_calls_per_session;
  s.focus_prompt = r.judge_prompt;
  return s;
}

DriftSettings drift_settings(const config::DriftConfig& drift) {
  DriftSettings s;
  s.enabled = drift.enabled;
  s.window = drift.window;
  s.z_threshold = drift.z_threshold;
  s.min_baseline = drift.min_baseline;
  return s;
}

JudgeResolver registry_judge_resolver(plugin::Registry& registry) {
  return [&registry](const JudgeSpec& spec) -> Result<BoundJudge> {
    auto handle = registry.create_judge(spec.plugin, spec.config_json);
    if (!handle) return handle.status();
    return bind_judge_handle(spec, std::move(handle).value());
  };
}

}  // namespace atlas::rewards
