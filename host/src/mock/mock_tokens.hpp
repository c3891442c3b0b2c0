// mock-llm's deterministic tokenizer and the token fields of its Chat Completions replies, so
// token-level capture (docs/llm-model.md, "Token-level capture") can be tested offline. The
// tokenizer and its "chat template" are documented in docs/mock-llm.md, "Token ids".
#pragma once

#include <rapidjson/document.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "mock/mock_wire.hpp"
#include "mock/scenario.hpp"

namespace atlas::mock {

// Special token ids above the 256 byte ids.
inline constexpr int64_t kTokSystem = 256, kTokUser = 257, kTokAssistant = 258, kTokTool = 259, kTokEnd = 260,
                         kTokTools = 261, kTokCallBegin = 262, kTokCallEnd = 263;

// One id per byte of `text`.
void append_text_tokens(std::string_view text, std::vector<int64_t>& out);
// The prompt of an OpenAI-wire chat request ("messages", optional "tools") under the mock's chat
// template; add_generation_prompt appends the assistant marker. Fails on a malformed message.
Result<std::vector<int64_t>> chat_prompt_tokens(const rapidjson::Value& messages, const rapidjson::Value* tools,
                                                bool add_generation_prompt);
// The logprob the mock reports for a sampled token: -(1 + id % 16) / 64.
double mock_logprob(int64_t id);

// Adds vLLM's token fields to a rendered Chat Completions reply (non-streaming or SSE) when the
// request asked for them: `prompt_token_ids` and `choices[0].token_ids` with return_token_ids,
// `choices[0].logprobs.content` with logprobs. `reply.token_ids == false` leaves them out (a
// server that does not offer them).
Status add_token_fields(Outgoing& out, std::string_view request_body, const Reply& reply);

// POST /tokenize (vLLM's shape): {"model", "messages", "tools"?, "add_generation_prompt"?} or
// {"model", "prompt"} -> {"count", "max_model_len", "tokens"}. `drift_at` >= 0 changes the id at
// that position (a tokenizer that differs from the one that served the calls).
Result<std::string> tokenize_body(std::string_view request_body, int64_t drift_at);

}  // namespace atlas::mock
