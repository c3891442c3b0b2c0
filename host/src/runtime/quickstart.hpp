// Content of `atlas-host quickstart` (reference atlas-sdk-spec §9.1, our own task text): three
// security-review tasks sharing one learning key, and the configuration they run with.
#pragma once

#include <string>
#include <vector>

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

// The quickstart configuration as TOML. `mock_base_url` non-empty: every model block points at
// the in-process mock (no key). Otherwise models of `provider` with its usual key variable.
// `database_url` "" disables storage.
std::string config_toml(const std::string& provider, const std::string& mock_base_url,
                        const std::string& database_url);

}  // namespace atlas::runtime::quickstart
