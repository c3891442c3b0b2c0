// Runs a plan's steps in dependency order: a step starts as soon as all its dependencies
// succeeded, independent steps run concurrently (at most `max_parallel` at once), each
// under its own deadline (and the session's). A step past its deadline is recorded as timed
// out and its dependents are skipped; the other branches carry on. A step body that does not
// return after its deadline (a plugin stuck in code that never checks is_cancelled) is
// abandoned: run_dag stops waiting for it, so a session can never hang on one step.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "runtime/plan.hpp"

namespace atlas::runtime {

// What a running step can see: its deadline and whether it should stop early.
struct StepControl {
  int64_t deadline_unix_ms = 0;
  std::shared_ptr<std::atomic<bool>> cancelled;
  bool should_stop() const { return cancelled && cancelled->load(); }
};

struct StepRun {
  enum class State { kPending, kSucceeded, kFailed, kTimedOut, kSkipped };
  State state = State::kPending;
  std::string reason;     // failure / skip reason
  int64_t started_us = 0;  // wall clock, 0 when never started
  int64_t ended_us = 0;
  // The body was still running when run_dag returned (timed out and never came back). Its
  // thread is left to finish on its own; the body's captures must outlive it.
  bool abandoned = false;
};

std::string_view step_state_name(StepRun::State s);  // succeeded, failed, timeout, skipped, pending

struct DagOptions {
  int max_parallel = 4;
  double step_timeout_seconds = 900.0;
  // Set to stop scheduling new steps (session cancelled); running steps see it too.
  std::shared_ptr<std::atomic<bool>> cancelled;
  // The session's deadline (0 = none): no step's deadline is later, and no step starts after it.
  int64_t session_deadline_unix_ms = 0;
  // After a step's deadline, how long to wait for its body to return before abandoning it.
  double abandon_after_seconds = 5.0;
};

// The step body: returns OK or a failure with a reason. It runs on a thread of
// WorkerPool::shared(), concurrently with the other running steps.
using StepBody = std::function<Status(size_t step_index, const StepControl& control)>;
// Called when a step changes state; may be empty. Start, skip and timeout are reported by
// the scheduling thread; a step whose body returns reports its own end from its worker
// thread (so the scheduler is not woken for each of several parallel steps finishing).
// Reports may therefore arrive concurrently: the observer must be thread-safe. A step's
// start is always reported before its end.
using StepObserver = std::function<void(size_t step_index, const StepRun& run)>;

// Requires check_plan(plan) to be OK. Blocks until every step has an outcome and every
// started step body has returned, or was abandoned (at most abandon_after_seconds after the
// last deadline). `body` and `observer` are copied: an abandoned body keeps its own copy,
// so whatever they capture must stay valid until it returns (share ownership, not a frame).
std::vector<StepRun> run_dag(const Plan& plan, const DagOptions& options, StepBody body, StepObserver observer = {});

}  // namespace atlas::runtime
