// The host's one internal model of an LLM call. Provider clients (OpenAI-compatible,
// Anthropic, Gemini) map to and from it; the runtime, judges, probes and the
// llm_complete host service all speak it. JSON form: docs/llm-model.md.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/model_config.hpp"
#include "llm/cost.hpp"
#include "llm/token_capture.hpp"

namespace atlas::llm {

struct ToolCall {
  std::string id;
  std::string name;
  std::string arguments_json;  // always a JSON object text ("{}" when the model sent none)
};

struct Message {
  std::string role;  // system, user, assistant, tool
  std::string content;
  std::vector<ToolCall> tool_calls;  // assistant messages
  std::string tool_call_id;          // tool messages
  std::string name;                  // tool messages: the tool's name
};

struct ToolSpec {
  std::string name;
  std::string description;
  std::string parameters_json = R"({"type":"object","properties":{}})";  // JSON Schema
};

struct Request {
  std::string role = "student";  // accounting role: student, teacher, judge, arbiter, probe, learning
  std::vector<Message> messages;
  std::vector<ToolSpec> tools;
  std::string tool_choice;            // "", auto, required, none, or a tool name
  std::string response_format_json;   // "" | {"type":"json_object"} | {"type":"json_schema",...}
  std::optional<double> temperature;  // overrides the model block
  std::optional<int> max_output_tokens;
  bool stream = false;     // use the provider's streaming API (result is still returned whole)
  std::string session_id;  // attribution only
};

struct Usage {
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
};

struct Response {
  std::string content;
  std::vector<ToolCall> tool_calls;
  Usage usage;
  std::string finish_reason;  // stop, length, tool_calls, content_filter, ...
  std::string model;          // as reported by the provider
  std::string reasoning;      // provider reasoning/thinking text when exposed
  TokenCapture tokens;        // token ids / logprobs the server returned (llm/token_capture.hpp)
};

// What every call records, success or failure (issue 3 "accounting").
struct CallRecord {
  std::string role;
  std::string model_ref;  // the config block the request named (empty for an inline model)
  std::string provider;
  std::string model;
  TokenPrice price;  // of the model block that served the call (cost_usd: llm/cost.hpp)
  std::string session_id;
  Usage usage;
  double latency_seconds = 0.0;
  int retries = 0;             // tries after the first
  std::string outcome = "ok";  // ok, or the failing status code name
  std::string error;           // redacted message when outcome != ok
  // With the model block's capture_tokens: the request as sent and the token ids and
  // logprobs of the reply (docs/llm-model.md, "Token-level capture").
  TokenCapture tokens;
};

// One call of a batch (complete_many).
struct BatchCall {
  config::ModelConfig model;
  Request request;
};

// Stops every call made through the clients bound to it (Client::bound_to): once cancel()
// has run, calls in flight are aborted at once (their transfers are removed, not left to
// finish) and later ones fail before any I/O, all with CANCELLED. Set once, never cleared.
// Thread-safe; cancel() is not async-signal-safe (call it from a thread, not a handler).
class Cancellation {
 public:
  void cancel();
  bool cancelled() const { return flag_->load(std::memory_order_acquire); }
  // Sleeps up to `seconds`; returns true at once when cancelled (before or during the wait).
  bool wait_for(double seconds);
  // The flag itself, for transfers that outlive their caller.
  std::shared_ptr<const std::atomic<bool>> flag() const { return flag_; }
  // `wake` runs once on cancel() (at once if already cancelled): a transport's I/O thread
  // looks at its transfers again instead of at its next poll.
  void on_cancel(std::function<void()> wake);

 private:
  std::shared_ptr<std::atomic<bool>> flag_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::function<void()>> wakers_;
};

// What every call of a bound client obeys (Client::bound_to).
struct CallPolicy {
  std::shared_ptr<Cancellation> cancellation;  // null: calls cannot be cancelled
  // A reply body larger than this is cut off while it arrives (RESOURCE_EXHAUSTED, not
  // retried) instead of being buffered whole. 0 = no limit.
  size_t max_reply_bytes = 0;
};

// Thread-safe client for all providers; many calls may be in flight at once.
class Client {
 public:
  virtual ~Client() = default;
  // Blocks the calling thread until the call finishes (retries included). `record`, when
  // given, is filled in on success and on failure. Cheapest for one call per thread.
  virtual Result<Response> complete(const config::ModelConfig& model, const Request& request,
                                    CallRecord* record = nullptr) = 0;

  // Starts the call and returns at once; retries back off on a timer, not a sleeping thread.
  // `done` runs exactly once with the result and the call's record: on the client's I/O
  // thread, or on the calling thread when the request is rejected before any I/O. It must not
  // block (it may start further calls). Destroying the client ends calls in flight with
  // UNAVAILABLE ("the HTTP transport shut down").
  using Done = std::function<void(Result<Response>, const CallRecord&)>;
  virtual void start(const config::ModelConfig& model, const Request& request, Done done) = 0;

  // Runs every call concurrently, without a thread per call, and blocks until all have
  // finished. Results (and records, when given) are in the order of `calls`.
  std::vector<Result<Response>> complete_many(const std::vector<BatchCall>& calls,
                                              std::vector<CallRecord>* records = nullptr);

  // A client sharing this one's connections whose every call follows `policy` (a session
  // runtime's Ctrl-C and [limits]): cancelling fails that client's calls with CANCELLED and
  // leaves the other clients' calls alone.
  virtual std::shared_ptr<Client> bound_to(CallPolicy policy) = 0;
};

// The process-wide client (one pool of keep-alive connections). Created on first use.
std::shared_ptr<Client> default_client();
// A separate client with its own connection pool (tests, benchmarks).
std::shared_ptr<Client> make_client();

}  // namespace atlas::llm
