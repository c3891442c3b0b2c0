// `atlas-host eval probe`: runs the configured probe over a labelled dataset (JSONL records
// {task, learning_history, expected_mode[, now_unix]}, Atlas's probe dataset format) through the
// same lane decision a session uses, and reports accuracy and a confusion matrix.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/config.hpp"

namespace atlas::runtime {

struct ProbeEvalCase {
  int line = 0;
  std::string expected;
  std::string predicted;
  std::string source;  // lane decision source
  std::string rationale;
};

struct ProbeEvalReport {
  std::string probe;
  std::vector<ProbeEvalCase> cases;
  // matrix[expected][predicted], index 0 auto, 1 paired, 2 coach
  std::array<std::array<int, 3>, 3> matrix{};
  int correct = 0;
  double accuracy() const { return cases.empty() ? 0.0 : static_cast<double>(correct) / static_cast<double>(cases.size()); }
  std::string to_text() const;
  std::string to_json() const;
};

// "Now" for each record (the probe's staleness rules): the record's own `now_unix`, else
// `as_of_unix`, else the newest created_at/completed_at in the record's history, so a history
// replayed a year later is judged as it was when it was recorded.
Result<ProbeEvalReport> run_probe_eval(const config::Config& config, const std::filesystem::path& dataset,
                                       const std::string& probe_override,
                                       const std::vector<std::filesystem::path>& plugin_dirs,
                                       std::optional<int64_t> as_of_unix = std::nullopt);

// The newest created_at/completed_at of `learning_history.entries` (unix seconds), if any.
std::optional<int64_t> newest_history_time(const json::Value& learning_history);

}  // namespace atlas::runtime
