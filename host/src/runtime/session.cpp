// One session's flow: metadata and learning key, learning state, routing, the lanes (student
// calls, teacher validation, the coach plan), then finish(): verdict, stored document, report,
// learning launch.
#include "runtime/session.hpp"

#include <cstdio>
#include <mutex>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"
#include "data/store.hpp"
#include "llm/llm_json.hpp"
#include "mcp/tool_loop.hpp"
#include "plugin/registry.hpp"
#include "rewards/rewards.hpp"
#include "runtime/dag_executor.hpp"
#include "runtime/finish_document.hpp"
#include "runtime/host_services.hpp"
#include "runtime/lane.hpp"
#include "runtime/learning.hpp"
#include "runtime/learning_history.hpp"
#include "runtime/learning_key.hpp"
#include "runtime/model_directory.hpp"
#include "runtime/plan.hpp"
#include "runtime/playbook.hpp"
#include "runtime/prompts.hpp"
#include "runtime/rollout.hpp"
#include "runtime/runtime.hpp"
#include "runtime/teacher.hpp"

namespace atlas::runtime {

using json::Value;

namespace {

// The deadline of the step running on this thread (0 = none): teacher calls made for a step
// are bounded by it like the student's.
thread_local int64_t t_step_deadline_ms = 0;
struct StepDeadlineScope {
  int64_t saved;
  explicit StepDeadlineScope(int64_t d) : saved(t_step_deadline_ms) { t_step_deadline_ms = d; }
  ~StepDeadlineScope() { t_step_deadline_ms = saved; }
};

std::string role_name_of(config::Lane lane) { return std::string(config::lane_name(lane)); }

json::Document parse_object_or_empty(std::string_view text) {
  auto d = json::parse(text, "tool parameters");
  if (!d || !d->IsObject()) return json::Document(rapidjson::kObjectType);
  return std::move(*d);
}

// The content of an executor reply: the "deliverable" of {"result":{"deliverable":...}} when
// the student used Atlas's JSON contract, else the text itself.
std::string deliverable_of(const std::string& content) {
  size_t i = content.find_first_not_of(" \t\r\n");
  if (i == std::string::npos || (content[i] != '{' && content.compare(i, 3, "```") != 0)) return content;
  auto doc = json::parse_lenient_object(content);
  if (!doc) return content;
  const Value* result = json::find(*doc, "result");
  const Value* d = result ? json::find(*result, "deliverable") : json::find(*doc, "deliverable");
  if (!d) d = json::find(*doc, "final_answer");
  if (!d) return content;
  return d->IsString() ? std::string(d->GetString(), d->GetStringLength()) : json::dump(*d);
}

// One [agent] tool as the adapter's request lists it: {name, description, parameters}.
void write_tool_spec(rapidjson::Writer<rapidjson::StringBuffer>& w, const config::ToolDefinition& tool) {
  w.StartObject();
  w.Key("name");
  json::write_string(w, tool.name);
  w.Key("description");
  json::write_string(w, tool.description);
  w.Key("parameters");
  parse_object_or_empty(tool.parameters_json).Accept(w);
  w.EndObject();
}

// The step status the scheduler sets when it, not the step body, ended a step.
StepStatus step_status_of(StepRun::State state) {
  switch (state) {
    case StepRun::State::kTimedOut: return StepStatus::kTimeout;
    case StepRun::State::kSkipped: return StepStatus::kSkipped;
    case StepRun::State::kFailed: return StepStatus::kFailed;
    default: return StepStatus::kPending;
  }
}

}  // namespace

void Session::stop_for(const std::string& reason) {
  {
    std::lock_guard<std::mutex> g(limit_mu_);
    if (!limit_reason_.empty()) return;
    limit_reason_ = reason;
  }
  stop_->store(true);
  events_->emit(event_type::kSession, "limit", "host", root_event_, "{\"reason\":" + json::quote(reason) + "}");
}

void Session::check_budget() {
  const config::LimitsConfig& lim = cfg_.limits;
  RoleTotals t = ledger_->total();
  if (lim.max_model_calls_per_session > 0 && t.calls > lim.max_model_calls_per_session) {
    stop_for("the session made " + std::to_string(t.calls) + " model calls, more than [limits] "
             "max_model_calls_per_session = " + std::to_string(lim.max_model_calls_per_session));
  } else if (lim.max_tokens_per_session > 0 && t.total_tokens > lim.max_tokens_per_session) {
    stop_for("the session used " + std::to_string(t.total_tokens) + " tokens, more than [limits] "
             "max_tokens_per_session = " + std::to_string(lim.max_tokens_per_session));
  }
}

int64_t Session::step_deadline() const {
  int64_t d = clock::now_unix_ms() + static_cast<int64_t>(cfg_.orchestration.step_timeout_seconds * 1000);
  return deadline_ms_ > 0 ? std::min(d, deadline_ms_) : d;
}

void Session::on_plugin_event(std::string_view event_json, std::string_view parent, std::string_view step_id,
                              StepState* state) {
  auto doc = json::parse(event_json, "plugin event");
  if (!doc || !doc->IsObject()) {
    events_->emit("plugin_event", "unparsable", "host", parent, "{\"raw\":" + json::quote(event_json) + "}", step_id);
    return;
  }
  std::string type = json::get_string(*doc, "type");
  if (type == "llm_call") {
    std::string role = json::get_string(*doc, "role", "unknown");
    const Value* usage_json = json::find(*doc, "usage");
    llm::Usage usage;
    if (usage_json) {
      usage.prompt_tokens = json::get_int(*usage_json, "prompt_tokens");
      usage.completion_tokens = json::get_int(*usage_json, "completion_tokens");
      usage.total_tokens = json::get_int(*usage_json, "total_tokens");
    }
    note_llm_call(role, json::get_string(*doc, "model_ref", role), usage_json ? &usage : nullptr,
                  json::get_double(*doc, "latency_ms") / 1000.0, json::get_string(*doc, "outcome", "ok") == "ok",
                  std::string(event_json), parent, step_id);
  } else if (type == "tool_call") {
    events_->emit(event_type::kToolCall, json::get_string(*doc, "tool"), "student", parent, std::string(event_json),
                  step_id);
    if (!state) return;
    rewards::ToolCallEvidence t;
    t.id = json::get_string(*doc, "call_id");
    t.name = json::get_string(*doc, "tool");
    if (const Value* args = json::find(*doc, "arguments")) t.arguments_json = json::dump(*args);
    const Value* res = json::find(*doc, "result");
    t.result = res && res->IsString() ? res->GetString() : (res ? json::dump(*res) : "");
    t.is_error = json::get_bool(*doc, "is_error");
    std::lock_guard<std::mutex> g(steps_mu_);
    state->tool_calls.push_back(std::move(t));
  } else {
    events_->emit(type.empty() ? "plugin_event" : type, json::get_string(*doc, "name"), "plugin", parent,
                  std::string(event_json), step_id);
  }
}

void Session::note_llm_call(const std::string& role, std::string_view model_ref, const llm::Usage* usage,
                            double latency_seconds, bool ok, std::string event_json, std::string_view parent,
                            std::string_view step_id) {
  // Student usage is billed from the adapter's reply (adapters without a model report it
  // too); counting the adapter's llm_complete calls as well would double it.
  if (role != "student" && usage) {
    ledger_->add(role, usage->prompt_tokens, usage->completion_tokens, usage->total_tokens, latency_seconds, ok);
    check_budget();
  }
  events_->emit(event_type::kLlmCall, model_ref.empty() ? std::string_view(role) : model_ref, role, parent,
                std::move(event_json), step_id);
}

plugin::CallContext Session::call_context(std::string_view parent, std::string_view step_id, int64_t deadline,
                                          std::shared_ptr<std::atomic<bool>> stop, StepState* state) {
  plugin::CallContext ctx;
  ctx.session_id = session_id_;
  ctx.step_id = std::string(step_id);
  ctx.deadline_unix_ms = deadline;
  std::string p(parent), s(step_id);
  ctx.on_event = [this, p, s, state](std::string_view ev) { on_plugin_event(ev, p, s, state); };
  Runtime::Impl* rt = &rt_;
  ctx.cancelled = [rt, stop, session_stop = stop_] {
    return rt->cancelled() || session_stop->load() || (stop && stop->load());
  };
  ctx.max_output_bytes = static_cast<size_t>(cfg_.limits.max_reply_bytes);
  return ctx;
}

Result<llm::Response> Session::call_llm(std::string_view model_ref, llm::Request req, std::string_view parent,
                                        std::string_view step_id, int64_t deadline) {
  auto model = resolve_model_ref(cfg_, model_ref);
  if (!model) return model.status();
  if (deadline == 0) deadline = t_step_deadline_ms;
  if (deadline > 0 && clock::now_unix_ms() >= deadline) return deadline_exceeded("the step's deadline passed");
  if (req.role.empty()) req.role = default_role_for_ref(model_ref);
  if (stopped()) return cancelled("the session was stopped before the " + req.role + " call");
  req.session_id = session_id_;
  llm::CallRecord record;
  auto resp = rt_.client->complete(with_deadline(**model, deadline), req, &record);
  if (record.role.empty()) record.role = req.role;
  // Typed, not through on_plugin_event: building this event's JSON only to parse it back
  // cost as much as the call's own response parsing.
  note_llm_call(record.role, model_ref, &record.usage, record.latency_seconds, record.outcome == "ok",
                llm_call_event_json(record, model_ref), parent, step_id);
  return resp;
}

Result<std::string> Session::call_student(std::string_view role, std::vector<llm::Message> messages, bool json_mode,
                                          std::string_view parent, std::string_view step_id, int64_t deadline,
                                          std::shared_ptr<std::atomic<bool>> stop, StepState* state) {
  // Written straight to text (one per student call; prompts make it the largest JSON the host
  // writes): no DOM to build, copy and throw away.
  rapidjson::StringBuffer sb(nullptr, 4096);
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto text = [&w](std::string_view value) { json::write_string(w, value); };
  w.StartObject();
  w.Key("role");
  text(role);
  w.Key("messages");
  w.StartArray();
  for (const auto& m : messages) {
    w.StartObject();
    w.Key("role");
    text(m.role);
    w.Key("content");
    text(m.content);
    w.EndObject();
  }
  w.EndArray();
  w.Key("tools");
  w.StartArray();  // the MCP tool loop adds its own tools
  for (const auto& t : cfg_.agent.tools) write_tool_spec(w, t);
  w.EndArray();
  bool has_tools = !cfg_.agent.tools.empty() || rt_.tools;
  w.Key("tool_choice");
  text(has_tools ? std::string_view(cfg_.student.tool_choice) : std::string_view());
  w.Key("response_format");
  if (json_mode) {
    w.StartObject();
    w.Key("type");
    w.String("json_object");
    w.EndObject();
  } else {
    w.Null();
  }
  w.Key("task");
  text(task_.task);
  w.Key("session_id");
  text(session_id_);
  w.Key("step_id");
  text(step_id);
  if (rollout_.group) {
    // Rollout siblings sample differently: adapters that can set a seed or a temperature do
    // (docs/plugin-contracts.md, adapter "sampling"); the others ignore the key.
    w.Key("sampling");
    w.StartObject();
    w.Key("seed");
    w.Int64(rollout_.group->seed_of(rollout_.index));
    if (auto t = rollout_.group->temperature_of(rollout_.index)) {
      w.Key("temperature");
      w.Double(*t);
    }
    w.EndObject();
  }
  w.Key("metadata");
  w.StartObject();
  w.Key("learning_key");
  text(learning_key_);
  w.Key("execution_mode");
  text(config::lane_name(decision_.lane));
  w.EndObject();
  w.EndObject();
  std::string request_json(sb.GetString(), sb.GetSize());

  plugin::CallContext ctx = call_context(parent, step_id, deadline, stop, state);
  std::string response_json;
  if (rt_.tools) {
    mcp::ToolLoopOptions opts;
    opts.max_turns = cfg_.agent.max_tool_turns;
    std::string p(parent), s(step_id);
    auto out = mcp::run_tool_loop([&](std::string_view r) { return rt_.adapter.invoke(ctx, r); }, request_json,
                                  *rt_.tools, opts,
                                  [this, p, s, state](std::string_view ev) { on_plugin_event(ev, p, s, state); });
    if (!out) return out.status();
    response_json = out->response_json;
  } else {
    auto out = rt_.adapter.invoke(ctx, request_json);
    if (!out) return out.status();
    response_json = std::move(*out);
  }
  auto resp = json::parse(response_json, "adapter reply");
  if (!resp || !resp->IsObject())
    return internal_error("the adapter \"" + cfg_.agent.adapter + "\" returned a reply that is not a JSON object");
  if (const Value* usage = json::find(*resp, "usage"); usage && usage->IsObject()) {
    ledger_->add("student", json::get_int(*usage, "prompt_tokens"), json::get_int(*usage, "completion_tokens"),
                 json::get_int(*usage, "total_tokens"), 0.0);
  } else {
    ledger_->add("student", 0, 0, 0, 0.0);
  }
  check_budget();
  std::string content = json::get_string(*resp, "content");
  if (state) {
    std::lock_guard<std::mutex> g(steps_mu_);
    state->messages = messages;
    state->messages.push_back({"assistant", content, {}, {}, {}});
    state->trace = json::get_string(*resp, "trace");
  }
  return content;
}

std::string Session::attempt_start_json(int attempt, std::string_view system_prompt,
                                        std::string_view user_prompt) const {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("attempt");
  w.Int(attempt);
  w.Key("system_prompt");
  json::write_string(w, system_prompt);
  w.Key("user_prompt");
  json::write_string(w, user_prompt);
  w.Key("tools");
  w.StartArray();  // the [agent] tools, then the MCP tools, in the order the tool loop offers them
  for (const auto& t : cfg_.agent.tools) write_tool_spec(w, t);
  if (rt_.tools) {
    if (auto mcp_tools = json::parse(rt_.tools->tools_json(), "MCP tool list"); mcp_tools && mcp_tools->IsArray())
      for (const Value& t : mcp_tools->GetArray()) t.Accept(w);
  }
  w.EndArray();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
}

std::string Session::prior_results_for(const PlanStep& step) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  std::lock_guard<std::mutex> g(steps_mu_);
  for (int dep : step.depends_on) {
    for (const auto& s : steps_) {
      if (s->step.id != dep) continue;
      Value o(rapidjson::kObjectType);
      o.AddMember("description", json::str(s->step.description, a), a);
      o.AddMember("status", json::str(status_name(s->status), a), a);
      o.AddMember("output", json::str(s->output, a), a);
      d.AddMember(json::str(std::to_string(dep), a), o, a);
    }
  }
  return json::dump(d);
}

Status Session::run_step(StepState& st, bool validate, const std::string& prior_json, const StepControl& control) {
  const std::string sid = std::to_string(st.step.id);
  StepDeadlineScope deadline_scope(control.deadline_unix_ms);
  int max_attempts = validate ? cfg_.orchestration.max_retries + 1 : 1;
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    if (control.should_stop() || stopped()) return cancelled("step " + sid + " was stopped");
    std::string user = "Task:\n" + task_.task + "\n\nStep " + sid + ": " + st.step.description;
    if (prior_json != "{}") user += "\n\nValidated results of the steps this one depends on (JSON):\n" + prior_json;
    if (!st.guidance.empty()) {
      user += "\n\nGuidance from your teacher on earlier attempts:";
      for (const auto& g : st.guidance) user += "\n- " + g;
    }
    std::vector<llm::Message> msgs;
    msgs.push_back({"system",
                    prompts::compose(student_block_, cfg_.agent.system_prompt, cfg_.student.prompts.executor,
                                     prompts::student_executor()),
                    {}, {}, {}});
    msgs.push_back({"user", user, {}, {}, {}});
    std::string attempt_event = events_->emit(event_type::kAttempt, "start", "student", st.event_id,
                                              attempt_start_json(attempt, msgs.front().content, msgs.back().content), sid);
    auto out = call_student("executor", std::move(msgs), false, attempt_event, sid, control.deadline_unix_ms,
                            control.cancelled, &st);
    if (!out) {
      events_->emit(event_type::kAttempt, "error", "student", attempt_event,
                    "{\"error\":" + json::quote(out.status().to_string()) + "}", sid);
      Attempt failed;
      failed.number = attempt;
      failed.status = StepStatus::kError;
      // A call cut short by the step's deadline is a timeout, whatever code the adapter chose.
      bool timed_out = out.status().code() == StatusCode::kDeadlineExceeded || control.should_stop() ||
                       (control.deadline_unix_ms > 0 && clock::now_unix_ms() + 250 >= control.deadline_unix_ms);
      {
        std::lock_guard<std::mutex> g(steps_mu_);
        st.attempts.push_back(failed);
        if (st.status != StepStatus::kTimeout) st.status = timed_out ? StepStatus::kTimeout : StepStatus::kFailed;
        if (st.reason.empty()) st.reason = out.status().to_string();
      }
      if (out.status().code() == StatusCode::kDeadlineExceeded || control.should_stop() ||
          (control.deadline_unix_ms > 0 && clock::now_unix_ms() + 250 >= control.deadline_unix_ms))
        return deadline_exceeded("step " + sid + ": " + out.status().to_string());
      return out.status();
    }
    Attempt at;
    at.number = attempt;
    at.output = deliverable_of(*out);
    if (!validate) {
      at.status = StepStatus::kCompleted;
      std::lock_guard<std::mutex> g(steps_mu_);
      st.output = at.output;
      st.status = StepStatus::kCompleted;
      st.attempts.push_back(std::move(at));
      return Status::ok();
    }
    ValidationInput vin;
    vin.task = task_.task;
    vin.step_id = st.step.id;
    vin.step_description = st.step.description;
    vin.output = at.output;
    vin.prior_results_json = prior_json;
    vin.guidance = st.guidance;
    vin.attempt = attempt;
    Verdict v = teacher_->validate(vin);
    at.verdict_json = v.to_json();
    events_->emit(event_type::kValidation, v.valid ? "valid" : "invalid", "teacher", attempt_event, at.verdict_json, sid);
    bool last = attempt == max_attempts;
    if (v.valid || v.unavailable || last) {
      at.status = v.valid ? StepStatus::kPassed : v.unavailable ? StepStatus::kUnvalidated : StepStatus::kFailed;
      std::lock_guard<std::mutex> g(steps_mu_);
      st.output = at.output;
      st.status = at.status;
      if (!v.valid) st.reason = v.unavailable ? v.error : kTeacherRejected;
      st.attempts.push_back(std::move(at));
      return Status::ok();
    }
    std::string guidance = v.guidance;
    if (guidance.empty()) guidance = teacher_->guidance(vin, v);
    if (guidance.empty()) guidance = "Your previous attempt was not accepted; check the step description and redo it completely.";
    events_->emit(event_type::kGuidance, "retry", "teacher", attempt_event, "{\"guidance\":" + json::quote(guidance) + "}",
                  sid);
    at.status = StepStatus::kFailed;
    at.guidance = guidance;
    std::lock_guard<std::mutex> g(steps_mu_);
    st.attempts.push_back(std::move(at));
    st.guidance.push_back(guidance);
  }
  return Status::ok();
}

LaneDecision Session::route() {
  ProbeFn probe;
  if (rt_.probe.valid()) {
    probe = [this]() -> Result<ProbeAnswer> {
      json::Document req;
      req.SetObject();
      auto& a = req.GetAllocator();
      req.AddMember("task", json::str(task_.task, a), a);
      req.AddMember("learning_history", Value(history_, a), a);
      req.AddMember("learning_key", json::str(learning_key_, a), a);
      std::string ev = events_->emit(event_type::kProbe, rt_.probe.info().name, "probe", root_event_, "{}");
      int64_t deadline = clock::now_unix_ms() + static_cast<int64_t>(cfg_.routing.timeout_seconds * 1000);
      auto out = rt_.probe.probe(call_context(ev, "", deadline), json::dump(req));
      if (!out) return out.status();
      auto ans = parse_probe_reply(*out);
      if (!ans) return ans.status();
      return ans;
    };
  }
  return decide_lane(cfg_.orchestration, cfg_.routing, history_count(history_), probe);
}

void Session::run_auto_or_paired(bool validate) {
  plan_ = single_step_plan(task_.task);
  auto st = std::make_unique<StepState>();
  st->step = plan_.steps[0];
  StepState& ref = *st;
  steps_.push_back(std::move(st));
  ref.started_us = clock::now_unix_us();
  ref.event_id = events_->emit(event_type::kStepStart, "1", "student", root_event_,
                               "{\"description\":" + json::quote(task_.task) + "}", "1");
  // One step, run like a coach step: under its deadline, and abandoned (not waited for
  // forever) when the adapter never returns.
  DagOptions opts;
  opts.max_parallel = 1;
  opts.step_timeout_seconds = cfg_.orchestration.step_timeout_seconds;
  opts.session_deadline_unix_ms = deadline_ms_;
  StepState* state = &ref;
  std::vector<StepRun> runs =
      run_dag(plan_, opts, [self = shared_from_this(), state, validate](size_t, const StepControl& control) {
        return self->run_step(*state, validate, "{}", control);
      });
  const StepRun& run = runs[0];
  if (run.abandoned) ++rt_.abandoned_steps;
  Status st_run = run.state == StepRun::State::kSucceeded ? Status::ok()
                  : run.state == StepRun::State::kTimedOut ? deadline_exceeded("step 1: " + run.reason)
                  : run.state == StepRun::State::kFailed   ? Status(StatusCode::kUnknown, run.reason)
                                                           : cancelled("step 1: " + run.reason);
  std::string end_json;
  {
    std::lock_guard<std::mutex> g(steps_mu_);  // an abandoned body may still write the step
    if (run.state == StepRun::State::kTimedOut) {
      ref.status = StepStatus::kTimeout;
      if (ref.reason.empty()) ref.reason = run.reason;
    }
    ref.ended_us = clock::now_unix_us();
    end_json = "{\"status\":" + json::quote(status_name(ref.status)) + ",\"attempts\":" + std::to_string(ref.attempts.size()) + "}";
  }
  events_->emit(event_type::kStepEnd, "1", "student", ref.event_id, end_json, "1");
  if (!st_run.is_ok()) {
    failed_ = true;
    error_ = "the student could not complete the task: " +
             (st_run.code() == StatusCode::kUnknown ? st_run.message() : st_run.to_string());
    return;
  }
  final_answer_ = ref.output;
}

void Session::run_coach() {
  // 1. The student plans.
  std::string plan_event = events_->emit(event_type::kPlan, "draft", "student", root_event_, "{}");
  std::vector<llm::Message> msgs;
  msgs.push_back({"system",
                  prompts::compose(student_block_, cfg_.agent.system_prompt, cfg_.student.prompts.planner,
                                   prompts::student_planner()),
                  {}, {}, {}});
  msgs.push_back({"user", "Task:\n" + task_.task, {}, {}, {}});
  int64_t plan_deadline = step_deadline();
  auto draft = call_student("planner", std::move(msgs), true, plan_event, "", plan_deadline, nullptr, nullptr);
  std::string fallback_reason;
  if (!draft) {
    fallback_reason = "the student could not plan: " + draft.status().to_string();
  } else {
    auto parsed = parse_plan(*draft);
    const size_t max_steps = static_cast<size_t>(cfg_.limits.max_plan_steps);
    if (!parsed) {
      fallback_reason = "the student's plan is unusable: " + parsed.status().message();
    } else if (max_steps > 0 && parsed->steps.size() > max_steps) {
      original_plan_ = *parsed;
      fallback_reason = "the plan cannot run: " + check_plan(*parsed, max_steps).message();
    } else {
      original_plan_ = *parsed;
      // 2. The teacher reviews it (and may correct it).
      std::string review_event = events_->emit(event_type::kPlan, "review", "teacher", plan_event,
                                               "{\"plan\":" + plan_to_json_text(*parsed) + "}");
      std::string tools_json = rt_.tools ? rt_.tools->tools_json() : "[]";
      PlanReview review = teacher_->review_plan(task_.task, *parsed, tools_json);
      json::Document rv;
      rv.SetObject();
      auto& a = rv.GetAllocator();
      rv.AddMember("changed", review.changed, a);
      rv.AddMember("parsed", review.parsed, a);
      if (!review.error.empty()) rv.AddMember("error", json::str(review.error, a), a);
      rv.AddMember("plan", plan_to_json(review.plan, a), a);
      events_->emit(event_type::kPlan, "reviewed", "teacher", review_event, json::dump(rv));
      Status check = check_plan(review.plan, max_steps);
      if (!check.is_ok()) fallback_reason = "the plan cannot run: " + check.message();
      else plan_ = review.plan;
    }
  }
  if (!fallback_reason.empty()) {
    plan_ = single_step_plan(task_.task);
    report_.plan_fallback = true;
    report_.plan_fallback_reason = fallback_reason;
    json::set(metadata_, "plan_fallback", json::str(fallback_reason, metadata_.GetAllocator()),
              metadata_.GetAllocator());
    events_->emit(event_type::kPlan, "fallback", "host", plan_event,
                  "{\"reason\":" + json::quote(fallback_reason) + ",\"plan\":" + plan_to_json_text(plan_) + "}");
  }
  events_->emit(event_type::kPlan, "final", "host", plan_event, "{\"plan\":" + plan_to_json_text(plan_) + "}");

  // 3. Steps in dependency order, independent ones concurrently.
  for (const auto& s : plan_.steps) {
    auto st = std::make_unique<StepState>();
    st->step = s;
    steps_.push_back(std::move(st));
  }
  DagOptions opts;
  opts.max_parallel = cfg_.orchestration.max_parallel_steps;
  opts.step_timeout_seconds = cfg_.orchestration.step_timeout_seconds;
  opts.session_deadline_unix_ms = deadline_ms_;
  auto stop_all = std::make_shared<std::atomic<bool>>(false);
  opts.cancelled = stop_all;
  std::vector<StepState*> states;
  for (auto& s : steps_) states.push_back(s.get());
  auto body = [this, self = shared_from_this(), states](size_t i, const StepControl& control) -> Status {
    StepState& st = *states[i];
    std::string prior = prior_results_for(st.step);
    return run_step(st, true, prior, control);
  };
  auto observer = [this, self = shared_from_this(), states, plan_event](size_t i, const StepRun& run) {
    StepState& st = *states[i];
    std::string sid = std::to_string(st.step.id);
    if (run.state == StepRun::State::kPending) {
      json::Document d;
      d.SetObject();
      auto& a = d.GetAllocator();
      d.AddMember("description", json::str(st.step.description, a), a);
      Value deps(rapidjson::kArrayType);
      for (int dep : st.step.depends_on) deps.PushBack(dep, a);
      d.AddMember("depends_on", deps, a);
      std::lock_guard<std::mutex> g(steps_mu_);
      st.started_us = run.started_us;
      st.event_id = events_->emit(event_type::kStepStart, sid, "student", plan_event, json::dump(d), sid);
      return;
    }
    StepStatus status = StepStatus::kPending;
    {
      std::lock_guard<std::mutex> g(steps_mu_);
      st.ended_us = run.ended_us;
      if (run.state == StepRun::State::kTimedOut || run.state == StepRun::State::kSkipped ||
          (run.state == StepRun::State::kFailed && st.status != StepStatus::kFailed)) {
        st.status = step_status_of(run.state);
        st.reason = run.reason;
      } else if (run.state == StepRun::State::kFailed) {
        st.reason = run.reason;
      }
      status = st.status;
    }
    events_->emit(event_type::kStepEnd, sid, "student", st.event_id.empty() ? plan_event : st.event_id,
                  "{\"status\":" + json::quote(status_name(status)) + ",\"state\":" + json::quote(step_state_name(run.state)) +
                      ",\"reason\":" + json::quote(run.reason) + "}",
                  sid);
  };
  if (rt_.cancelled()) stop_all->store(true);
  std::vector<StepRun> runs = run_dag(plan_, opts, body, observer);
  for (const auto& r : runs)
    if (r.abandoned) ++rt_.abandoned_steps;

  // 4. The student writes the final answer from the step results.
  bool any_output = false;
  for (const auto& s : steps_)
    if (!s->output.empty() && s->status != StepStatus::kTimeout) any_output = true;
  if (!any_output) {
    failed_ = true;
    error_ = "no step of the plan produced a result";
    for (const auto& s : steps_)
      if (!s->reason.empty()) error_ += "; step " + std::to_string(s->step.id) + ": " + s->reason;
    return;
  }
  if (plan_.steps.size() == 1) {
    final_answer_ = steps_[0]->output;
    return;
  }
  json::Document results;
  results.SetArray();
  {
    auto& a = results.GetAllocator();
    std::lock_guard<std::mutex> g(steps_mu_);
    for (const auto& s : steps_) {
      Value o(rapidjson::kObjectType);
      o.AddMember("id", s->step.id, a);
      o.AddMember("description", json::str(s->step.description, a), a);
      o.AddMember("status", json::str(status_name(s->status), a), a);
      o.AddMember("result",
                  s->status == StepStatus::kTimeout || s->status == StepStatus::kSkipped ? Value() : json::str(s->output, a),
                  a);
      if (!s->reason.empty()) o.AddMember("note", json::str(s->reason, a), a);
      results.PushBack(o, a);
    }
  }
  std::vector<llm::Message> smsgs;
  smsgs.push_back({"system",
                   prompts::compose(student_block_, cfg_.agent.system_prompt, cfg_.student.prompts.synthesizer,
                                    prompts::student_synthesizer()),
                   {}, {}, {}});
  smsgs.push_back({"user", "Task:\n" + task_.task + "\n\nStep results (JSON):\n" + json::dump(results), {}, {}, {}});
  // What the synthesizer was sent, as an attempt records it: the final row of a per-step export
  // (docs/export-formats.md, "Multi-step conversations").
  std::string syn_event = events_->emit(event_type::kSynthesis, "final_answer", "student", root_event_,
                                        attempt_start_json(1, smsgs.front().content, smsgs.back().content));
  int64_t deadline = step_deadline();
  auto answer = call_student("synthesizer", std::move(smsgs), false, syn_event, "", deadline, nullptr, nullptr);
  if (!answer) {
    failed_ = true;
    error_ = "the student could not write the final answer: " + answer.status().to_string();
    return;
  }
  final_answer_ = deliverable_of(*answer);
}

SessionReport Session::run() {
  if (!begin()) return report_;
  // 4. Run the lane.
  switch (decision_.lane) {
    case config::Lane::kAuto: run_auto_or_paired(false); break;
    case config::Lane::kPaired: run_auto_or_paired(true); break;
    case config::Lane::kCoach: run_coach(); break;
  }
  finish();
  return report_;
}

bool Session::begin() {
  started_ = clock::monotonic_seconds();
  report_.task = task_.task;
  if (rt_.cancelled()) {  // Ctrl-C before this session began: it never starts, nothing is stored
    report_.status = SessionStatus::kNotStarted;
    report_.error = "not started: the run was interrupted";
    return false;
  }
  if (cfg_.limits.session_timeout_seconds > 0)
    deadline_ms_ = clock::now_unix_ms() + static_cast<int64_t>(cfg_.limits.session_timeout_seconds * 1000);
  std::string task_refused;
  if (cfg_.limits.max_task_bytes > 0 && task_.task.size() > static_cast<size_t>(cfg_.limits.max_task_bytes)) {
    // Not run, and not stored whole: the session keeps the task's first KiB and the reason.
    task_refused = "the task is " + std::to_string(task_.task.size()) + " bytes, more than [limits] max_task_bytes = " +
                   std::to_string(cfg_.limits.max_task_bytes);
    size_t cut = std::min<size_t>(1024, task_.task.size());
    while (cut > 0 && (static_cast<unsigned char>(task_.task[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
    task_.task = task_.task.substr(0, cut) + "\n[... task cut: " + task_refused + "]";
    report_.task = task_.task;
  }
  // 1. Metadata, learning key, session row.
  metadata_ = parse_object_or_empty(cfg_.metadata_json);
  // The key comes from the caller's metadata alone, as Atlas derives it: `[metadata]` and
  // `default_tags` are stored with the session but never change the key.
  json::Document caller = parse_object_or_empty(task_.metadata_json);
  for (auto& m : caller.GetObject()) json::set(metadata_, m.name.GetString(), Value(m.value, metadata_.GetAllocator()), metadata_.GetAllocator());
  if (!cfg_.routing.default_tags.empty()) {
    auto& a = metadata_.GetAllocator();
    Value tags(rapidjson::kArrayType);
    for (const auto& t : cfg_.routing.default_tags) tags.PushBack(json::str(t, a), a);
    json::set(metadata_, "adaptive_default_tags", std::move(tags), a);
  }
  learning_key_ = derive_learning_key(cfg_.agent.name, task_.task, &caller);
  report_.learning_key = learning_key_;
  json::set(metadata_, "learning_key", json::str(learning_key_, metadata_.GetAllocator()), metadata_.GetAllocator());
  if (!json::find(metadata_, "source")) json::set(metadata_, "source", "atlas-host run", metadata_.GetAllocator());
  note_rollout();
  if (rt_.store) {
    auto id = rt_.store->begin_session(task_.task, json::dump(metadata_));
    if (id) {
      session_id_ = *id;
      report_.stored = true;
    } else {
      log::warn("runtime", "storage refused the session (" + id.status().to_string() + "); continuing without storage");
    }
  }
  if (session_id_.empty()) session_id_ = "local-" + random_id().substr(0, 12);
  report_.session_id = session_id_;
  attach_event_sinks();
  root_event_ = events_->emit(event_type::kSession, "start", "host", "",
                              "{\"task\":" + json::quote(task_.task) + ",\"learning_key\":" + json::quote(learning_key_) + "}");

  if (!task_refused.empty()) {
    failed_ = true;
    error_ = task_refused;
    finish();
    return false;
  }

  // 2. Learning state and history.
  history_.SetObject();
  if (rt_.store && report_.stored) read_learning();
  if (cfg_.learning.enabled && preloaded_learning_) learning_state_ = *preloaded_learning_;
  if (history_.ObjectEmpty()) history_ = aggregate_learning_history(Value(rapidjson::kArrayType), cfg_.routing.learning_history_limit);
  if (cfg_.learning.enabled && cfg_.learning.apply_to_prompts && learning_state_.found) {
    auto budget = static_cast<size_t>(cfg_.learning.playbook_char_budget);
    student_block_ = playbook_block("student", learning_state_.student_learning, learning_state_.version,
                                    learning_state_.updated_at, budget);
    teacher_block_ = playbook_block("teacher", learning_state_.teacher_learning, learning_state_.version,
                                    learning_state_.updated_at, budget);
    report_.applied_playbook_version = learning_state_.version;
    report_.playbook_entries = playbook_entry_count(learning_state_.metadata_json);
    auto& a = metadata_.GetAllocator();
    for (auto [role, block, text] : {std::tuple{"student", &student_block_, &learning_state_.student_learning},
                                     std::tuple{"teacher", &teacher_block_, &learning_state_.teacher_learning}}) {
      if (block->empty()) continue;
      Value applied(rapidjson::kObjectType);
      applied.AddMember("digest", json::str(sha256_hex(*text), a), a);
      applied.AddMember("char_count", static_cast<int64_t>(text->size()), a);
      applied.AddMember("entry_count", static_cast<int64_t>(report_.playbook_entries), a);
      applied.AddMember("version", learning_state_.version, a);
      json::set(metadata_, std::string("applied_") + role + "_learning", std::move(applied), a);
    }
    json::set(metadata_, "applied_learning_version", learning_state_.version, a);
  }
  make_teacher();

  // 3. Route.
  decision_ = route();
  report_.lane = role_name_of(decision_.lane);
  report_.lane_source = decision_.source;
  events_->emit(event_type::kRoute, report_.lane, "host", root_event_, decision_.to_json());
  return true;
}

void Session::attach_event_sinks() {
  events_->set_session_id(session_id_);
  if (rt_.store && report_.stored) {
    auto store = rt_.store;
    std::string sid = session_id_;
    events_->add_sink([store, sid](const Event&, const std::string& text) { store->append_event(sid, text); });
  }
  if (rt_.options.on_event) {
    auto cb = rt_.options.on_event;
    events_->add_sink([cb](const Event& e, const std::string&) { cb(e); });
  }
  if (rt_.options.progress) {
    Runtime::Impl* rt = &rt_;
    events_->add_sink([rt](const Event& e, const std::string&) { rt->print_progress(e); });
  }
}

void Session::make_teacher() {
  teacher_ = std::make_unique<Teacher>(cfg_.teacher, cfg_.agent.system_prompt,
                                       [this](llm::Request r) { return call_llm("teacher", std::move(r), root_event_, "", 0); });
  teacher_->set_playbook_block(teacher_block_);
}

void Session::read_learning() {
  auto read = [this] {
    RolloutGroup::Snapshot out;
    auto hist = rt_.store->learning_history(learning_key_, effective_history_limit(cfg_.routing.learning_history_limit));
    if (hist) {
      out.history_json = json::dump(aggregate_learning_history(*hist, cfg_.routing.learning_history_limit));
    } else {
      log::warn("runtime", "learning history unavailable: " + hist.status().to_string());
    }
    if (cfg_.learning.enabled && (!preloaded_learning_ || refresh_learning_cache_)) {
      auto state = rt_.store->learning_get(learning_key_);
      if (state) {
        // A preloaded state stays this session's (its first call was built with it, begin()).
        if (!preloaded_learning_) out.state = *state;
        rt_.remember_learning(learning_key_, *state);
      } else {
        log::warn("runtime", "learning state unavailable: " + state.status().to_string());
      }
    }
    return out;
  };
  // A rollout sibling sees the state its group read once (runtime/rollout.hpp).
  RolloutGroup::Snapshot snap = rollout_.group ? rollout_.group->snapshot(learning_key_, read) : read();
  if (!snap.history_json.empty())
    if (auto h = json::parse(snap.history_json, "learning history"); h && h->IsObject()) history_ = std::move(*h);
  if (snap.state) learning_state_ = *snap.state;
}

void Session::note_rollout() {
  auto& a = metadata_.GetAllocator();
  if (rollout_.group) {
    const RolloutGroup& g = *rollout_.group;
    json::set(metadata_, "rollout_group", g.id, a);
    json::set(metadata_, "rollout_index", static_cast<int64_t>(rollout_.index), a);
    json::set(metadata_, "rollout_size", static_cast<int64_t>(g.size), a);
    json::set(metadata_, "rollout_seed", g.seed_of(rollout_.index), a);
    if (auto t = g.temperature_of(rollout_.index)) json::set(metadata_, "rollout_temperature", *t, a);
  }
  // A captured episode's group comes from the gateway's X-Atlas-Rollout-Group header.
  report_.rollout_group = json::get_string(metadata_, "rollout_group");
  report_.rollout_index = static_cast<int>(json::get_int(metadata_, "rollout_index"));
}

void Session::finish() {
  const bool store_ok = rt_.store && report_.stored;
  const bool interrupted = rt_.cancelled() || capture_interrupted_;
  if (deadline_ms_ > 0 && clock::now_unix_ms() >= deadline_ms_) {
    char secs[32];
    std::snprintf(secs, sizeof secs, "%g", cfg_.limits.session_timeout_seconds);
    stop_for(std::string("the session passed its deadline ([limits] session_timeout_seconds = ") + secs + ")");
  }
  std::string unvalidated_step;
  {
    std::lock_guard<std::mutex> g(limit_mu_);
    if (!interrupted && !limit_reason_.empty()) {  // the limit is the reason, whatever failed after it
      failed_ = true;
      error_ = limit_reason_;
    }
  }
  {
    std::lock_guard<std::mutex> g(steps_mu_);
    for (const auto& s : steps_) {
      if (!failed_ && s->status == StepStatus::kFailed && s->reason == kTeacherRejected) {
        failed_ = true;  // an answer the teacher rejected is not a success to learn from
        error_ = "the teacher rejected every attempt of step " + std::to_string(s->step.id);
      }
      if (s->status == StepStatus::kUnvalidated && unvalidated_step.empty()) unvalidated_step = std::to_string(s->step.id);
    }
  }
  if (interrupted) error_ = "interrupted (Ctrl-C or SIGTERM)" + (error_.empty() ? std::string() : " while: " + error_);
  SessionStatus status = interrupted ? SessionStatus::kInterrupted : failed_ ? SessionStatus::kFailed : SessionStatus::kSucceeded;
  SessionVerdict verdict = judge(store_ok, status, unvalidated_step);
  const std::optional<rewards::RewardOutcome>& reward = verdict.reward;
  const std::string token_usage = ledger_->to_json();
  json::Document fin = build_finish_document({session_id_, failed_, error_, final_answer_, report_.lane, decision_,
                                              metadata_, history_, token_usage, plan_, original_plan_, steps_,
                                              verdict, verdict.review_policy, clock::monotonic_seconds() - started_,
                                              interrupted});
  report_.status = status;
  report_.error = secrets::redact(error_);
  report_.final_answer = final_answer_;
  if (reward) report_.reward = reward->score;
  report_.review_status = verdict.review_status;
  report_.drift_alert = verdict.drift_alert;
  report_.tokens = ledger_->by_role();
  report_.total_tokens = ledger_->total();
  for (size_t i = 0; i < steps_.size(); ++i) {
    const StepState& s = *steps_[i];
    StepReport r;
    r.id = s.step.id;
    r.description = s.step.description;
    r.depends_on = s.step.depends_on;
    r.status = s.status;
    r.reason = s.reason;
    r.attempts = static_cast<int>(s.attempts.size());
    r.output = s.output;
    if (i < verdict.step_rewards.size() && verdict.step_rewards[i].reward) r.reward = verdict.step_rewards[i].reward->score;
    r.started_us = s.started_us;
    r.ended_us = s.ended_us;
    report_.steps.push_back(std::move(r));
  }
  report_.seconds = clock::monotonic_seconds() - started_;
  events_->emit(event_type::kSession, "end", "host", root_event_,
                "{\"status\":" + json::quote(status_name(status)) + ",\"final_answer_chars\":" + std::to_string(final_answer_.size()) +
                    ",\"reward\":" + (reward ? std::to_string(reward->score) : std::string("null")) +
                    ",\"review_status\":" + json::quote(status_name(verdict.review_status)) + ",\"seconds\":" + std::to_string(report_.seconds) + "}");
  if (store_ok) {
    Status st = rt_.store->finish_session(std::move(fin));
    if (!st.is_ok()) {
      log::error("runtime", "could not store session " + session_id_ + ": " + st.to_string());
      report_.stored = false;
    }
  }
  // Learning synthesis: after the result is final, in the background.
  if (store_ok && reward && cfg_.learning.enabled && cfg_.learning.update_enabled && cfg_.learning.llm.configured())
    launch_learning(*reward);
}

}  // namespace atlas::runtime
