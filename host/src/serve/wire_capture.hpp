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

enum class ClientWire { kOpenAIChat, kAnthropicMessages, kGeminiGenerate };

std::string_view client_wire_name(ClientWire w);  // openai.chat | anthropic.messages | gemini.generate
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

// The reply body the upstream sent (a whole JSON body, or the whole SSE stream).
Result<llm::Response> read_reply(ClientWire wire, std::string_view body, bool streamed);

// An error body in the client's own wire format, so its SDK raises a readable error.
std::string error_body(ClientWire wire, int http_status, std::string_view type, std::string_view message);

}  // namespace atlas::serve
