#include "runtime/worker_pool.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace atlas::runtime {
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

}  // namespace
}  // namespace atlas::runtime
