// Many HTTP transfers on one thread: a curl multi handle driven by a dedicated I/O thread.
// A caller hands over a request with a completion callback and returns at once; no thread
// waits per transfer, so 64 calls in flight cost one thread and one poll, not 64 sleeping
// threads woken one by one. Timers (run_after) let retries back off without a sleeping
// thread. Internal to the llm component; HttpTransport::start is the public entry.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "llm/http_transport.hpp"

namespace atlas::llm::detail {

class HttpEventLoop {
 public:
  using Done = std::function<void(HttpResponse)>;

  // Idle connections kept for reuse (curl's own default is 4 per transfer in flight).
  static constexpr long kKeptConnections = 128;

  HttpEventLoop();  // starts the I/O thread
  // Aborts transfers in flight and runs waiting timers at once; every callback still runs
  // exactly once (transfers fail with "the HTTP transport shut down"). Joins the I/O thread.
  ~HttpEventLoop();
  HttpEventLoop(const HttpEventLoop&) = delete;
  HttpEventLoop& operator=(const HttpEventLoop&) = delete;

  // Queues the transfer; `done` runs on the I/O thread when it ends (or on the calling thread
  // when the loop is shutting down). Safe from any thread, including inside a callback.
  void start(std::shared_ptr<const HttpRequest> request, Done done);
  // Runs `fn` on the I/O thread once `delay_seconds` have passed (at once during shutdown, or
  // once `cancelled` is set and interrupt() has run).
  void run_after(double delay_seconds, std::function<void()> fn,
                 std::shared_ptr<const std::atomic<bool>> cancelled = nullptr);
  // Some request's or timer's `cancelled` flag was set: abort those transfers (removed from
  // the multi handle, their callbacks run with a cancelled response) and run those timers now.
  void interrupt();

 private:
  struct Pending;
  struct Timer;
  struct Active;
  void run();
  void wake();  // from another thread: the loop must look at its queues now
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_id_.load(); }

  void* multi_;  // CURLM*
  std::mutex mu_;
  std::vector<Pending> submitted_;  // guarded by mu_
  std::vector<Timer> timers_;       // min-heap on deadline, guarded by mu_
  std::atomic<bool> stopping_{false};
  std::atomic<bool> interrupted_{false};  // interrupt() ran since the loop last looked
  std::atomic<std::thread::id> loop_id_{};
  std::thread thread_;
};

}  // namespace atlas::llm::detail
