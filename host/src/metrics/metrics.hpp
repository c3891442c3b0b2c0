// Process-wide metrics in the Prometheus text exposition format (version 0.0.4, the format
// described in docs/metrics.md): counters, gauges and histograms with labels, and collectors
// that refresh gauges (queue depth, spool depth) when the page is rendered. Thread-safe.
//
//   metrics::global().counter("atlas_sessions_total", "Sessions ended").inc({{"lane", "auto"}, {"outcome",
//   "succeeded"}}); std::string page = metrics::global().render();   // GET /metrics
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace atlas::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Family {
 public:
  enum class Kind { kCounter, kGauge, kHistogram };
  Family(std::string name, std::string help, Kind kind, std::vector<double> buckets = {});

  // Counters: add a non-negative amount. Gauges: set or add.
  void inc(const Labels& labels = {}, double amount = 1.0);
  void set(const Labels& labels, double value);
  // Histograms: one observation.
  void observe(const Labels& labels, double value);
  // Gauges refreshed by a collector: forget every series first.
  void clear();

  const std::string& name() const { return name_; }
  void render(std::string& out) const;

 private:
  struct Series {
    double value = 0.0;                 // counter/gauge
    std::vector<double> bucket_counts;  // histogram (cumulative at render)
    double sum = 0.0;
    double count = 0.0;
  };
  std::string name_, help_;
  Kind kind_;
  std::vector<double> buckets_;
  mutable std::mutex mu_;
  std::map<Labels, Series> series_;
};

class Registry {
 public:
  // The family with this name, created on first use (help and kind of the first call win).
  Family& counter(const std::string& name, const std::string& help);
  Family& gauge(const std::string& name, const std::string& help);
  Family& histogram(const std::string& name, const std::string& help, std::vector<double> buckets);
  // Runs before every render (e.g. sets the queue-depth gauges from the database). Returns an id
  // for remove_collector; a collector that throws is skipped and counted in atlas_metrics_collector_errors_total.
  int add_collector(std::function<void(Registry&)> collect);
  void remove_collector(int id);
  // The whole page, families in name order.
  std::string render();

 private:
  Family& family(const std::string& name, const std::string& help, Family::Kind kind, std::vector<double> buckets);
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<Family>> families_;
  std::mutex collect_mu_;
  std::map<int, std::function<void(Registry&)>> collectors_;
  int next_id_ = 1;
};

Registry& global();

// Content-Type of the page.
inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label value escaping of the exposition format: backslash, double quote and line feed.
std::string escape_label_value(std::string_view v);

// ---- what atlas-host records (names in docs/metrics.md) ----
// One event of a session's stream (runtime/events.hpp): model calls (latency by provider and
// role, tokens and cost by role, outcome) and rewards (judge escalations).
void observe_event(std::string_view type, std::string_view role, std::string_view data_json);
// A session that ended, by lane and outcome (succeeded | failed | interrupted | not_started).
void observe_session(std::string_view lane, std::string_view outcome);
// A process-isolated plugin's worker process died or was killed (plugin/worker_client.cpp).
void observe_plugin_crash(std::string_view plugin);

}  // namespace atlas::metrics
