// Learning report: per learning key, sessions, reward trend, lane mix, teacher interventions
// and tokens per role, as a text table, JSON, or an SVG line chart of reward over sessions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
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
  // What people read: the key when it was set by hand (learning_key_override), else the task it
  // was derived from, shortened (docs/runtime.md, "Learning report").
  std::string label;
  std::string first_task;  // of the key's oldest session in the report
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
// Sets each key's label (build_report does): the key when it is not a SHA-256 digest
// (learning_key_override), else its first task shortened; equal labels get " #<8 digits>".
void assign_report_labels(std::vector<KeyReport>& keys);
std::string report_text(const Report& r);
std::string report_json(const Report& r);
// Reward over sessions, one line per learning key (10 colours x 3 dash patterns), legend with
// the keys' labels beside the plot; the height grows with the number of keys.
std::string report_svg(const Report& r);

// `text` on one line (white space runs as one space), at most `max_code_points` UTF-8 code
// points, ending in "…" when it was cut.
std::string shorten_for_display(std::string_view text, size_t max_code_points);

}  // namespace atlas::data
