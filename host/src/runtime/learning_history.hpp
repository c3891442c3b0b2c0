// Learning history: the per-key record of rewarded sessions that routing reads. Same shape
// and arithmetic as Atlas's aggregate_learning_history (docs/plugin-contracts.md, docs/atlas-compatibility.md), so
// probe datasets and prompts carry over unchanged.
#pragma once

#include <optional>
#include <string>

#include "common/json.hpp"
#include "data/store.hpp"

namespace atlas::runtime {

inline constexpr int kDefaultHistoryLimit = 10;
inline constexpr int kMaxHistoryLimit = 200;
inline constexpr size_t kHistoryNoteLimit = 1024;

// Effective window: ATLAS_LEARNING_HISTORY_LIMIT when it is a positive integer (capped at
// 200), else `configured` (<= 0 means 10; capped at 200).
int effective_history_limit(int configured);

// `records`: array of {reward, student_learning, teacher_learning, created_at, completed_at}
// ordered oldest first (the storage op `learning_history` returns this). Returns the
// aggregated object {entries, count, total_count, scores?, average_score?,
// overall_average_score?, recent_high_score_streak, recent_low_score_streak, limit}.
json::Document aggregate_learning_history(const json::Value& records, int limit);

// Totals over the key's whole record when `records` holds only a window of it (the storage
// op returns the last `limit` sessions plus these).
struct HistoryTotals {
  int64_t total_count = 0;
  std::optional<double> overall_average_score;
};
json::Document aggregate_learning_history(const json::Value& records, int limit, const HistoryTotals& totals);

// The storage op's answer (window + totals) aggregated as above.
json::Document aggregate_learning_history(const data::LearningHistory& history, int limit);

// count (0 when absent): the lane decision's "no history" test.
int64_t history_count(const json::Value& history);

}  // namespace atlas::runtime
