// Token-level capture for OpenAI-compatible local servers (vLLM, SGLang, llama.cpp server):
// what a call asks for when its model block sets capture_tokens, what it keeps from the
// reply, and how the capture is written into the call's llm_call event. Field names and their
// sources: docs/llm-model.md, "Token-level capture".
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace atlas::llm {

struct TokenCapture {
  bool requested = false;  // the model block set capture_tokens
  // What the server returned; nullopt = the reply did not carry it.
  std::optional<std::vector<int64_t>> prompt_ids;
  std::optional<std::vector<int64_t>> completion_ids;
  std::optional<std::vector<double>> logprobs;  // one per completion token (the sampled token's)
  // The request as the server saw it, OpenAI wire shape: {"messages":[..],"tools":[..]}
  // (tools only when offered). Kept so the prompt can be re-tokenised (`atlas-host tokens check`)
  // and exported next to its ids.
  std::string request_json;
  // Why the call could not be captured at all, set by the caller (e.g. the gateway relayed a wire
  // that carries no token ids); "" = decided by what the reply carried.
  std::string text_only_because;

  // All three were returned and agree in length: a trainer can use the ids and logprobs as they are.
  bool token_exact() const;
  // Why the call is text-only ("" when token-exact).
  std::string text_only_reason() const;
};

// Logprobs are written finitely: -inf (a token the sampler could not have picked) and NaN
// become this value, as vLLM does in its replies.
inline constexpr double kLogprobFloor = -9999.0;

// The fields capture_tokens adds to a Chat Completions request body, as one object:
// {"logprobs":true,"top_logprobs":1,"return_token_ids":true}. return_token_ids only with a
// custom api_base (`custom_api_base`): OpenAI itself refuses unknown fields.
rapidjson::Document token_request_fields(bool custom_api_base);

// Reads the token fields of one OpenAI-wire reply object into `out`: `prompt_token_ids` (top
// level), `choices[0].token_ids`, `choices[0].logprobs.content[].logprob`; completion ids also
// from integer `id`s on the logprobs entries or `token_id:N` token strings when `token_ids` is
// absent. `chunk` = a streaming chunk (ids and logprobs are appended, deltas).
void read_openai_tokens(const rapidjson::Value& reply, bool chunk, TokenCapture& out);

// {"messages":[..],"tools":[..]} from an OpenAI-wire request body ("" when it cannot be read).
std::string capture_request_from_body(std::string_view openai_body);

// Writes the capture as the value of the llm_call event's "tokens" key:
// {"capture":"token_exact"|"text_only","reason"?,"prompt_ids","completion_ids","logprobs","request"}.
void write_token_capture(rapidjson::Writer<rapidjson::StringBuffer>& w, const TokenCapture& t);
// The same object as text.
std::string token_capture_json(const TokenCapture& t);
// A capture as write_token_capture wrote it, read back (requested = true; a text_only capture's
// reason is kept as text_only_because).
TokenCapture read_token_capture(const rapidjson::Value& stored);

}  // namespace atlas::llm
