// HTTP for the provider clients, two ways:
//  - perform(): the calling thread performs its own transfer and blocks (no hand-off to an I/O
//    thread: for one call per thread that hand-off was most of the host's per-call cost). Easy
//    handles are pooled; each keeps its keep-alive connection, so calls reuse connections and
//    concurrent calls use separate ones (parallel steps and judge samples never serialise).
//  - start(): the transfer runs on the transport's I/O thread (curl multi, started on first
//    use) and a callback reports the end. Many calls in flight then cost one thread and one
//    poll instead of one sleeping thread each. There are two I/O threads, one per scheduling
//    class: a caller in a background class (the gateway's SCHED_IDLE storage workers and the
//    judges they start) is served by a background thread, any other by a normal one, so
//    background calls never take the CPU from the request path and a request-path call (a
//    paired-lane probe) never waits behind them (common/scheduling_class.hpp).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace atlas::llm {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST body; empty = GET
  long connect_timeout_ms = 10000;
  long total_timeout_ms = 60000;
  // When set and true: the transfer is aborted (or never starts) and ends with `cancelled`.
  std::shared_ptr<const std::atomic<bool>> cancelled;
  size_t max_body_bytes = 0;  // > 0: a longer reply body is aborted while it arrives (`too_large`)
};

struct HttpResponse {
  int curl_code = 0;       // CURLcode; 0 = the transfer completed
  std::string curl_error;  // curl's message when curl_code != 0
  long status = 0;         // HTTP status (0 when nothing was received)
  std::map<std::string, std::string> headers;  // retry-after(-ms), (x-)request-id, content-type; lower-case
  std::string body;
  bool connected = false;  // a connection was established (distinguishes connect failures)
  double seconds = 0.0;    // total transfer time
  bool cancelled = false;  // aborted because the request's `cancelled` flag was set
  bool too_large = false;  // aborted because the body passed the request's max_body_bytes
};

class HttpTransport {
 public:
  HttpTransport();
  // Aborts transfers still running (they fail with "the HTTP transport shut down"), runs the
  // callbacks of started ones and waits for blocked perform() calls to return.
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Blocks the calling thread until the transfer ends; safe from any number of threads.
  HttpResponse perform(const HttpRequest& request);

  // Starts the transfer on the I/O thread and returns at once. `done` runs exactly once, on the
  // I/O thread (on the calling thread if the transport is shutting down); it must not block,
  // and it may start further transfers or timers.
  // The request is shared, not copied: a retry sends the same one again.
  void start(std::shared_ptr<const HttpRequest> request, std::function<void(HttpResponse)> done);
  // Runs `fn` on the I/O thread after `delay_seconds` (a retry's backoff without a sleeping
  // thread); during shutdown it runs at once.
  // `cancelled`, when given and set, runs `fn` at once instead (after interrupt()).
  void run_after(double delay_seconds, std::function<void()> fn,
                 std::shared_ptr<const std::atomic<bool>> cancelled = nullptr);
  // Some request's `cancelled` flag was set: the I/O thread aborts those transfers and runs
  // those timers now, not at its next poll. Blocking perform() calls notice within a second.
  void interrupt();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atlas::llm
