// Provider wire formats as the host's clients speak them (docs/llm-model.md): each maps
// the internal model (llm.hpp) to an HTTP request and maps replies, streams and error bodies
// back. Pure functions; the HTTP, retries and accounting live in client.cpp.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "config/model_config.hpp"
#include "llm/llm.hpp"

namespace atlas::llm {

enum class WireKind { kOpenAI, kAnthropic, kGemini };

// openai | azure-openai | xai | vllm | ollama | llamacpp | tgi -> OpenAI wire; anthropic;
// gemini | google -> Gemini.
Result<WireKind> wire_for_provider(std::string_view provider);
std::string_view wire_kind_name(WireKind w);

// The base URL used when api_base is empty: OPENAI_BASE_URL / ANTHROPIC_BASE_URL /
// GEMINI_BASE_URL when set, else the provider's public endpoint. `from_env` tells which.
std::string default_base_url(WireKind w, std::string_view provider, bool* from_env = nullptr);

struct WireHttp {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
};

// `api_key`: nullopt = send no auth header (local servers).
Result<WireHttp> build_request(WireKind w, const config::ModelConfig& model, const Request& request,
                               std::string_view base_url, const std::optional<std::string>& api_key);

// A complete non-streaming reply body.
Result<Response> parse_reply(WireKind w, std::string_view body);
// A complete SSE body. An error event, an unparsable event or a missing terminator is an error.
Result<Response> parse_stream(WireKind w, std::string_view body);

struct ProviderError {
  std::string message;  // the provider's message
  std::string kind;     // error type / code / status string ("rate_limit_exceeded", "overloaded_error", ...)
  double retry_after_seconds = -1.0;  // from the body (Gemini RetryInfo); < 0 = none
  bool permanent = false;             // e.g. insufficient_quota, spend limit: never retry
};
ProviderError parse_error_body(WireKind w, std::string_view body);

// ---- shared helpers (wire_common.cpp) ----
struct SseEvent {
  std::string event;  // "" when the event had no "event:" line
  std::string data;
};
// Splits an SSE body into events. `complete` is false when the body does not end at an event
// boundary (a cut stream).
std::vector<SseEvent> split_sse(std::string_view body, bool* complete);

// Parses a tool-call argument text; returns a JSON object text. Invalid JSON from a model is
// kept as {"_raw_arguments": "<text>"} so that nothing is lost and the object rule holds.
std::string normalise_arguments(std::string_view text);

namespace detail {
Result<WireHttp> openai_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                              const std::optional<std::string>& api_key);
Result<Response> openai_parse_reply(std::string_view body);
Result<Response> openai_parse_stream(std::string_view body);
Result<WireHttp> anthropic_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                                 const std::optional<std::string>& api_key);
Result<Response> anthropic_parse_reply(std::string_view body);
Result<Response> anthropic_parse_stream(std::string_view body);
Result<WireHttp> gemini_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                              const std::optional<std::string>& api_key);
Result<Response> gemini_parse_reply(std::string_view body);
Result<Response> gemini_parse_stream(std::string_view body);
}  // namespace detail

}  // namespace atlas::llm
