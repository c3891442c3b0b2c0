// The JSON form of the internal LLM model (docs/llm-model.md) and the llm_complete service:
// what plugins send through services.llm_complete and what the host answers.
//
// Request:  {"model_ref": "student" | "model": {provider, model, api_base, api_key_env, ...},
//            "role", "messages": [{role, content, tool_calls: [{id, name, arguments: {}}],
//            tool_call_id, name}], "tools": [{name, description, parameters}], "tool_choice",
//            "response_format", "temperature", "max_output_tokens", "stream", "session_id"}
// Response: {"content", "tool_calls": [{id, name, arguments: {}}], "usage": {prompt_tokens,
//            completion_tokens, total_tokens}, "finish_reason", "model", "reasoning"}
// Tool-call arguments are JSON objects in this form (strings inside the C++ model).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/model_config.hpp"
#include "llm/llm.hpp"

namespace atlas::llm {

// Maps a model reference ("student", "teacher", "rewards.small_model", "rewards.large_model",
// "learning", "routing.probe") to the configured model block. NOT_FOUND (or
// FAILED_PRECONDITION when the block is not configured) for anything else.
using ModelResolver = std::function<Result<config::ModelConfig>(std::string_view model_ref)>;

// Request JSON -> Request. The model selection keys ("model_ref", "model") are ignored here.
Result<Request> request_from_json(const json::Value& v);
Result<Request> request_from_json(std::string_view text);
std::string request_to_json(const Request& r);
// A conversation captured on the wire (messages and tools as request_to_json wrote them), read
// back as it was: roles as the client sent them, tool results without an id (Gemini), no
// messages at all. For stored gateway calls (runtime/captured_call_json.hpp).
Result<Request> captured_conversation_from_json(const json::Value& v);

Result<Response> response_from_json(const json::Value& v);
Result<Response> response_from_json(std::string_view text);
std::string response_to_json(const Response& r);
void response_to_value(const Response& r, json::Value& out, json::Allocator& a);  // out becomes an object

// An inline model block {"provider", "model", "api_base", "api_key_env", "temperature", "top_p",
// "max_output_tokens", "timeout_seconds", "connect_timeout_seconds", "retry": {"attempts",
// "backoff_seconds", "max_backoff_seconds"}, "additional_headers", "organization", "reasoning_effort"}.
Result<config::ModelConfig> model_config_from_json(const json::Value& v);

// {"role","provider","model","session_id","usage":{...},"latency_seconds","retries","outcome","error"}
std::string call_record_to_json(const CallRecord& r);

// The llm_complete service: parses `request_json`, resolves the model ("model_ref" through
// `resolver`, or the inline "model" block), calls `client` and returns the response JSON.
// `record` (optional) is filled in on every outcome, including bad requests.
Result<std::string> complete_json(Client& client, const ModelResolver& resolver, std::string_view request_json,
                                  CallRecord* record = nullptr);

// Several llm_complete requests at once (Client::complete_many: concurrent, no thread per call).
// One result and one record per request, in order; a bad request fails alone.
std::vector<Result<std::string>> complete_many_json(Client& client, const ModelResolver& resolver,
                                                    const std::vector<std::string_view>& requests,
                                                    std::vector<CallRecord>* records = nullptr);

}  // namespace atlas::llm
