// Group commit for SQLite's single writer (docs/storage.md, "Group commit (SQLite)").
//
// SQLite lets one connection write at a time. When each write op took the write lock on a pooled
// connection of its own, every op paid for a commit that rewrote every page it touched (the
// rightmost leaves of the append-only tables and of a dozen session indexes, the full-text
// index's new segment), and started on a cold page cache, because a commit by one connection
// drops the others' caches. Under the gateway's load that was ~70 WAL frames (280 KB) written
// per 10-call episode of ~15 KB, and a fifth of the gateway's CPU in pread/pwrite.
//
// Write ops now queue here and run on one connection kept for writing: whoever finds no batch
// running becomes its leader, takes everything queued (up to max_batch ops) and runs it in one
// BEGIN IMMEDIATE ... COMMIT, each op in its own SAVEPOINT, so one op's failure rolls back that
// op alone and is reported to its caller alone. Every caller returns only after the commit that
// holds its op: the durability of an op's answer is unchanged. Ops that arrive while one batch
// runs form the next. A leader whose thread runs in a background scheduling class (the gateway's
// storage workers and event writer: nobody waits for their answer) first waits up to `wait` for
// more ops to share its commit; an op from a normal-class thread ends that wait at once, and a
// normal-class leader never waits.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>

namespace atlas_soci {

class Conn;
class Pool;

class GroupCommit {
 public:
  GroupCommit(size_t max_batch, std::chrono::microseconds wait)
      : max_batch_(max_batch < 1 ? 1 : max_batch), wait_(wait) {}
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Runs fn(conn) inside a write transaction on the pool's writer connection, with the ops
  // queued at the same time; returns fn's result once committed, or throws its error (an
  // sdk::Error, mapped as with_conn maps it) or the batch's (BEGIN or COMMIT failed).
  std::string run(Pool& pool, const char* what, const std::function<std::string(Conn&)>& fn);

  // Ops run and commits tried (one per batch) so far, ops in the batch running now and ops
  // waiting for the next one (the `status` op reports them: docs/storage.md).
  struct Counts {
    size_t ops = 0, commits = 0, running = 0, queued = 0;
  };
  Counts counts() const;

 private:
  struct Job {
    const char* what;
    const std::function<std::string(Conn&)>* fn;
    std::string result;
    std::exception_ptr error;
    bool done = false;
    bool background = false;  // queued by a background-class thread (only known when wait_ > 0)
  };
  // Never throws: every failure lands in the ops' errors (a throw would leave the leader's seat taken).
  void run_batch(Pool& pool, std::deque<Job*>& batch) noexcept;

  const size_t max_batch_;
  const std::chrono::microseconds wait_;
  mutable std::mutex mu_;
  std::condition_variable done_cv_;
  std::deque<Job*> queued_;
  bool leading_ = false;      // a leader is collecting or running a batch
  size_t running_ = 0;        // ops in the batch running now
  size_t urgent_queued_ = 0;  // queued ops of normal-class threads
  Counts counts_;
};

}  // namespace atlas_soci
