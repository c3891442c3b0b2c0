// The gateway's open episodes and the queue that takes their storage work off the request path.
//
// An episode is opened by its first model call. When the configuration fixes the lane to auto
// and the learning state of its key was read recently (runtime::Runtime::prepare_episode), the
// session row, history and lane are read off the request path, as the first job of the
// episode's strand; otherwise (paired/coach lanes, a probe, a key not seen for a while) the
// first call waits for them, because supervision needs them before the reply goes out. Every
// later call only hands its captured record to the StorageQueue and returns. Each episode's storage work runs in
// order (a strand) on the queue's worker threads; different episodes run in parallel.
#pragma once

#include <semaphore.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime/runtime.hpp"

namespace atlas::serve {

struct OpenEpisode {
  explicit OpenEpisode(std::string episode_id) : id(std::move(episode_id)) {}
  const std::string id;

  std::mutex mu;                              // guards everything below; held while the episode opens
  std::shared_ptr<runtime::Episode> episode;  // null until the first call prepared or opened it
  // Atomics, not under `mu`: the storage workers (SCHED_IDLE) read and set them, and must not
  // hold a lock a relay thread waits for.
  std::atomic<bool> opened{false};       // episode->begin() succeeded (session row, lane): its getters may be read
  std::atomic<bool> open_failed{false};  // the session ended at once (too large a task, Ctrl-C)
  // What the calls forward with, decided when the episode was prepared (before begin() when it
  // opens off the request path) or read from the opened episode.
  config::Lane lane = config::Lane::kAuto;
  std::string playbook_block;
  int calls = 0;
  int64_t last_activity_ms = 0;
  std::vector<std::string> feedback;  // feedback documents posted while open
  // Streamed calls whose record is not queued yet (a stream is recorded when it ends), and the
  // end that waits for them: an end that overtook a stream would store the session without it.
  int streams_in_flight = 0;
  std::function<void()> end_after_streams;
  // What the episode's model calls used so far, as the gateway counts them (student calls,
  // retries included), for [limits] (refused beyond them; the first refusal is recorded).
  int64_t model_calls = 0, tokens = 0;
  bool limit_noted = false;

  // The strand (guarded by the StorageQueue's workers' lock, not `mu`).
  std::deque<std::function<void()>> pending;
  bool scheduled = false;
};

// A bounded queue of storage work with per-episode ordering. Never blocks a request: full means
// the caller answers 429.
//
// The request side takes no lock: the workers run under SCHED_IDLE (episodes.cpp), and a worker
// preempted while holding a lock the relay also needs stalls the relay until a CPU falls idle
// (milliseconds at 2,000 requests/s: it was most of the gateway's p99). submit() pushes onto a
// lock-free stack and, when the stack was empty, posts a semaphore; the workers move what was
// pushed into the episodes' strands under a lock only they take.
class StorageQueue {
 public:
  StorageQueue(size_t capacity, int workers);
  ~StorageQueue();  // finishes what is queued
  StorageQueue(const StorageQueue&) = delete;
  StorageQueue& operator=(const StorageQueue&) = delete;

  bool has_room() const;
  // Queues `op` behind the episode's earlier work. Always accepted (has_room() is the gate, so
  // an admitted request never loses its record); returns the depth after queueing.
  size_t submit(const std::shared_ptr<OpenEpisode>& episode, std::function<void()> op);
  size_t depth() const;
  // Waits until nothing is queued or running, or the deadline (steady clock) passes.
  bool wait_idle(std::chrono::steady_clock::time_point deadline);

 private:
  struct Submitted {
    std::shared_ptr<OpenEpisode> episode;
    std::function<void()> op;
    Submitted* next = nullptr;
  };
  void work();
  // Moves everything submitted so far into the strands, in submission order (mu_ held).
  void take_submitted_locked();
  void wake_all_workers();

  const size_t capacity_;
  std::atomic<size_t> queued_{0};               // ops submitted, not yet finished
  std::atomic<Submitted*> submitted_{nullptr};  // newest first
  sem_t wake_;  // posted by a submit onto an empty stack, by a worker leaving more ready, per worker when stopping
  std::atomic<bool> stopping_{false};
  std::mutex mu_;  // the workers' (and wait_idle's): ready_ and every episode's strand
  std::condition_variable idle_cv_;
  std::deque<std::shared_ptr<OpenEpisode>> ready_;
  std::vector<std::thread> workers_;
};

// What a finished episode left behind, for GET /atlas/v1/sessions/<id> and repeated ends.
struct EndedEpisode {
  std::string state = "ending";  // ending | ended
  std::string session_id;
  std::string report_json;  // runtime::SessionReport::to_json() once ended
};

class EpisodeTable {
 public:
  explicit EpisodeTable(size_t max_remembered_ended = 100000) : max_ended_(max_remembered_ended) {}

  // The open episode `id`, created when new; null when `id` has ended (then `ended` is set).
  std::shared_ptr<OpenEpisode> open(const std::string& id, std::optional<EndedEpisode>* ended);
  std::shared_ptr<OpenEpisode> find(const std::string& id) const;
  // Removes the open episode `id` for ending it (null when not open) and remembers it as ending.
  std::shared_ptr<OpenEpisode> take_for_end(const std::string& id, const std::string& session_id);
  // Takes every open episode idle since before `idle_before_ms` (all when `idle_before_ms` < 0).
  std::vector<std::shared_ptr<OpenEpisode>> take_idle(int64_t idle_before_ms);
  void set_ended(const std::string& id, EndedEpisode ended);
  std::optional<EndedEpisode> ended(const std::string& id) const;
  size_t open_count() const;
  // Shared episodes (the database has their state; the table only caches this replica's view):
  // drops `id`, or every episode idle since before `idle_before_ms`, without remembering it ended.
  void evict(const std::string& id);
  void evict_idle(int64_t idle_before_ms);

 private:
  void remember(const std::string& id, EndedEpisode e);
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<OpenEpisode>> open_;
  std::map<std::string, EndedEpisode> ended_;
  std::deque<std::string> ended_order_;
  size_t max_ended_;
};

// The feedback documents posted for an episode as one JSON array ("" when there are none), as
// the session stores them (metadata.episode.feedback).
std::string feedback_array(const std::vector<std::string>& documents);

// A fresh episode id ("ep_" + 24 hex digits).
std::string new_episode_id();
// Episode ids clients may choose: 1..128 of [A-Za-z0-9._:-].
bool valid_episode_id(std::string_view id);

}  // namespace atlas::serve
