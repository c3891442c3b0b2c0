#include "llm/http_event_loop.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <chrono>

#include "llm/http_transfer.hpp"

namespace atlas::llm::detail {
namespace {

using SteadyClock = std::chrono::steady_clock;

CURLM* as_multi(void* m) { return static_cast<CURLM*>(m); }

}  // namespace

struct HttpEventLoop::Pending {
  std::shared_ptr<const HttpRequest> request;
  Done done;
};

struct HttpEventLoop::Timer {
  SteadyClock::time_point deadline;
  std::function<void()> fn;
  std::shared_ptr<const std::atomic<bool>> cancelled;
  bool due(SteadyClock::time_point now) const {
    return deadline <= now || (cancelled && cancelled->load(std::memory_order_acquire));
  }
  bool operator>(const Timer& o) const { return deadline > o.deadline; }
};

// A transfer attached to the multi handle; the easy handle's CURLOPT_PRIVATE points here.
struct HttpEventLoop::Active {
  std::shared_ptr<const HttpRequest> request;  // keeps the URL and body curl reads from alive
  Done done;
  Transfer transfer;
  CURL* easy = nullptr;
};

HttpEventLoop::HttpEventLoop() : multi_(curl_multi_init()) {
  // curl's default keeps 4 idle connections per transfer in flight: when a burst (a session's
  // judges) ended it closed the rest, and the next burst connected again, a TCP handshake and a
  // close per call.
  curl_multi_setopt(as_multi(multi_), CURLMOPT_MAXCONNECTS, kKeptConnections);
  thread_ = std::thread([this] { run(); });
}

HttpEventLoop::~HttpEventLoop() {
  stopping_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
  curl_multi_cleanup(as_multi(multi_));
}

void HttpEventLoop::wake() {
  if (!on_loop_thread()) curl_multi_wakeup(as_multi(multi_));  // the loop drains its queues before it polls
}

void HttpEventLoop::start(std::shared_ptr<const HttpRequest> request, Done done) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_.load()) {
      submitted_.push_back({std::move(request), std::move(done)});
      if (submitted_.size() == 1) wake();  // later ones find the loop already woken
      return;
    }
  }
  done(shut_down_response());
}

void HttpEventLoop::interrupt() {
  interrupted_.store(true);
  wake();
}

void HttpEventLoop::run_after(double delay_seconds, std::function<void()> fn,
                              std::shared_ptr<const std::atomic<bool>> cancelled) {
  auto deadline = SteadyClock::now() + std::chrono::duration_cast<SteadyClock::duration>(
                                           std::chrono::duration<double>(std::max(0.0, delay_seconds)));
  {
    std::lock_guard<std::mutex> lock(mu_);
    timers_.push_back({deadline, std::move(fn), std::move(cancelled)});
    std::push_heap(timers_.begin(), timers_.end(), std::greater<>());
  }
  wake();
}

void HttpEventLoop::run() {
  loop_id_.store(std::this_thread::get_id());
  CURLM* multi = as_multi(multi_);
  std::vector<CURL*> idle;  // easy handles between transfers (their connections stay in the multi's cache)
  std::vector<Active*> active;
  std::vector<Pending> batch;
  std::vector<std::function<void()>> due;

  auto finish = [&](Active* a, CURLcode code) {
    curl_multi_remove_handle(multi, a->easy);
    a->transfer.end(a->easy, code, stopping_.load());
    idle.push_back(a->easy);
    active.erase(std::find(active.begin(), active.end(), a));
    std::unique_ptr<Active> owned(a);
    owned->done(std::move(owned->transfer.response()));
  };

  for (;;) {
    const bool stopping = stopping_.load();
    const bool interrupted = interrupted_.exchange(false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      batch.swap(submitted_);
      auto now = SteadyClock::now();
      while (!timers_.empty() && (stopping || timers_.front().deadline <= now)) {
        std::pop_heap(timers_.begin(), timers_.end(), std::greater<>());
        due.push_back(std::move(timers_.back().fn));
        timers_.pop_back();
      }
      if (interrupted) {  // cancelled timers anywhere in the heap run now
        auto keep = std::partition(timers_.begin(), timers_.end(), [&](const Timer& t) { return !t.due(now); });
        for (auto it = keep; it != timers_.end(); ++it) due.push_back(std::move(it->fn));
        timers_.erase(keep, timers_.end());
        std::make_heap(timers_.begin(), timers_.end(), std::greater<>());
      }
    }
    for (auto& fn : due) fn();  // may start transfers or set timers: picked up next round
    due.clear();
    for (auto& p : batch) {
      if (stopping) {
        p.done(shut_down_response());
        continue;
      }
      auto a = std::make_unique<Active>();
      a->request = std::move(p.request);
      a->done = std::move(p.done);
      if (!idle.empty()) {
        a->easy = idle.back();
        idle.pop_back();
      } else if (!(a->easy = new_easy_handle())) {
        HttpResponse r;
        r.curl_code = CURLE_FAILED_INIT;
        r.curl_error = "curl_easy_init failed";
        a->done(std::move(r));
        continue;
      }
      a->transfer.begin(a->easy, *a->request, &stopping_);
      curl_easy_setopt(a->easy, CURLOPT_PRIVATE, a.get());
      curl_multi_add_handle(multi, a->easy);
      active.push_back(a.release());
    }
    batch.clear();

    if (stopping) {
      // Abort what is in flight now, not at curl's next progress callback.
      while (!active.empty()) finish(active.back(), CURLE_ABORTED_BY_CALLBACK);
      std::lock_guard<std::mutex> lock(mu_);
      if (submitted_.empty() && timers_.empty()) break;
      continue;
    }

    if (interrupted) {
      // Cancelled transfers leave the multi handle now, not at curl's next progress callback.
      for (size_t i = active.size(); i-- > 0;)
        if (active[i]->transfer.cancel_requested()) finish(active[i], CURLE_ABORTED_BY_CALLBACK);
    }

    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Active* a = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &a);
      finish(a, m->data.result);  // the callback may queue the next call: picked up next round
    }

    int timeout_ms = 1000;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!submitted_.empty()) {  // queued by a callback or a timer this round
        timeout_ms = 0;
      } else if (!timers_.empty()) {
        auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(timers_.front().deadline -
                                                                          SteadyClock::now());
        timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count() + 1, 0, 1000));
      }
    }
    if (timeout_ms > 0) curl_multi_poll(multi, nullptr, 0, timeout_ms, nullptr);
  }
  for (CURL* e : idle) curl_easy_cleanup(e);
}

}  // namespace atlas::llm::detail
