// Threads for concurrent plan steps, kept between sessions. A task never waits for a free
// worker: an idle one takes it, otherwise a new thread starts (steps of one plan must run at
// the same time, so queueing behind a busy worker could serialise or deadlock them).
// Reusing threads saves what a fresh thread costs per step: clone, a stack whose pages fault
// in again, a malloc arena that grows and is trimmed, thread_local state built again.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <vector>

#include <sys/types.h>

namespace atlas::runtime {

class WorkerPool {
 public:
  // Keeps at most `max_idle` parked threads; more exit when their task ends.
  explicit WorkerPool(size_t max_idle);
  ~WorkerPool();  // waits for running tasks, then ends the parked threads
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Runs `task` on a worker thread now. The task must not throw.
  void run(std::function<void()> task);

  // The process-wide pool for plan steps (never destroyed: parked threads end with the process).
  static WorkerPool& shared();

  size_t idle_for_testing();

 private:
  struct Worker;
  void loop(Worker* w);

  const size_t max_idle_;
  std::mutex mu_;
  std::condition_variable done_cv_;
  std::vector<Worker*> idle_;
  std::vector<Worker*> all_;  // owned; a worker removes itself when it exits
  bool closing_ = false;
  pid_t owner_pid_;  // after fork() the child has none of these threads
};

}  // namespace atlas::runtime
