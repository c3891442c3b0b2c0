// A server's own tokenizer over HTTP: vLLM's POST /tokenize (also served by `atlas-host
// mock-llm`), used by `atlas-host tokens check` to re-tokenise stored prompts.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::llm {

// The /tokenize URL of an OpenAI-compatible base ("http://h:8000/v1" -> "http://h:8000/tokenize":
// vLLM serves it at the root, not under /v1).
std::string tokenize_url_for(std::string_view api_base);

// POSTs {"model", "messages", "tools"?, "add_generation_prompt": true} (`request_json` holds
// {"messages", "tools"?} as captured) and returns the "tokens" of the answer. Errors name the URL
// and the HTTP status or connection failure.
Result<std::vector<int64_t>> tokenize_chat(const std::string& url, std::string_view model,
                                           std::string_view request_json, double timeout_seconds = 30.0);

}  // namespace atlas::llm
