#include "cli/runtime_metrics.hpp"

#include <map>
#include <memory>
#include <mutex>

#include "common/json.hpp"
#include "data/store.hpp"
#include "data/work_queue.hpp"
#include "metrics/metrics.hpp"

namespace atlas::cli {

void feed_metrics_from_events(runtime::RuntimeOptions& options) {
  // A session's lane (its `route` event) and its end (`session`/`end`) are siblings under the
  // session's root event: the lane is kept by that parent id until the end event comes.
  struct Lanes {
    std::mutex mu;
    std::map<std::string, std::string> by_root;
  };
  auto lanes = std::make_shared<Lanes>();
  auto next = options.on_event;
  options.on_event = [next, lanes](const runtime::Event& e) {
    if (e.type == runtime::event_type::kRoute) {
      std::lock_guard g(lanes->mu);
      lanes->by_root[e.parent_id] = e.name;
    } else if (e.type == runtime::event_type::kSession && e.name == "end") {
      std::string lane;
      {
        std::lock_guard g(lanes->mu);
        auto it = lanes->by_root.find(e.parent_id);
        if (it != lanes->by_root.end()) {
          lane = it->second;
          lanes->by_root.erase(it);
        }
      }
      auto data = json::parse(e.data_json, "event");
      metrics::observe_session(lane,
                               data && data->IsObject() ? json::get_string(*data, "status", "unknown") : "unknown");
    } else {
      metrics::observe_event(e.type, e.role, e.data_json);
    }
    if (next) next(e);
  };
}

StoreCollectors::StoreCollectors(data::Store* store) {
  if (!store) return;
  id_ = metrics::global().add_collector([store](metrics::Registry& r) {
    r.gauge("atlas_spool_records", "Storage records waiting in the local spool for the database")
        .set({}, static_cast<double>(store->spool_status().pending_records));
    auto counts = data::queue_counts(*store);
    metrics::Family& depth =
        r.gauge("atlas_queue_tasks", "Work-queue tasks by state (what an autoscaler scales workers on)");
    if (!counts) {
      r.counter("atlas_metrics_collector_errors_total", "Collectors that failed while the page was rendered").inc();
      return;  // keep the last values rather than report an empty queue
    }
    for (const char* s : {"pending", "leased", "done", "dead", "cancelled"}) depth.set({{"state", s}}, counts->of(s));
    r.gauge("atlas_queue_oldest_pending_age_seconds", "How long the oldest pending task has waited")
        .set({}, counts->oldest_pending_age_seconds);
  });
}

StoreCollectors::~StoreCollectors() {
  if (id_) metrics::global().remove_collector(id_);
}

}  // namespace atlas::cli
