#include "sqlite_group_commit.hpp"

#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <memory>

#include "db.hpp"

namespace atlas_soci {

namespace {

// A caller in a background scheduling class (SCHED_IDLE or SCHED_BATCH, or a positive nice value):
// the gateway's storage workers and its event writer. The host's SchedulingClass::background()
// rule; a plugin builds against the SDK only, not the host's headers.
bool this_thread_is_background() {
  const int policy = sched_getscheduler(0);
  if (policy == SCHED_IDLE || policy == SCHED_BATCH) return true;
  errno = 0;
  const int nice = getpriority(PRIO_PROCESS, 0);  // this thread, on Linux
  return errno == 0 && nice > 0;
}

// `raw` as the sdk::Error its op reports (rethrow_as_status's mapping, named after the op).
std::exception_ptr as_status(Conn* conn, const char* what, const std::exception_ptr& raw) {
  try {
    try {
      std::rethrow_exception(raw);
    } catch (...) {
      rethrow_as_status(conn, what);
    }
  } catch (...) {
    return std::current_exception();
  }
  return raw;  // not reached: rethrow_as_status always throws
}

}  // namespace

std::string GroupCommit::run(Pool& pool, const char* what, const std::function<std::string(Conn&)>& fn) {
  // Only a wait for company needs the caller's class (two system calls per op otherwise spent).
  Job job{what, &fn, {}, nullptr, false, wait_.count() > 0 && this_thread_is_background()};
  std::unique_lock<std::mutex> lock(mu_);
  queued_.push_back(&job);
  if (!job.background) {
    ++urgent_queued_;
    done_cv_.notify_all();  // ends a background leader's wait for company
  }
  while (!job.done) {
    if (leading_) {
      done_cv_.wait(lock);
      continue;
    }
    leading_ = true;
    if (job.background) {
      done_cv_.wait_for(lock, wait_, [&] { return urgent_queued_ > 0 || queued_.size() >= max_batch_; });
    }
    std::deque<Job*> batch;
    while (!queued_.empty() && batch.size() < max_batch_) {
      if (!queued_.front()->background) --urgent_queued_;
      batch.push_back(queued_.front());
      queued_.pop_front();
    }
    running_ = batch.size();
    lock.unlock();
    run_batch(pool, batch);
    lock.lock();
    for (Job* j : batch) j->done = true;
    counts_.ops += batch.size();
    ++counts_.commits;
    running_ = 0;
    leading_ = false;
    done_cv_.notify_all();  // the callers of this batch, and the next leader among those queued since
  }
  if (job.error) std::rethrow_exception(job.error);
  return std::move(job.result);
}

void GroupCommit::run_batch(Pool& pool, std::deque<Job*>& batch) noexcept {
  std::unique_ptr<Conn> conn;
  // Every op of the batch not failed on its own fails with `raw` (BEGIN, COMMIT or a lost
  // savepoint): nothing of the batch was committed, and no caller hears otherwise.
  auto fail_batch = [&](const std::exception_ptr& raw) {
    for (Job* j : batch) {
      if (j->error) continue;
      j->result.clear();
      j->error = as_status(conn.get(), j->what, raw);
    }
  };
  try {
    conn = pool.writer();
    conn->begin();
  } catch (...) {
    fail_batch(std::current_exception());
    return;
  }
  // A batch of one runs as before group commit: its transaction is its savepoint.
  const bool savepoints = batch.size() > 1;
  for (Job* j : batch) {
    try {
      if (savepoints) conn->exec("SAVEPOINT atlas_op");
      j->result = (*j->fn)(*conn);
      if (savepoints) conn->exec("RELEASE atlas_op");
    } catch (...) {
      j->error = as_status(conn.get(), j->what, std::current_exception());
      j->result.clear();
      if (!savepoints) {
        conn->rollback();
        return;
      }
      try {
        // An error SQLite answers by rolling back the whole transaction (disk full, I/O) also
        // drops the savepoint: ROLLBACK TO then fails and the batch fails with it.
        conn->exec("ROLLBACK TO atlas_op");
        conn->exec("RELEASE atlas_op");
      } catch (...) {
        fail_batch(std::current_exception());
        conn->rollback();
        return;
      }
    }
  }
  try {
    conn->commit();
  } catch (...) {
    fail_batch(std::current_exception());
    conn->rollback();
  }
}

GroupCommit::Counts GroupCommit::counts() const {
  std::lock_guard<std::mutex> lock(mu_);
  Counts n = counts_;
  n.running = running_;
  n.queued = queued_.size();
  return n;
}

}  // namespace atlas_soci
