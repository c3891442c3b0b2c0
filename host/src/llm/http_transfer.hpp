// One HTTP transfer on a curl easy handle: the options every handle gets once, the options of a
// request, and reading the outcome back into an HttpResponse. Shared by the blocking path
// (HttpTransport::perform, curl_easy_perform on the caller's thread) and the event loop
// (HttpEventLoop, curl multi on one I/O thread). Internal to the llm component.
#pragma once

#include <curl/curl.h>

#include <atomic>

#include "llm/http_transport.hpp"

namespace atlas::llm::detail {

// A new easy handle with the options that never change (callbacks, protocols, keep-alive);
// nullptr when curl cannot allocate one.
CURL* new_easy_handle();

// The per-request state a handle points at while the transfer runs. Must outlive the transfer
// and stay at one address (the handle holds pointers into it).
class Transfer {
 public:
  Transfer() = default;
  Transfer(const Transfer&) = delete;
  Transfer& operator=(const Transfer&) = delete;
  ~Transfer();

  // Points `easy` at `request` and at this object; `stopping` or the request's `cancelled`
  // flag, when either turns true, aborts the transfer (curl's progress callback checks them at
  // least once a second).
  void begin(CURL* easy, const HttpRequest& request, const std::atomic<bool>* stopping);
  // Reads the outcome of the transfer from `easy` into response() and detaches the handle from
  // this object (the handle can be reused). `shut_down`: the abort came from `stopping`.
  // An abort while the request's flag is set ends the response as cancelled.
  void end(CURL* easy, CURLcode code, bool shut_down);
  bool cancel_requested() const { return sink_.cancelled && sink_.cancelled->load(std::memory_order_acquire); }

  HttpResponse& response() { return response_; }

 private:
  struct Sink {
    HttpResponse* response;
    const std::atomic<bool>* stopping;
    const std::atomic<bool>* cancelled;
    size_t max_body_bytes;  // 0 = no limit
  };
  HttpResponse response_;
  Sink sink_{&response_, nullptr, nullptr, 0};
  curl_slist* headers_ = nullptr;
  char error_[CURL_ERROR_SIZE] = {0};
  static size_t on_body(char* ptr, size_t size, size_t nmemb, void* user);
  static size_t on_header(char* ptr, size_t size, size_t nmemb, void* user);
  static int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t);
  friend CURL* new_easy_handle();
};

// The response for a transfer that never started because the transport is shutting down.
HttpResponse shut_down_response();
// The response for a transfer that never started, or was aborted, because it was cancelled.
HttpResponse cancelled_response();

}  // namespace atlas::llm::detail
