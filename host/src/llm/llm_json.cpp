#include "llm/llm_json.hpp"

#include "common/clock.hpp"
#include "common/secrets.hpp"

namespace atlas::llm {
namespace {

using json::Value;

// Arguments arrive as an object (our JSON form) or as a string holding one (OpenAI style).
Result<std::string> arguments_text(const Value& v, const std::string& at) {
  if (v.IsObject()) return json::dump(v);
  if (v.IsString()) {
    auto doc = json::parse(v.GetString(), at);
    if (!doc || !doc->IsObject()) return invalid_argument(at + ": must be a JSON object (or a string holding one)");
    return std::string(v.GetString());
  }
  if (v.IsNull()) return std::string("{}");
  return invalid_argument(at + ": must be a JSON object");
}

Result<std::vector<ToolCall>> tool_calls_from(const Value& arr, const std::string& at) {
  std::vector<ToolCall> out;
  if (arr.IsNull()) return out;
  if (!arr.IsArray()) return invalid_argument(at + ": must be an array");
  for (rapidjson::SizeType i = 0; i < arr.Size(); ++i) {
    const Value& tc = arr[i];
    std::string tat = at + "[" + std::to_string(i) + "]";
    if (!tc.IsObject()) return invalid_argument(tat + ": must be an object {id, name, arguments}");
    ToolCall call;
    call.id = json::get_string(tc, "id");
    call.name = json::get_string(tc, "name");
    // Also accept the OpenAI nesting {"function": {"name", "arguments"}}.
    const Value* fn = json::find(tc, "function");
    if (call.name.empty() && fn) call.name = json::get_string(*fn, "name");
    if (call.name.empty()) return invalid_argument(tat + ".name: required");
    const Value* args = json::find(tc, "arguments");
    if (!args && fn) args = json::find(*fn, "arguments");
    if (args) {
      ATLAS_ASSIGN_OR_RETURN(call.arguments_json, arguments_text(*args, tat + ".arguments"));
    }
    out.push_back(std::move(call));
  }
  return out;
}

void write_tool_calls(const std::vector<ToolCall>& calls, Value& obj, json::Allocator& a) {
  Value arr(rapidjson::kArrayType);
  for (const auto& tc : calls) {
    Value o(rapidjson::kObjectType);
    json::set(o, "id", tc.id, a);
    json::set(o, "name", tc.name, a);
    json::Document args;
    sdk::parse_json(args, tc.arguments_json);
    Value argv(rapidjson::kObjectType);
    if (!args.HasParseError() && args.IsObject()) argv.CopyFrom(args, a);
    json::set(o, "arguments", std::move(argv), a);
    arr.PushBack(std::move(o), a);
  }
  json::set(obj, "tool_calls", std::move(arr), a);
}

std::string message_content(const Value& c) {
  if (c.IsString()) return c.GetString();
  if (c.IsNull()) return {};
  if (c.IsArray()) {  // [{"type":"text","text":...}] or plain strings
    std::string out;
    for (const auto& part : c.GetArray()) {
      if (part.IsString()) out += part.GetString();
      else out += json::get_string(part, "text");
    }
    return out;
  }
  return json::dump(c);
}

}  // namespace

namespace {

// `strict`: a request to send (known roles, tool results with ids, at least one message); else a
// conversation as it was captured on the wire, read back as it was written.
Result<Request> read_request(const Value& v, bool strict) {
  if (!v.IsObject()) return invalid_argument("llm request: must be a JSON object");
  Request r;
  r.role = json::get_string(v, "role", "student");
  const Value* msgs = json::find(v, "messages");
  if (!strict && msgs && msgs->IsArray() && msgs->Empty()) msgs = nullptr;
  if (strict && (!msgs || !msgs->IsArray() || msgs->Empty()))
    return invalid_argument("llm request: \"messages\" must be a non-empty array of {role, content}");
  for (rapidjson::SizeType i = 0; msgs && i < msgs->Size(); ++i) {
    const Value& m = (*msgs)[i];
    std::string at = "llm request: messages[" + std::to_string(i) + "]";
    if (!m.IsObject()) return invalid_argument(at + ": must be an object {role, content}");
    Message msg;
    msg.role = json::get_string(m, "role");
    if (strict && msg.role == "developer") msg.role = "system";
    if (strict && msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
      return invalid_argument(at + ".role: \"" + msg.role + "\" is not one of system, user, assistant, tool");
    if (const Value* c = json::find(m, "content")) msg.content = message_content(*c);
    if (const Value* tcs = json::find(m, "tool_calls")) {
      ATLAS_ASSIGN_OR_RETURN(msg.tool_calls, tool_calls_from(*tcs, at + ".tool_calls"));
    }
    msg.tool_call_id = json::get_string(m, "tool_call_id");
    msg.name = json::get_string(m, "name");
    if (strict && msg.role == "tool" && msg.tool_call_id.empty())
      return invalid_argument(at + ": a tool message needs \"tool_call_id\" (the id of the call it answers)");
    r.messages.push_back(std::move(msg));
  }
  if (const Value* tools = json::find(v, "tools"); tools && !tools->IsNull()) {
    if (!tools->IsArray()) return invalid_argument("llm request: \"tools\" must be an array");
    for (rapidjson::SizeType i = 0; i < tools->Size(); ++i) {
      const Value& t = (*tools)[i];
      std::string at = "llm request: tools[" + std::to_string(i) + "]";
      // Accept {"type":"function","function":{...}} as well as the flat form.
      const Value& spec = json::find(t, "function") ? t["function"] : t;
      ToolSpec ts;
      ts.name = json::get_string(spec, "name");
      if (ts.name.empty()) return invalid_argument(at + ".name: required");
      ts.description = json::get_string(spec, "description");
      const Value* params = json::find(spec, "parameters");
      if (!params) params = json::find(spec, "input_schema");
      if (params) {
        if (!params->IsObject()) return invalid_argument(at + ".parameters: must be a JSON Schema object");
        ts.parameters_json = json::dump(*params);
      }
      r.tools.push_back(std::move(ts));
    }
  }
  if (const Value* tc = json::find(v, "tool_choice"); tc && !tc->IsNull()) {
    if (tc->IsString()) r.tool_choice = tc->GetString();
    else if (tc->IsObject()) {  // {"type":"function","function":{"name":..}} or {"name":..}
      const Value* fn = json::find(*tc, "function");
      r.tool_choice = json::get_string(fn ? *fn : *tc, "name");
    } else {
      return invalid_argument("llm request: \"tool_choice\" must be a string (auto, required, none, or a tool name)");
    }
  }
  if (const Value* rf = json::find(v, "response_format"); rf && !rf->IsNull()) {
    if (!rf->IsObject()) return invalid_argument("llm request: \"response_format\" must be an object or null");
    std::string type = json::get_string(*rf, "type");
    if (type != "json_object" && type != "json_schema" && type != "text")
      return invalid_argument("llm request: response_format.type \"" + type +
                              "\" is not one of text, json_object, json_schema");
    if (type == "json_schema" && !json::find(*rf, "json_schema"))
      return invalid_argument(
          "llm request: response_format json_schema needs \"json_schema\": {\"name\", \"schema\", \"strict\"}");
    if (type != "text") r.response_format_json = json::dump(*rf);
  }
  if (const Value* t = json::find(v, "temperature"); t && t->IsNumber()) r.temperature = t->GetDouble();
  const Value* mot = json::find(v, "max_output_tokens");
  if (!mot) mot = json::find(v, "max_tokens");
  if (mot && mot->IsInt()) {
    if (mot->GetInt() < 1) return invalid_argument("llm request: \"max_output_tokens\" must be >= 1");
    r.max_output_tokens = mot->GetInt();
  }
  r.stream = json::get_bool(v, "stream");
  r.session_id = json::get_string(v, "session_id");
  return r;
}

}  // namespace

Result<Request> request_from_json(const Value& v) {
  return read_request(v, true);
}

Result<Request> captured_conversation_from_json(const Value& v) {
  return read_request(v, false);
}

Result<Request> request_from_json(std::string_view text) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, "llm request"));
  return request_from_json(doc);
}

std::string request_to_json(const Request& r) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "role", r.role, a);
  Value msgs(rapidjson::kArrayType);
  for (const auto& m : r.messages) {
    Value o(rapidjson::kObjectType);
    json::set(o, "role", m.role, a);
    json::set(o, "content", m.content, a);
    if (!m.tool_calls.empty()) write_tool_calls(m.tool_calls, o, a);
    if (!m.tool_call_id.empty()) json::set(o, "tool_call_id", m.tool_call_id, a);
    if (!m.name.empty()) json::set(o, "name", m.name, a);
    msgs.PushBack(std::move(o), a);
  }
  json::set(d, "messages", std::move(msgs), a);
  if (!r.tools.empty()) {
    Value tools(rapidjson::kArrayType);
    for (const auto& t : r.tools) {
      Value o(rapidjson::kObjectType);
      json::set(o, "name", t.name, a);
      json::set(o, "description", t.description, a);
      json::Document p;
      sdk::parse_json(p, t.parameters_json);
      Value pv(rapidjson::kObjectType);
      if (!p.HasParseError()) pv.CopyFrom(p, a);
      json::set(o, "parameters", std::move(pv), a);
      tools.PushBack(std::move(o), a);
    }
    json::set(d, "tools", std::move(tools), a);
  }
  if (!r.tool_choice.empty()) json::set(d, "tool_choice", r.tool_choice, a);
  if (!r.response_format_json.empty()) {
    json::Document rf;
    sdk::parse_json(rf, r.response_format_json);
    if (!rf.HasParseError()) {
      Value v;
      v.CopyFrom(rf, a);
      json::set(d, "response_format", std::move(v), a);
    }
  }
  if (r.temperature) json::set(d, "temperature", *r.temperature, a);
  if (r.max_output_tokens) json::set(d, "max_output_tokens", *r.max_output_tokens, a);
  if (r.stream) json::set(d, "stream", true, a);
  if (!r.session_id.empty()) json::set(d, "session_id", r.session_id, a);
  return json::dump(d);
}

void response_to_value(const Response& r, Value& out, json::Allocator& a) {
  out.SetObject();
  json::set(out, "content", r.content, a);
  write_tool_calls(r.tool_calls, out, a);
  Value usage(rapidjson::kObjectType);
  json::set(usage, "prompt_tokens", r.usage.prompt_tokens, a);
  json::set(usage, "completion_tokens", r.usage.completion_tokens, a);
  json::set(usage, "total_tokens", r.usage.total_tokens, a);
  json::set(out, "usage", std::move(usage), a);
  json::set(out, "finish_reason", r.finish_reason, a);
  json::set(out, "model", r.model, a);
  if (r.reasoning.empty()) json::set(out, "reasoning", Value(rapidjson::kNullType), a);
  else json::set(out, "reasoning", r.reasoning, a);
}

std::string response_to_json(const Response& r) {
  json::Document d;
  response_to_value(r, d, d.GetAllocator());
  return json::dump(d);
}

Result<Response> response_from_json(const Value& v) {
  if (!v.IsObject()) return invalid_argument("llm response: must be a JSON object");
  Response r;
  if (const Value* c = json::find(v, "content")) r.content = message_content(*c);
  if (const Value* tcs = json::find(v, "tool_calls")) {
    ATLAS_ASSIGN_OR_RETURN(r.tool_calls, tool_calls_from(*tcs, "llm response: tool_calls"));
  }
  if (const Value* u = json::find(v, "usage"); u && u->IsObject()) {
    r.usage.prompt_tokens = json::get_int(*u, "prompt_tokens");
    r.usage.completion_tokens = json::get_int(*u, "completion_tokens");
    r.usage.total_tokens = json::get_int(*u, "total_tokens", r.usage.prompt_tokens + r.usage.completion_tokens);
  }
  r.finish_reason = json::get_string(v, "finish_reason");
  r.model = json::get_string(v, "model");
  r.reasoning = json::get_string(v, "reasoning");
  return r;
}

Result<Response> response_from_json(std::string_view text) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(text, "llm response"));
  return response_from_json(doc);
}

Result<config::ModelConfig> model_config_from_json(const Value& v) {
  if (!v.IsObject()) return invalid_argument("llm request: \"model\" must be an object {provider, model, ...}");
  config::ModelConfig m;
  m.provider = json::get_string(v, "provider", m.provider);
  m.model = json::get_string(v, "model");
  if (m.model.empty()) return invalid_argument("llm request: model.model is required (the provider's model name)");
  // The default key variable follows the provider unless given.
  if (m.provider == "anthropic") m.api_key_env = "ANTHROPIC_API_KEY";
  else if (m.provider == "gemini" || m.provider == "google") m.api_key_env = "GEMINI_API_KEY";
  else if (m.provider == "xai") m.api_key_env = "XAI_API_KEY";
  m.api_key_env = json::get_string(v, "api_key_env", m.api_key_env);
  if (const Value* key = json::find(v, "api_key"); key && key->IsString()) {
    return invalid_argument(
        "llm request: model.api_key is not accepted (keys never travel in requests); name the environment "
        "variable holding it in model.api_key_env");
  }
  m.api_base = json::get_string(v, "api_base");
  m.organization = json::get_string(v, "organization");
  m.temperature = json::get_double(v, "temperature", m.temperature);
  m.top_p = json::get_optional_double(v, "top_p");
  if (const Value* t = json::find(v, "max_output_tokens"); t && t->IsInt()) m.max_output_tokens = t->GetInt();
  m.timeout_seconds = json::get_double(v, "timeout_seconds", m.timeout_seconds);
  m.connect_timeout_seconds = json::get_double(v, "connect_timeout_seconds", m.connect_timeout_seconds);
  if (const Value* r = json::find(v, "retry"); r && r->IsObject()) {
    m.retry.attempts = static_cast<int>(json::get_int(*r, "attempts", m.retry.attempts));
    m.retry.backoff_seconds = json::get_double(*r, "backoff_seconds", m.retry.backoff_seconds);
    m.retry.max_backoff_seconds = json::get_double(*r, "max_backoff_seconds", m.retry.max_backoff_seconds);
  }
  if (const Value* h = json::find(v, "additional_headers"); h && h->IsObject()) {
    for (auto it = h->MemberBegin(); it != h->MemberEnd(); ++it)
      if (it->value.IsString()) m.additional_headers[it->name.GetString()] = it->value.GetString();
  }
  m.reasoning_effort = json::get_string(v, "reasoning_effort");
  m.capture_tokens = json::get_bool(v, "capture_tokens");
  if (m.retry.attempts < 1 || m.retry.attempts > 6)
    return invalid_argument("llm request: model.retry.attempts must be between 1 and 6");
  if (m.timeout_seconds <= 0) return invalid_argument("llm request: model.timeout_seconds must be > 0");
  return m;
}

std::string call_record_to_json(const CallRecord& r) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "role", r.role, a);
  json::set(d, "provider", r.provider, a);
  json::set(d, "model", r.model, a);
  json::set(d, "session_id", r.session_id, a);
  Value usage(rapidjson::kObjectType);
  json::set(usage, "prompt_tokens", r.usage.prompt_tokens, a);
  json::set(usage, "completion_tokens", r.usage.completion_tokens, a);
  json::set(usage, "total_tokens", r.usage.total_tokens, a);
  json::set(d, "usage", std::move(usage), a);
  json::set(d, "latency_seconds", r.latency_seconds, a);
  json::set(d, "retries", r.retries, a);
  json::set(d, "outcome", r.outcome, a);
  json::set(d, "error", secrets::redact(r.error), a);
  return json::dump(d);
}

namespace {

// Parses one llm_complete request and resolves its model. `record` gets role, session,
// model ref, provider and model as soon as they are known; on failure also the outcome.
Result<BatchCall> prepare_json_call(const ModelResolver& resolver, std::string_view request_json,
                                    CallRecord* record, double start) {
  auto fail = [&](Status st) -> Status {
    if (record) {
      record->outcome = std::string(status_code_name(st.code()));
      record->error = secrets::redact(st.message());
      record->latency_seconds = clock::monotonic_seconds() - start;
    }
    return st;
  };
  auto doc = json::parse(request_json, "llm request");
  if (!doc) return fail(doc.status());
  const json::Document& d = *doc;
  if (record && d.IsObject()) {
    record->role = json::get_string(d, "role", "student");
    record->session_id = json::get_string(d, "session_id");
  }
  auto request = request_from_json(d);
  if (!request) return fail(request.status());

  config::ModelConfig model;
  const Value* inline_model = json::find(d, "model");
  std::string ref = json::get_string(d, "model_ref");
  if (record) record->model_ref = ref;
  if (inline_model && inline_model->IsObject()) {
    if (!ref.empty())
      return fail(invalid_argument("llm request: give either \"model_ref\" or an inline \"model\" block, not both"));
    auto m = model_config_from_json(*inline_model);
    if (!m) return fail(m.status());
    model = std::move(m).value();
  } else if (!ref.empty()) {
    if (!resolver) return fail(failed_precondition("llm request: model_ref \"" + ref + "\" given but no resolver"));
    auto m = resolver(ref);
    if (!m) return fail(m.status().with_context("llm request: model_ref \"" + ref + "\""));
    model = std::move(m).value();
  } else if (inline_model && inline_model->IsString()) {
    return fail(invalid_argument("llm request: \"model\" must be a block {provider, model, ...}; to name a "
                                 "configured model use \"model_ref\": \"" +
                                 std::string(inline_model->GetString()) + "\""));
  } else {
    return fail(invalid_argument(
        "llm request: no model: add \"model_ref\" (student, teacher, rewards.small_model, rewards.large_model, "
        "learning, routing.probe) or an inline \"model\": {\"provider\", \"model\", ...}"));
  }
  if (record) {
    record->provider = model.provider;
    record->model = model.model;
  }
  return BatchCall{std::move(model), std::move(request).value()};
}

}  // namespace

Result<std::string> complete_json(Client& client, const ModelResolver& resolver, std::string_view request_json,
                                  CallRecord* record) {
  ATLAS_ASSIGN_OR_RETURN(BatchCall call, prepare_json_call(resolver, request_json, record, clock::monotonic_seconds()));
  auto response = client.complete(call.model, call.request, record);
  if (!response) return response.status();  // the client filled in the record
  return response_to_json(*response);
}

std::vector<Result<std::string>> complete_many_json(Client& client, const ModelResolver& resolver,
                                                    const std::vector<std::string_view>& requests,
                                                    std::vector<CallRecord>* records) {
  const double start = clock::monotonic_seconds();
  std::vector<Result<std::string>> out(requests.size(), Result<std::string>(std::string()));
  std::vector<CallRecord> local(requests.size());
  std::vector<BatchCall> calls;
  std::vector<size_t> call_index;  // position in `requests` of each entry of `calls`
  for (size_t i = 0; i < requests.size(); ++i) {
    auto call = prepare_json_call(resolver, requests[i], &local[i], start);
    if (!call) {
      out[i] = call.status();
      continue;
    }
    calls.push_back(std::move(call).value());
    call_index.push_back(i);
  }
  std::vector<CallRecord> call_records;
  auto responses = client.complete_many(calls, &call_records);
  for (size_t c = 0; c < calls.size(); ++c) {
    const size_t i = call_index[c];
    std::string model_ref = std::move(local[i].model_ref);
    local[i] = std::move(call_records[c]);
    local[i].model_ref = std::move(model_ref);
    if (responses[c]) {
      out[i] = response_to_json(*responses[c]);
    } else {
      out[i] = responses[c].status();
    }
  }
  if (records) *records = std::move(local);
  return out;
}

}  // namespace atlas::llm
