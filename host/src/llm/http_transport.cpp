#include "llm/http_transport.hpp"

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/scheduling_class.hpp"
#include "llm/http_event_loop.hpp"
#include "llm/http_transfer.hpp"

namespace atlas::llm {

struct HttpTransport::Impl {
  std::mutex mu;
  std::condition_variable drained;
  std::vector<CURL*> idle;  // handles between blocking transfers, each with its cached connection(s)
  int running = 0;          // blocking transfers in progress (guarded by mu)
  std::atomic<bool> stopping{false};

  // An I/O thread for start(), created on first use by a caller of its class: the thread
  // inherits its creator's scheduling class, and callers of the other class use the other slot.
  struct LoopSlot {
    std::once_flag once;
    std::unique_ptr<detail::HttpEventLoop> loop;
    std::atomic<bool> ready{false};  // `loop` exists (interrupt() never creates it)

    detail::HttpEventLoop& get() {
      std::call_once(once, [this] {
        loop = std::make_unique<detail::HttpEventLoop>();
        ready.store(true);
      });
      return *loop;
    }
    void stop() {
      ready.store(false);
      std::call_once(once, [] {});  // no start() is creating the loop right now
      loop.reset();                 // its callbacks run here
    }
  };
  LoopSlot normal_loop, background_loop;

  static constexpr size_t kMaxIdle = 256;

  detail::HttpEventLoop& event_loop() {
    return SchedulingClass::of_this_thread().background() ? background_loop.get() : normal_loop.get();
  }

  CURL* acquire() {
    {
      std::lock_guard<std::mutex> lock(mu);
      ++running;
      if (!idle.empty()) {
        CURL* e = idle.back();
        idle.pop_back();
        return e;
      }
    }
    return detail::new_easy_handle();
  }

  void release(CURL* e) {
    std::lock_guard<std::mutex> lock(mu);
    if (e) {
      if (idle.size() < kMaxIdle && !stopping.load()) {
        idle.push_back(e);
      } else {
        curl_easy_cleanup(e);
      }
    }
    if (--running == 0) drained.notify_all();
  }
};

HttpTransport::HttpTransport() : impl_(std::make_unique<Impl>()) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

HttpTransport::~HttpTransport() {
  impl_->stopping.store(true);
  impl_->normal_loop.stop();
  impl_->background_loop.stop();
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->drained.wait(lock, [&] { return impl_->running == 0; });
  for (CURL* e : impl_->idle) curl_easy_cleanup(e);
  impl_->idle.clear();
}

HttpResponse HttpTransport::perform(const HttpRequest& request) {
  if (impl_->stopping.load()) return detail::shut_down_response();
  if (request.cancelled && request.cancelled->load()) return detail::cancelled_response();
  CURL* e = impl_->acquire();
  if (!e) {
    impl_->release(nullptr);
    HttpResponse response;
    response.curl_code = CURLE_FAILED_INIT;
    response.curl_error = "curl_easy_init failed";
    return response;
  }
  detail::Transfer transfer;
  transfer.begin(e, request, &impl_->stopping);
  CURLcode code = curl_easy_perform(e);
  transfer.end(e, code, impl_->stopping.load());
  impl_->release(e);
  return std::move(transfer.response());
}

void HttpTransport::start(std::shared_ptr<const HttpRequest> request, std::function<void(HttpResponse)> done) {
  if (impl_->stopping.load()) return done(detail::shut_down_response());
  impl_->event_loop().start(std::move(request), std::move(done));
}

void HttpTransport::run_after(double delay_seconds, std::function<void()> fn,
                              std::shared_ptr<const std::atomic<bool>> cancelled) {
  if (impl_->stopping.load()) return fn();
  impl_->event_loop().run_after(delay_seconds, std::move(fn), std::move(cancelled));
}

void HttpTransport::interrupt() {
  for (Impl::LoopSlot* slot : {&impl_->normal_loop, &impl_->background_loop})
    if (slot->ready.load()) slot->loop->interrupt();
}

}  // namespace atlas::llm
