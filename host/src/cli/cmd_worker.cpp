// atlas-host worker --config C [--concurrency N] [--metrics-listen HOST:PORT] [options]
// Claims tasks from the work queue, holds their leases with a heartbeat and runs each as a
// session exactly like `run` (cli/session_runner.hpp); the session and the task's `done` are
// stored in one transaction (docs/scaling.md). SIGTERM/SIGINT drains: no new claims, sessions
// under way get --drain-seconds to finish, then they are stopped (stored `interrupted`) and
// their tasks released for another worker.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/options.hpp"
#include "cli/runtime_metrics.hpp"
#include "cli/session_runner.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/process_name.hpp"
#include "common/secrets.hpp"
#include "data/store.hpp"
#include "data/work_queue.hpp"
#include "metrics/http.hpp"
#include "metrics/metrics.hpp"
#include "serve/gateway.hpp"

namespace atlas::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct Lease {
  std::string task_id;
  std::string token;
};

class Worker {
 public:
  Worker(runtime::Runtime& rt, data::Store& store, int lease_seconds, int64_t retry_delay_ms, double poll_seconds,
         bool exit_when_empty)
      : rt_(rt),
        store_(store),
        name_(host_and_pid()),
        lease_seconds_(lease_seconds),
        retry_delay_ms_(retry_delay_ms),
        poll_seconds_(poll_seconds),
        exit_when_empty_(exit_when_empty) {}

  // One slot: claim, run, settle, until draining or (with --exit-when-empty) nothing is left.
  void slot() {
    double idle = 0.05;
    while (!stopping()) {
      auto claimed = claim();
      if (!claimed) {
        log::warn("worker", "claim failed: " + claimed.status().to_string() + "; trying again");
        wait_for(poll_seconds_);
        continue;
      }
      if (claimed->empty()) {
        if (exit_when_empty_) {
          auto counts = data::queue_counts(store_);
          if (counts && counts->of("pending") == 0 && counts->of("leased") == 0 && in_flight() == 0) {
            std::lock_guard g(mu_);
            empty_ = true;
            cv_.notify_all();
            break;
          }
        }
        wait_for(idle);
        idle = std::min(idle * 2, poll_seconds_);
        continue;
      }
      idle = 0.05;
      for (auto& [lease, spec] : *claimed) run_one(lease, spec);
    }
  }

  // Extends the leases under way every lease/3 seconds, and reclaims expired ones (of workers
  // that died) so their tasks run again.
  void heartbeat() {
    const double every = std::max(0.2, lease_seconds_ / 3.0);
    std::unique_lock lock(mu_);
    while (!done_) {
      cv_.wait_for(lock, std::chrono::duration<double>(every));
      if (done_) break;
      std::vector<Lease> leases;
      for (const auto& [id, l] : leases_) leases.push_back(l);
      lock.unlock();
      if (!leases.empty()) {
        json::Document req(rapidjson::kObjectType);
        auto& a = req.GetAllocator();
        json::set(req, "lease_seconds", static_cast<int64_t>(lease_seconds_), a);
        json::Value list(rapidjson::kArrayType);
        for (const auto& l : leases) {
          json::Value o(rapidjson::kObjectType);
          json::set(o, "task_id", l.task_id, a);
          json::set(o, "lease_token", l.token, a);
          list.PushBack(o, a);
        }
        json::set(req, "leases", std::move(list), a);
        auto answer = data::queue_call(store_, "queue_heartbeat", json::dump(req));
        if (!answer) {
          log::warn("worker", "heartbeat failed: " + answer.status().to_string());
        } else if (const json::Value* lost = json::find(*answer, "lost"); lost && lost->IsArray()) {
          std::lock_guard g(mu_);
          for (const auto& id : lost->GetArray()) {
            // Still under way here (not just finished): the lease expired or the task was
            // cancelled; the session will be stored interrupted, never as the task's.
            if (leases_.count(id.GetString()))
              log::warn("worker", std::string("lost the lease of task ") + id.GetString() +
                                      " (expired or cancelled); its session will be stored interrupted");
          }
        }
      }
      auto reclaimed = data::queue_call(store_, "queue_reclaim", "{}");
      if (reclaimed) {
        const json::Value* n = json::find(*reclaimed, "reclaimed");
        const json::Value* d = json::find(*reclaimed, "dead");
        if ((n && n->GetInt64() > 0) || (d && d->GetInt64() > 0))
          log::info("worker", "reclaimed expired leases: " + json::dump(*reclaimed));
      }
      lock.lock();
    }
  }

  void drain() {
    std::lock_guard g(mu_);
    draining_ = true;
    cv_.notify_all();
  }
  void finish() {
    std::lock_guard g(mu_);
    done_ = true;
    cv_.notify_all();
  }
  // Waits until every slot is idle or `deadline` passes; true when idle.
  bool wait_idle_until(Clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [this] { return leases_.empty() && slots_busy_ == 0; });
  }

  size_t in_flight() {
    std::lock_guard g(mu_);
    return leases_.size();
  }

  struct Totals {
    int64_t claimed = 0, succeeded = 0, failed = 0, interrupted = 0, released = 0;
  };
  Totals totals() {
    std::lock_guard g(mu_);
    return totals_;
  }

 private:
  bool stopping() {
    std::lock_guard g(mu_);
    return draining_ || empty_;
  }
  void wait_for(double seconds) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::duration<double>(seconds), [this] { return draining_ || empty_; });
  }

  Result<std::vector<std::pair<Lease, runtime::TaskSpec>>> claim() {
    json::Document req(rapidjson::kObjectType);
    auto& a = req.GetAllocator();
    json::set(req, "worker", name_, a);
    json::set(req, "limit", static_cast<int64_t>(1), a);
    json::set(req, "lease_seconds", static_cast<int64_t>(lease_seconds_), a);
    {
      std::lock_guard g(mu_);
      ++slots_busy_;  // counted from the claim on, so a drain waits for a task being claimed
    }
    auto t0 = Clock::now();
    auto answer = data::queue_call(store_, "queue_claim", json::dump(req));
    metrics::global()
        .histogram("atlas_queue_claim_duration_seconds", "Time to claim a task (one database round trip)",
                   {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1})
        .observe({}, std::chrono::duration<double>(Clock::now() - t0).count());
    std::vector<std::pair<Lease, runtime::TaskSpec>> out;
    if (!answer) {
      release_slot();
      return answer.status();
    }
    const std::string token = json::get_string(*answer, "lease_token");
    if (const json::Value* tasks = json::find(*answer, "tasks"); tasks && tasks->IsArray()) {
      for (const auto& t : tasks->GetArray()) {
        Lease lease{json::get_string(t, "task_id"), token};
        runtime::TaskSpec spec;
        json::Document meta(rapidjson::kObjectType);
        auto& ma = meta.GetAllocator();
        if (const json::Value* p = json::find(t, "payload"); p && p->IsObject()) {
          spec.task = json::get_string(*p, "task");
          if (const json::Value* m = json::find(*p, "metadata"); m && m->IsObject()) meta.CopyFrom(*m, ma);
          if (const json::Value* e = json::find(*p, "expected")) spec.expected_json = json::dump(*e);
        }
        // Which task and lease the session belongs to: finish_session settles the task with it.
        json::Value q(rapidjson::kObjectType);
        json::set(q, "task_id", lease.task_id, ma);
        json::set(q, "lease_token", lease.token, ma);
        json::set(q, "worker", name_, ma);
        if (const json::Value* at = json::find(t, "attempts")) json::set(q, "attempt", json::Value(*at, ma), ma);
        if (const json::Value* mx = json::find(t, "max_attempts"))
          json::set(q, "max_attempts", json::Value(*mx, ma), ma);
        if (const json::Value* g = json::find(t, "group"); g && g->IsString())
          json::set(q, "group", json::Value(*g, ma), ma);
        if (const json::Value* r = json::find(t, "rollout")) json::set(q, "rollout", json::Value(*r, ma), ma);
        json::set(q, "retry_delay_ms", retry_delay_ms_, ma);
        json::set(meta, "atlas_queue", std::move(q), ma);
        if (!json::find(meta, "source")) json::set(meta, "source", "atlas-host worker", ma);
        spec.metadata_json = json::dump(meta);
        out.emplace_back(std::move(lease), std::move(spec));
      }
    }
    std::lock_guard g(mu_);
    for (const auto& [lease, spec] : out) leases_[lease.task_id] = lease;
    totals_.claimed += static_cast<int64_t>(out.size());
    if (out.empty()) {
      --slots_busy_;
      cv_.notify_all();
    }
    return out;
  }

  void release_slot() {
    std::lock_guard g(mu_);
    --slots_busy_;
    cv_.notify_all();
  }

  void run_one(const Lease& lease, const runtime::TaskSpec& spec) {
    runtime::SessionReport report;
    if (spec.task.empty()) {
      report.status = SessionStatus::kFailed;
      report.error = "the queued task has no \"task\" text";
    } else {
      report = rt_.run(spec);
    }
    {
      // Settled by finish_session (or settled below): no more heartbeats for it.
      std::lock_guard g(mu_);
      leases_.erase(lease.task_id);
    }
    // finish_session settled the task in the session's own transaction; these calls only act
    // when it could not (nothing stored, the finish waits in the spool, not started).
    json::Document req(rapidjson::kObjectType);
    auto& a = req.GetAllocator();
    json::set(req, "task_id", lease.task_id, a);
    json::set(req, "lease_token", lease.token, a);
    std::string result;
    if (report.status == SessionStatus::kNotStarted || report.status == SessionStatus::kInterrupted) {
      json::set(req, "reason", "worker " + name_ + " stopped before the session ended", a);
      auto r = data::queue_call(store_, "queue_release", json::dump(req));
      result = r && json::find(*r, "released") && json::find(*r, "released")->GetBool() ? "released" : "settled";
    } else {
      std::string error = report.error;
      if (report.status == SessionStatus::kSucceeded)
        error = "the session succeeded but its result is not in the database (" +
                std::string(report.stored ? "it waits in the spool" : "storage refused it") + ")";
      if (error.empty()) error = "the session failed";
      json::set(req, "error", secrets::redact(error), a);
      json::set(req, "retry_delay_ms", retry_delay_ms_, a);
      auto r = data::queue_call(store_, "queue_fail", json::dump(req));
      if (!r)
        log::warn("worker", "could not settle task " + lease.task_id + ": " + r.status().to_string() +
                                " (its lease expires and another worker takes it)");
    }
    metrics::global()
        .counter("atlas_worker_sessions_total", "Sessions this worker ran, by status")
        .inc({{"status", std::string(status_name(report.status))}});
    std::lock_guard g(mu_);
    --slots_busy_;
    switch (report.status) {
      case SessionStatus::kSucceeded:
        ++totals_.succeeded;
        break;
      case SessionStatus::kInterrupted:
        ++totals_.interrupted;
        break;
      case SessionStatus::kNotStarted:
        ++totals_.released;
        break;
      default:
        ++totals_.failed;
        break;
    }
    if (result == "released" && report.status == SessionStatus::kInterrupted) ++totals_.released;
    cv_.notify_all();
  }

  runtime::Runtime& rt_;
  data::Store& store_;
  const std::string name_;
  const int lease_seconds_;
  const int64_t retry_delay_ms_;
  const double poll_seconds_;
  const bool exit_when_empty_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Lease> leases_;
  int slots_busy_ = 0;
  bool draining_ = false, empty_ = false, done_ = false;
  Totals totals_;
};

}  // namespace

int run_worker(const Args& args) {
  po::options_description opts("atlas-host worker --config FILE [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "config file (TOML; default ./atlas.toml)")(
      "concurrency", po::value<int>()->default_value(1), "sessions in parallel (1-64)")(
      "lease-seconds", po::value<int>()->default_value(60),
      "lease per claimed task, renewed every third of it (2-3600)")(
      "drain-seconds", po::value<double>()->default_value(30.0),
      "on SIGTERM/SIGINT: time sessions under way get to finish before they are stopped and their tasks released")(
      "retry-delay-seconds", po::value<double>()->default_value(5.0), "wait before a failed task is tried again")(
      "poll-seconds", po::value<double>()->default_value(2.0), "longest wait between claims while the queue is empty")(
      "exit-when-empty", "exit once no task is pending or leased (a batch Job)")(
      "metrics-listen", po::value<std::string>(), "serve GET /metrics (Prometheus) on HOST:PORT (port 0 = any)")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")(
      "no-preflight", "do not check the models before the first task");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  std::string config_file = required_config_path(vm, "it names the agent, its models and the database with the queue");
  const int concurrency = vm["concurrency"].as<int>();
  if (concurrency < 1 || concurrency > 64) throw UsageError("--concurrency must be between 1 and 64");
  const int lease_seconds = vm["lease-seconds"].as<int>();
  if (lease_seconds < 2 || lease_seconds > 3600) throw UsageError("--lease-seconds must be between 2 and 3600");
  const double drain_seconds = vm["drain-seconds"].as<double>();
  if (!(drain_seconds >= 0 && drain_seconds <= 86400)) throw UsageError("--drain-seconds must be between 0 and 86400");
  const double retry_delay = vm["retry-delay-seconds"].as<double>();
  if (!(retry_delay >= 0 && retry_delay <= 86400))
    throw UsageError("--retry-delay-seconds must be between 0 and 86400");
  const double poll = vm["poll-seconds"].as<double>();
  if (!(poll >= 0.05 && poll <= 600)) throw UsageError("--poll-seconds must be between 0.05 and 600");
  std::optional<serve::GatewayOptions> listen;
  if (vm.count("metrics-listen")) {
    auto l = serve::parse_listen(vm["metrics-listen"].as<std::string>());
    if (!l) throw UsageError("--metrics-listen: " + l.status().message());
    listen = *l;
  }

  runtime::RuntimeOptions ro;
  feed_metrics_from_events(ro);
  auto srt = open_session_runtime(vm, config_file, "atlas-host worker", std::move(ro));
  if (!srt) return kExitFailure;
  auto& rt = srt->rt;
  data::Store* store = rt->store();
  if (!store) {
    std::cerr << "atlas-host worker: storage is disabled in " << config_file
              << "; the queue lives in the database ([storage] enabled = true, database_url = ...)\n";
    return kExitFailure;
  }
  auto probe = data::queue_counts(*store);
  if (!probe) {
    std::cerr << "atlas-host worker: cannot read the queue: " << probe.status().message() << "\n";
    return kExitFailure;
  }
  std::optional<StoreCollectors> collectors;
  collectors.emplace(store);
  metrics::MetricsServer metrics_server;
  if (listen) {
    auto port = metrics_server.start(listen->host, listen->port);
    if (!port) {
      std::cerr << "atlas-host worker: --metrics-listen: " << port.status().message() << "\n";
      return kExitFailure;
    }
    std::string host = listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
    std::cerr << "atlas-host worker: metrics on http://" << host << ":" << *port << "/metrics" << std::endl;
  }

  Worker worker(*rt, *store, lease_seconds, static_cast<int64_t>(retry_delay * 1000), poll,
                vm.count("exit-when-empty") > 0);
  std::mutex sig_mu;
  std::condition_variable sig_cv;
  bool all_done = false;
  std::thread drainer;
  std::optional<InterruptWatch> interrupts;
  interrupts.emplace([&](int signo) {
    std::cerr << "atlas-host worker: " << (signo == SIGTERM ? "SIGTERM" : "SIGINT") << ": draining (no new tasks; "
              << worker.in_flight() << " under way get " << drain_seconds << " s)" << std::endl;
    worker.drain();
    drainer = std::thread([&] {
      if (worker.wait_idle_until(
              Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(drain_seconds))))
        return;
      std::unique_lock lock(sig_mu);
      if (all_done) return;
      std::cerr << "atlas-host worker: drain deadline passed: stopping the sessions under way (stored interrupted, "
                   "tasks released)"
                << std::endl;
      rt->cancel();
    });
  });
  std::thread beat([&] { worker.heartbeat(); });
  std::vector<std::thread> slots;
  slots.reserve(static_cast<size_t>(concurrency));
  for (int i = 0; i < concurrency; ++i) slots.emplace_back([&] { worker.slot(); });
  for (auto& t : slots) t.join();
  {
    std::lock_guard g(sig_mu);
    all_done = true;
  }
  worker.finish();
  beat.join();
  const int signo = interrupts->signal();
  interrupts.reset();  // joins the watcher: `drainer` exists by now if a signal came
  if (drainer.joinable()) drainer.join();
  rt->wait_for_background();
  auto t = worker.totals();
  std::cerr << "atlas-host worker: claimed " << t.claimed << " task(s): " << t.succeeded << " succeeded, " << t.failed
            << " failed, " << t.interrupted << " interrupted, " << t.released << " released" << std::endl;
  collectors.reset();
  metrics_server.stop();
  rt.reset();  // closes the store: flushes queued writes and tries the spool once more
  if (report_spool_left(*srt, "atlas-host worker") > 0) return kExitSpooled;
  (void)signo;  // a drained worker did its job: exit 0 (docs/scaling.md)
  return kExitOk;
}

}  // namespace atlas::cli
