#include "data/export_tokens.hpp"

#include "data/session_trace.hpp"

namespace atlas::data {

using json::Value;

const std::string_view kTokensJsonlSchema = R"json({
  "title": "tokens-jsonl row: one student model call with its token ids and logprobs",
  "type": "object",
  "required": ["session_id", "step_id", "call_index", "model", "prompt_ids", "completion_ids", "logprobs",
               "reward", "session_reward", "step_capture"],
  "properties": {
    "session_id": {"type": "string", "minLength": 1},
    "step_id": {"type": "integer"},
    "call_index": {"type": "integer", "minimum": 0},
    "model": {"type": "string"},
    "prompt_ids": {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0}},
    "completion_ids": {"type": "array", "items": {"type": "integer", "minimum": 0}},
    "logprobs": {"type": "array", "items": {"type": "number", "maximum": 0}},
    "reward": {"type": ["number", "null"]},
    "session_reward": {"type": ["number", "null"]},
    "step_capture": {"type": "string", "enum": ["token_exact", "text_only"]},
    "step_capture_reason": {"type": "string"}
  },
  "additionalProperties": false
})json";

namespace {

// The student llm_call events that asked for token capture, with their step id, in order.
template <typename Fn>
void for_each_captured_call(const Value& session, Fn&& fn) {
  const Value* events = json::find(session, "trajectory_events");
  if (!events || !events->IsArray()) return;
  for (const Value& e : events->GetArray()) {
    const Value* body = json::find(e, "event");
    if (!body || !body->IsObject()) continue;
    if (json::get_string(*body, "type") != "llm_call" || json::get_string(*body, "role") != "student") continue;
    const Value* data = json::find(*body, "data");
    const Value* tokens = data ? json::find(*data, "tokens") : nullptr;
    if (!tokens || !tokens->IsObject()) continue;
    if (json::get_string(*data, "outcome", "ok") != "ok") continue;
    fn(json::get_string(*body, "step_id"), *data, *tokens);
  }
}

}  // namespace

std::map<std::string, StepCapture> step_captures(const Value& session) {
  std::map<std::string, StepCapture> out;
  for_each_captured_call(session, [&](const std::string& step, const Value&, const Value& tokens) {
    StepCapture& s = out[step];
    ++s.calls;
    if (json::get_string(tokens, "capture") != "token_exact" && s.token_exact) {
      s.token_exact = false;
      s.reason = json::get_string(tokens, "reason", "the server returned no token ids");
    }
  });
  return out;
}

Status tokens_rows(const Value& session, const std::function<Status(json::Document&, int64_t)>& emit) {
  const std::map<std::string, StepCapture> captures = step_captures(session);
  std::map<std::string, std::optional<double>> step_rewards;
  if (const Value* steps = json::find(session, "steps"); steps && steps->IsArray())
    for (const Value& s : steps->GetArray()) step_rewards[std::to_string(json::get_int(s, "step_id"))] = step_score(s);
  const std::optional<double> session_reward = session_score(session);
  const std::string session_id = json::get_string(session, "session_id");
  std::map<std::string, int64_t> call_index;
  Status status = Status::ok();
  for_each_captured_call(session, [&](const std::string& step, const Value& data, const Value& tokens) {
    const int64_t index = call_index[step]++;
    if (!status.is_ok() || json::get_string(tokens, "capture") != "token_exact") return;
    const Value* prompt = json::find(tokens, "prompt_ids");
    const Value* completion = json::find(tokens, "completion_ids");
    const Value* logprobs = json::find(tokens, "logprobs");
    if (!prompt || !prompt->IsArray() || !completion || !completion->IsArray() || !logprobs || !logprobs->IsArray())
      return;
    int64_t step_id = 0;
    try {
      step_id = step.empty() ? 0 : std::stoll(step);
    } catch (const std::exception&) {
      step_id = 0;
    }
    if (logprobs->Size() != completion->Size()) {
      status = invalid_argument("session " + session_id + ", step " + step + ": " + std::to_string(logprobs->Size()) +
                                " logprobs for " + std::to_string(completion->Size()) +
                                " completion tokens; the stored capture is inconsistent");
      return;
    }
    json::Document row(rapidjson::kObjectType);
    auto& a = row.GetAllocator();
    row.AddMember("session_id", json::str(session_id, a), a);
    row.AddMember("step_id", step_id, a);
    row.AddMember("call_index", index, a);
    row.AddMember("model", json::str(json::get_string(data, "model"), a), a);
    row.AddMember("prompt_ids", Value(*prompt, a), a);
    row.AddMember("completion_ids", Value(*completion, a), a);
    row.AddMember("logprobs", Value(*logprobs, a), a);
    auto reward = step_rewards.find(step);
    row.AddMember("reward", reward != step_rewards.end() && reward->second ? Value(*reward->second) : Value(), a);
    row.AddMember("session_reward", session_reward ? Value(*session_reward) : Value(), a);
    const StepCapture& cap = captures.at(step);
    row.AddMember("step_capture", json::str(cap.token_exact ? "token_exact" : "text_only", a), a);
    if (!cap.token_exact) row.AddMember("step_capture_reason", json::str(cap.reason, a), a);
    status = emit(row, step_id);
  });
  return status;
}

}  // namespace atlas::data
