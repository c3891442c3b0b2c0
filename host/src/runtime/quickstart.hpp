// Content of `atlas-host quickstart` (modelled on Atlas's quickstart, our own task text): three
// security-review tasks sharing one learning key, and the configuration they run with.
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace atlas::runtime::quickstart {

inline constexpr const char* kLearningKey = "atlas-quickstart-security-review";

struct QuickTask {
  std::string title;
  std::string task;
};
const std::vector<QuickTask>& tasks();

// Session metadata for task n (1-based): shared learning key override, distinct incident ids.
std::string task_metadata(int n);

// Which provider the environment offers: "openai" (OPENAI_API_KEY or OPENAI_BASE_URL),
// "anthropic", "gemini", or "" (none: the scripted mock is used).
std::string detect_provider();

// The quickstart configuration as TOML: models of `provider` ("" = openai) with its usual key
// variable (route_models_to_mock() then points them at the mock when there is no key).
// `database_url` "" disables storage.
std::string config_toml(const std::string& provider, const std::string& database_url);

// Points every model the config can call at the in-process mock (`--offline`): the six model
// blocks (student, teacher, both judges, learning, routing probe) and an inline model in the
// LLM adapters' config ([agent.config] or [plugins.<adapter>]). Each gets the openai wire,
// `mock_base_url`/v1 and no key; models are renamed to the scenario's mock-small / mock-large
// so a preflight that checks the model list agrees with the mock.
void route_models_to_mock(config::Config& config, const std::string& mock_base_url);

}  // namespace atlas::runtime::quickstart
