// Google Gemini generateContent / streamGenerateContent (?alt=sse).
#include <map>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::llm::detail {
namespace {

using json::Value;

std::string model_url(std::string_view base, const std::string& model, bool stream) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  auto ends_with = [&](std::string_view s) {
    return url.size() >= s.size() && url.compare(url.size() - s.size(), s.size(), s) == 0;
  };
  if (!ends_with("/v1beta") && !ends_with("/v1")) url += "/v1beta";
  std::string name = model.rfind("models/", 0) == 0 ? model.substr(7) : model;
  return url + "/models/" + name + (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
}

// Gemini's `parameters` take an OpenAPI subset: drop JSON Schema keys it rejects.
void strip_schema(Value& v) {
  if (v.IsObject()) {
    for (const char* k : {"additionalProperties", "$schema", "strict", "$id"}) v.RemoveMember(k);
    for (auto it = v.MemberBegin(); it != v.MemberEnd(); ++it) strip_schema(it->value);
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) strip_schema(e);
  }
}

std::string finish_to_internal(const std::string& f, bool has_calls) {
  if (f == "STOP") return has_calls ? "tool_calls" : "stop";
  if (f == "MAX_TOKENS") return "length";
  if (f == "SAFETY" || f == "RECITATION" || f == "BLOCKLIST" || f == "PROHIBITED_CONTENT" || f == "SPII")
    return "content_filter";
  std::string out = f;
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// Folds one GenerateContentResponse into `r`. `calls` counts tool calls for generated ids.
Status fold(const Value& doc, Response& r, std::string& finish, std::string_view where) {
  if (const Value* err = json::find(doc, "error"); err && err->IsObject())
    return unavailable(std::string(where) + ": " + json::get_string(*err, "message") + " (" +
                       json::get_string(*err, "status") + ")");
  std::string version = json::get_string(doc, "modelVersion");
  if (!version.empty()) r.model = version;
  if (const Value* u = json::find(doc, "usageMetadata"); u && u->IsObject()) {
    r.usage.prompt_tokens = json::get_int(*u, "promptTokenCount");
    r.usage.completion_tokens = json::get_int(*u, "candidatesTokenCount") + json::get_int(*u, "thoughtsTokenCount");
    r.usage.total_tokens = json::get_int(*u, "totalTokenCount", r.usage.prompt_tokens + r.usage.completion_tokens);
  }
  const Value* cands = json::find(doc, "candidates");
  if (!cands || !cands->IsArray() || cands->Empty()) {
    if (const Value* pf = json::find(doc, "promptFeedback")) {
      std::string reason = json::get_string(*pf, "blockReason");
      if (!reason.empty()) finish = "BLOCKED:" + reason;
    }
    return Status::ok();
  }
  const Value& c = (*cands)[0];
  std::string f = json::get_string(c, "finishReason");
  if (!f.empty()) finish = f;
  const Value* content = json::find(c, "content");
  const Value* parts = content ? json::find(*content, "parts") : nullptr;
  if (!parts || !parts->IsArray()) return Status::ok();
  for (const auto& p : parts->GetArray()) {
    if (const Value* fc = json::find(p, "functionCall")) {
      ToolCall tc;
      tc.name = json::get_string(*fc, "name");
      tc.id = json::get_string(*fc, "id");
      if (tc.id.empty()) tc.id = "call_" + std::to_string(r.tool_calls.size());
      const Value* args = json::find(*fc, "args");
      tc.arguments_json = args && args->IsObject() ? json::dump(*args) : "{}";
      r.tool_calls.push_back(std::move(tc));
    } else if (const Value* t = json::find(p, "text"); t && t->IsString()) {
      if (json::get_bool(p, "thought")) r.reasoning += t->GetString();
      else r.content += t->GetString();
    }
  }
  return Status::ok();
}

Result<Response> finish_response(Response r, const std::string& finish) {
  if (finish.rfind("BLOCKED:", 0) == 0) {
    r.finish_reason = "content_filter";
    if (r.content.empty()) r.content = "";
    return r;
  }
  r.finish_reason = finish_to_internal(finish, !r.tool_calls.empty());
  return r;
}

}  // namespace

Result<WireHttp> gemini_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                              const std::optional<std::string>& api_key) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  std::string system;
  for (const auto& m : request.messages)
    if (m.role == "system") system += (system.empty() ? "" : "\n\n") + m.content;
  if (!system.empty()) {
    Value si(rapidjson::kObjectType), parts(rapidjson::kArrayType), p(rapidjson::kObjectType);
    json::set(p, "text", system, a);
    parts.PushBack(std::move(p), a);
    json::set(si, "parts", std::move(parts), a);
    json::set(d, "systemInstruction", std::move(si), a);
  }
  // Tool responses need the function name; find it from the assistant's calls by id.
  std::map<std::string, std::string> call_names;
  Value contents(rapidjson::kArrayType);
  auto push_part = [&](const char* role, Value part) {
    if (!contents.Empty() && json::get_string(contents[contents.Size() - 1], "role") == role) {
      contents[contents.Size() - 1]["parts"].PushBack(std::move(part), a);
      return;
    }
    Value turn(rapidjson::kObjectType), parts(rapidjson::kArrayType);
    json::set(turn, "role", role, a);
    parts.PushBack(std::move(part), a);
    json::set(turn, "parts", std::move(parts), a);
    contents.PushBack(std::move(turn), a);
  };
  for (const auto& m : request.messages) {
    if (m.role == "system") continue;
    if (m.role == "tool") {
      std::string name = !m.name.empty() ? m.name : call_names[m.tool_call_id];
      if (name.empty())
        return invalid_argument("gemini: tool message for call \"" + m.tool_call_id +
                                "\" has no \"name\" and no earlier assistant call with that id");
      Value fr(rapidjson::kObjectType), part(rapidjson::kObjectType);
      json::set(fr, "name", name, a);
      json::Document parsed;
      sdk::parse_json(parsed, m.content, json::kMaxInputDepth);
      Value response(rapidjson::kObjectType);
      if (!parsed.HasParseError() && parsed.IsObject()) response.CopyFrom(parsed, a);  // must be an object
      else json::set(response, "result", m.content, a);
      json::set(fr, "response", std::move(response), a);
      json::set(part, "functionResponse", std::move(fr), a);
      push_part("user", std::move(part));
      continue;
    }
    const char* role = m.role == "assistant" ? "model" : "user";
    if (!m.content.empty() || m.tool_calls.empty()) {
      Value part(rapidjson::kObjectType);
      json::set(part, "text", m.content, a);
      push_part(role, std::move(part));
    }
    for (const auto& tc : m.tool_calls) {
      call_names[tc.id] = tc.name;
      json::Document args;
      sdk::parse_json(args, tc.arguments_json.empty() ? std::string_view("{}") : std::string_view(tc.arguments_json));
      if (args.HasParseError() || !args.IsObject())
        return invalid_argument("tool call \"" + tc.name + "\": arguments must be a JSON object");
      Value fc(rapidjson::kObjectType), part(rapidjson::kObjectType), av;
      json::set(fc, "name", tc.name, a);
      av.CopyFrom(args, a);
      json::set(fc, "args", std::move(av), a);
      json::set(part, "functionCall", std::move(fc), a);
      push_part("model", std::move(part));
    }
  }
  if (contents.Empty()) return invalid_argument("gemini: the request needs at least one user message");
  json::set(d, "contents", std::move(contents), a);

  if (!request.tools.empty()) {
    Value decls(rapidjson::kArrayType);
    for (const auto& t : request.tools) {
      json::Document schema;
      sdk::parse_json(schema, t.parameters_json);
      if (schema.HasParseError() || !schema.IsObject())
        return invalid_argument("tool \"" + t.name + "\": parameters is not a JSON Schema object");
      Value o(rapidjson::kObjectType), s;
      json::set(o, "name", t.name, a);
      if (!t.description.empty()) json::set(o, "description", t.description, a);
      s.CopyFrom(schema, a);
      strip_schema(s);
      json::set(o, "parameters", std::move(s), a);
      decls.PushBack(std::move(o), a);
    }
    Value tools(rapidjson::kArrayType), entry(rapidjson::kObjectType);
    json::set(entry, "functionDeclarations", std::move(decls), a);
    tools.PushBack(std::move(entry), a);
    json::set(d, "tools", std::move(tools), a);
  }
  if (!request.tool_choice.empty()) {
    Value cfg(rapidjson::kObjectType), fcc(rapidjson::kObjectType);
    const std::string& c = request.tool_choice;
    if (c == "auto") json::set(fcc, "mode", "AUTO", a);
    else if (c == "required") json::set(fcc, "mode", "ANY", a);
    else if (c == "none") json::set(fcc, "mode", "NONE", a);
    else {
      json::set(fcc, "mode", "ANY", a);
      Value names(rapidjson::kArrayType);
      names.PushBack(json::str(c, a), a);
      json::set(fcc, "allowedFunctionNames", std::move(names), a);
    }
    json::set(cfg, "functionCallingConfig", std::move(fcc), a);
    json::set(d, "toolConfig", std::move(cfg), a);
  }
  Value gen(rapidjson::kObjectType);
  json::set(gen, "temperature", request.temperature.value_or(model.temperature), a);
  if (model.top_p) json::set(gen, "topP", *model.top_p, a);
  if (auto mt = request.max_output_tokens ? request.max_output_tokens : model.max_output_tokens)
    json::set(gen, "maxOutputTokens", *mt, a);
  if (!request.response_format_json.empty()) {
    json::Document rf;
    sdk::parse_json(rf, request.response_format_json);
    if (rf.HasParseError() || !rf.IsObject())
      return invalid_argument("response_format is not a JSON object: " + request.response_format_json);
    std::string type = json::get_string(rf, "type");
    if (type == "json_object" || type == "json_schema") json::set(gen, "responseMimeType", "application/json", a);
    if (type == "json_schema") {
      const Value* js = json::find(rf, "json_schema");
      const Value* schema = js ? json::find(*js, "schema") : nullptr;
      if (!schema) return invalid_argument("response_format json_schema needs json_schema.schema");
      Value s;
      s.CopyFrom(*schema, a);
      json::set(gen, "responseJsonSchema", std::move(s), a);
    }
  }
  json::set(d, "generationConfig", std::move(gen), a);

  WireHttp http;
  http.url = model_url(base_url, model.model, request.stream);
  http.body = json::dump(d);
  http.headers.push_back("Content-Type: application/json");
  http.headers.push_back(request.stream ? "Accept: text/event-stream" : "Accept: application/json");
  if (api_key) http.headers.push_back("x-goog-api-key: " + *api_key);
  return http;
}

Result<Response> gemini_parse_reply(std::string_view body) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "gemini reply", json::kMaxInputDepth));
  if (!doc.IsObject()) return unavailable("gemini reply: not a JSON object");
  Response r;
  std::string finish;
  ATLAS_RETURN_IF_ERROR(fold(doc, r, finish, "gemini reply carried an error with HTTP 200"));
  if (!json::find(doc, "candidates") && finish.empty())
    return unavailable("gemini reply: no \"candidates\" and no promptFeedback in the response");
  return finish_response(std::move(r), finish);
}

Result<Response> gemini_parse_stream(std::string_view body) {
  bool complete = false;
  std::vector<SseEvent> events = split_sse(body, &complete);
  Response r;
  std::string finish;
  for (const auto& ev : events) {
    auto doc = json::parse(ev.data, "gemini stream event", json::kMaxInputDepth);
    if (!doc) return unavailable("gemini stream: malformed event: " + doc.status().message());
    ATLAS_RETURN_IF_ERROR(fold(*doc, r, finish, "gemini stream failed after HTTP 200"));
  }
  // No terminator on this wire: a finishReason (or a blocked prompt) marks a finished stream.
  if (finish.empty() || !complete)
    return unavailable(std::string("gemini stream ended without a finishReason") +
                       (complete ? "" : " (connection cut mid-event)") + "; the reply is incomplete");
  return finish_response(std::move(r), finish);
}

}  // namespace atlas::llm::detail
