// Loading a TOML file into a validated Config, applying environment overrides, and printing the
// effective configuration back (for `atlas-host config show`).
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/config.hpp"

namespace atlas::config {

// One problem found in a config file.
struct ConfigError {
  SourceRegion where;    // file:line:col of the offending key/value (line 0 when not in the file)
  std::string key_path;  // "teacher.llm.temprature"
  std::string message;   // "unknown key 'temprature' (did you mean 'temperature'?)"
  // "atlas.toml:12:3: teacher.llm.temprature: unknown key 'temprature' (did you mean 'temperature'?)"
  std::string to_string() const;
};

// Reads and validates `path`. On failure the Status is INVALID_ARGUMENT (NOT_FOUND when the file
// does not exist) and its message holds EVERY problem, one per line, each as ConfigError::to_string().
// When `errors` is given it also receives them structured. Relative paths inside the file
// (rubric files, plugin dirs, lock file) are resolved against the file's folder.
// Environment overrides are NOT applied here: call apply_env_overrides().
Result<Config> load_config(const std::filesystem::path& path, std::vector<ConfigError>* errors = nullptr);

// Same for text already in memory; `source_name` is what errors cite as the file. Relative paths
// resolve against the current directory.
Result<Config> parse_config(std::string_view text, std::string_view source_name,
                            std::vector<ConfigError>* errors = nullptr);

// Atlas's environment overrides (docs/configuration.md): ATLAS_REVIEW_REQUIRE_APPROVAL,
// ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES, ATLAS_DRIFT_ENABLED, ATLAS_DRIFT_WINDOW,
// ATLAS_DRIFT_Z_THRESHOLD, ATLAS_DRIFT_MIN_BASELINE. Invalid values are ignored with a warning;
// the warnings are returned (and logged at warn level). `getenv` is injectable for tests; an empty
// EnvLookup means the process environment.
using EnvLookup = std::function<const char*(const char*)>;
std::vector<std::string> apply_env_overrides(Config& config, const EnvLookup& getenv = {});
// The [review] policy with ATLAS_REVIEW_REQUIRE_APPROVAL / ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES
// read now: the environment wins at persistence time, as in Atlas, even over a configuration
// built in code. No warnings (apply_env_overrides gives them when a config is loaded).
ReviewConfig review_policy(const ReviewConfig& configured, const EnvLookup& getenv = {});

// Registers (secrets::register_secret) the value of every environment variable the config names
// in a `*_env` key, the password of every database_url, and the well-known provider keys, so
// that they are redacted from the very first byte written. apply_env_overrides() calls it.
void register_config_secrets(const Config& config);

// The effective configuration as TOML, every default filled in. Secrets are never printed: a
// model block shows its api_key_env name followed by a comment "# (set)" or "# (not set)".
std::string config_to_toml(const Config& config, const EnvLookup& getenv = {});
// The same as a JSON object (for --json); api_key_env entries gain a sibling "api_key_set": bool.
json::Document config_to_json(const Config& config, const EnvLookup& getenv = {});

// Levenshtein distance, and the closest candidate to `word` when it is a plausible misspelling
// (distance <= max(1, len/3)); "" otherwise.
size_t edit_distance(std::string_view a, std::string_view b);
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

}  // namespace atlas::config
