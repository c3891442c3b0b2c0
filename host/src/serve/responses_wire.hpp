// The OpenAI Responses API (POST /v1/responses) as the gateway reads it (docs/serve.md): a
// request's instructions and input items as llm::Messages, its flat tools, the supervision edits,
// and a reply body or typed SSE stream as an llm::Response. The host's own llm clients do not
// speak this wire, so its reply reading lives here rather than in llm/wire.hpp.
#pragma once

#include <string_view>

#include "common/status.hpp"
#include "llm/llm.hpp"
#include "serve/wire_capture.hpp"

namespace atlas::serve {

// Fills r.messages (instructions first, as the system message; function_call items become
// assistant tool calls, function_call_output items tool results) and r.tools from r.body.
Status read_responses_request(ClientRequest& r);

// Puts `text` in front of "instructions" (adding them when absent).
void responses_prepend_instructions(json::Document& body, std::string_view text);
// Appends the rejected reply (an assistant message; none when null) and the guidance (a user
// message) to "input", turning a string input into a one-message list first.
void responses_append_guidance(json::Document& body, const std::string_view* rejected_output,
                               std::string_view guidance_text);

// A whole Responses body ({"object":"response","output":[...],"usage":{...}}).
Result<llm::Response> parse_responses_reply(std::string_view body);
// A whole Responses SSE stream. The terminal event's (response.completed / .incomplete)
// response object is authoritative; the deltas fill in when it carries no output. A stream
// without a terminal event, or with an error / response.failed event, is an error.
Result<llm::Response> parse_responses_stream(std::string_view body);

}  // namespace atlas::serve
