// Glue between the runtime and the metrics registry (metrics/metrics.hpp), for the commands
// that serve GET /metrics (`worker`, `serve`): every session event feeds the model-call,
// token, cost and escalation metrics; collectors read queue depth and spool depth when the
// page is rendered.
#pragma once

#include "runtime/runtime.hpp"

namespace atlas::data {
class Store;
}

namespace atlas::cli {

// Chains metrics::observe_event in front of options.on_event.
void feed_metrics_from_events(runtime::RuntimeOptions& options);

// Registers collectors for the queue depth by state (atlas_queue_tasks), the oldest pending
// task's age and the spool depth (atlas_spool_records) of `store`. Removed by the destructor.
class StoreCollectors {
 public:
  explicit StoreCollectors(data::Store* store);
  ~StoreCollectors();
  StoreCollectors(const StoreCollectors&) = delete;
  StoreCollectors& operator=(const StoreCollectors&) = delete;

 private:
  int id_ = 0;
};

}  // namespace atlas::cli
