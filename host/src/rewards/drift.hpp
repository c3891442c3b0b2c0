// Reward drift detection (docs/rewards.md, "Drift"), as a pure function.
//
// Difference from Atlas: the baseline NEVER contains the session being checked. Atlas writes
// the session's reward_stats before querying the baseline, which damps every z-score and lets
// the session count towards min_baseline. The caller (runtime) reads the baseline with the
// storage op `reward_baseline` and `exclude_session_id`, and passes the rows here.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::rewards {

struct DriftSettings {
  bool enabled = true;
  int window = 50;           // rows the caller asks storage for (recorded in the payload)
  double z_threshold = 3.0;  // alert when |z| >= threshold
  int min_baseline = 5;      // fewer baseline rows -> no alert, reason "insufficient_baseline"
};

// Summary statistics of one metric over the baseline rows. Empty optionals = no values.
struct MetricSummary {
  std::optional<double> mean;
  std::optional<double> median;
  std::optional<double> stddev;  // population; 0.0 for a single value
  std::vector<double> values;
};

struct DriftBaseline {
  int window = 0;
  int sample_count = 0;  // number of baseline rows (excluding the current session)
  MetricSummary score;
  MetricSummary uncertainty;
  MetricSummary best_uncertainty;
};

struct DriftResult {
  bool checked = false;  // false when drift is disabled or the current stats carry no score
  bool alert = false;
  // First metric whose |value| >= threshold ("score_z", "score_mad_z", "uncertainty_z",
  // "uncertainty_mad_z"), "insufficient_baseline", or empty.
  std::string reason;
  std::optional<double> score_delta, score_z, score_mad_z;
  std::optional<double> uncertainty_delta, uncertainty_z, uncertainty_mad_z;
  DriftBaseline baseline;
  // "Reward drift alert (<reason>)" when alert, else empty. The runtime sets review_status
  // "pending" with this message as the note when `alert` is true.
  std::string message;
  // The Atlas `session_metadata.drift` object (alert, drift_alert, reason, deltas, z-scores,
  // threshold, window, learning_key, baseline{...}, message?). "null"-free JSON text.
  std::string payload_json;
};

// `current_stats`: the session's reward_stats object. `baseline_rows`: reward_stats objects of
// earlier sessions of the same learning key, newest first, at most `window` rows, the current
// session excluded. Rows without a usable score are ignored.
DriftResult check_drift(const json::Value& current_stats, const std::vector<const json::Value*>& baseline_rows,
                        const DriftSettings& settings, std::string_view learning_key);

// Same from JSON text: `baseline_json` is either an array of reward_stats objects or the
// storage response {"reward_stats": [...]}. INVALID_ARGUMENT on unparsable input.
Result<DriftResult> check_drift_json(std::string_view current_stats_json, std::string_view baseline_json,
                                     const DriftSettings& settings, std::string_view learning_key);

}  // namespace atlas::rewards
