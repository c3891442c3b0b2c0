#include "llm/http_transport.hpp"

#include <curl/curl.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace atlas::llm {
namespace {

struct Sink {
  HttpResponse* response;
  const std::atomic<bool>* stopping;
};

size_t on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  static_cast<Sink*>(user)->response->body.append(ptr, size * nmemb);
  return size * nmemb;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

size_t on_header(char* ptr, size_t size, size_t nmemb, void* user) {
  HttpResponse& r = *static_cast<Sink*>(user)->response;
  std::string_view line(ptr, size * nmemb);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue or a redirect)
    r.headers.clear();
    return size * nmemb;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) return size * nmemb;
  // Keep only the headers the clients read (retry hints, request ids): no per-header allocation.
  static constexpr std::string_view kKept[] = {"retry-after", "retry-after-ms", "x-request-id", "request-id",
                                               "content-type"};
  std::string_view raw_name = line.substr(0, colon);
  std::string_view kept;
  for (std::string_view k : kKept) {
    if (k.size() != raw_name.size() || ascii_lower(raw_name[0]) != k[0]) continue;
    bool eq = true;
    for (size_t i = 1; i < k.size() && eq; ++i) eq = ascii_lower(raw_name[i]) == k[i];
    if (eq) kept = k;
  }
  if (kept.empty()) return size * nmemb;
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  r.headers[std::string(kept)] = std::string(value);
  return size * nmemb;
}

// Called by curl at least once a second during a transfer: aborts it when the transport closes.
int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<Sink*>(user)->stopping->load(std::memory_order_relaxed) ? 1 : 0;
}

}  // namespace

struct HttpTransport::Impl {
  std::mutex mu;
  std::condition_variable drained;
  std::vector<CURL*> idle;  // handles between transfers, each with its cached connection(s)
  int running = 0;          // transfers in progress (guarded by mu)
  std::atomic<bool> stopping{false};

  static constexpr size_t kMaxIdle = 256;

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
    CURL* e = curl_easy_init();
    if (!e) return nullptr;
    // Options that never change for a handle.
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &on_progress);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    return e;
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
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->drained.wait(lock, [&] { return impl_->running == 0; });
  for (CURL* e : impl_->idle) curl_easy_cleanup(e);
  impl_->idle.clear();
}

HttpResponse HttpTransport::perform(const HttpRequest& request) {
  HttpResponse response;
  if (impl_->stopping.load()) {
    response.curl_code = CURLE_ABORTED_BY_CALLBACK;
    response.curl_error = "the HTTP transport shut down";
    return response;
  }
  CURL* e = impl_->acquire();
  if (!e) {
    impl_->release(nullptr);
    response.curl_code = CURLE_FAILED_INIT;
    response.curl_error = "curl_easy_init failed";
    return response;
  }
  Sink sink{&response, &impl_->stopping};
  char error[CURL_ERROR_SIZE] = {0};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip for large bodies
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, request.total_timeout_ms);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &sink);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &sink);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
  if (request.body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  CURLcode code = curl_easy_perform(e);

  response.curl_code = static_cast<int>(code);
  if (code != CURLE_OK) {
    response.curl_error = code == CURLE_ABORTED_BY_CALLBACK && impl_->stopping.load() ? "the HTTP transport shut down"
                          : error[0]                                               ? error
                                                                                   : curl_easy_strerror(code);
  }
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &response.status);
  double connect = 0.0;
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &connect);
  long conn_count = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conn_count);
  // Connected unless connecting failed; a timeout while a new connection (conn_count > 0)
  // had not finished connecting counts as a connect failure. Reused connections: 0 connects.
  response.connected = response.status > 0 ||
                       !(code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                         (code == CURLE_OPERATION_TIMEDOUT && connect <= 0.0 && conn_count > 0));
  curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &response.seconds);
  // The handle outlives these buffers: drop the pointers to them before it goes back to the pool.
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
  curl_slist_free_all(headers);
  impl_->release(e);
  return response;
}

}  // namespace atlas::llm
