// The host side of the work queue (docs/scaling.md): typed calls to the storage plugin's queue_*
// operations (plugins/storage/soci/ops_queue.hpp), shared by `enqueue`, `worker`, `queue` and
// the metrics collectors.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/json.hpp"
#include "common/status.hpp"
#include "data/store.hpp"

namespace atlas::data {

// A task's idempotency key when the task line has no "id": "t-" and the first 32 hex digits of
// the SHA-256 of task, metadata and expected answer (the same line enqueued twice is one task).
std::string content_task_id(std::string_view task, std::string_view metadata_json, std::string_view expected_json);

// Calls `op` with `request_json`; the answer parsed (an object).
Result<json::Document> queue_call(Store& store, std::string_view op, std::string_view request_json);

struct QueueCounts {
  std::map<std::string, int64_t> by_state;  // pending, leased, done, dead, cancelled
  double oldest_pending_age_seconds = 0.0;  // 0 when nothing waits
  int64_t of(const std::string& state) const {
    auto it = by_state.find(state);
    return it == by_state.end() ? 0 : it->second;
  }
};
Result<QueueCounts> queue_counts(Store& store);

}  // namespace atlas::data
