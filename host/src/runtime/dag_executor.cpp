#include "runtime/dag_executor.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/clock.hpp"
#include "runtime/worker_pool.hpp"

namespace atlas::runtime {

std::string_view step_state_name(StepRun::State s) {
  switch (s) {
    case StepRun::State::kSucceeded: return "succeeded";
    case StepRun::State::kFailed: return "failed";
    case StepRun::State::kTimedOut: return "timeout";
    case StepRun::State::kSkipped: return "skipped";
    case StepRun::State::kPending: break;
  }
  return "pending";
}

namespace {

// Shared with the step threads so a thread that outlives its deadline still has a valid
// place to report to.
struct Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<bool> finished;       // body returned
  std::vector<Status> results;
  size_t outstanding = 0;           // bodies started and not yet returned
};

}  // namespace

std::vector<StepRun> run_dag(const Plan& plan, const DagOptions& options, const StepBody& body,
                             const StepObserver& observer) {
  const size_t n = plan.steps.size();
  std::vector<StepRun> runs(n);
  std::map<int, size_t> index;
  for (size_t i = 0; i < n; ++i) index.emplace(plan.steps[i].id, i);

  auto shared = std::make_shared<Shared>();
  shared->finished.assign(n, false);
  shared->results.assign(n, Status::ok());
  std::vector<int64_t> deadline_ms(n, 0);
  std::vector<std::shared_ptr<std::atomic<bool>>> stop(n);
  std::vector<bool> active(n, false);  // started, outcome not yet decided
  const int max_parallel = options.max_parallel > 0 ? options.max_parallel : 1;
  const auto timeout_ms = static_cast<int64_t>(options.step_timeout_seconds * 1000.0);

  auto notify = [&](size_t i) {
    if (observer) observer(i, runs[i]);
  };
  auto decided = [&](size_t i) { return runs[i].state != StepRun::State::kPending || active[i]; };

  std::unique_lock<std::mutex> lock(shared->mu);
  for (;;) {
    // 1. Collect finished bodies and expired deadlines.
    int64_t now = clock::now_unix_ms();
    int running = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!active[i]) continue;
      if (shared->finished[i]) {
        active[i] = false;
        runs[i].ended_us = clock::now_unix_us();
        const Status& st = shared->results[i];
        if (st.is_ok()) {
          runs[i].state = StepRun::State::kSucceeded;
        } else if (st.code() == StatusCode::kDeadlineExceeded || now >= deadline_ms[i]) {
          runs[i].state = StepRun::State::kTimedOut;
          runs[i].reason = "step exceeded its timeout of " + std::to_string(options.step_timeout_seconds) + " s";
        } else {
          runs[i].state = StepRun::State::kFailed;
          runs[i].reason = st.to_string();
        }
        lock.unlock();
        notify(i);
        lock.lock();
      } else if (now >= deadline_ms[i]) {
        active[i] = false;
        stop[i]->store(true);
        runs[i].state = StepRun::State::kTimedOut;
        runs[i].ended_us = clock::now_unix_us();
        runs[i].reason = "step exceeded its timeout of " + std::to_string(options.step_timeout_seconds) + " s";
        lock.unlock();
        notify(i);
        lock.lock();
      } else {
        ++running;
      }
    }
    // 2. Skip steps whose dependencies did not succeed; start ready ones.
    bool session_cancelled = options.cancelled && options.cancelled->load();
    bool progress = true;
    while (progress) {
      progress = false;
      for (size_t i = 0; i < n; ++i) {
        if (decided(i)) continue;
        bool ready = true;
        std::string blocked;
        for (int d : plan.steps[i].depends_on) {
          auto it = index.find(d);
          if (it == index.end()) continue;
          const StepRun& dep = runs[it->second];
          if (dep.state == StepRun::State::kSucceeded) continue;
          ready = false;
          if (dep.state != StepRun::State::kPending)
            blocked = "dependency step " + std::to_string(d) + " " + std::string(step_state_name(dep.state));
        }
        if (session_cancelled && blocked.empty()) blocked = "session cancelled";
        if (!blocked.empty()) {
          runs[i].state = StepRun::State::kSkipped;
          runs[i].reason = blocked;
          lock.unlock();
          notify(i);
          lock.lock();
          progress = true;
          continue;
        }
        if (!ready || running >= max_parallel) continue;
        active[i] = true;
        ++running;
        deadline_ms[i] = clock::now_unix_ms() + timeout_ms;
        stop[i] = std::make_shared<std::atomic<bool>>(false);
        runs[i].started_us = clock::now_unix_us();
        StepControl control{deadline_ms[i], stop[i]};
        ++shared->outstanding;
        lock.unlock();
        notify(i);
        WorkerPool::shared().run([shared, &body, i, control] {
          Status st = body(i, control);
          std::lock_guard<std::mutex> g(shared->mu);
          shared->results[i] = std::move(st);
          shared->finished[i] = true;
          --shared->outstanding;
          shared->cv.notify_all();
        });
        lock.lock();
        progress = true;
      }
    }
    // 3. Done when nothing is running or pending.
    bool all_decided = true;
    int64_t next_deadline = INT64_MAX;
    for (size_t i = 0; i < n; ++i) {
      if (runs[i].state == StepRun::State::kPending) all_decided = false;
      if (active[i] && deadline_ms[i] < next_deadline) next_deadline = deadline_ms[i];
    }
    if (all_decided) break;
    bool any_finished_unseen = false;
    for (size_t i = 0; i < n; ++i)
      if (active[i] && shared->finished[i]) any_finished_unseen = true;
    if (any_finished_unseen) continue;
    if (next_deadline == INT64_MAX) {
      // Nothing running and nothing could start: only a malformed plan gets here.
      for (size_t i = 0; i < n; ++i) {
        if (runs[i].state != StepRun::State::kPending) continue;
        runs[i].state = StepRun::State::kSkipped;
        runs[i].reason = "dependencies can never be satisfied";
        lock.unlock();
        notify(i);
        lock.lock();
      }
      break;
    } else {
      int64_t wait_ms = next_deadline - clock::now_unix_ms();
      if (wait_ms > 0) shared->cv.wait_for(lock, std::chrono::milliseconds(wait_ms));
    }
  }
  // Steps that passed their deadline were told to stop; their LLM calls carry the same
  // deadline, so they end shortly. Wait for them so nothing outlives the session.
  shared->cv.wait(lock, [&] { return shared->outstanding == 0; });
  return runs;
}

}  // namespace atlas::runtime
