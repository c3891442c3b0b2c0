#include "llm/http_transport.hpp"

#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace atlas::llm {
namespace {

struct Transfer {
  HttpRequest request;
  std::promise<HttpResponse> promise;
  HttpResponse response;
  curl_slist* headers = nullptr;
  CURL* easy = nullptr;
  char error[CURL_ERROR_SIZE] = {0};
};

size_t on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  t->response.body.append(ptr, size * nmemb);
  return size * nmemb;
}

size_t on_header(char* ptr, size_t size, size_t nmemb, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(ptr, size * nmemb);
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100-continue or a redirect)
    t->response.headers.clear();
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
    if (k.size() != raw_name.size()) continue;
    bool eq = true;
    for (size_t i = 0; i < k.size() && eq; ++i)
      eq = std::tolower(static_cast<unsigned char>(raw_name[i])) == static_cast<unsigned char>(k[i]);
    if (eq) kept = k;
  }
  if (kept.empty()) return size * nmemb;
  std::string name(kept);
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) value.remove_suffix(1);
  t->response.headers[name] = std::string(value);
  return size * nmemb;
}

}  // namespace

struct HttpTransport::Impl {
  CURLM* multi = nullptr;
  std::thread thread;
  std::mutex mu;
  std::deque<std::unique_ptr<Transfer>> pending;
  std::atomic<bool> stopping{false};
  std::unordered_set<CURL*> active;  // I/O thread only

  std::vector<CURL*> idle;  // reset easy handles kept for reuse (init is not free); I/O thread only

  void start(std::unique_ptr<Transfer> t) {
    CURL* e = nullptr;
    if (!idle.empty()) {
      e = idle.back();
      idle.pop_back();
    } else {
      e = curl_easy_init();
    }
    t->easy = e;
    curl_easy_setopt(e, CURLOPT_URL, t->request.url.c_str());
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, t->request.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, t->request.total_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->error);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get());
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t.get());
    curl_easy_setopt(e, CURLOPT_PRIVATE, t.get());
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    for (const auto& h : t->request.headers) t->headers = curl_slist_append(t->headers, h.c_str());
    // No "Expect: 100-continue" round trip for large bodies.
    t->headers = curl_slist_append(t->headers, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers);
    if (!t->request.body.empty()) {
      curl_easy_setopt(e, CURLOPT_POST, 1L);
      curl_easy_setopt(e, CURLOPT_POSTFIELDS, t->request.body.data());
      curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(t->request.body.size()));
    }
    curl_multi_add_handle(multi, e);
    active.insert(e);
    (void)t.release();  // owned through CURLOPT_PRIVATE until finish()
  }

  void finish(CURL* e, CURLcode code) {
    Transfer* raw = nullptr;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &raw);
    std::unique_ptr<Transfer> t(raw);
    t->response.curl_code = static_cast<int>(code);
    if (code != CURLE_OK) t->response.curl_error = t->error[0] ? t->error : curl_easy_strerror(code);
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->response.status);
    double connect = 0.0;
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME, &connect);
    long conn_count = 0;
    curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &conn_count);
    // Connected unless connecting failed; a timeout while a new connection (conn_count > 0)
    // had not finished connecting counts as a connect failure. Reused connections: 0 connects.
    t->response.connected = t->response.status > 0 ||
                            !(code == CURLE_COULDNT_CONNECT || code == CURLE_COULDNT_RESOLVE_HOST ||
                              (code == CURLE_OPERATION_TIMEDOUT && connect <= 0.0 && conn_count > 0));
    curl_easy_getinfo(e, CURLINFO_TOTAL_TIME, &t->response.seconds);
    curl_multi_remove_handle(multi, e);
    active.erase(e);
    if (idle.size() < 256 && !stopping.load()) {
      curl_easy_reset(e);
      idle.push_back(e);
    } else {
      curl_easy_cleanup(e);
    }
    curl_slist_free_all(t->headers);
    t->promise.set_value(std::move(t->response));
  }

  void run() {
    while (true) {
      std::deque<std::unique_ptr<Transfer>> batch;
      {
        std::lock_guard<std::mutex> lock(mu);
        batch.swap(pending);
      }
      for (auto& t : batch) start(std::move(t));
      int running = 0;
      curl_multi_perform(multi, &running);
      while (true) {
        int left = 0;
        CURLMsg* msg = curl_multi_info_read(multi, &left);
        if (!msg) break;
        if (msg->msg == CURLMSG_DONE) finish(msg->easy_handle, msg->data.result);
      }
      if (stopping.load()) break;
      curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
    }
    // Fail whatever is still in flight or queued.
    std::vector<CURL*> left(active.begin(), active.end());
    for (CURL* e : left) finish(e, CURLE_ABORTED_BY_CALLBACK);
    for (CURL* e : idle) curl_easy_cleanup(e);
    idle.clear();
    std::lock_guard<std::mutex> lock(mu);
    for (auto& t : pending) {
      t->response.curl_code = CURLE_ABORTED_BY_CALLBACK;
      t->response.curl_error = "the HTTP transport shut down";
      t->promise.set_value(std::move(t->response));
    }
    pending.clear();
  }
};

HttpTransport::HttpTransport() : impl_(std::make_unique<Impl>()) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  impl_->multi = curl_multi_init();
  curl_multi_setopt(impl_->multi, CURLMOPT_MAXCONNECTS, 256L);
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

HttpTransport::~HttpTransport() {
  impl_->stopping.store(true);
  curl_multi_wakeup(impl_->multi);
  impl_->thread.join();
  curl_multi_cleanup(impl_->multi);
}

std::future<HttpResponse> HttpTransport::submit(HttpRequest request) {
  auto t = std::make_unique<Transfer>();
  t->request = std::move(request);
  auto fut = t->promise.get_future();
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    if (impl_->stopping.load()) {
      t->response.curl_code = CURLE_ABORTED_BY_CALLBACK;
      t->response.curl_error = "the HTTP transport shut down";
      t->promise.set_value(std::move(t->response));
      return fut;
    }
    impl_->pending.push_back(std::move(t));
  }
  curl_multi_wakeup(impl_->multi);
  return fut;
}

}  // namespace atlas::llm
