// The three provider wire formats as mock-llm speaks them: reading the interesting parts of
// an incoming request and rendering replies, errors and SSE streams (docs/llm-model.md).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "mock/scenario.hpp"

namespace atlas::mock {

// What rule matching and echo need from a request.
struct IncomingCall {
  Wire wire = Wire::kOpenAI;
  bool stream = false;
  bool include_usage = false;  // OpenAI stream_options.include_usage
  std::string model;
  std::string system;
  std::string last_user;     // text of the last user turn that is not only tool results
  std::string last_message;  // text of the final message of any role
  std::string all_text;      // every message, system and tool result, newline-joined
  bool has_tools = false;
  std::string role;                  // X-Atlas-Role header
  std::string previous_response_id;  // Responses: the stored conversation this call continues
};

// `model_from_path` is used for Gemini (the model is in the URL).
Result<IncomingCall> parse_incoming(Wire wire, std::string_view body, std::string model_from_path, bool stream);

struct Outgoing {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type = "application/json";
  std::string body;                 // non-streaming
  std::vector<std::string> events;  // streaming: complete SSE events ("event: ...\ndata: ...\n\n")
  bool streaming = false;
};

// A successful reply in the request's wire format (streaming when the request asked for it).
// `seq` makes ids unique.
Outgoing render_reply(const IncomingCall& call, const Reply& reply, int64_t seq);

// A provider error with the wire's status/body shape. retry_after < 0: none.
Outgoing render_error(Wire wire, int status, std::string message, double retry_after_seconds, bool retry_after_in_ms,
                      int64_t seq);

// The SSE event a provider sends when a stream fails after HTTP 200.
std::string render_stream_error_event(Wire wire, std::string message);

}  // namespace atlas::mock
