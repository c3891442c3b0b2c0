// Capture mode: a session whose model calls an outside agent made (the serve gateway). Each
// captured call becomes one step of the session, with the conversation the client sent, the
// reply, the tools it offered and the tool results that came back in its next request; end()
// then goes through the same finish() as run(): judges, drift, review, stored document, learning.
#include <algorithm>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "llm/llm_json.hpp"
#include "runtime/events.hpp"
#include "runtime/runtime.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

namespace {

// A reply that only called tools has no text: its output is the calls, so judges and review
// see what the model did.
std::string output_of(const llm::Response& reply) {
  if (!reply.content.empty() || reply.tool_calls.empty()) return reply.content;
  json::Document calls(rapidjson::kArrayType);
  auto& a = calls.GetAllocator();
  for (const auto& c : reply.tool_calls) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("tool", json::str(c.name, a), a);
    json::Value args;
    if (auto parsed = json::parse(c.arguments_json, "tool arguments")) args.CopyFrom(*parsed, a);
    o.AddMember("arguments", args, a);
    calls.PushBack(o, a);
  }
  return json::dump(calls);
}

// The system prompt the model saw: the injected text (the playbook) before the client's own
// system message, joined as the gateway joins them (prepend_system_text).
std::string system_prompt_seen(const CapturedCall& call) {
  std::string client_system;
  for (const auto& m : call.messages)
    if (m.role == "system" || m.role == "developer") {
      client_system = m.content;
      break;
    }
  if (call.system_injected.empty()) return client_system;
  return client_system.empty() ? call.system_injected : call.system_injected + "\n\n" + client_system;
}

std::string call_event_json(const CapturedCall& call) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("wire", json::str(call.wire, a), a);
  d.AddMember("model", json::str(call.model, a), a);
  d.AddMember("outcome", json::str(call.ok ? "ok" : "error", a), a);
  if (!call.ok) d.AddMember("error", json::str(call.error, a), a);
  d.AddMember("latency_ms", call.latency_seconds * 1000.0, a);
  d.AddMember("streamed", call.streamed, a);
  json::Value usage(rapidjson::kObjectType);
  usage.AddMember("prompt_tokens", call.reply.usage.prompt_tokens, a);
  usage.AddMember("completion_tokens", call.reply.usage.completion_tokens, a);
  usage.AddMember("total_tokens", call.reply.usage.total_tokens, a);
  d.AddMember("usage", usage, a);
  d.AddMember("finish_reason", json::str(call.reply.finish_reason, a), a);
  d.AddMember("tool_calls", static_cast<int64_t>(call.reply.tool_calls.size()), a);
  d.AddMember("offered_tools", static_cast<int64_t>(call.tools.size()), a);
  if (!call.system_injected.empty()) d.AddMember("system_injected", json::str(call.system_injected, a), a);
  // What the student saw, for exports (docs/export-formats.md, "What the student saw").
  if (std::string system = system_prompt_seen(call); !system.empty())
    d.AddMember("system_prompt", json::str(system, a), a);
  json::Value tools(rapidjson::kArrayType);
  for (const auto& t : call.tools) {
    json::Value spec(rapidjson::kObjectType);
    spec.AddMember("name", json::str(t.name, a), a);
    spec.AddMember("description", json::str(t.description, a), a);
    json::Value parameters(rapidjson::kObjectType);
    if (auto parsed = json::parse(t.parameters_json, "tool parameters"); parsed && parsed->IsObject())
      parameters.CopyFrom(*parsed, a);
    spec.AddMember("parameters", parameters, a);
    tools.PushBack(spec, a);
  }
  d.AddMember("tools", tools, a);
  d.AddMember("rejected_attempts", static_cast<int64_t>(call.rejected.size()), a);
  if (!call.guidance_before_call.empty())
    d.AddMember("guidance_before_call", json::str(call.guidance_before_call, a), a);
  if (call.ok && call.reply.tokens.requested)  // as `run` stores it (docs/llm-model.md, "Token-level capture")
    d.AddMember("tokens", json::parsed_or_null(llm::token_capture_json(call.reply.tokens), a), a);
  return json::dump(d);
}

}  // namespace

ReplyCheck Session::check_captured_reply(const std::string& output, const std::vector<std::string>& guidance_so_far,
                                         int attempt, int call_number) {
  ValidationInput vin;
  vin.task = task_.task;
  vin.step_id = call_number;
  vin.step_description = "the agent's reply to its model call " + std::to_string(call_number);
  vin.output = output;
  vin.guidance = guidance_so_far;
  vin.attempt = attempt;
  Verdict v = teacher_->validate(vin);
  ReplyCheck check;
  check.verdict_json = v.to_json();
  check.unavailable = v.unavailable;
  check.accepted = v.valid || v.unavailable;
  events_->emit(event_type::kValidation, v.valid ? "valid" : "invalid", "teacher", root_event_, check.verdict_json,
                std::to_string(call_number));
  if (!check.accepted) {
    check.guidance = v.guidance;
    if (check.guidance.empty()) check.guidance = teacher_->guidance(vin, v);
    if (check.guidance.empty())
      check.guidance = "Your previous reply was not accepted; check the task and answer it completely.";
    events_->emit(event_type::kGuidance, "retry", "teacher", root_event_,
                  "{\"guidance\":" + json::quote(check.guidance) + "}", std::to_string(call_number));
  }
  return check;
}

std::string Session::captured_guidance_before_call(const std::vector<llm::Message>& messages, int call_number,
                                                   const std::vector<std::string>& guidance_so_far) {
  // The conversation as the teacher reads it: role, text and tool calls, the latest 8 KiB.
  std::string convo;
  for (const auto& m : messages) {
    convo += m.role + ": " + m.content;
    for (const auto& tc : m.tool_calls) convo += " [tool call " + tc.name + " " + tc.arguments_json + "]";
    convo += "\n";
  }
  constexpr size_t kMax = 8192;
  if (convo.size() > kMax) {
    size_t cut = convo.size() - kMax;
    while (cut < convo.size() && (static_cast<unsigned char>(convo[cut]) & 0xC0) == 0x80) ++cut;  // UTF-8 boundary
    convo = "[...]\n" + convo.substr(cut);
  }
  std::string guidance = teacher_->guidance_before_call(task_.task, call_number, convo, guidance_so_far);
  if (!guidance.empty())
    events_->emit(event_type::kGuidance, "before_call", "teacher", root_event_,
                  "{\"guidance\":" + json::quote(guidance) + "}", std::to_string(call_number));
  return guidance;
}

void Session::record_captured_call(const CapturedCall& call) {
  std::lock_guard<std::mutex> g(steps_mu_);
  const int number = static_cast<int>(steps_.size()) + 1;
  const std::string sid = std::to_string(number);
  // Tool results the client sent back in this request complete the calls of earlier steps.
  for (const auto& m : call.messages) {
    if (m.role != "tool" || (m.tool_call_id.empty() && m.name.empty())) continue;
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      auto& calls = (*it)->tool_calls;
      auto match = std::find_if(calls.begin(), calls.end(), [&](const rewards::ToolCallEvidence& t) {
        // Gemini results may carry no id: they answer the latest open call of that name.
        return t.result.empty() && (m.tool_call_id.empty() ? t.name == m.name : t.id == m.tool_call_id);
      });
      if (match == calls.end()) continue;
      match->result = m.content;
      events_->emit(event_type::kToolCall, match->name, "student", (*it)->event_id,
                    "{\"call_id\":" + json::quote(match->id) + ",\"tool\":" + json::quote(match->name) +
                        ",\"arguments\":" + match->arguments_json + ",\"result\":" + json::quote(match->result) + "}",
                    std::to_string((*it)->step.id));
      break;
    }
  }

  auto st = std::make_unique<StepState>();
  st->step.id = number;
  st->step.description = "model call " + sid + " (" + call.wire + ", " + call.model + ")";
  if (number > 1) st->step.depends_on.push_back(number - 1);
  st->started_us = call.started_us;
  st->ended_us = call.ended_us;
  st->messages = call.messages;
  st->event_id = events_->emit(event_type::kLlmCall, call.model, "student", root_event_, call_event_json(call), sid);
  ledger_->add("student", call.reply.usage.prompt_tokens, call.reply.usage.completion_tokens,
               call.reply.usage.total_tokens, call.latency_seconds, call.ok);
  if (!call.guidance_before_call.empty()) st->guidance.push_back(call.guidance_before_call);
  int attempt = 1;
  for (const auto& r : call.rejected) {
    Attempt at;
    at.number = attempt++;
    at.output = r.output;
    at.verdict_json = r.verdict_json;
    at.status = StepStatus::kFailed;
    at.guidance = r.guidance;
    st->attempts.push_back(std::move(at));
    st->guidance.push_back(r.guidance);
  }
  Attempt last;
  last.number = attempt;
  last.verdict_json = call.final_verdict_json;
  if (call.ok) {
    last.output = output_of(call.reply);
    last.status = call.final_verdict_json.empty() ? StepStatus::kCompleted
                  : call.final_accepted           ? StepStatus::kPassed
                                                  : StepStatus::kFailed;
    st->output = last.output;
    st->status = last.status;
    if (!call.final_accepted) st->reason = kTeacherRejected;
    llm::Message assistant{"assistant", call.reply.content, call.reply.tool_calls, {}, {}};
    st->messages.push_back(std::move(assistant));
    for (const auto& c : call.reply.tool_calls)
      st->tool_calls.push_back(rewards::ToolCallEvidence{c.id, c.name, c.arguments_json, "", false});
  } else {
    last.status = StepStatus::kError;
    st->status = StepStatus::kFailed;
    st->reason = call.error;
  }
  st->attempts.push_back(std::move(last));
  plan_.steps.push_back(st->step);
  original_plan_.steps.push_back(st->step);
  steps_.push_back(std::move(st));
  check_budget();
}

SessionReport Session::end_captured(const EpisodeOutcome& outcome) {
  auto& a = metadata_.GetAllocator();
  json::Value episode(rapidjson::kObjectType);
  episode.AddMember("ended_by", json::str(outcome.ended_by, a), a);
  if (outcome.success) episode.AddMember("success", *outcome.success, a);
  if (!outcome.feedback_json.empty()) {
    if (auto fb = json::parsed_or_null(outcome.feedback_json, a); !fb.IsNull()) episode.AddMember("feedback", fb, a);
  }
  json::set(metadata_, "episode", std::move(episode), a);
  {
    std::lock_guard<std::mutex> g(steps_mu_);
    const StepState* last = steps_.empty() ? nullptr : steps_.back().get();
    final_answer_ = outcome.final_answer;
    if (final_answer_.empty() && last && last->status != StepStatus::kFailed) final_answer_ = last->output;
    if (outcome.ended_by == "shutdown") {
      capture_interrupted_ = true;
      error_ = "the gateway shut down before the client ended the episode";
    } else if (outcome.ended_by == "superseded") {
      failed_ = true;
      error_ =
          "another gateway replica took this episode's opening over (this one stalled past [serve] "
          "episode_lease_seconds); the episode's calls are in the session that replica opened";
    } else if (!last) {
      failed_ = true;
      error_ = "the episode ended without a model call";
    } else if (outcome.success && !*outcome.success) {
      failed_ = true;
      error_ = "the client reported that the episode failed";
    } else if (!outcome.success && last->status == StepStatus::kFailed && last->reason != kTeacherRejected) {
      failed_ = true;
      error_ = "the episode's last model call failed: " + last->reason;
    }
  }
  finish();
  return report_;
}

// ------------------------------------------------------------------------------------ Episode

Episode::Episode(std::shared_ptr<Session> session) : session_(std::move(session)) {}
const std::string& Episode::session_id() const {
  return session_->session_id();
}
const std::string& Episode::learning_key() const {
  return session_->learning_key();
}
config::Lane Episode::lane() const {
  return session_->lane();
}
const std::string& Episode::playbook_block() const {
  return session_->student_playbook_block();
}
bool Episode::stored() const {
  return session_->report().stored;
}
bool Episode::begin(SessionReport* ended_at_once) {
  try {
    if (session_->begin()) return true;
    if (ended_at_once) *ended_at_once = session_->report();
  } catch (const std::exception& e) {
    if (ended_at_once) ended_at_once->error = std::string("internal error: ") + secrets::redact(e.what());
  }
  return false;
}
ReplyCheck Episode::check_reply(const std::string& output, const std::vector<std::string>& guidance_so_far, int attempt,
                                int call_number) {
  return session_->check_captured_reply(output, guidance_so_far, attempt, call_number);
}
std::string Episode::guidance_before_call(const std::vector<llm::Message>& messages, int call_number,
                                          const std::vector<std::string>& guidance_so_far) {
  return session_->captured_guidance_before_call(messages, call_number, guidance_so_far);
}
void Episode::record(const CapturedCall& call) {
  session_->record_captured_call(call);
}
std::string Episode::limit_reason() const {
  return session_->limit_reason();
}
void Episode::note_limit(const std::string& reason) {
  session_->note_limit(reason);
}
SessionReport Episode::end(const EpisodeOutcome& outcome) {
  return session_->end_captured(outcome);
}

}  // namespace atlas::runtime
