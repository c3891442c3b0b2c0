// The provider wire formats as the gateway sees them from the client side (docs/serve.md): what a
// client's request says (conversation, offered tools, model, streaming), the edits supervision
// makes to it (playbook in the system prompt, the teacher's guidance for a retry), and the
// reply read back through the host's own reply parsers (llm/wire.hpp; never a second copy).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "llm/llm.hpp"
#include "llm/wire.hpp"

namespace atlas::serve {

// kOpenAIResponses (the OpenAI Responses API) goes to the OpenAI upstream, like kOpenAIChat.
enum class ClientWire { kOpenAIChat, kAnthropicMessages, kGeminiGenerate, kOpenAIResponses };

// openai.chat | anthropic.messages | gemini.generate | openai.responses
std::string_view client_wire_name(ClientWire w);
llm::WireKind provider_wire(ClientWire w);

// A client's request, parsed (depth- and size-limited) and kept as a document for forwarding.
struct ClientRequest {
  ClientWire wire = ClientWire::kOpenAIChat;
  json::Document body;
  std::string model;  // from the body, or (Gemini) from the path
  bool stream = false;
  std::vector<llm::Message> messages;  // system prompt first when there is one
  std::vector<llm::ToolSpec> tools;
};

// INVALID_ARGUMENT with a message that says what is wrong with the body and how to fix it.
Result<ClientRequest> read_client_request(ClientWire wire, std::string_view body, std::string_view path_model = {},
                                          bool path_streams = false);

// The first user message's text: the episode's task, from which the learning key is derived.
std::string first_user_text(const std::vector<llm::Message>& messages);

// Puts `text` in front of the request's system prompt (adding one when there is none).
void prepend_system_text(ClientRequest& req, std::string_view text);
// Appends the teacher's guidance for a retry as a user turn after the conversation.
void append_guidance(ClientRequest& req, std::string_view rejected_output, std::string_view guidance);
// Coach lane: appends the teacher's guidance for the coming reply as a user turn.
void append_guidance_before_call(ClientRequest& req, std::string_view guidance);

// The reply body the upstream sent (a whole JSON body, or the whole SSE stream).
Result<llm::Response> read_reply(ClientWire wire, std::string_view body, bool streamed);

// An error body in the client's own wire format, so its SDK raises a readable error.
std::string error_body(ClientWire wire, int http_status, std::string_view type, std::string_view message);

namespace detail {
// Shared by the wire readers here and in responses_wire.cpp.
// Text of a content that is a string or an array of parts; non-text parts become "[type]".
std::string content_text(const json::Value* content);
// A tool's JSON Schema as text; an empty object schema when there is none.
std::string schema_text(const json::Value* schema);
// Adds `text` before the first text of a content that is a string or an array of text parts.
void prepend_to_content(json::Value& content, std::string_view text, std::string_view part_type, json::Allocator& a);
}  // namespace detail

}  // namespace atlas::serve
