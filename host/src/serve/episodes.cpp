#include "serve/episodes.hpp"

#include <cerrno>

#include "common/log.hpp"
#include "common/scheduling_class.hpp"
#include "runtime/events.hpp"

namespace atlas::serve {

// ------------------------------------------------------------------------------- StorageQueue

StorageQueue::StorageQueue(size_t capacity, int workers) : capacity_(capacity) {
  sem_init(&wake_, 0, 0);
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { work(); });
}

StorageQueue::~StorageQueue() {
  stopping_ = true;
  wake_all_workers();
  for (auto& t : workers_) t.join();
  sem_destroy(&wake_);
}

bool StorageQueue::has_room() const {
  return queued_.load(std::memory_order_relaxed) < capacity_;
}

size_t StorageQueue::depth() const {
  return queued_.load(std::memory_order_relaxed);
}

size_t StorageQueue::submit(const std::shared_ptr<OpenEpisode>& episode, std::function<void()> op) {
  auto* s = new Submitted{episode, std::move(op), nullptr};
  const size_t depth = queued_.fetch_add(1) + 1;
  s->next = submitted_.load(std::memory_order_relaxed);
  while (!submitted_.compare_exchange_weak(s->next, s, std::memory_order_release, std::memory_order_relaxed)) {
  }
  // Only the first op since the workers last took the stack wakes one: it takes everything
  // pushed until then. The workers run only when a CPU is free, so under load several calls'
  // records go to storage per wake-up instead of one futex call and context switch each.
  if (!s->next) sem_post(&wake_);
  return depth;
}

void StorageQueue::wake_all_workers() {
  for (size_t i = 0; i < workers_.size(); ++i) sem_post(&wake_);
}

void StorageQueue::take_submitted_locked() {
  Submitted* newest = submitted_.exchange(nullptr, std::memory_order_acquire);
  Submitted* oldest = nullptr;  // reverse: submission order
  while (newest) {
    Submitted* next = newest->next;
    newest->next = oldest;
    oldest = newest;
    newest = next;
  }
  while (oldest) {
    std::unique_ptr<Submitted> s(oldest);
    oldest = s->next;
    s->episode->pending.push_back(std::move(s->op));
    if (!s->episode->scheduled) {
      s->episode->scheduled = true;
      ready_.push_back(std::move(s->episode));
    }
  }
}

bool StorageQueue::wait_idle(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock<std::mutex> lk(mu_);
  return idle_cv_.wait_until(lk, deadline, [this] { return queued_ == 0; });
}

void StorageQueue::work() {
  // Storage, judges and learning (threads started from here inherit it) yield the CPU to the
  // relay: on a busy machine the calls in flight come first, the bounded queue absorbs the rest.
  run_this_thread_in_background();
  for (;;) {
    std::shared_ptr<OpenEpisode> ep;
    {
      std::lock_guard<std::mutex> g(mu_);
      take_submitted_locked();
      if (!ready_.empty()) {
        ep = std::move(ready_.front());
        ready_.pop_front();
        // One wake-up may have brought several episodes' work: another worker takes the next.
        if (!ready_.empty()) sem_post(&wake_);
      }
    }
    if (!ep) {
      // Stopping still drains: every admitted record is stored before the queue goes away.
      if (stopping_ && queued_ == 0) return;
      while (sem_wait(&wake_) != 0 && errno == EINTR) {
      }
      continue;
    }
    // One op at a time per episode: the episode stays "scheduled" until its strand is empty.
    std::unique_lock<std::mutex> lk(mu_);
    for (;;) {
      if (ep->pending.empty()) take_submitted_locked();
      if (ep->pending.empty()) break;
      std::function<void()> op = std::move(ep->pending.front());
      ep->pending.pop_front();
      lk.unlock();
      try {
        op();
      } catch (const std::exception& e) {
        log::error("serve", "storage work for episode " + ep->id + " failed: " + e.what());
      }
      op = nullptr;  // its captures are released outside the lock
      lk.lock();
      if (--queued_ == 0) {
        idle_cv_.notify_all();
        if (stopping_) wake_all_workers();
      }
    }
    ep->scheduled = false;
  }
}

// ------------------------------------------------------------------------------- EpisodeTable

std::shared_ptr<OpenEpisode> EpisodeTable::open(const std::string& id, std::optional<EndedEpisode>* ended) {
  std::lock_guard<std::mutex> g(mu_);
  if (auto it = ended_.find(id); it != ended_.end()) {
    if (ended) *ended = it->second;
    return nullptr;
  }
  auto& slot = open_[id];
  if (!slot) slot = std::make_shared<OpenEpisode>(id);
  return slot;
}

std::shared_ptr<OpenEpisode> EpisodeTable::find(const std::string& id) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = open_.find(id);
  return it == open_.end() ? nullptr : it->second;
}

std::shared_ptr<OpenEpisode> EpisodeTable::take_for_end(const std::string& id, const std::string& session_id) {
  std::lock_guard<std::mutex> g(mu_);
  auto it = open_.find(id);
  if (it == open_.end()) return nullptr;
  auto ep = std::move(it->second);
  open_.erase(it);
  EndedEpisode e;
  e.session_id = session_id;
  remember(id, std::move(e));
  return ep;
}

std::vector<std::shared_ptr<OpenEpisode>> EpisodeTable::take_idle(int64_t idle_before_ms) {
  std::vector<std::shared_ptr<OpenEpisode>> out;
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = open_.begin(); it != open_.end();) {
    int64_t last;
    {
      std::lock_guard<std::mutex> eg(it->second->mu);
      last = it->second->last_activity_ms;
    }
    if (idle_before_ms >= 0 && last >= idle_before_ms) {
      ++it;
      continue;
    }
    out.push_back(it->second);
    remember(it->first, EndedEpisode{});
    it = open_.erase(it);
  }
  return out;
}

void EpisodeTable::set_ended(const std::string& id, EndedEpisode ended) {
  NormalClassScope not_preempted_holding_the_lock;  // a storage worker; the relay opens episodes
  std::lock_guard<std::mutex> g(mu_);
  if (auto it = ended_.find(id); it != ended_.end()) it->second = std::move(ended);
}

std::optional<EndedEpisode> EpisodeTable::ended(const std::string& id) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = ended_.find(id);
  if (it == ended_.end()) return std::nullopt;
  return it->second;
}

size_t EpisodeTable::open_count() const {
  std::lock_guard<std::mutex> g(mu_);
  return open_.size();
}

void EpisodeTable::evict(const std::string& id) {
  std::lock_guard<std::mutex> g(mu_);
  open_.erase(id);
}

void EpisodeTable::evict_idle(int64_t idle_before_ms) {
  std::lock_guard<std::mutex> g(mu_);
  for (auto it = open_.begin(); it != open_.end();) {
    std::unique_lock<std::mutex> eg(it->second->mu, std::try_to_lock);  // in use: not idle
    if (eg.owns_lock() && it->second->last_activity_ms < idle_before_ms) {
      eg.unlock();
      it = open_.erase(it);
    } else {
      ++it;
    }
  }
}

void EpisodeTable::remember(const std::string& id, EndedEpisode e) {
  ended_[id] = std::move(e);
  ended_order_.push_back(id);
  while (ended_order_.size() > max_ended_) {
    ended_.erase(ended_order_.front());
    ended_order_.pop_front();
  }
}

std::string feedback_array(const std::vector<std::string>& documents) {
  if (documents.empty()) return "";
  std::string joined = "[";
  for (size_t i = 0; i < documents.size(); ++i) joined += (i ? "," : "") + documents[i];
  return joined + "]";
}

std::string new_episode_id() {
  return "ep_" + runtime::random_id().substr(0, 24);
}

bool valid_episode_id(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
              c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace atlas::serve
