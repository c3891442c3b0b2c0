// The provider client: wire format per provider, HTTP through the transport (blocking on the
// caller's thread, or asynchronous on its curl-multi I/O thread), retries with backoff,
// accounting and secret hygiene.
#include <curl/curl.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <ctime>
#include <mutex>
#include <optional>
#include <random>
#include <thread>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"
#include "llm/http_transport.hpp"
#include "llm/llm.hpp"
#include "llm/wire.hpp"

namespace atlas::llm {
namespace {

// Retry-After: "2", "1.5" or an HTTP date; retry-after-ms wins when present. -1 = none.
double retry_after_from(const HttpResponse& resp) {
  if (auto it = resp.headers.find("retry-after-ms"); it != resp.headers.end()) {
    char* end = nullptr;
    double ms = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && ms >= 0) return ms / 1000.0;
  }
  if (auto it = resp.headers.find("retry-after"); it != resp.headers.end()) {
    char* end = nullptr;
    double s = std::strtod(it->second.c_str(), &end);
    if (end != it->second.c_str() && s >= 0) return s;
    time_t when = curl_getdate(it->second.c_str(), nullptr);
    if (when > 0) return std::max(0.0, static_cast<double>(when - std::time(nullptr)));
  }
  return -1.0;
}

bool transient_curl_error(int code) {
  switch (static_cast<CURLcode>(code)) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return true;
    default:
      return false;
  }
}

struct Attempt {
  Status status;
  bool retryable = false;
  double retry_after = -1.0;
};

Attempt classify_http(WireKind wire, const HttpResponse& resp, const std::string& what) {
  Attempt a;
  ProviderError pe = parse_error_body(wire, resp.body);
  a.retry_after = retry_after_from(resp);
  if (a.retry_after < 0) a.retry_after = pe.retry_after_seconds;
  std::string msg = what + ": HTTP " + std::to_string(resp.status) + (pe.kind.empty() ? "" : " " + pe.kind) + ": " +
                    (pe.message.empty() ? "(no message)" : pe.message);
  long s = resp.status;
  if (s == 429) {
    a.status = resource_exhausted(msg);
    a.retryable = !pe.permanent;
  } else if (s == 408 || s == 409 || s >= 500) {
    a.status = unavailable(msg);
    a.retryable = true;
  } else if (s == 401 || s == 403) {
    a.status = permission_denied(msg + " (check the API key variable and its permissions)");
  } else if (s == 404) {
    a.status = not_found(msg + " (check the model name and api_base)");
  } else if (s == 402) {
    a.status = resource_exhausted(msg);
  } else if (s == 400 || s == 413 || s == 422) {
    a.status = invalid_argument(msg);
  } else {
    a.status = failed_precondition(msg);
  }
  return a;
}

// Everything a call needs once its request is built: shared by the blocking and the
// asynchronous path, and owned by the call (an asynchronous call outlives its caller's arguments).
struct PreparedCall {
  WireKind wire;
  HttpRequest http;
  std::string what;  // "<provider> model \"<model>\" at <url>", the prefix of every error
  int attempts = 1;
  bool stream = false;
  std::string model_name;
  double timeout_seconds = 0;
  config::RetryPolicy retry;
  std::string capture_request;  // capture_tokens: {"messages","tools"} as sent
};

Status cancelled_call(const std::string& what) {
  return cancelled(what + ": the call was cancelled");
}

Result<PreparedCall> prepare(const config::ModelConfig& model, const Request& request, const CallPolicy& policy) {
  ATLAS_ASSIGN_OR_RETURN(WireKind wire, wire_for_provider(model.provider));
  if (!model.configured())
    return invalid_argument("model block for provider \"" + model.provider + "\" has no \"model\" name");
  bool base_from_env = false;
  std::string base = model.api_base.empty() ? default_base_url(wire, model.provider, &base_from_env) : model.api_base;
  bool custom_base = !model.api_base.empty() || base_from_env;
  std::optional<std::string> key;
  if (!model.api_key_env.empty()) key = secrets::read_env_secret(model.api_key_env);  // read at call time
  if (!key && !custom_base) {
    return permission_denied("model \"" + model.model + "\" (" + model.provider + "): environment variable " +
                             (model.api_key_env.empty() ? std::string("<api_key_env>") : model.api_key_env) +
                             " is not set; export it, or set api_base to a local server that needs no key");
  }
  auto built = build_request(wire, model, request, base, key);
  if (!built) return built.status().with_context(std::string(wire_kind_name(wire)) + " request");
  WireHttp http = std::move(built).value();
  std::string role = request.role;  // header-safe: letters, digits, '.', '_', '-'
  role.erase(std::remove_if(role.begin(), role.end(),
                            [](unsigned char c) { return !(std::isalnum(c) || c == '.' || c == '_' || c == '-'); }),
             role.end());
  if (!role.empty()) http.headers.push_back("X-Atlas-Role: " + role);
  for (const auto& [name, value] : model.additional_headers) http.headers.push_back(name + ": " + value);

  PreparedCall p;
  p.wire = wire;
  p.what = model.provider + " model \"" + model.model + "\" at " + http.url;
  p.http.url = std::move(http.url);
  p.http.headers = std::move(http.headers);
  p.http.body = std::move(http.body);
  p.http.connect_timeout_ms = static_cast<long>(std::max(1.0, model.connect_timeout_seconds * 1000.0));
  p.http.total_timeout_ms = static_cast<long>(std::max(1.0, model.timeout_seconds * 1000.0));
  if (policy.cancellation) p.http.cancelled = policy.cancellation->flag();
  p.http.max_body_bytes = policy.max_reply_bytes;
  p.attempts = std::clamp(model.retry.attempts, 1, 6);
  p.stream = request.stream;
  p.model_name = model.model;
  p.timeout_seconds = model.timeout_seconds;
  p.retry = model.retry;
  if (model.capture_tokens && wire == WireKind::kOpenAI) p.capture_request = capture_request_from_body(p.http.body);
  return p;
}

// What one attempt's HTTP outcome means: a final result, or a retry after `delay` seconds.
struct AttemptOutcome {
  std::optional<Result<Response>> final;
  double delay = 0;
};

AttemptOutcome judge_attempt(const PreparedCall& p, const HttpResponse& resp, int attempt, int retries) {
  const std::string& what = p.what;
  Attempt a;
  if (resp.cancelled) return {Result<Response>(cancelled_call(what)), 0};  // never retried
  if (resp.too_large) {  // the same request would get the same reply: never retried
    return {Result<Response>(resource_exhausted(what + ": the reply is larger than " +
                                                std::to_string(p.http.max_body_bytes) +
                                                " bytes ([limits] max_reply_bytes); reading stopped there")),
            0};
  }
  if (resp.curl_code != 0) {
    if (resp.curl_code == CURLE_OPERATION_TIMEDOUT && resp.connected) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", p.timeout_seconds);
      a.status =
          deadline_exceeded(what + ": no complete reply within timeout_seconds=" + buf + " (" + resp.curl_error + ")");
    } else {
      a.status =
          unavailable(what + ": " + (resp.connected ? "connection failed: " : "cannot connect: ") + resp.curl_error);
      a.retryable = transient_curl_error(resp.curl_code) || resp.curl_code == CURLE_OPERATION_TIMEDOUT;
    }
  } else if (resp.status >= 200 && resp.status < 300) {
    Result<Response> parsed = p.stream ? parse_stream(p.wire, resp.body) : parse_reply(p.wire, resp.body);
    if (parsed) {
      if (parsed->usage.total_tokens == 0)
        parsed->usage.total_tokens = parsed->usage.prompt_tokens + parsed->usage.completion_tokens;
      if (parsed->model.empty()) parsed->model = p.model_name;
      return {std::move(parsed), 0};
    }
    if (parsed.status().code() == StatusCode::kInvalidArgument) {
      // json::parse failed on a non-streaming body: the provider sent malformed JSON.
      a.status = internal_error(what + ": the provider replied HTTP " + std::to_string(resp.status) +
                                " with malformed JSON (" + parsed.status().message() + ")");
    } else {
      a.status = parsed.status().with_context(what);
      a.retryable = true;  // a failed or cut stream: nothing was forwarded, so a retry is safe
    }
  } else {
    a = classify_http(p.wire, resp, what);
  }
  auto give_up = [&](const Status& last) -> AttemptOutcome {
    std::string suffix = retries > 0 ? " (gave up after " + std::to_string(retries + 1) + " attempts)" : "";
    return {Result<Response>(Status(last.code(), secrets::redact(last.message() + suffix))), 0};
  };
  if (!a.retryable || attempt == p.attempts) return give_up(a.status);
  thread_local std::mt19937 rng(std::random_device{}());
  double backoff = p.retry.backoff_seconds * std::pow(2.0, attempt - 1);
  backoff = std::min(backoff, p.retry.max_backoff_seconds);
  backoff *= std::uniform_real_distribution<double>(0.8, 1.2)(rng);
  double delay = backoff;
  if (a.retry_after >= 0) {
    if (a.retry_after > std::max(60.0, p.retry.max_backoff_seconds)) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%g", a.retry_after);
      return give_up(
          a.status.with_context(std::string("provider asked to retry after ") + buf + "s, longer than allowed"));
    }
    delay = a.retry_after;  // the server said when; honour it exactly
  }
  log::debug("llm", "retrying " + what + " in " + std::to_string(delay) + "s after: " + a.status.message());
  return {std::nullopt, delay};
}

// The part of a call's record known before it starts: who asked which model.
CallRecord labels_of(const config::ModelConfig& model, const Request& request) {
  CallRecord r;
  r.role = request.role;
  r.provider = model.provider;
  r.model = model.model;
  r.price = token_price(model);
  r.session_id = request.session_id;
  r.tokens.requested = model.capture_tokens;
  return r;
}

// Completes a record (labels already set) with a finished call's outcome and logs a failure.
void finish_record(const Result<Response>& result, double latency, int retries, CallRecord* record) {
  if (record) {
    record->latency_seconds = latency;
    record->retries = retries;
    if (result) {
      record->usage = result->usage;
      std::string request_json = std::move(record->tokens.request_json);
      bool requested = record->tokens.requested;
      record->tokens = result->tokens;
      record->tokens.requested = requested;
      record->tokens.request_json = std::move(request_json);
      record->outcome = "ok";
      record->error.clear();
    } else {
      record->outcome = std::string(status_code_name(result.status().code()));
      record->error = result.status().message();
    }
  }
  if (!result) log::info("llm", result.status().to_string());
}

class CurlClient final : public Client {
 public:
  CurlClient() : transport_(std::make_shared<HttpTransport>()) {}
  CurlClient(std::shared_ptr<HttpTransport> transport, CallPolicy policy)
      : transport_(std::move(transport)), policy_(std::move(policy)) {}
  Result<Response> complete(const config::ModelConfig& model, const Request& request, CallRecord* record) override;
  void start(const config::ModelConfig& model, const Request& request, Done done) override;
  std::shared_ptr<Client> bound_to(CallPolicy policy) override;

 private:
  struct AsyncCall;
  void attempt(const std::shared_ptr<AsyncCall>& call);
  bool cancelled() const { return policy_.cancellation && policy_.cancellation->cancelled(); }
  std::shared_ptr<HttpTransport> transport_;  // shared with the clients bound_to() made
  CallPolicy policy_;
};

std::shared_ptr<Client> CurlClient::bound_to(CallPolicy policy) {
  if (policy.cancellation) {
    std::weak_ptr<HttpTransport> transport = transport_;
    policy.cancellation->on_cancel([transport] {
      if (auto t = transport.lock()) t->interrupt();
    });
  }
  return std::make_shared<CurlClient>(transport_, std::move(policy));
}

Result<Response> CurlClient::complete(const config::ModelConfig& model, const Request& request, CallRecord* record) {
  double start = clock::monotonic_seconds();
  int retries = 0;
  std::string capture_request;
  Result<Response> result = [&]() -> Result<Response> {
    ATLAS_ASSIGN_OR_RETURN(PreparedCall p, prepare(model, request, policy_));
    capture_request = std::move(p.capture_request);
    for (int attempt = 1;; ++attempt) {
      retries = attempt - 1;
      if (cancelled()) return cancelled_call(p.what);
      AttemptOutcome o = judge_attempt(p, transport_->perform(p.http), attempt, retries);
      if (o.final) return std::move(*o.final);
      if (policy_.cancellation) {
        if (policy_.cancellation->wait_for(o.delay)) return cancelled_call(p.what);
      } else {
        std::this_thread::sleep_for(std::chrono::duration<double>(o.delay));
      }
    }
  }();
  if (record) {
    *record = labels_of(model, request);
    record->tokens.request_json = std::move(capture_request);
  }
  finish_record(result, clock::monotonic_seconds() - start, retries, record);
  return result;
}

// An asynchronous call between attempts: owned by the callbacks that carry it along.
struct CurlClient::AsyncCall {
  PreparedCall prepared;
  std::shared_ptr<const HttpRequest> http;  // shared by every attempt's transfer, never copied
  CallRecord record;                        // labels now, the outcome at the end
  Done done;
  double start = 0;
  int attempt = 0;
};

void CurlClient::start(const config::ModelConfig& model, const Request& request, Done done) {
  double start = clock::monotonic_seconds();
  auto p = prepare(model, request, policy_);
  if (p && cancelled()) p = cancelled_call(p->what);
  if (!p) {  // rejected before any I/O: report on the caller's thread
    CallRecord record = labels_of(model, request);
    Result<Response> result = p.status();
    finish_record(result, clock::monotonic_seconds() - start, 0, &record);
    done(std::move(result), record);
    return;
  }
  auto call = std::make_shared<AsyncCall>();
  call->prepared = std::move(p).value();
  call->http = std::make_shared<const HttpRequest>(std::move(call->prepared.http));
  call->record = labels_of(model, request);
  call->record.tokens.request_json = std::move(call->prepared.capture_request);
  call->done = std::move(done);
  call->start = start;
  attempt(call);
}

void CurlClient::attempt(const std::shared_ptr<AsyncCall>& call) {
  ++call->attempt;
  auto on_reply = [this, call](const HttpResponse& resp) {
    const int retries = call->attempt - 1;
    AttemptOutcome o = judge_attempt(call->prepared, resp, call->attempt, retries);
    if (!o.final) {
      transport_->run_after(
          o.delay, [this, call] { attempt(call); }, call->http->cancelled);
      return;
    }
    finish_record(*o.final, clock::monotonic_seconds() - call->start, retries, &call->record);
    call->done(std::move(*o.final), call->record);
  };
  // Cancelled during a retry's backoff: end now without another transfer.
  if (cancelled()) {
    HttpResponse never_sent;
    never_sent.cancelled = true;
    return on_reply(never_sent);
  }
  transport_->start(call->http, std::move(on_reply));
}

}  // namespace

std::vector<Result<Response>> Client::complete_many(const std::vector<BatchCall>& calls,
                                                    std::vector<CallRecord>* records) {
  std::vector<std::optional<Result<Response>>> results(calls.size());
  if (records) records->assign(calls.size(), CallRecord{});
  std::mutex mu;
  std::condition_variable all_done;
  size_t remaining = calls.size();
  for (size_t i = 0; i < calls.size(); ++i) {
    start(calls[i].model, calls[i].request, [&, i](Result<Response> result, const CallRecord& record) {
      if (records) (*records)[i] = record;
      results[i].emplace(std::move(result));
      std::lock_guard<std::mutex> lock(mu);
      if (--remaining == 0) all_done.notify_one();
    });
  }
  std::unique_lock<std::mutex> lock(mu);
  all_done.wait(lock, [&] { return remaining == 0; });
  std::vector<Result<Response>> out;
  out.reserve(calls.size());
  for (auto& r : results) out.push_back(std::move(*r));
  return out;
}

void Cancellation::cancel() {
  std::vector<std::function<void()>> wakers;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (flag_->exchange(true, std::memory_order_acq_rel)) return;
    wakers.swap(wakers_);
  }
  cv_.notify_all();
  for (auto& wake : wakers) wake();
}

bool Cancellation::wait_for(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(std::max(0.0, seconds)), [&] { return cancelled(); });
}

void Cancellation::on_cancel(std::function<void()> wake) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!cancelled()) {
      wakers_.push_back(std::move(wake));
      return;
    }
  }
  wake();
}

std::shared_ptr<Client> make_client() {
  return std::make_shared<CurlClient>();
}

std::shared_ptr<Client> default_client() {
  static std::shared_ptr<Client> client = make_client();
  return client;
}

}  // namespace atlas::llm
