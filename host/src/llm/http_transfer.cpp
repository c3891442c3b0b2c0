#include "llm/http_transfer.hpp"

#include <string_view>

namespace atlas::llm::detail {
namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr const char* kShutDown = "the HTTP transport shut down";
constexpr const char* kCancelled = "the call was cancelled";

}  // namespace

size_t Transfer::on_body(char* ptr, size_t size, size_t nmemb, void* user) {
  Sink& sink = *static_cast<Sink*>(user);
  if (sink.max_body_bytes > 0 && sink.response->body.size() + size * nmemb > sink.max_body_bytes) {
    sink.response->too_large = true;  // stop reading now: a short count makes curl abort
    return 0;
  }
  sink.response->body.append(ptr, size * nmemb);
  return size * nmemb;
}

size_t Transfer::on_header(char* ptr, size_t size, size_t nmemb, void* user) {
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

// Called by curl at least once a second during a transfer: aborts it when the transport
// closes or the call is cancelled.
int Transfer::on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const Sink& sink = *static_cast<Sink*>(user);
  bool stop = (sink.stopping && sink.stopping->load(std::memory_order_relaxed)) ||
              (sink.cancelled && sink.cancelled->load(std::memory_order_relaxed));
  return stop ? 1 : 0;
}

CURL* new_easy_handle() {
  CURL* e = curl_easy_init();
  if (!e) return nullptr;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_body);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, &Transfer::on_header);
  curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, &Transfer::on_progress);
  curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
  return e;
}

Transfer::~Transfer() { curl_slist_free_all(headers_); }

void Transfer::begin(CURL* e, const HttpRequest& request, const std::atomic<bool>* stopping) {
  sink_.stopping = stopping;
  sink_.cancelled = request.cancelled.get();
  sink_.max_body_bytes = request.max_body_bytes;
  for (const auto& h : request.headers) headers_ = curl_slist_append(headers_, h.c_str());
  headers_ = curl_slist_append(headers_, "Expect:");  // no 100-continue round trip for large bodies
  curl_easy_setopt(e, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, request.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, request.total_timeout_ms);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, error_);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &sink_);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &sink_);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, &sink_);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers_);
  if (request.body.empty()) {
    curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
  } else {
    // The request (and its body) outlives the transfer: curl reads the body from it, no copy.
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
}

void Transfer::end(CURL* e, CURLcode code, bool shut_down) {
  HttpResponse& response = response_;
  response.curl_code = static_cast<int>(code);
  response.cancelled = code == CURLE_ABORTED_BY_CALLBACK && !shut_down && cancel_requested();
  if (code != CURLE_OK) {
    response.curl_error = response.cancelled                             ? kCancelled
                          : code == CURLE_ABORTED_BY_CALLBACK && shut_down ? kShutDown
                          : error_[0]                                    ? error_
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
  // The handle outlives this object: drop the pointers into it before the handle is reused.
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, nullptr);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, nullptr);
  curl_easy_setopt(e, CURLOPT_XFERINFODATA, nullptr);
  curl_slist_free_all(headers_);
  headers_ = nullptr;
  sink_.cancelled = nullptr;
}

HttpResponse cancelled_response() {
  HttpResponse r;
  r.curl_code = CURLE_ABORTED_BY_CALLBACK;
  r.curl_error = kCancelled;
  r.cancelled = true;
  return r;
}

HttpResponse shut_down_response() {
  HttpResponse r;
  r.curl_code = CURLE_ABORTED_BY_CALLBACK;
  r.curl_error = kShutDown;
  return r;
}

}  // namespace atlas::llm::detail
