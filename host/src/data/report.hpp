// Learning report: per learning key, sessions, reward trend, lane mix, teacher interventions
// and tokens per role, as a text table, JSON, or an SVG line chart of reward over sessions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "data/session_cost.hpp"
#include "data/store.hpp"

namespace atlas::data {

struct ReportRequest {
  std::string learning_key;  // "" = every key
  std::string since;         // ISO date; "" = all time
  std::vector<std::string> tags;
};

struct KeyReport {
  std::string learning_key;
  uint64_t sessions = 0;
  std::map<std::string, uint64_t> status_counts;
  std::map<std::string, uint64_t> lanes;                // execution_mode -> sessions
  std::vector<std::pair<std::string, double>> rewards;  // (session id, score) oldest first
  double reward_mean = 0.0;
  double reward_first_half = 0.0, reward_second_half = 0.0;  // trend
  double reward_slope = 0.0;                                 // least squares per session
  uint64_t sessions_with_teacher = 0;                        // guidance given or an attempt retried
  uint64_t guidance_notes = 0;
  uint64_t retries = 0;
  std::map<std::string, int64_t> tokens_by_role;
  // Cost (docs/runtime.md, "Cost"): unknown as soon as one session's cost is unknown.
  CostSum cost;
  std::map<std::string, CostSum> cost_by_role;
  // Succeeded and approved sessions: the training examples an export takes by default.
  uint64_t accepted_sessions = 0;
  // What one accepted example cost: every session's cost (rejected ones included) / accepted.
  std::optional<double> cost_per_accepted_usd() const;
};

struct Report {
  std::vector<KeyReport> keys;  // sorted by learning key
  uint64_t sessions = 0;
};

Result<Report> build_report(Store& store, const ReportRequest& request);
std::string report_text(const Report& r);
std::string report_json(const Report& r);
std::string report_svg(const Report& r);  // reward over sessions, one line per learning key

}  // namespace atlas::data
