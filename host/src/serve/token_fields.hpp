// Token-level capture through the gateway (docs/serve.md, "Token-level capture"): when the OpenAI
// upstream's model block sets capture_tokens, an OpenAI Chat Completions call asks the upstream for
// the token fields `run` asks for (llm::token_request_fields), the captured call keeps them in the
// shape `run` stores, and the reply the client gets loses again the fields it did not ask for.
#pragma once

#include <string>
#include <string_view>

#include "common/json.hpp"
#include "llm/token_capture.hpp"
#include "serve/wire_capture.hpp"

namespace atlas::serve {

// The token fields the gateway asked for on the client's behalf: what the client's reply must not
// show. All false when the client asked for them itself or capture is off.
struct AddedTokenFields {
  bool logprobs = false;   // choices[].logprobs (null in the client's reply, as without the request)
  bool token_ids = false;  // prompt_token_ids and choices[].token_ids (removed)
  bool any() const { return logprobs || token_ids; }
};

// Adds the capture fields to an OpenAI Chat Completions request body. A field the client set
// itself (to anything but false/null) goes as sent; top_logprobs is added only with logprobs.
AddedTokenFields request_token_fields(json::Value& body, json::Allocator& a, bool custom_api_base);

// A whole reply body (JSON, or with `streamed` the whole SSE stream) without the added fields;
// the same text when there is nothing to remove or it cannot be read.
std::string without_added_fields(std::string body, bool streamed, const AddedTokenFields& added);

// The same for an SSE stream handed on piece by piece: each complete `data: {...}` line is
// rewritten when it carries an added field, every other byte goes out as it came. A line cut
// between two pieces waits for its end.
class StreamFieldStripper {
 public:
  explicit StreamFieldStripper(AddedTokenFields added) : added_(added) {}
  // False: there is nothing to take out, the stream can be passed on as it comes.
  bool active() const { return added_.any(); }
  // What can go to the client now.
  std::string feed(std::string_view piece);
  // The rest at the end of the stream (a last line without its newline, unchanged).
  std::string finish();

 private:
  AddedTokenFields added_;
  std::string partial_;  // the start of a line whose end has not arrived
};

// What the captured call records of token capture (`tokens`, in the reply): for an OpenAI Chat
// Completions call with capture on, the request as the upstream received it (`sent_body`, the
// forwarded JSON) next to the ids the reply carried; for another wire, text-only with the reason.
// Nothing when the upstream block does not set capture_tokens.
void note_token_capture(ClientWire wire, bool capture_tokens, std::string_view sent_body, llm::TokenCapture& tokens);

}  // namespace atlas::serve
