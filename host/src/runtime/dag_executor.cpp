#include "runtime/dag_executor.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <condition_variable>
#include <map>
#include <mutex>

#include "common/clock.hpp"
#include "common/worker_pool.hpp"

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

// Shared by the coordinating thread and the step threads; everything is guarded by `mu`. A
// step's outcome is decided once, by whoever gets there first: its own thread when the body
// returns, or the coordinator when the deadline passes. `active` is true from start until
// that decision.
struct Shared {
  StepBody body;  // owned here: an abandoned step's thread outlives run_dag's frame
  StepObserver observer;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<StepRun> runs;
  std::vector<bool> active;
  std::vector<int64_t> deadline_ms;
  std::vector<bool> returned;  // the step's body has returned
  size_t outstanding = 0;  // bodies started whose thread has not finished reporting
  size_t pending = 0;      // steps neither started nor decided
  uint64_t completions = 0;  // outcomes decided by step threads (lets the scheduler notice
                             // one that happened while it was busy, not waiting)
};

std::string timeout_reason(double seconds) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", seconds);
  return std::string("step exceeded [orchestration] step_timeout_seconds = ") + b;
}

// The step's own deadline fired (not a shorter timeout inside the body, such as a model call's
// timeout_seconds). A call clipped to the step's deadline ends a little before it: 250 ms slack.
bool step_deadline_reached(int64_t deadline_unix_ms) {
  return deadline_unix_ms > 0 && clock::now_unix_ms() + 250 >= deadline_unix_ms;
}

constexpr const char* kSessionDeadline = "the session passed its deadline ([limits] session_timeout_seconds)";

}  // namespace

std::vector<StepRun> run_dag(const Plan& plan, const DagOptions& options, StepBody body, StepObserver observer) {
  const size_t n = plan.steps.size();
  std::map<int, size_t> index;
  for (size_t i = 0; i < n; ++i) index.emplace(plan.steps[i].id, i);

  auto shared = std::make_shared<Shared>();
  shared->body = std::move(body);
  shared->observer = std::move(observer);
  const StepObserver& observe = shared->observer;
  shared->runs.assign(n, StepRun{});
  shared->active.assign(n, false);
  shared->deadline_ms.assign(n, 0);
  shared->returned.assign(n, false);
  shared->pending = n;
  std::vector<StepRun>& runs = shared->runs;
  std::vector<std::shared_ptr<std::atomic<bool>>> stop(n);
  const int max_parallel = options.max_parallel > 0 ? options.max_parallel : 1;
  const auto timeout_ms = static_cast<int64_t>(options.step_timeout_seconds * 1000.0);
  const double timeout_seconds = options.step_timeout_seconds;
  const int64_t session_deadline = options.session_deadline_unix_ms;
  std::vector<bool> by_session(n, false);  // the step's deadline is the session's

  auto decided = [&](size_t i) { return runs[i].state != StepRun::State::kPending || shared->active[i]; };
  // Called with the lock held; reports outside it.
  auto report = [&](std::unique_lock<std::mutex>& lock, size_t i) {
    StepRun copy = runs[i];
    lock.unlock();
    if (observe) observe(i, copy);
    lock.lock();
  };

  std::unique_lock<std::mutex> lock(shared->mu);
  for (;;) {
    const uint64_t completions_seen = shared->completions;
    // 1. Time out steps past their deadline (finished ones decided themselves).
    int64_t now = clock::now_unix_ms();
    int running = 0;
    for (size_t i = 0; i < n; ++i) {
      if (!shared->active[i]) continue;
      if (now < shared->deadline_ms[i]) {
        ++running;
        continue;
      }
      shared->active[i] = false;
      stop[i]->store(true);
      runs[i].state = StepRun::State::kTimedOut;
      runs[i].ended_us = clock::now_unix_us();
      runs[i].reason = by_session[i] ? kSessionDeadline : timeout_reason(timeout_seconds);
      report(lock, i);
    }
    // 2. Skip steps whose dependencies did not succeed; start ready ones.
    bool session_cancelled = options.cancelled && options.cancelled->load();
    bool session_late = session_deadline > 0 && clock::now_unix_ms() >= session_deadline;
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
        if (session_late && blocked.empty()) blocked = kSessionDeadline;
        if (!blocked.empty()) {
          runs[i].state = StepRun::State::kSkipped;
          runs[i].reason = blocked;
          --shared->pending;
          report(lock, i);
          progress = true;
          continue;
        }
        if (!ready || running >= max_parallel) continue;
        shared->active[i] = true;
        --shared->pending;
        ++running;
        shared->deadline_ms[i] = clock::now_unix_ms() + timeout_ms;
        if (session_deadline > 0 && session_deadline < shared->deadline_ms[i]) {
          shared->deadline_ms[i] = session_deadline;
          by_session[i] = true;
        }
        stop[i] = std::make_shared<std::atomic<bool>>(false);
        runs[i].started_us = clock::now_unix_us();
        StepControl control{shared->deadline_ms[i], stop[i]};
        ++shared->outstanding;
        report(lock, i);  // the start is reported before the body can report its end
        lock.unlock();
        const std::string late_reason = by_session[i] ? kSessionDeadline : timeout_reason(timeout_seconds);
        WorkerPool::shared().run([shared, i, control, late_reason] {
          Status st = shared->body(i, control);
          std::unique_lock<std::mutex> g(shared->mu);
          shared->returned[i] = true;
          if (shared->active[i]) {  // not already timed out by the coordinator
            shared->active[i] = false;
            ++shared->completions;
            StepRun& run = shared->runs[i];
            run.ended_us = clock::now_unix_us();
            if (st.is_ok()) {
              run.state = StepRun::State::kSucceeded;
            } else if (step_deadline_reached(control.deadline_unix_ms)) {
              run.state = StepRun::State::kTimedOut;
              run.reason = late_reason;
            } else if (st.code() == StatusCode::kDeadlineExceeded) {
              run.state = StepRun::State::kTimedOut;  // a timeout inside the step: its message names it
              run.reason = st.to_string();
            } else {
              run.state = StepRun::State::kFailed;
              run.reason = st.to_string();
            }
            StepRun copy = run;
            g.unlock();
            if (shared->observer) shared->observer(i, copy);
            g.lock();
          }
          // Wake the coordinator only when it has work: a step may now start or be skipped,
          // or this was the last body. Parallel siblings finishing cost no extra wake-ups.
          bool wake = --shared->outstanding == 0 || shared->pending > 0;
          if (wake) shared->cv.notify_all();
        });
        lock.lock();
        progress = true;
      }
    }
    // 3. Done when nothing is running or pending.
    bool all_decided = true, any_active = false;
    int64_t next_deadline = INT64_MAX;
    for (size_t i = 0; i < n; ++i) {
      if (runs[i].state == StepRun::State::kPending && !shared->active[i]) all_decided = false;
      if (shared->active[i]) {
        any_active = true;
        all_decided = false;
        next_deadline = std::min(next_deadline, shared->deadline_ms[i]);
      }
    }
    if (all_decided) break;
    // A step finished while this pass ran (its wake-up found nobody waiting): look again.
    if (shared->completions != completions_seen) continue;
    if (!any_active) {
      // Nothing running and nothing could start: only a malformed plan gets here.
      for (size_t i = 0; i < n; ++i) {
        if (runs[i].state != StepRun::State::kPending) continue;
        runs[i].state = StepRun::State::kSkipped;
        runs[i].reason = "dependencies can never be satisfied";
        --shared->pending;
        report(lock, i);
      }
      break;
    }
    int64_t wait_ms = next_deadline - clock::now_unix_ms();
    if (wait_ms > 0) shared->cv.wait_for(lock, std::chrono::milliseconds(wait_ms));
  }
  // Steps that passed their deadline were told to stop; their LLM calls carry the same
  // deadline, so they end shortly. Wait for them (and for every end report) so nothing
  // outlives the session, but not forever: a body stuck in a plugin that never looks at
  // is_cancelled is abandoned (its step is already `timeout`) and the session goes on.
  const auto grace = std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                            std::chrono::duration<double>(options.abandon_after_seconds));
  if (!shared->cv.wait_until(lock, grace, [&] { return shared->outstanding == 0; })) {
    for (size_t i = 0; i < n; ++i)
      if (runs[i].started_us > 0 && runs[i].state == StepRun::State::kTimedOut && !shared->returned[i])
        runs[i].abandoned = true;
  }
  return runs;
}

}  // namespace atlas::runtime
