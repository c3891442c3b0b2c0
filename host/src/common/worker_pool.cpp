#include "common/worker_pool.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <thread>

#include "common/scheduling_class.hpp"

namespace atlas {

struct WorkerPool::Worker {
  std::condition_variable wake;
  std::function<void()> task;  // set while assigned
  bool exit = false;
  std::thread thread;
};

WorkerPool::WorkerPool(size_t max_idle) : max_idle_(max_idle), owner_pid_(::getpid()) {}

WorkerPool::~WorkerPool() {
  std::vector<Worker*> workers;
  {
    std::unique_lock<std::mutex> lock(mu_);
    closing_ = true;
    done_cv_.wait(lock, [&] { return idle_.size() == all_.size(); });  // nothing running
    for (Worker* w : idle_) {
      w->exit = true;
      w->wake.notify_one();
    }
    workers = all_;
  }
  for (Worker* w : workers) {
    w->thread.join();
    delete w;
  }
}

void WorkerPool::run(std::function<void()> task) {
  SchedulingClass caller = SchedulingClass::of_this_thread();
  start([caller, task = std::move(task)] {
    if (!(SchedulingClass::of_this_thread() == caller)) caller.apply();
    task();
  });
}

void WorkerPool::run_all(size_t n, size_t max_threads, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  std::atomic<size_t> next{0};
  auto take_items = [&] {
    for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) fn(i);
  };
  const size_t helpers = std::min(n, std::max<size_t>(1, max_threads)) - 1;
  std::mutex mu;
  std::condition_variable cv;
  size_t finished = 0;
  for (size_t t = 0; t < helpers; ++t)
    run([&] {
      take_items();
      std::lock_guard<std::mutex> g(mu);
      ++finished;
      cv.notify_all();
    });
  std::exception_ptr failed;
  try {
    take_items();
  } catch (...) {
    failed = std::current_exception();  // the helpers still use this frame: wait for them first
    next = n;
  }
  {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return finished == helpers; });
  }
  if (failed) std::rethrow_exception(failed);
}

void WorkerPool::start(std::function<void()> task) {
  std::unique_lock<std::mutex> lock(mu_);
  if (::getpid() != owner_pid_) {
    // A forked child: the parent's workers do not exist here. Forget them (leaked on purpose:
    // their std::thread objects refer to threads this process never had).
    idle_.clear();
    all_.clear();
    owner_pid_ = ::getpid();
  }
  if (!idle_.empty()) {
    Worker* w = idle_.back();
    idle_.pop_back();
    w->task = std::move(task);
    w->wake.notify_one();
    return;
  }
  auto* w = new Worker;
  w->task = std::move(task);
  all_.push_back(w);
  w->thread = std::thread([this, w] { loop(w); });
}

void WorkerPool::loop(Worker* w) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    std::function<void()> task = std::move(w->task);
    w->task = nullptr;
    lock.unlock();
    task();
    task = nullptr;  // destroy captures outside the lock
    lock.lock();
    if (closing_ || idle_.size() >= max_idle_) {
      all_.erase(std::find(all_.begin(), all_.end(), w));
      w->thread.detach();
      done_cv_.notify_all();
      lock.unlock();
      delete w;
      return;
    }
    idle_.push_back(w);
    done_cv_.notify_all();
    w->wake.wait(lock, [&] { return w->task != nullptr || w->exit; });
    if (w->exit) return;
  }
}

WorkerPool& WorkerPool::shared() {
  static auto* pool = new WorkerPool(64);
  return *pool;
}

size_t WorkerPool::idle_for_testing() {
  std::lock_guard<std::mutex> lock(mu_);
  return idle_.size();
}

}  // namespace atlas
