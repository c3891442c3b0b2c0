// The host's one internal model of an LLM call. Provider clients (OpenAI-compatible,
// Anthropic, Gemini) map to and from it; the runtime, judges, probes and the
// llm_complete host service all speak it. JSON form: docs/llm-model.md.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/model_config.hpp"

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
  std::string tool_choice;           // "", auto, required, none, or a tool name
  std::string response_format_json;  // "" | {"type":"json_object"} | {"type":"json_schema",...}
  std::optional<double> temperature;  // overrides the model block
  std::optional<int> max_output_tokens;
  bool stream = false;  // use the provider's streaming API (result is still returned whole)
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
};

// What every call records, success or failure (issue 3 "accounting").
struct CallRecord {
  std::string role;
  std::string model_ref;  // the config block the request named (empty for an inline model)
  std::string provider;
  std::string model;
  std::string session_id;
  Usage usage;
  double latency_seconds = 0.0;
  int retries = 0;          // tries after the first
  std::string outcome = "ok";  // ok, or the failing status code name
  std::string error;        // redacted message when outcome != ok
};

// One call of a batch (complete_many).
struct BatchCall {
  config::ModelConfig model;
  Request request;
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
};

// The process-wide client (one pool of keep-alive connections). Created on first use.
std::shared_ptr<Client> default_client();
// A separate client with its own connection pool (tests, benchmarks).
std::shared_ptr<Client> make_client();

}  // namespace atlas::llm
