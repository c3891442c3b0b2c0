// Helpers shared by the config tests.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "config/loader.hpp"

namespace atlas::config::testing {

// A valid minimal config: every required part present.
inline constexpr const char* kMinimal = R"(
[agent]
adapter = "openai"

[student.llm]
model = "gpt-4o-mini"

[teacher.llm]
model = "gpt-4o"

[rewards.small_model]
model = "gpt-4o-mini"
)";

inline Config parse_ok(const std::string& text) {
  std::vector<ConfigError> errors;
  auto cfg = parse_config(text, "test.toml", &errors);
  EXPECT_TRUE(cfg.is_ok()) << cfg.status().message();
  return cfg.is_ok() ? std::move(cfg).value() : Config{};
}

// Parses text expected to be invalid; returns the errors.
inline std::vector<ConfigError> parse_errors(const std::string& text) {
  std::vector<ConfigError> errors;
  auto cfg = parse_config(text, "test.toml", &errors);
  EXPECT_FALSE(cfg.is_ok()) << "expected the config to be rejected";
  return errors;
}

inline const ConfigError* find_error(const std::vector<ConfigError>& errors, const std::string& key_path) {
  for (const auto& e : errors)
    if (e.key_path == key_path) return &e;
  return nullptr;
}

}  // namespace atlas::config::testing
