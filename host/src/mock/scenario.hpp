// mock-llm scenario: the scripted replies and faults the provider test double serves.
// File format and examples: docs/mock-llm.md.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::mock {

// The wire format a request arrived on. kOpenAI is Chat Completions; kOpenAIResponses is the
// OpenAI Responses API (POST /v1/responses).
enum class Wire { kOpenAI, kAnthropic, kGemini, kOpenAIResponses };
std::string_view wire_name(Wire w);  // "openai", "anthropic", "gemini", "openai.responses"
// A rule's "wire" against a request's: "openai" takes both OpenAI APIs, "openai.chat" and
// "openai.responses" one each; "" takes every wire.
bool wire_matches(std::string_view rule_wire, Wire w);

enum class Fault {
  kNone,
  kRateLimit,       // 429 + Retry-After (Gemini: RetryInfo in the body)
  kServerError,     // 500
  kOverloaded,      // 529 on Anthropic, 503 on OpenAI/Gemini
  kHttpError,       // any status given by "status" with the route's error shape
  kTimeout,         // accept the request and never answer (until hang_ms or server stop)
  kMalformedJson,   // 200 with a truncated JSON body
  kMidStreamError,  // streaming: a few good events, then the provider's error event
  kDropConnection,  // close the connection in the middle of the body
};
std::string_view fault_name(Fault f);

struct ReplyToolCall {
  std::string id;  // generated when empty
  std::string name;
  std::string arguments_json = "{}";  // JSON object text
};

// One scripted reply (or fault).
struct Reply {
  std::string text;
  std::vector<ReplyToolCall> tool_calls;
  std::string reasoning;
  bool echo = false;  // reply "echo: <last user message>"
  std::optional<int64_t> prompt_tokens;
  std::optional<int64_t> completion_tokens;
  std::string finish_reason;  // internal vocabulary (stop, length, tool_calls); derived when empty
  std::string model;          // reported model; the requested one when empty
  std::optional<int> latency_ms;
  Fault fault = Fault::kNone;
  int status = 0;                     // kHttpError status, or override for the other faults
  double retry_after_seconds = -1.0;  // kRateLimit; < 0 = none
  bool retry_after_in_ms = false;     // send retry-after-ms instead of retry-after
  std::string error_message;
  int hang_ms = 60000;  // kTimeout: give up after this long (the client normally gives up first)
  // false: leave out token ids and logprobs even when the request asks for them (a server that
  // does not offer them; docs/mock-llm.md, "Token ids").
  bool token_ids = true;
};

struct Match {
  std::string wire;   // "" = any, else openai | openai.chat | openai.responses | anthropic | gemini
  std::string model;  // exact, or a prefix when it ends with '*'
  std::string last_user_contains;
  std::optional<std::regex> last_user_regex;
  std::string last_message_contains;  // the final message of any role (e.g. a tool result)
  std::string system_contains;
  std::optional<std::regex> system_regex;
  std::string any_contains;  // any message, system prompt or tool result
  std::optional<bool> has_tools;
  std::string role;  // the X-Atlas-Role header the host's client sends (student, judge, ...)
};

enum class After { kFallThrough, kRepeatLast, kCycle };

struct Rule {
  std::string name;
  Match match;
  std::vector<Reply> replies;  // served in order
  After after = After::kFallThrough;
  int times = -1;  // total uses before the rule falls through; -1 = unlimited
};

struct Scenario {
  std::vector<Rule> rules;
  bool default_echo = true;  // "default": "echo" | "error"
  int latency_ms = 0;        // global default latency per response
  std::vector<std::string> models = {"mock-model"};  // GET /v1/models
  // "tokenizer": {"drift_at": N}: POST /tokenize changes the id at position N, as a tokenizer
  // different from the one that served the calls would. -1 = no drift.
  int64_t tokenize_drift_at = -1;
};

// Parses a scenario document. `what` names it in errors (a file path).
Result<Scenario> parse_scenario(std::string_view json_text, std::string_view what = "mock scenario");
Result<Scenario> load_scenario_file(const std::string& path);

}  // namespace atlas::mock
