// The document a session stores when it finishes: a pure function of the session's state.
#include "runtime/finish_document.hpp"

#include <cctype>

#include "common/clock.hpp"
#include "common/secrets.hpp"
#include "runtime/runtime.hpp"

namespace atlas::runtime {

using json::Value;

json::Document build_finish_document(const FinishInput& in) {
  const auto& step_rewards = in.verdict.step_rewards;
  const auto& reward = in.verdict.reward;
  const auto& drift_payload = in.verdict.drift_payload;
  const bool drift_alert = in.verdict.drift_alert;
  const auto& review_status = in.verdict.review_status;
  const auto& review_notes = in.verdict.review_notes;
  json::Document metadata;
  metadata.CopyFrom(in.metadata, metadata.GetAllocator());
  auto& a = metadata.GetAllocator();
  // Session metadata (the keys Atlas stores with a session).
  json::set(metadata, "execution_mode", json::str(in.lane, a), a);
  json::set(metadata, "token_usage", json::parsed_or_null(in.token_usage_json, a), a);
  {
    Value summary(rapidjson::kObjectType);
    summary.AddMember("adaptive_mode", json::str(in.lane, a), a);
    Value history(rapidjson::kArrayType);
    Value entry(rapidjson::kObjectType);
    entry.AddMember("mode", json::str(in.lane, a), a);
    if (in.decision.confidence) entry.AddMember("confidence", *in.decision.confidence, a);
    history.PushBack(entry, a);
    summary.AddMember("mode_history", history, a);
    summary.AddMember("confidence", in.decision.confidence ? Value(*in.decision.confidence) : Value(), a);
    summary.AddMember("source", json::str(in.decision.source, a), a);
    summary.AddMember("decision", json::parsed_or_null(in.decision.to_json(), a), a);
    json::set(metadata, "adaptive_summary", std::move(summary), a);
  }
  json::set(metadata, "learning_history", Value(in.learning_history, a), a);
  Value notes(rapidjson::kArrayType);
  for (const auto& s : in.steps)
    for (const auto& g : s->guidance) notes.PushBack(json::str(g, a), a);
  json::set(metadata, "teacher_notes", std::move(notes), a);
  if (!in.original_plan.steps.empty()) json::set(metadata, "original_plan", plan_to_json(in.original_plan, a), a);
  if (reward) {
    Value rs = json::parsed_or_null(reward->reward_summary_json, a);
    if (!rs.IsNull()) json::set(metadata, "reward_summary", std::move(rs), a);
  }
  if (Value dd = json::parsed_or_null(drift_payload, a); !dd.IsNull()) json::set(metadata, "drift", std::move(dd), a);
  json::set(metadata, "drift_alert", drift_alert, a);
  {
    Value review(rapidjson::kObjectType);
    review.AddMember("require_approval", in.review.require_approval, a);
    Value st(rapidjson::kArrayType);
    for (ReviewStatus s : in.review.default_export_statuses) st.PushBack(json::str(status_name(s), a), a);
    review.AddMember("default_export_statuses", st, a);
    review.AddMember("include_all_statuses", in.review.include_all_statuses, a);
    json::set(metadata, "review", std::move(review), a);
  }
  if (!in.error.empty()) json::set(metadata, "error", json::str(secrets::redact(in.error), a), a);
  if (!in.verdict.reward_unavailable.empty())
    json::set(metadata, "reward_unavailable", json::str(secrets::redact(in.verdict.reward_unavailable), a), a);
  json::set(metadata, "seconds", in.seconds, a);

  // The finish_session document.
  json::Document fin;
  fin.SetObject();
  auto& fa = fin.GetAllocator();
  fin.AddMember("session_id", json::str(in.session_id, fa), fa);
  fin.AddMember("status",
                json::str(status_name(in.interrupted ? SessionStatus::kInterrupted
                                      : in.failed    ? SessionStatus::kFailed
                                                     : SessionStatus::kSucceeded),
                          fa),
                fa);
  fin.AddMember("final_answer", json::str(in.final_answer, fa), fa);
  fin.AddMember("metadata", Value(metadata, fa), fa);
  fin.AddMember("plan", plan_to_json(in.plan, fa), fa);
  Value steps_v(rapidjson::kArrayType);
  for (size_t i = 0; i < in.steps.size(); ++i) {
    const StepState& s = *in.steps[i];
    Value o(rapidjson::kObjectType);
    o.AddMember("step_id", s.step.id, fa);
    std::string trace;
    for (const auto& m : s.messages) {
      if (m.role == "system") continue;
      std::string r = m.role;
      for (auto& c : r) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      trace += (trace.empty() ? "" : "\n\n") + r + ": " + m.content;
    }
    for (const auto& t : s.tool_calls)
      trace += "\n\nTOOL " + t.name + " " + t.arguments_json + (t.is_error ? " -> error: " : " -> ") + t.result;
    if (!s.trace.empty()) trace += "\n\nADAPTER TRACE: " + s.trace;
    o.AddMember("trace", json::str(secrets::redact(trace), fa), fa);
    o.AddMember("output", json::str(s.output, fa), fa);
    Value eval(rapidjson::kObjectType);
    const bool validated = !s.attempts.empty() && !s.attempts.back().verdict_json.empty();
    eval.AddMember("validation",
                   json::parsed_or_null(validated ? std::string_view(s.attempts.back().verdict_json)
                                                  : R"({"valid":true,"guidance":null,"validated":false})",
                                        fa),
                   fa);
    eval.AddMember(
        "reward",
        json::parsed_or_null(
            i < step_rewards.size()
                ? std::string_view(step_rewards[i].reward_json)
                : R"({"score":0.0,"judges":[],"rationale":"not_judged","raw":{"skipped":true,"reason":"no_rewards"}})",
            fa),
        fa);
    o.AddMember("evaluation", eval, fa);
    o.AddMember("attempts", static_cast<int>(s.attempts.size()), fa);
    Value md(rapidjson::kObjectType);
    md.AddMember("description", json::str(s.step.description, fa), fa);
    Value deps(rapidjson::kArrayType);
    for (int d : s.step.depends_on) deps.PushBack(d, fa);
    md.AddMember("depends_on", deps, fa);
    md.AddMember("status", json::str(status_name(s.status), fa), fa);
    if (!s.reason.empty()) md.AddMember("reason", json::str(secrets::redact(s.reason), fa), fa);
    if (s.started_us) md.AddMember("started_at", json::str(clock::iso8601_utc(s.started_us), fa), fa);
    if (s.ended_us) md.AddMember("ended_at", json::str(clock::iso8601_utc(s.ended_us), fa), fa);
    md.AddMember("tool_call_count", static_cast<int64_t>(s.tool_calls.size()), fa);
    o.AddMember("metadata", md, fa);
    Value details(rapidjson::kArrayType);
    for (const auto& at : s.attempts) {
      Value d(rapidjson::kObjectType);
      d.AddMember("attempt", at.number, fa);
      Value ev(rapidjson::kObjectType);
      ev.AddMember("validation", json::parsed_or_null(at.verdict_json, fa), fa);
      ev.AddMember("status", json::str(status_name(at.status), fa), fa);
      ev.AddMember("output", json::str(at.output, fa), fa);
      if (!at.guidance.empty()) ev.AddMember("guidance", json::str(at.guidance, fa), fa);
      d.AddMember("evaluation", ev, fa);
      details.PushBack(d, fa);
    }
    o.AddMember("attempt_details", details, fa);
    Value guidance(rapidjson::kArrayType);
    for (const auto& g : s.guidance) guidance.PushBack(json::str(g, fa), fa);
    o.AddMember("guidance", guidance, fa);
    steps_v.PushBack(o, fa);
  }
  fin.AddMember("steps", steps_v, fa);
  fin.AddMember("reward", reward ? json::parsed_or_null(reward->reward_json, fa) : Value(), fa);
  fin.AddMember("reward_stats", reward ? json::parsed_or_null(reward->reward_stats_json, fa) : Value(), fa);
  fin.AddMember("reward_audit",
                json::parsed_or_null(reward ? reward->reward_audit_json : in.verdict.unjudged_audit_json, fa), fa);
  fin.AddMember("student_learning", Value(), fa);
  fin.AddMember("teacher_learning", Value(), fa);
  fin.AddMember("review_status", json::str(status_name(review_status), fa), fa);
  fin.AddMember("review_notes", review_notes.empty() ? Value() : json::str(review_notes, fa), fa);
  fin.AddMember("review_actor", "runtime", fa);
  fin.AddMember("review_reason", json::str(review_reason(in.verdict), fa), fa);
  return fin;
}

}  // namespace atlas::runtime
