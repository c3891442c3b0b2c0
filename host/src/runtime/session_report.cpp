// SessionReport's JSON form (what `run --json` prints).
#include "common/json.hpp"
#include "runtime/runtime.hpp"

namespace atlas::runtime {

using json::Value;

std::string SessionReport::to_json() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("session_id", json::str(session_id, a), a);
  d.AddMember("status", json::str(status_name(status), a), a);
  if (!error.empty()) d.AddMember("error", json::str(error, a), a);
  d.AddMember("task", json::str(task, a), a);
  d.AddMember("final_answer", json::str(final_answer, a), a);
  d.AddMember("lane", json::str(lane, a), a);
  d.AddMember("lane_source", json::str(lane_source, a), a);
  d.AddMember("learning_key", json::str(learning_key, a), a);
  d.AddMember("reward", reward ? Value(*reward) : Value(), a);
  d.AddMember("review_status", json::str(status_name(review_status), a), a);
  d.AddMember("drift_alert", drift_alert, a);
  d.AddMember("seconds", seconds, a);
  Value tok(rapidjson::kObjectType);
  for (const auto& [role, r] : tokens) {
    Value o(rapidjson::kObjectType);
    o.AddMember("calls", r.calls, a);
    o.AddMember("prompt_tokens", r.prompt_tokens, a);
    o.AddMember("completion_tokens", r.completion_tokens, a);
    o.AddMember("total_tokens", r.total_tokens, a);
    tok.AddMember(json::str(role, a), o, a);
  }
  d.AddMember("tokens", tok, a);
  d.AddMember("total_tokens", total_tokens.total_tokens, a);
  Value steps_v(rapidjson::kArrayType);
  for (const auto& s : steps) {
    Value o(rapidjson::kObjectType);
    o.AddMember("id", s.id, a);
    o.AddMember("description", json::str(s.description, a), a);
    o.AddMember("status", json::str(status_name(s.status), a), a);
    if (!s.reason.empty()) o.AddMember("reason", json::str(s.reason, a), a);
    o.AddMember("attempts", s.attempts, a);
    o.AddMember("reward", s.reward ? Value(*s.reward) : Value(), a);
    steps_v.PushBack(o, a);
  }
  d.AddMember("steps", steps_v, a);
  d.AddMember("applied_playbook_version", applied_playbook_version, a);
  d.AddMember("playbook_entries", static_cast<int64_t>(playbook_entries), a);
  if (!rollout_group.empty()) {
    d.AddMember("rollout_group", json::str(rollout_group, a), a);
    d.AddMember("rollout_index", rollout_index, a);
  }
  d.AddMember("stored", stored, a);
  if (plan_fallback) d.AddMember("plan_fallback_reason", json::str(plan_fallback_reason, a), a);
  return json::dump(d);
}

}  // namespace atlas::runtime
