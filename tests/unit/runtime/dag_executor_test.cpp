#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "common/clock.hpp"
#include "runtime/dag_executor.hpp"

namespace atlas::runtime {
namespace {

Plan diamond() {
  auto p = parse_plan(R"({"steps":[{"id":1,"description":"a"},{"id":2,"description":"b","depends_on":[1]},
                                   {"id":3,"description":"c","depends_on":[1]},{"id":4,"description":"d","depends_on":[2,3]}]})");
  return *p;
}

// Steps 2 and 3 each wait until the other has started: if the executor ran them one after the
// other, the first would give up waiting and the test fails.
TEST(DagExecutor, DiamondMiddleStepsRunConcurrently) {
  Plan plan = diamond();
  std::mutex mu;
  std::condition_variable cv;
  int middle_started = 0;
  std::vector<int> order;
  auto body = [&](size_t i, const StepControl&) -> Status {
    int id = plan.steps[i].id;
    std::unique_lock<std::mutex> lock(mu);
    order.push_back(id);
    if (id == 2 || id == 3) {
      ++middle_started;
      cv.notify_all();
      if (!cv.wait_for(lock, std::chrono::seconds(10), [&] { return middle_started == 2; }))
        return internal_error("the other middle step never started");
    }
    return Status::ok();
  };
  DagOptions opts;
  opts.max_parallel = 4;
  auto runs = run_dag(plan, opts, body);
  for (const auto& r : runs) EXPECT_EQ(r.state, StepRun::State::kSucceeded) << r.reason;
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(order.front(), 1);
  EXPECT_EQ(order.back(), 4);
  EXPECT_GE(runs[3].started_us, std::max(runs[1].ended_us, runs[2].ended_us));
}

TEST(DagExecutor, TimedOutStepSkipsDependentsButNotIndependentSteps) {
  Plan plan = diamond();
  std::mutex mu;
  std::condition_variable cv;
  bool released = false;
  auto body = [&](size_t i, const StepControl& c) -> Status {
    if (plan.steps[i].id != 2) return Status::ok();
    // Step 2 hangs until told to stop (the executor sets the flag at the deadline).
    std::unique_lock<std::mutex> lock(mu);
    while (!c.should_stop() && !released) cv.wait_for(lock, std::chrono::milliseconds(5));
    return deadline_exceeded("stopped");
  };
  DagOptions opts;
  opts.step_timeout_seconds = 0.2;
  auto runs = run_dag(plan, opts, body);
  EXPECT_EQ(runs[0].state, StepRun::State::kSucceeded);
  EXPECT_EQ(runs[1].state, StepRun::State::kTimedOut);
  EXPECT_NE(runs[1].reason.find("step_timeout_seconds = 0.2"), std::string::npos) << runs[1].reason;
  EXPECT_EQ(runs[2].state, StepRun::State::kSucceeded);
  EXPECT_EQ(runs[3].state, StepRun::State::kSkipped);
  EXPECT_NE(runs[3].reason.find("dependency step 2"), std::string::npos);
}

// A model call's own timeout_seconds firing long before the step's deadline is reported with
// the call's message, not as the step timeout (which did not fire).
TEST(DagExecutor, TimeoutInsideTheStepNamesTheTimeoutThatFired) {
  Plan plan = diamond();
  DagOptions opts;
  opts.step_timeout_seconds = 600;
  auto runs = run_dag(plan, opts, [&](size_t i, const StepControl&) -> Status {
    return plan.steps[i].id == 1 ? deadline_exceeded("model \"m\": no complete reply within timeout_seconds=2")
                                 : Status::ok();
  });
  EXPECT_EQ(runs[0].state, StepRun::State::kTimedOut);
  EXPECT_NE(runs[0].reason.find("timeout_seconds=2"), std::string::npos) << runs[0].reason;
  EXPECT_EQ(runs[0].reason.find("step_timeout_seconds"), std::string::npos) << runs[0].reason;
}

TEST(DagExecutor, FailureIsRecordedWithReason) {
  Plan plan = diamond();
  auto runs = run_dag(plan, DagOptions{}, [&](size_t i, const StepControl&) -> Status {
    return plan.steps[i].id == 1 ? unavailable("adapter down") : Status::ok();
  });
  EXPECT_EQ(runs[0].state, StepRun::State::kFailed);
  EXPECT_NE(runs[0].reason.find("adapter down"), std::string::npos);
  for (int i = 1; i < 4; ++i) EXPECT_EQ(runs[i].state, StepRun::State::kSkipped);
}

TEST(DagExecutor, MaxParallelBoundsConcurrency) {
  auto p = parse_plan(R"({"steps":[{"id":1,"description":"a"},{"id":2,"description":"b"},{"id":3,"description":"c"},
                                   {"id":4,"description":"d"}]})");
  std::mutex mu;
  int running = 0, peak = 0;
  DagOptions opts;
  opts.max_parallel = 2;
  auto runs = run_dag(*p, opts, [&](size_t, const StepControl&) -> Status {
    {
      std::lock_guard<std::mutex> g(mu);
      peak = std::max(peak, ++running);
    }
    std::this_thread::yield();
    std::lock_guard<std::mutex> g(mu);
    --running;
    return Status::ok();
  });
  EXPECT_LE(peak, 2);
  for (const auto& r : runs) EXPECT_EQ(r.state, StepRun::State::kSucceeded);
}

// End reports come from the step threads now, concurrently: each step must still be
// reported exactly twice (start, then its outcome), and what run_dag returns must agree.
TEST(DagExecutor, EveryStepReportsStartBeforeItsOutcomeEvenWhenSiblingsFinishTogether) {
  std::string steps;
  for (int id = 1; id <= 8; ++id)
    steps += std::string(id > 1 ? "," : "") + "{\"id\":" + std::to_string(id) + ",\"description\":\"s\"}";
  steps += ",{\"id\":9,\"description\":\"join\",\"depends_on\":[1,2,3,4,5,6,7,8]}";
  auto p = parse_plan("{\"steps\":[" + steps + "]}");
  ASSERT_TRUE(p.is_ok());
  std::mutex mu;
  std::vector<std::vector<StepRun::State>> seen(9);
  DagOptions opts;
  opts.max_parallel = 8;
  for (int round = 0; round < 20; ++round) {
    for (auto& v : seen) v.clear();
    auto runs = run_dag(
        *p, opts, [](size_t, const StepControl&) -> Status { return Status::ok(); },
        [&](size_t i, const StepRun& run) {
          std::lock_guard<std::mutex> g(mu);
          seen[i].push_back(run.state);
        });
    for (size_t i = 0; i < 9; ++i) {
      ASSERT_EQ(seen[i].size(), 2u) << "step " << i + 1 << " in round " << round;
      EXPECT_EQ(seen[i][0], StepRun::State::kPending);
      EXPECT_EQ(seen[i][1], StepRun::State::kSucceeded);
      EXPECT_EQ(runs[i].state, StepRun::State::kSucceeded);
      EXPECT_LE(runs[i].started_us, runs[i].ended_us);
    }
    for (size_t i = 0; i < 8; ++i) EXPECT_GE(runs[8].started_us, runs[i].ended_us);
  }
}

// With one slot, each finishing step must wake the scheduler to start the next one.
TEST(DagExecutor, ASingleSlotStillRunsEveryStepInTurn) {
  auto p = parse_plan(R"({"steps":[{"id":1,"description":"a"},{"id":2,"description":"b"},{"id":3,"description":"c"}]})");
  std::atomic<int> ran{0};
  DagOptions opts;
  opts.max_parallel = 1;
  auto runs = run_dag(*p, opts, [&](size_t, const StepControl&) -> Status {
    ++ran;
    return Status::ok();
  });
  EXPECT_EQ(ran.load(), 3);
  for (const auto& r : runs) EXPECT_EQ(r.state, StepRun::State::kSucceeded);
  EXPECT_GE(runs[1].started_us, runs[0].ended_us);
  EXPECT_GE(runs[2].started_us, runs[1].ended_us);
}

}  // namespace
}  // namespace atlas::runtime

namespace atlas::runtime {
namespace {

// A body that ignores its stop flag (a plugin stuck in code that never checks is_cancelled)
// blocks until the test releases it. run_dag must return anyway: the step is `timeout` and
// abandoned, its independent sibling still runs, its dependents are skipped.
TEST(DagExecutor, ABodyThatNeverReturnsIsAbandonedAfterItsDeadline) {
  Plan plan = *parse_plan(R"({"steps":[{"id":1,"description":"stuck"},{"id":2,"description":"after","depends_on":[1]},
                                      {"id":3,"description":"free"}]})");
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    bool returned = false;
  };
  auto gate = std::make_shared<Gate>();  // shared: the abandoned body outlives this frame
  auto body = [gate](size_t i, const StepControl&) -> Status {
    if (i != 0) return Status::ok();
    std::unique_lock<std::mutex> lock(gate->mu);
    gate->cv.wait(lock, [&] { return gate->open; });
    gate->returned = true;
    gate->cv.notify_all();
    return Status::ok();
  };
  DagOptions opts;
  opts.step_timeout_seconds = 0.3;
  opts.abandon_after_seconds = 0.2;
  auto runs = run_dag(plan, opts, body);
  EXPECT_EQ(runs[0].state, StepRun::State::kTimedOut);
  EXPECT_TRUE(runs[0].abandoned);
  EXPECT_NE(runs[0].reason.find("timeout"), std::string::npos) << runs[0].reason;
  EXPECT_EQ(runs[1].state, StepRun::State::kSkipped);
  EXPECT_EQ(runs[2].state, StepRun::State::kSucceeded);
  EXPECT_FALSE(runs[2].abandoned);
  // The abandoned body may still finish later without touching freed memory.
  std::unique_lock<std::mutex> lock(gate->mu);
  gate->open = true;
  gate->cv.notify_all();
  EXPECT_TRUE(gate->cv.wait_for(lock, std::chrono::seconds(30), [&] { return gate->returned; }));
}

TEST(DagExecutor, TheSessionDeadlineBoundsEveryStepAndStopsStartingNewOnes) {
  Plan plan = *parse_plan(R"({"steps":[{"id":1,"description":"slow"},{"id":2,"description":"next","depends_on":[1]}]})");
  auto body = [](size_t, const StepControl& c) -> Status {
    // Well behaved: returns once told to stop.
    while (!c.should_stop()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return deadline_exceeded("stopped");
  };
  DagOptions opts;
  opts.step_timeout_seconds = 600;  // the step's own deadline is far away
  opts.session_deadline_unix_ms = clock::now_unix_ms() + 300;
  auto runs = run_dag(plan, opts, body);
  EXPECT_EQ(runs[0].state, StepRun::State::kTimedOut);
  EXPECT_FALSE(runs[0].abandoned);
  EXPECT_NE(runs[0].reason.find("session_timeout_seconds"), std::string::npos) << runs[0].reason;
  EXPECT_EQ(runs[1].state, StepRun::State::kSkipped);
}

}  // namespace
}  // namespace atlas::runtime
