// tokens-jsonl: token-level rows for RL trainers, one per student model call that a local
// server answered with token ids and logprobs (docs/export-formats.md, "tokens-jsonl";
// capture: docs/llm-model.md, "Token-level capture").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::data {

// The row schema (draft-04), registered in export_schema.cpp.
extern const std::string_view kTokensJsonlSchema;

// Whether a step's student calls were all captured token-exact ("token_exact"), or why not
// ("text_only" and the first reason). Keyed by step id (as text); steps without a student
// model call are absent.
struct StepCapture {
  bool token_exact = true;
  std::string reason;
  int calls = 0;
};
std::map<std::string, StepCapture> step_captures(const json::Value& session);

// The session's rows (a read_session answer), in event order; `emit(row, step_id)` validates
// and writes one. A row whose logprobs and completion ids differ in number is refused.
Status tokens_rows(const json::Value& session, const std::function<Status(json::Document& row, int64_t step_id)>& emit);

}  // namespace atlas::data
