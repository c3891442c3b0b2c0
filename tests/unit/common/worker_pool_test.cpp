#include "common/worker_pool.hpp"

#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

namespace atlas {
namespace {

// Every task waits until all of them are running: passes only if none waits for a free worker.
void run_all_at_once(WorkerPool& pool, int n, std::set<std::thread::id>* ids) {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0, finished = 0, met = 0;
  for (int i = 0; i < n; ++i) {
    pool.run([&] {
      std::unique_lock<std::mutex> lock(mu);
      ids->insert(std::this_thread::get_id());
      ++arrived;
      cv.notify_all();
      if (cv.wait_for(lock, std::chrono::seconds(20), [&] { return arrived == n; })) ++met;
      ++finished;
      cv.notify_all();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return finished == n; });
  EXPECT_EQ(met, n) << "tasks were serialised behind busy workers";
}

size_t wait_for_idle(WorkerPool& pool, size_t expected) {
  // A worker parks right after its task returns; wait for that state change, bounded.
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (pool.idle_for_testing() != expected && std::chrono::steady_clock::now() < until) std::this_thread::yield();
  return pool.idle_for_testing();
}

TEST(WorkerPool, RunsEveryTaskAtOnceAndReusesParkedThreads) {
  WorkerPool pool(8);
  std::set<std::thread::id> first, second;
  run_all_at_once(pool, 6, &first);
  EXPECT_EQ(first.size(), 6u);
  EXPECT_EQ(wait_for_idle(pool, 6), 6u);
  run_all_at_once(pool, 6, &second);
  EXPECT_EQ(second, first) << "the second round should run on the parked threads";
}

TEST(WorkerPool, KeepsAtMostMaxIdleThreads) {
  WorkerPool pool(2);
  std::set<std::thread::id> ids;
  run_all_at_once(pool, 5, &ids);
  EXPECT_EQ(ids.size(), 5u);
  EXPECT_EQ(wait_for_idle(pool, 2), 2u);
}

TEST(WorkerPool, DestructionWaitsForRunningTasks) {
  bool done = false;
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  {
    WorkerPool pool(4);
    pool.run([&] {
      {
        std::lock_guard<std::mutex> g(mu);
        started = true;
      }
      cv.notify_all();
      std::this_thread::yield();
      done = true;
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return started; });
  }
  EXPECT_TRUE(done);
}

TEST(WorkerPool, RunAllRunsEveryIndexOnceOnAtMostMaxThreads) {
  WorkerPool pool(8);
  for (size_t max_threads : {size_t{1}, size_t{3}, size_t{16}}) {
    std::vector<int> seen(50, 0);
    std::mutex mu;
    std::set<std::thread::id> threads;
    pool.run_all(seen.size(), max_threads, [&](size_t i) {
      std::lock_guard<std::mutex> g(mu);
      ++seen[i];
      threads.insert(std::this_thread::get_id());
    });
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "index " << i << ", max " << max_threads;
    EXPECT_LE(threads.size(), max_threads);
  }
  pool.run_all(0, 4, [](size_t) { FAIL() << "nothing to run"; });
}

TEST(WorkerPool, RunAllWaitsForItsHelpersBeforeRethrowingTheCallersException) {
  WorkerPool pool(4);
  std::atomic<int> started{0}, finished{0};
  std::atomic<bool> thrown{false};
  const auto caller = std::this_thread::get_id();
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  EXPECT_THROW(pool.run_all(40, 4,
                            [&](size_t) {
                              if (std::this_thread::get_id() == caller) {
                                // Throw only once a helper is inside an item, still working.
                                while (started == 0 && std::chrono::steady_clock::now() < give_up)
                                  std::this_thread::yield();
                                thrown = true;
                                throw std::runtime_error("judge failed");
                              }
                              ++started;
                              while (!thrown && std::chrono::steady_clock::now() < give_up) std::this_thread::yield();
                              for (int i = 0; i < 1000; ++i) std::this_thread::yield();
                              ++finished;
                            }),
               std::runtime_error);
  EXPECT_GT(started.load(), 0);
  EXPECT_EQ(finished.load(), started.load()) << "run_all returned while a helper was still in an item";
}

// A storage worker of the gateway runs under SCHED_IDLE: what it fans out must too, and a pooled
// thread it created must not keep that class for a normal caller's next task.
TEST(WorkerPool, TasksRunInTheirCallersSchedulingClass) {
  WorkerPool pool(1);
  auto policy_of_task = [&pool] {
    int policy = -1;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    pool.run([&] {
      std::lock_guard<std::mutex> g(mu);
      policy = sched_getscheduler(0);
      done = true;
      cv.notify_all();
    });
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return done; });
    return policy;
  };
  int from_idle = -1;
  std::thread idle_caller([&] {
    sched_param none{};
    ASSERT_EQ(pthread_setschedparam(pthread_self(), SCHED_IDLE, &none), 0);
    from_idle = policy_of_task();  // the pool's first thread starts here, as SCHED_IDLE
  });
  idle_caller.join();
  EXPECT_EQ(from_idle, SCHED_IDLE);
  ASSERT_EQ(wait_for_idle(pool, 1), 1u);
  sched_param none{};
  if (sched_setscheduler(0, SCHED_OTHER, &none) != 0) GTEST_SKIP() << "this process may not leave SCHED_IDLE";
  EXPECT_EQ(policy_of_task(), SCHED_OTHER) << "the parked SCHED_IDLE thread ran a normal caller's task as idle";
}

}  // namespace
}  // namespace atlas
