#include "rewards/judge_request.hpp"

namespace atlas::rewards {
namespace {

using json::Value;

// Parses a JSON text the runtime gave us; falls back to the text itself as a string so that
// a malformed plan or verdict is still shown to the judge rather than dropped.
Value json_or_string(const std::string& text, json::Allocator& a) {
  if (text.empty()) return Value(rapidjson::kNullType);
  auto parsed = json::parse(text, "evidence");
  if (!parsed) return json::str(text, a);
  Value v;
  v.CopyFrom(parsed.value(), a);
  return v;
}

Value rubric_value(const JudgeSpec& spec, json::Allocator& a) {
  Value r(rapidjson::kObjectType);
  json::set(r, "name", spec.rubric, a);
  json::set(r, "text", spec.rubric_text, a);
  return r;
}

Value message_value(const llm::Message& m, json::Allocator& a) {
  Value v(rapidjson::kObjectType);
  json::set(v, "role", m.role, a);
  json::set(v, "content", m.content, a);
  if (!m.tool_calls.empty()) {
    Value calls(rapidjson::kArrayType);
    for (const auto& tc : m.tool_calls) {
      Value c(rapidjson::kObjectType);
      json::set(c, "id", tc.id, a);
      json::set(c, "name", tc.name, a);
      json::set(c, "arguments", json_or_string(tc.arguments_json, a), a);
      calls.PushBack(c, a);
    }
    json::set(v, "tool_calls", std::move(calls), a);
  }
  if (!m.tool_call_id.empty()) json::set(v, "tool_call_id", m.tool_call_id, a);
  if (!m.name.empty()) json::set(v, "name", m.name, a);
  return v;
}

void common_fields(json::Document& d, const SessionEvidence& s, const JudgeSpec& spec, const std::string& focus) {
  auto& a = d.GetAllocator();
  json::set(d, "rubric", rubric_value(spec, a), a);
  json::set(d, "task", s.task, a);
  json::set(d, "plan", json_or_string(s.plan_json, a), a);
  json::set(d, "execution_mode", s.execution_mode, a);
  json::set(d, "teacher_intervened", s.teacher_intervened, a);
  if (!focus.empty()) json::set(d, "focus_prompt", focus, a);
}

}  // namespace

json::Document session_judge_request(const SessionEvidence& session, const JudgeSpec& spec,
                                     const std::string& focus_prompt) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "level", "session", a);
  common_fields(d, session, spec, focus_prompt);
  Value steps(rapidjson::kArrayType);
  for (const auto& st : session.steps) {
    Value v(rapidjson::kObjectType);
    json::set(v, "id", st.step_id, a);
    json::set(v, "description", st.description, a);
    json::set(v, "output_summary", st.output_summary, a);
    json::set(v, "reward", st.reward ? Value(*st.reward) : Value(rapidjson::kNullType), a);
    steps.PushBack(v, a);
  }
  json::set(d, "steps", std::move(steps), a);
  json::set(d, "final_answer", session.final_answer, a);
  // The expected answer belongs to the final answer, so only session judges get it; a
  // verifiable step judge checks step outputs with the checks in its own config.
  if (!session.expected_json.empty()) json::set(d, "expected", json_or_string(session.expected_json, a), a);
  return d;
}

json::Document step_judge_request(const SessionEvidence& session, const StepEvidence& step, const JudgeSpec& spec,
                                  const std::string& focus_prompt) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "level", "step", a);
  common_fields(d, session, spec, focus_prompt);
  Value sv(rapidjson::kObjectType);
  json::set(sv, "id", step.step_id, a);
  json::set(sv, "description", step.description, a);
  json::set(sv, "output", step.output, a);
  json::set(sv, "attempts", step.attempts, a);
  if (!step.status.empty()) json::set(sv, "status", step.status, a);
  Value guidance(rapidjson::kArrayType);
  for (const auto& g : step.guidance) guidance.PushBack(json::str(g, a), a);
  json::set(sv, "guidance", std::move(guidance), a);
  json::set(sv, "validation", json_or_string(step.validation_json, a), a);
  Value trace(rapidjson::kObjectType);
  Value messages(rapidjson::kArrayType);
  for (const auto& m : step.trace.messages) messages.PushBack(message_value(m, a), a);
  json::set(trace, "messages", std::move(messages), a);
  Value calls(rapidjson::kArrayType);
  for (const auto& tc : step.trace.tool_calls) {
    Value c(rapidjson::kObjectType);
    if (!tc.id.empty()) json::set(c, "id", tc.id, a);
    json::set(c, "name", tc.name, a);
    json::set(c, "arguments", json_or_string(tc.arguments_json, a), a);
    json::set(c, "result", tc.result, a);
    json::set(c, "is_error", tc.is_error, a);
    calls.PushBack(c, a);
  }
  json::set(trace, "tool_calls", std::move(calls), a);
  if (!step.trace.text.empty()) json::set(trace, "text", step.trace.text, a);
  json::set(trace, "truncated", false, a);
  json::set(sv, "trace", std::move(trace), a);
  json::set(d, "step", std::move(sv), a);
  // The step judge also sees the overall goal's answer when there is one (context, not the object judged).
  if (!session.final_answer.empty()) json::set(d, "final_answer", session.final_answer, a);
  return d;
}

std::string sample_request(const json::Document& base, double temperature, bool arbiter,
                           const std::vector<JudgeSample>& tier1_samples) {
  json::Document d;
  d.CopyFrom(base, d.GetAllocator());
  auto& a = d.GetAllocator();
  json::set(d, "temperature", temperature, a);
  json::set(d, "model", arbiter ? "large" : "small", a);
  json::set(d, "stage", arbiter ? "arbiter" : "tier1", a);
  if (arbiter) {
    Value samples(rapidjson::kArrayType);
    int i = 0;
    for (const auto& s : tier1_samples) {
      Value v(rapidjson::kObjectType);
      json::set(v, "sample", i++, a);
      json::set(v, "score", s.score, a);
      json::set(v, "uncertainty", s.uncertainty, a);
      json::set(v, "rationale", s.rationale, a);
      auto p = json::parse(s.principles_json, "principles");
      Value pv(rapidjson::kArrayType);
      if (p && p->IsArray()) pv.CopyFrom(p.value(), a);
      json::set(v, "principles", std::move(pv), a);
      samples.PushBack(v, a);
    }
    json::set(d, "samples", std::move(samples), a);
  }
  return json::dump(d);
}

std::string batch_request(const json::Document& base, const std::vector<double>& temperatures) {
  json::Document d;
  d.CopyFrom(base, d.GetAllocator());
  auto& a = d.GetAllocator();
  Value temps(rapidjson::kArrayType);
  for (double t : temperatures) temps.PushBack(t, a);
  json::set(d, "temperatures", std::move(temps), a);
  json::set(d, "model", "small", a);
  json::set(d, "stage", "tier1", a);
  return json::dump(d);
}

}  // namespace atlas::rewards
