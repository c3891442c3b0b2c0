#include "data/session_trace.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "data/atlas_events.hpp"

namespace atlas::data {

using json::Allocator;
using json::Value;

namespace {

Value copy(const Value* v, Allocator& a) {
  Value out;
  if (v) out.CopyFrom(*v, a);
  return out;
}

bool present(const Value* v) {
  if (!v || v->IsNull()) return false;
  if (v->IsString()) return v->GetStringLength() > 0;
  if (v->IsObject()) return v->MemberCount() > 0;
  if (v->IsArray()) return !v->Empty();
  return true;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// Atlas's AtlasRewardBreakdown serialisation: score, rationale, judges, raw.
Value normalise_reward(const Value* reward, Allocator& a) {
  Value out(rapidjson::kObjectType);
  double score = 0.0;
  if (reward && reward->IsObject()) score = json::get_double(*reward, "score", 0.0);
  out.AddMember("score", score, a);
  const Value* rationale = reward ? json::find(*reward, "rationale") : nullptr;
  out.AddMember("rationale", rationale && rationale->IsString() ? copy(rationale, a) : Value(), a);
  Value judges(rapidjson::kArrayType);
  if (const Value* js = reward ? json::find(*reward, "judges") : nullptr; js && js->IsArray()) {
    for (const Value& j : js->GetArray()) {
      Value o(rapidjson::kObjectType);
      o.AddMember("identifier", json::str(json::get_string(j, "identifier"), a), a);
      o.AddMember("score", json::get_double(j, "score", 0.0), a);
      o.AddMember("rationale", copy(json::find(j, "rationale"), a), a);
      const Value* pr = json::find(j, "principles");
      o.AddMember("principles", pr && pr->IsArray() ? copy(pr, a) : Value(rapidjson::kArrayType), a);
      Value samples(rapidjson::kArrayType);
      if (const Value* ss = json::find(j, "samples"); ss && ss->IsArray()) {
        for (const Value& s : ss->GetArray()) {
          Value so(rapidjson::kObjectType);
          so.AddMember("score", json::get_double(s, "score", 0.0), a);
          so.AddMember("rationale", copy(json::find(s, "rationale"), a), a);
          const Value* sp = json::find(s, "principles");
          so.AddMember("principles", sp && sp->IsArray() ? copy(sp, a) : Value(rapidjson::kArrayType), a);
          so.AddMember("uncertainty", copy(json::find(s, "uncertainty"), a), a);
          so.AddMember("temperature", copy(json::find(s, "temperature"), a), a);
          samples.PushBack(so, a);
        }
      }
      o.AddMember("samples", samples, a);
      o.AddMember("escalated", json::get_bool(j, "escalated", false), a);
      o.AddMember("escalation_reason", copy(json::find(j, "escalation_reason"), a), a);
      judges.PushBack(o, a);
    }
  }
  out.AddMember("judges", judges, a);
  out.AddMember("raw", reward && reward->IsObject() ? copy(reward, a) : Value(), a);
  return out;
}

// Plan step by id (plan.steps[].id may be a number or a string).
const Value* plan_step(const Value* plan, int64_t id) {
  const Value* steps = plan ? json::find(*plan, "steps") : nullptr;
  if (!steps || !steps->IsArray()) return nullptr;
  for (const Value& s : steps->GetArray()) {
    const Value* sid = json::find(s, "id");
    if (!sid) continue;
    if ((sid->IsInt64() && sid->GetInt64() == id) ||
        (sid->IsString() && std::string(sid->GetString()) == std::to_string(id)))
      return &s;
  }
  return nullptr;
}

Value build_step(const Value& step, const Value* plan, const Value& earlier_steps, Allocator& a) {
  Value out(rapidjson::kObjectType);
  int64_t step_id = json::get_int(step, "step_id");
  const Value* meta = json::find(step, "metadata");
  const Value* ps = plan_step(plan, step_id);
  const Value* evaluation = json::find(step, "evaluation");
  std::string description = ps ? json::get_string(*ps, "description") : "";
  if (description.empty() && meta) description = json::get_string(*meta, "description");
  out.AddMember("step_id", step_id, a);
  out.AddMember("description", json::str(description, a), a);
  out.AddMember("trace", json::str(json::get_string(step, "trace"), a), a);
  out.AddMember("output", json::str(json::get_string(step, "output"), a), a);
  out.AddMember("reward", normalise_reward(evaluation ? json::find(*evaluation, "reward") : nullptr, a), a);
  const Value* tool = ps ? json::find(*ps, "tool") : nullptr;
  out.AddMember("tool", tool && tool->IsString() ? copy(tool, a) : Value(), a);
  Value tool_params(rapidjson::kObjectType);
  if (const Value* tp = ps ? json::find(*ps, "tool_params") : nullptr) {
    if (tp->IsObject()) {
      tool_params.CopyFrom(*tp, a);
    } else if (tp->IsArray()) {
      for (rapidjson::SizeType i = 0; i < tp->Size(); ++i)
        tool_params.AddMember(json::str(std::to_string(i), a), Value((*tp)[i], a), a);
    } else if (!tp->IsNull()) {
      std::string k = tp->IsString() ? tp->GetString() : json::dump(*tp);
      tool_params.AddMember(json::str(k, a), Value(*tp, a), a);
    }
  }
  out.AddMember("tool_params", tool_params, a);
  // context: outputs of the earlier steps.
  Value context(rapidjson::kObjectType), prior(rapidjson::kObjectType), prior_text(rapidjson::kObjectType);
  for (const Value& e : earlier_steps.GetArray()) {
    std::string key = std::to_string(json::get_int(e, "step_id"));
    Value entry(rapidjson::kObjectType);
    entry.AddMember("output_text", json::str(json::get_string(e, "output"), a), a);
    if (const Value* em = json::find(e, "metadata"); em && json::find(*em, "status"))
      entry.AddMember("status", Value(*json::find(*em, "status"), a), a);
    prior.AddMember(json::str(key, a), entry, a);
    prior_text.AddMember(json::str(key, a), json::str(json::get_string(e, "output"), a), a);
  }
  context.AddMember("prior_results", prior, a);
  context.AddMember("prior_results_text", prior_text, a);
  out.AddMember("context", context, a);
  const Value* validation = evaluation ? json::find(*evaluation, "validation") : nullptr;
  out.AddMember("validation",
                validation && validation->IsObject() ? copy(validation, a) : Value(rapidjson::kObjectType), a);
  const Value* details = json::find(step, "attempt_details");
  int64_t attempts = json::get_int(step, "attempts", details && details->IsArray() ? details->Size() : 1);
  out.AddMember("attempts", attempts, a);
  const Value* guidance = json::find(step, "guidance");
  out.AddMember("guidance", guidance && guidance->IsArray() ? copy(guidance, a) : Value(rapidjson::kArrayType), a);
  // artifacts/deliverable/runtime, then every other metadata key at the top level.
  static const std::set<std::string> taken = {"step_id",    "description", "trace",       "output",
                                              "reward",     "tool",        "tool_params", "context",
                                              "validation", "attempts",    "guidance",    "metadata"};
  if (meta && meta->IsObject()) {
    for (const char* k : {"artifacts", "deliverable", "runtime"}) {
      if (const Value* v = json::find(*meta, k)) out.AddMember(json::str(k, a), Value(*v, a), a);
    }
    for (auto it = meta->MemberBegin(); it != meta->MemberEnd(); ++it) {
      std::string k(it->name.GetString(), it->name.GetStringLength());
      if (taken.count(k) || k == "artifacts" || k == "deliverable" || k == "runtime") continue;
      out.AddMember(json::str(k, a), Value(it->value, a), a);
    }
  }
  Value md(rapidjson::kObjectType);
  if (meta && meta->IsObject()) md.CopyFrom(*meta, a);
  Value history(rapidjson::kArrayType);
  if (details && details->IsArray()) history.CopyFrom(*details, a);
  json::set(md, "attempt_history", Value(history, a), a);
  json::set(md, "attempt_details", std::move(history), a);
  json::set(md, "raw_evaluation", evaluation ? copy(evaluation, a) : Value(rapidjson::kObjectType), a);
  const Value* deps = ps ? json::find(*ps, "depends_on") : nullptr;
  if (!deps && meta) deps = json::find(*meta, "depends_on");
  json::set(md, "depends_on", deps ? copy(deps, a) : Value(rapidjson::kArrayType), a);
  if (!json::find(out, "attempt_details")) {
    out.AddMember("attempt_history", Value(md["attempt_history"], a), a);
    out.AddMember("attempt_details", Value(md["attempt_details"], a), a);
  }
  if (!json::find(out, "depends_on")) out.AddMember("depends_on", Value(md["depends_on"], a), a);
  out.AddMember("metadata", md, a);
  return out;
}

Value build_events(const Value& session, Allocator& a) {
  Value events(rapidjson::kArrayType);
  const Value* evs = json::find(session, "trajectory_events");
  if (!evs || !evs->IsArray()) return events;
  const std::string final_answer = json::get_string(session, "final_answer");
  for (const Value& e : evs->GetArray()) {
    Value o(rapidjson::kObjectType);
    o.AddMember("id", Value(json::get_int(e, "id")), a);
    const Value* body = json::find(e, "event");
    const std::string created_at = json::get_string(e, "created_at");
    Value event = copy(body, a);
    // Atlas's shape next to ours: payload.event_type / payload.name (atlas_events.hpp).
    if (event.IsObject() && !json::find(event, "payload")) {
      event.AddMember("function_ancestry", atlas_function_ancestry(*body, a), a);
      event.AddMember("payload", atlas_event_payload(*body, created_at, final_answer, a), a);
    }
    const Value* payload = event.IsObject() ? json::find(event, "payload") : nullptr;
    o.AddMember("event", event, a);
    o.AddMember("created_at", json::str(created_at, a), a);
    if (body && body->IsObject()) {
      if (auto t = json::get_string(*body, "type"); !t.empty()) o.AddMember("type", json::str(t, a), a);
      // event_type and name as Atlas's exporter meant them: the payload's.
      std::string et = payload ? json::get_string(*payload, "event_type") : "";
      if (et.empty()) et = json::get_string(*body, "type");
      if (!et.empty()) o.AddMember("event_type", json::str(et, a), a);
      std::string n = payload ? json::get_string(*payload, "name") : "";
      if (n.empty()) n = json::get_string(*body, "name");
      if (!n.empty()) o.AddMember("name", json::str(n, a), a);
      std::string actor = json::get_string(*body, "actor");
      if (actor.empty()) actor = json::get_string(*body, "role");
      if (!actor.empty()) o.AddMember("actor", json::str(actor, a), a);
    }
    events.PushBack(o, a);
  }
  return events;
}

}  // namespace

std::optional<double> session_score(const json::Value& session) {
  const Value* stats = json::find(session, "reward_stats");
  if (stats && stats->IsObject()) {
    if (auto s = json::get_optional_double(*stats, "score")) return s;
    if (auto s = json::get_optional_double(*stats, "score_mean")) return s;
  }
  const Value* reward = json::find(session, "reward");
  if (reward && reward->IsObject()) return json::get_optional_double(*reward, "score");
  return std::nullopt;
}

std::optional<double> session_uncertainty(const json::Value& session) {
  const Value* stats = json::find(session, "reward_stats");
  if (!stats || !stats->IsObject()) return std::nullopt;
  return json::get_optional_double(*stats, "uncertainty_mean");
}

std::optional<double> step_score(const json::Value& step) {
  const Value* evaluation = json::find(step, "evaluation");
  const Value* reward = evaluation ? json::find(*evaluation, "reward") : nullptr;
  if (!reward || !reward->IsObject()) return std::nullopt;
  const Value* raw = json::find(*reward, "raw");
  if (raw && raw->IsObject() && json::get_bool(*raw, "skipped")) return std::nullopt;
  return json::get_optional_double(*reward, "score");
}

void build_atlas_trace(const Value& session, Value& out, Allocator& a) {
  out.SetObject();
  const Value* meta = json::find(session, "metadata");
  Value empty_obj(rapidjson::kObjectType);
  if (!meta || !meta->IsObject()) meta = &empty_obj;
  const Value* plan = json::find(session, "plan");
  auto mget = [&](const char* k) { return json::find(*meta, k); };

  out.AddMember("task", json::str(json::get_string(session, "task"), a), a);
  out.AddMember("final_answer", json::str(json::get_string(session, "final_answer"), a), a);
  out.AddMember("plan", plan && plan->IsObject() ? copy(plan, a) : Value(rapidjson::kObjectType), a);
  Value steps(rapidjson::kArrayType);
  Value earlier(rapidjson::kArrayType);
  if (const Value* ss = json::find(session, "steps"); ss && ss->IsArray()) {
    for (const Value& s : ss->GetArray()) {
      steps.PushBack(build_step(s, plan, earlier, a), a);
      earlier.PushBack(Value(s, a), a);
    }
  }
  Value guidance_all(rapidjson::kArrayType);
  for (const Value& s : earlier.GetArray()) {
    if (const Value* g = json::find(s, "guidance"); g && g->IsArray())
      for (const Value& n : g->GetArray()) guidance_all.PushBack(Value(n, a), a);
  }
  out.AddMember("steps", steps, a);

  Value events = build_events(session, a);
  Value sm(rapidjson::kObjectType);
  sm.CopyFrom(*meta, a);
  auto set_if_absent = [&](const char* k, Value v) {
    if (!json::find(sm, k)) sm.AddMember(json::str(k, a), v, a);
  };
  set_if_absent("session_id", json::str(json::get_string(session, "session_id"), a));
  set_if_absent("status", json::str(json::get_string(session, "status"), a));
  set_if_absent("created_at", copy(json::find(session, "created_at"), a));
  set_if_absent("completed_at", copy(json::find(session, "completed_at"), a));
  set_if_absent("review_status", copy(json::find(session, "review_status"), a));
  set_if_absent("reward_stats", copy(json::find(session, "reward_stats"), a));
  set_if_absent("reward_audit", copy(json::find(session, "reward_audit"), a));
  // Not duplicated here: trajectory_events (top level only; Atlas wrote them twice).
  out.AddMember("session_metadata", sm, a);

  std::string mode = json::get_string(*meta, "execution_mode");
  if (mode.empty()) {
    if (const Value* as = mget("adaptive_summary"); as && as->IsObject()) mode = json::get_string(*as, "adaptive_mode");
  }
  if (!mode.empty()) out.AddMember("execution_mode", json::str(mode, a), a);
  if (auto rs = json::get_string(session, "review_status"); !rs.empty())
    out.AddMember("review_status", json::str(rs, a), a);
  if (auto rn = trim(json::get_string(session, "review_notes")); !rn.empty())
    out.AddMember("review_notes", json::str(rn, a), a);
  const Value* stats = json::find(session, "reward_stats");
  if (!present(stats)) stats = mget("reward_stats");
  if (present(stats)) out.AddMember("reward_stats", copy(stats, a), a);
  const Value* audit = json::find(session, "reward_audit");
  if (!present(audit)) audit = mget("reward_audit");
  if (audit && audit->IsArray() && !audit->Empty()) {
    Value list(rapidjson::kArrayType);
    for (const Value& e : audit->GetArray())
      if (e.IsObject()) list.PushBack(Value(e, a), a);
    out.AddMember("reward_audit", list, a);
  }
  if (const Value* r = json::find(session, "reward"); present(r)) out.AddMember("session_reward", copy(r, a), a);
  for (const char* k : {"student_learning", "teacher_learning"}) {
    std::string v = trim(json::get_string(session, k));
    if (v.empty()) v = trim(json::get_string(*meta, k));
    if (!v.empty()) out.AddMember(json::str(k, a), json::str(v, a), a);
  }
  for (const char* k : {"adaptive_summary", "triage_dossier", "learning_key", "learning_history"}) {
    if (const Value* v = mget(k); present(v)) out.AddMember(json::str(k, a), copy(v, a), a);
  }
  if (const Value* tn = mget("teacher_notes"); present(tn)) {
    out.AddMember("teacher_notes", copy(tn, a), a);
  } else if (!guidance_all.Empty()) {
    out.AddMember("teacher_notes", guidance_all, a);
  }
  if (const Value* rsum = mget("reward_summary"); present(rsum)) {
    out.AddMember("reward_summary", copy(rsum, a), a);
  } else if (stats && stats->IsObject()) {
    Value rsum2(rapidjson::kObjectType);
    for (const char* k : {"score", "score_stddev", "uncertainty_mean", "uncertainty_stddev"}) {
      if (const Value* v = json::find(*stats, k); v && v->IsNumber()) rsum2.AddMember(json::str(k, a), Value(*v, a), a);
    }
    if (rsum2.MemberCount() > 0) out.AddMember("reward_summary", rsum2, a);
  }
  const Value* drift = mget("drift");
  if (present(drift)) out.AddMember("drift", copy(drift, a), a);
  const Value* da = mget("drift_alert");
  if (!da && drift && drift->IsObject()) da = json::find(*drift, "drift_alert");
  if (da && !da->IsNull()) out.AddMember("drift_alert", copy(da, a), a);
  if (!events.Empty()) out.AddMember("trajectory_events", events, a);
}

// ---- transcripts -------------------------------------------------------------------------

namespace {

constexpr std::string_view kPlaybookBegin = ">>> Student Playbook >>>";
constexpr std::string_view kPlaybookEnd = ">>> End Student Playbook >>>";

// The `data` of every student event that recorded what the student was sent (`attempt` start
// events of run sessions, `llm_call` events of captured episodes), oldest first.
template <typename Fn>
void for_each_student_request(const Value& session, Fn&& fn) {
  const Value* events = json::find(session, "trajectory_events");
  if (!events || !events->IsArray()) return;
  for (const Value& e : events->GetArray()) {
    const Value* body = json::find(e, "event");
    if (!body || !body->IsObject() || json::get_string(*body, "role") != "student") continue;
    const std::string type = json::get_string(*body, "type");
    if (type != "attempt" && type != "llm_call") continue;
    const Value* data = json::find(*body, "data");
    if (data && data->IsObject()) fn(*data);
  }
}

struct RecordedSystemPrompt {
  std::string text;
  std::string injected;  // the exact playbook text a captured call added ("" = find it by its markers)
};

RecordedSystemPrompt recorded_system_prompt(const Value& session) {
  RecordedSystemPrompt out;
  bool found = false;
  for_each_student_request(session, [&](const Value& data) {
    const Value* text = json::find(data, "system_prompt");
    if (found || !text || !text->IsString()) return;
    found = true;
    out.text = text->GetString();
    out.injected = json::get_string(data, "system_injected");
  });
  if (!found)
    if (const Value* meta = json::find(session, "metadata"); meta && meta->IsObject())
      out.text = json::get_string(*meta, "system_prompt");
  return out;
}

// {"type":"function","function":{name, description, parameters}} from a stored tool: either
// already in that shape or {name, description, parameters} as adapters and the gateway list them.
Value function_tool(const Value& spec, Allocator& a) {
  if (json::find(spec, "function")) return Value(spec, a);
  Value fn(rapidjson::kObjectType);
  fn.AddMember("name", json::str(json::get_string(spec, "name"), a), a);
  fn.AddMember("description", json::str(json::get_string(spec, "description"), a), a);
  const Value* p = json::find(spec, "parameters");
  if (p && p->IsObject()) {
    fn.AddMember("parameters", Value(*p, a), a);
  } else {
    Value params(rapidjson::kObjectType);
    params.AddMember("type", "object", a);
    fn.AddMember("parameters", params, a);
  }
  Value o(rapidjson::kObjectType);
  o.AddMember("type", "function", a);
  o.AddMember("function", fn, a);
  return o;
}

std::string function_tool_name(const Value& tool) {
  const Value* fn = json::find(tool, "function");
  return fn && fn->IsObject() ? json::get_string(*fn, "name") : json::get_string(tool, "name");
}

// A stored tool_call event (its `event` object) as two turns: the assistant's call (adapter-
// contract shape, arguments as an object) and the tool's result. `n` numbers calls without an id.
void push_tool_call_turns(const Value& body, int& n, Value& messages, Allocator& a) {
  const Value* data = json::find(body, "data");
  if (!data || !data->IsObject()) data = &body;
  std::string name = json::get_string(*data, "exposed_name");
  if (name.empty()) name = json::get_string(*data, "tool");
  if (name.empty()) name = json::get_string(body, "name");
  std::string id = json::get_string(*data, "call_id");
  if (id.empty()) id = "call_" + std::to_string(++n);
  Value args(rapidjson::kObjectType);
  if (const Value* av = json::find(*data, "arguments")) {
    if (av->IsObject()) {
      args.CopyFrom(*av, a);
    } else if (av->IsString()) {
      auto parsed = json::parse(av->GetString(), "tool arguments");
      if (parsed.is_ok() && parsed->IsObject()) args.CopyFrom(*parsed, a);
    }
  }
  Value call(rapidjson::kObjectType);
  call.AddMember("id", json::str(id, a), a);
  call.AddMember("name", json::str(name, a), a);
  call.AddMember("arguments", args, a);
  Value calls(rapidjson::kArrayType);
  calls.PushBack(call, a);
  Value asst(rapidjson::kObjectType);
  asst.AddMember("role", "assistant", a);
  asst.AddMember("content", "", a);
  asst.AddMember("tool_calls", calls, a);
  messages.PushBack(asst, a);
  Value tool(rapidjson::kObjectType);
  tool.AddMember("role", "tool", a);
  tool.AddMember("tool_call_id", json::str(id, a), a);
  tool.AddMember("name", json::str(name, a), a);
  tool.AddMember("content", json::str(json::get_string(*data, "result"), a), a);
  messages.PushBack(tool, a);
}

Value text_message(const char* role, const std::string& content, Allocator& a) {
  Value m(rapidjson::kObjectType);
  m.AddMember("role", Value(rapidjson::StringRef(role)), a);
  m.AddMember("content", json::str(content, a), a);
  return m;
}

// The events of one step (by step_id), oldest first: the run's `attempt` start events, the
// gateway's `llm_call` event of a captured call, and the tool calls.
struct StepEvents {
  std::vector<const Value*> attempts;  // `event` objects
  const Value* captured_call = nullptr;
  std::vector<const Value*> tool_calls;
};

std::map<std::string, StepEvents> events_by_step(const Value& session) {
  std::map<std::string, StepEvents> out;
  const Value* events = json::find(session, "trajectory_events");
  if (!events || !events->IsArray()) return out;
  for (const Value& e : events->GetArray()) {
    const Value* body = json::find(e, "event");
    if (!body || !body->IsObject()) continue;
    const std::string step = json::get_string(*body, "step_id");
    if (step.empty()) continue;
    const std::string type = json::get_string(*body, "type");
    const bool student = json::get_string(*body, "role") == "student";
    const Value* data = json::find(*body, "data");
    if (type == "tool_call") {
      out[step].tool_calls.push_back(body);
    } else if (student && type == "attempt" && json::get_string(*body, "name") == "start") {
      out[step].attempts.push_back(body);
    } else if (student && type == "llm_call" && data && json::find(*data, "wire")) {
      out[step].captured_call = body;
    }
  }
  return out;
}

std::string data_string(const Value* body, const char* key) {
  const Value* data = body ? json::find(*body, "data") : nullptr;
  return data && data->IsObject() ? json::get_string(*data, key) : "";
}

bool has_data_key(const Value* body, const char* key) {
  const Value* data = body ? json::find(*body, "data") : nullptr;
  return data && data->IsObject() && json::find(*data, key);
}

std::string recorded_user_prompt(const Value& session, const Value& step, const StepEvents& events,
                                 bool with_guidance) {
  const Value* attempt = events.attempts.empty() ? nullptr
                         : with_guidance         ? events.attempts.back()
                                                 : events.attempts.front();
  if (has_data_key(attempt, "user_prompt")) return data_string(attempt, "user_prompt");
  std::string prompt = json::get_string(session, "task");
  const Value* plan = json::find(session, "plan");
  const Value* plan_steps = plan ? json::find(*plan, "steps") : nullptr;
  const Value* meta = json::find(step, "metadata");
  const std::string desc = meta ? json::get_string(*meta, "description") : "";
  if (plan_steps && plan_steps->IsArray() && plan_steps->Size() > 1 && !desc.empty())
    prompt += "\n\nStep " + std::to_string(json::get_int(step, "step_id")) + ": " + desc;
  const Value* guidance = json::find(step, "guidance");
  if (with_guidance && guidance && guidance->IsArray() && !guidance->Empty()) {
    prompt += std::string("\n\n") + kGuidanceHeading;
    for (const Value& note : guidance->GetArray())
      if (note.IsString()) prompt += std::string("\n- ") + note.GetString();
  }
  return prompt;
}

// The stored evaluation of a step's last attempt (nullptr when it has none).
const Value* last_attempt_evaluation(const Value& step) {
  const Value* details = json::find(step, "attempt_details");
  if (!details || !details->IsArray() || details->Empty()) return nullptr;
  return json::find((*details)[details->Size() - 1], "evaluation");
}

bool any_attempt_rejected(const Value& step) {
  const Value* details = json::find(step, "attempt_details");
  if (!details || !details->IsArray()) return false;
  for (const Value& d : details->GetArray())
    if (const Value* ev = json::find(d, "evaluation"); ev && attempt_rejected(*ev)) return true;
  return false;
}

// A captured reply that only called tools: its stored output is the calls as JSON
// (session_capture.cpp, output_of), already in the conversation as tool-call turns.
bool tool_only_reply(const Value* captured_call, const std::string& output) {
  const Value* data = captured_call ? json::find(*captured_call, "data") : nullptr;
  if (!data || json::get_int(*data, "tool_calls") <= 0 || output.empty() || output[0] != '[') return false;
  auto parsed = json::parse(output, "captured reply");
  return parsed.is_ok() && parsed->IsArray();
}

}  // namespace

std::string strip_playbook(std::string_view system_prompt, std::string_view injected) {
  size_t begin = std::string_view::npos;
  size_t end = std::string_view::npos;
  if (!injected.empty()) {
    begin = system_prompt.find(injected);
    if (begin != std::string_view::npos) end = begin + injected.size();
  }
  if (begin == std::string_view::npos) {
    begin = system_prompt.find(kPlaybookBegin);
    size_t last = begin == std::string_view::npos ? begin : system_prompt.find(kPlaybookEnd, begin);
    if (last == std::string_view::npos) return std::string(system_prompt);
    end = last + kPlaybookEnd.size();
  }
  // The blank line that joined the block to the prompt (prompts::compose, the gateway) goes too.
  if (system_prompt.substr(end, 2) == "\n\n") {
    end += 2;
  } else if (end == system_prompt.size() && begin >= 2 && system_prompt.substr(begin - 2, 2) == "\n\n") {
    begin -= 2;
  }
  return std::string(system_prompt.substr(0, begin)) + std::string(system_prompt.substr(end));
}

std::string student_system_prompt(const Value& session, const TranscriptOptions& options) {
  RecordedSystemPrompt recorded = recorded_system_prompt(session);
  return options.strip_playbook ? strip_playbook(recorded.text, recorded.injected) : recorded.text;
}

void build_transcript(const Value& session, Value& messages, Allocator& a, const TranscriptOptions& options) {
  messages.SetArray();
  const std::string system = student_system_prompt(session, options);
  auto system_message = [&](const std::string& content) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", "system", a);
    m.AddMember("content", json::str(content, a), a);
    return m;
  };
  if (const Value* ss = json::find(session, "steps"); ss && ss->IsArray()) {
    for (const Value& s : ss->GetArray()) {
      const Value* meta = json::find(s, "metadata");
      const Value* msgs = meta ? json::find(*meta, "messages") : nullptr;
      if (msgs && msgs->IsArray() && !msgs->Empty()) {
        for (const Value& m : msgs->GetArray()) {
          if (json::get_string(m, "role") != "system") {
            messages.PushBack(Value(m, a), a);
          } else if (std::string content = options.strip_playbook ? strip_playbook(json::get_string(m, "content"))
                                                                  : json::get_string(m, "content");
                     !content.empty()) {
            messages.PushBack(system_message(content), a);
          }
        }
      }
    }
  }
  if (!messages.Empty()) {
    // Step transcripts already hold the conversation; the system prompt comes first, and the
    // final answer closes it if missing.
    if (json::get_string(messages[0], "role") != "system" && !system.empty()) {
      Value with_system(rapidjson::kArrayType);
      with_system.PushBack(system_message(system), a);
      for (Value& m : messages.GetArray()) with_system.PushBack(m, a);
      messages = with_system;
    }
    const Value& last = messages[messages.Size() - 1];
    std::string final_answer = json::get_string(session, "final_answer");
    if (!(json::get_string(last, "role") == "assistant" && json::get_string(last, "content") == final_answer)) {
      Value m(rapidjson::kObjectType);
      m.AddMember("role", "assistant", a);
      m.AddMember("content", json::str(final_answer, a), a);
      messages.PushBack(m, a);
    }
    return;
  }
  if (!system.empty()) messages.PushBack(system_message(system), a);
  Value user(rapidjson::kObjectType);
  user.AddMember("role", "user", a);
  user.AddMember("content", json::str(json::get_string(session, "task"), a), a);
  messages.PushBack(user, a);
  int n = 0;
  if (const Value* evs = json::find(session, "trajectory_events"); evs && evs->IsArray()) {
    for (const Value& e : evs->GetArray()) {
      const Value* body = json::find(e, "event");
      if (body && json::get_string(*body, "type") == "tool_call") push_tool_call_turns(*body, n, messages, a);
    }
  }
  Value fin(rapidjson::kObjectType);
  fin.AddMember("role", "assistant", a);
  fin.AddMember("content", json::str(json::get_string(session, "final_answer"), a), a);
  messages.PushBack(fin, a);
}

void build_tools(const Value& session, const Value& messages, Value& tools, Allocator& a) {
  tools.SetArray();
  const Value* meta = json::find(session, "metadata");
  if (const Value* t = meta ? json::find(*meta, "tools") : nullptr; t && t->IsArray() && !t->Empty()) {
    for (const Value& d : t->GetArray())
      if (d.IsObject()) tools.PushBack(function_tool(d, a), a);
    return;
  }
  std::set<std::string> seen;
  for_each_student_request(session, [&](const Value& data) {
    const Value* offered = json::find(data, "tools");
    if (!offered || !offered->IsArray()) return;
    for (const Value& spec : offered->GetArray()) {
      if (!spec.IsObject()) continue;
      std::string name = function_tool_name(spec);
      if (!name.empty() && seen.insert(name).second) tools.PushBack(function_tool(spec, a), a);
    }
  });
  // A tool called but never recorded as offered (sessions stored before offers were recorded).
  for (const Value& m : messages.GetArray()) {
    const Value* calls = json::find(m, "tool_calls");
    if (!calls || !calls->IsArray()) continue;
    for (const Value& c : calls->GetArray()) {
      std::string name = json::get_string(c, "name");
      if (name.empty() || !seen.insert(name).second) continue;
      Value stub(rapidjson::kObjectType);
      stub.AddMember("name", json::str(name, a), a);
      tools.PushBack(function_tool(stub, a), a);
    }
  }
}

bool attempt_rejected(const Value& ev) {
  if (const Value* v = json::find(ev, "validation"); v && v->IsObject()) {
    if (const Value* ok = json::find(*v, "valid"); ok && ok->IsBool()) return !ok->GetBool();
  }
  std::string st = json::get_string(ev, "status");
  return st == "failed" || st == "rejected" || st == "invalid" || st == "error";
}

bool attempt_accepted(const Value& ev) {
  if (const Value* v = json::find(ev, "validation"); v && v->IsObject()) {
    if (const Value* ok = json::find(*v, "valid"); ok && ok->IsBool()) return ok->GetBool();
  }
  std::string st = json::get_string(ev, "status");
  return st == "passed" || st == "accepted" || st == "succeeded" || st == "ok";
}

std::string step_user_prompt(const Value& session, const Value& step, bool with_guidance) {
  auto events = events_by_step(session);
  return recorded_user_prompt(session, step, events[std::to_string(json::get_int(step, "step_id"))], with_guidance);
}

std::vector<StepTurns> build_conversation(const Value& session, Value& messages, Allocator& a,
                                          const ConversationOptions& options) {
  messages.SetArray();
  std::vector<StepTurns> out;
  const std::string system = student_system_prompt(session, options.transcript);
  if (!system.empty()) messages.PushBack(text_message("system", system, a), a);
  messages.PushBack(text_message("user", json::get_string(session, "task"), a), a);
  auto events = events_by_step(session);
  const Value* steps = json::find(session, "steps");
  int n = 0;
  if (steps && steps->IsArray()) {
    for (const Value& step : steps->GetArray()) {
      // A step whose final attempt the teacher rejected (or that never ran) is no behaviour to
      // learn; its rejected attempts are never turns either.
      const Value* last = last_attempt_evaluation(step);
      const std::string output = json::get_string(step, "output");
      if ((last && attempt_rejected(*last)) || output.empty()) continue;
      StepTurns t;
      t.step_id = json::get_int(step, "step_id");
      const StepEvents& ev = events[std::to_string(t.step_id)];
      t.begin = messages.Size();
      // Not a captured call: a run step, even one stored before attempts recorded their prompts.
      t.own_prompt = ev.captured_call == nullptr;
      if (t.own_prompt) {
        messages.PushBack(text_message("user", recorded_user_prompt(session, step, ev, options.guidance), a), a);
        const std::string sent = ev.attempts.empty() ? "" : data_string(ev.attempts.back(), "system_prompt");
        t.system_prompt = options.transcript.strip_playbook ? strip_playbook(sent) : sent;
      } else if (const Value* g = json::find(step, "guidance"); options.guidance && g && g->IsArray()) {
        // The gateway adds its guidance to the call as user turns (docs/export-formats.md).
        for (const Value& note : g->GetArray())
          if (note.IsString()) messages.PushBack(text_message("user", note.GetString(), a), a);
      }
      t.first_reply = messages.Size();
      // The accepted attempt's tool calls: those whose parent is its start event. A call made
      // under a rejected attempt is left out; one stored without its attempt cannot be told apart.
      const std::string accepted_id = ev.attempts.empty() ? "" : json::get_string(*ev.attempts.back(), "id");
      bool unattributed = false;
      for (const Value* call : ev.tool_calls) {
        const std::string parent = json::get_string(*call, "parent_id");
        if (accepted_id.empty()) {
          // A captured call's calls are all its reply's (a rejected reply never reached the
          // client); a run step stored without attempt events cannot say whose they are.
          unattributed = unattributed || t.own_prompt;
        } else if (parent != accepted_id) {
          bool from_rejected = std::any_of(ev.attempts.begin(), ev.attempts.end(),
                                           [&](const Value* at) { return json::get_string(*at, "id") == parent; });
          if (from_rejected) continue;
          unattributed = true;
        }
        push_tool_call_turns(*call, n, messages, a);
      }
      t.tool_turns_unattributed = unattributed && any_attempt_rejected(step);
      if (ev.tool_calls.empty() || !tool_only_reply(ev.captured_call, output))
        messages.PushBack(text_message("assistant", output, a), a);
      t.end = messages.Size();
      out.push_back(std::move(t));
    }
  }
  const std::string final_answer = json::get_string(session, "final_answer");
  const Value& last = messages[messages.Size() - 1];
  if (!final_answer.empty() &&
      !(json::get_string(last, "role") == "assistant" && json::get_string(last, "content") == final_answer))
    messages.PushBack(text_message("assistant", final_answer, a), a);
  return out;
}

bool build_synthesis(const Value& session, Value& messages, Allocator& a, const TranscriptOptions& options) {
  messages.SetArray();
  const std::string final_answer = json::get_string(session, "final_answer");
  const Value* events = json::find(session, "trajectory_events");
  if (final_answer.empty() || !events || !events->IsArray()) return false;
  const Value* synthesis = nullptr;
  std::vector<const Value*> tool_calls;  // made by the synthesis call (their parent is its event)
  for (const Value& e : events->GetArray()) {
    const Value* body = json::find(e, "event");
    if (!body || !body->IsObject()) continue;
    const std::string type = json::get_string(*body, "type");
    if (type == "synthesis" && json::get_string(*body, "role") == "student" && has_data_key(body, "user_prompt")) {
      synthesis = body;
      tool_calls.clear();
    } else if (type == "tool_call" && synthesis &&
               json::get_string(*body, "parent_id") == json::get_string(*synthesis, "id")) {
      tool_calls.push_back(body);
    }
  }
  if (!synthesis) return false;
  const std::string sent = data_string(synthesis, "system_prompt");
  const std::string system = options.strip_playbook ? strip_playbook(sent) : sent;
  if (!system.empty()) messages.PushBack(text_message("system", system, a), a);
  messages.PushBack(text_message("user", data_string(synthesis, "user_prompt"), a), a);
  int n = 0;
  for (const Value* call : tool_calls) push_tool_call_turns(*call, n, messages, a);
  messages.PushBack(text_message("assistant", final_answer, a), a);
  return true;
}

}  // namespace atlas::data
