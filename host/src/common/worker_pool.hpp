// Threads kept between tasks: plan steps, judge calls, background learning. A task never waits
// for a free worker: an idle one takes it, otherwise a new thread starts (steps of one plan must
// run at the same time, so queueing behind a busy worker could serialise or deadlock them).
// Reusing threads saves what a fresh thread costs per task: clone, a stack mapped and unmapped
// under the process's memory-map lock (which every other thread's page faults take too), a
// malloc arena that grows and is trimmed, thread_local state built again.
//
// A task runs in its caller's scheduling class: the gateway's storage workers run under
// SCHED_IDLE (serve/episodes.cpp) and the judge calls they fan out must not take the CPU from
// the relay, while a plan step of `run` keeps the normal class on a thread an idle caller made.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

#include <sys/types.h>

namespace atlas {

class WorkerPool {
 public:
  // Keeps at most `max_idle` parked threads; more exit when their task ends.
  explicit WorkerPool(size_t max_idle);
  ~WorkerPool();  // waits for running tasks, then ends the parked threads
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a worker thread now, in the caller's scheduling class. The task must not throw.
  void run(std::function<void()> task);
  // Runs fn(0..n-1) on up to `max_threads` threads (the caller's included) and returns when all
  // are done. For work that blocks on I/O (judge calls), so threads, not cores, bound it.
  void run_all(size_t n, size_t max_threads, const std::function<void(size_t)>& fn);

  // The process-wide pool for plan steps (never destroyed: parked threads end with the process).
  static WorkerPool& shared();

  size_t idle_for_testing();

 private:
  struct Worker;
  void loop(Worker* w);
  void start(std::function<void()> task);

  const size_t max_idle_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<Worker*> idle_;
  std::vector<Worker*> all_;  // owned; a worker removes itself when it exits
  bool closing_ = false;
  pid_t owner_pid_;  // after fork() the child has none of these threads
};

}  // namespace atlas
