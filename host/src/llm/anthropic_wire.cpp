// Anthropic Messages API.
#include <map>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::llm::detail {
namespace {

using json::Value;

std::string joined_base(std::string_view base) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  // Accept a base with or without the /v1 suffix.
  if (url.size() >= 3 && url.compare(url.size() - 3, 3, "/v1") == 0) return url + "/messages";
  return url + "/v1/messages";
}

std::string stop_to_internal(const std::string& s) {
  if (s == "end_turn" || s == "stop_sequence") return "stop";
  if (s == "max_tokens" || s == "model_context_window_exceeded") return "length";
  if (s == "tool_use") return "tool_calls";
  if (s == "refusal") return "content_filter";
  return s;
}

Status stream_error(const Value& doc) {
  const Value* err = json::find(doc, "error");
  std::string type = err ? json::get_string(*err, "type") : "";
  std::string msg = err ? json::get_string(*err, "message") : json::dump(doc).substr(0, 300);
  return unavailable("anthropic stream failed after HTTP 200: " + msg + (type.empty() ? "" : " (" + type + ")"));
}

}  // namespace

Result<WireHttp> anthropic_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                                 const std::optional<std::string>& api_key) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "model", model.model, a);
  int max_tokens = request.max_output_tokens.value_or(model.max_output_tokens.value_or(4096));
  json::set(d, "max_tokens", max_tokens, a);

  std::string system;
  for (const auto& m : request.messages)
    if (m.role == "system") system += (system.empty() ? "" : "\n\n") + m.content;
  json::Document rf;
  std::string rf_type;
  if (!request.response_format_json.empty()) {
    sdk::parse_json(rf, request.response_format_json);
    if (rf.HasParseError() || !rf.IsObject())
      return invalid_argument("response_format is not a JSON object: " + request.response_format_json);
    rf_type = json::get_string(rf, "type");
    if (rf_type == "json_object")
      system += std::string(system.empty() ? "" : "\n\n") + "Respond with a single JSON object and nothing else.";
  }
  if (!system.empty()) json::set(d, "system", system, a);

  Value turns(rapidjson::kArrayType);
  auto push_block = [&](const char* role, Value block) {
    if (!turns.Empty() && json::get_string(turns[turns.Size() - 1], "role") == role) {
      turns[turns.Size() - 1]["content"].PushBack(std::move(block), a);
      return;
    }
    Value turn(rapidjson::kObjectType);
    json::set(turn, "role", role, a);
    Value content(rapidjson::kArrayType);
    content.PushBack(std::move(block), a);
    json::set(turn, "content", std::move(content), a);
    turns.PushBack(std::move(turn), a);
  };
  for (const auto& m : request.messages) {
    if (m.role == "system") continue;
    if (m.role == "tool") {
      Value b(rapidjson::kObjectType);
      json::set(b, "type", "tool_result", a);
      json::set(b, "tool_use_id", m.tool_call_id, a);
      json::set(b, "content", m.content, a);
      push_block("user", std::move(b));
      continue;
    }
    const char* role = m.role == "assistant" ? "assistant" : "user";
    if (!m.content.empty() || m.tool_calls.empty()) {
      Value b(rapidjson::kObjectType);
      json::set(b, "type", "text", a);
      json::set(b, "text", m.content, a);
      push_block(role, std::move(b));
    }
    for (const auto& tc : m.tool_calls) {
      json::Document args;
      sdk::parse_json(args, tc.arguments_json.empty() ? std::string_view("{}") : std::string_view(tc.arguments_json));
      if (args.HasParseError() || !args.IsObject())
        return invalid_argument("tool call \"" + tc.name + "\": arguments must be a JSON object");
      Value b(rapidjson::kObjectType);
      json::set(b, "type", "tool_use", a);
      json::set(b, "id", tc.id, a);
      json::set(b, "name", tc.name, a);
      Value input;
      input.CopyFrom(args, a);
      json::set(b, "input", std::move(input), a);
      push_block("assistant", std::move(b));
    }
  }
  if (turns.Empty()) return invalid_argument("anthropic: the request needs at least one user or assistant message");
  json::set(d, "messages", std::move(turns), a);

  if (!request.tools.empty()) {
    Value tools(rapidjson::kArrayType);
    for (const auto& t : request.tools) {
      json::Document schema;
      sdk::parse_json(schema, t.parameters_json);
      if (schema.HasParseError() || !schema.IsObject())
        return invalid_argument("tool \"" + t.name + "\": parameters is not a JSON Schema object");
      Value o(rapidjson::kObjectType);
      json::set(o, "name", t.name, a);
      if (!t.description.empty()) json::set(o, "description", t.description, a);
      Value s;
      s.CopyFrom(schema, a);
      json::set(o, "input_schema", std::move(s), a);
      tools.PushBack(std::move(o), a);
    }
    json::set(d, "tools", std::move(tools), a);
  }
  if (!request.tool_choice.empty()) {
    Value tc(rapidjson::kObjectType);
    const std::string& c = request.tool_choice;
    if (c == "auto") json::set(tc, "type", "auto", a);
    else if (c == "required") json::set(tc, "type", "any", a);
    else if (c == "none") json::set(tc, "type", "none", a);
    else {
      json::set(tc, "type", "tool", a);
      json::set(tc, "name", c, a);
    }
    json::set(d, "tool_choice", std::move(tc), a);
  }
  if (rf_type == "json_schema") {
    const Value* js = json::find(rf, "json_schema");
    const Value* schema = js ? json::find(*js, "schema") : nullptr;
    if (!schema) return invalid_argument("response_format json_schema needs json_schema.schema");
    Value format(rapidjson::kObjectType);
    json::set(format, "type", "json_schema", a);
    Value s;
    s.CopyFrom(*schema, a);
    json::set(format, "schema", std::move(s), a);
    Value oc(rapidjson::kObjectType);
    json::set(oc, "format", std::move(format), a);
    json::set(d, "output_config", std::move(oc), a);
  }
  json::set(d, "temperature", request.temperature.value_or(model.temperature), a);
  if (model.top_p) json::set(d, "top_p", *model.top_p, a);
  if (request.stream) json::set(d, "stream", true, a);

  WireHttp http;
  http.url = joined_base(base_url);
  http.body = json::dump(d);
  http.headers.push_back("Content-Type: application/json");
  http.headers.push_back("anthropic-version: 2023-06-01");
  http.headers.push_back(request.stream ? "Accept: text/event-stream" : "Accept: application/json");
  if (api_key) http.headers.push_back("x-api-key: " + *api_key);
  return http;
}

Result<Response> anthropic_parse_reply(std::string_view body) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "anthropic reply", json::kMaxInputDepth));
  if (!doc.IsObject()) return unavailable("anthropic reply: not a JSON object");
  if (json::get_string(doc, "type") == "error") {
    const Value* err = json::find(doc, "error");
    return unavailable("anthropic reply carried an error with HTTP 200: " +
                       (err ? json::get_string(*err, "message") + " (" + json::get_string(*err, "type") + ")"
                            : json::dump(doc)));
  }
  const Value* content = json::find(doc, "content");
  if (!content || !content->IsArray()) return unavailable("anthropic reply: no \"content\" array");
  Response r;
  for (const auto& block : content->GetArray()) {
    std::string type = json::get_string(block, "type");
    if (type == "text") {
      r.content += json::get_string(block, "text");
    } else if (type == "thinking") {
      r.reasoning += json::get_string(block, "thinking");
    } else if (type == "tool_use") {
      ToolCall tc;
      tc.id = json::get_string(block, "id");
      tc.name = json::get_string(block, "name");
      const Value* input = json::find(block, "input");
      tc.arguments_json = input && input->IsObject() ? json::dump(*input) : "{}";
      r.tool_calls.push_back(std::move(tc));
    }
  }
  r.finish_reason = stop_to_internal(json::get_string(doc, "stop_reason"));
  if (const Value* u = json::find(doc, "usage"); u && u->IsObject()) {
    r.usage.prompt_tokens = json::get_int(*u, "input_tokens") + json::get_int(*u, "cache_creation_input_tokens") +
                            json::get_int(*u, "cache_read_input_tokens");
    r.usage.completion_tokens = json::get_int(*u, "output_tokens");
    r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  }
  r.model = json::get_string(doc, "model");
  return r;
}

Result<Response> anthropic_parse_stream(std::string_view body) {
  bool complete = false;
  std::vector<SseEvent> events = split_sse(body, &complete);
  Response r;
  struct Block {
    std::string type;
    ToolCall call;
    std::string json;
  };
  std::map<int64_t, Block> blocks;
  bool stopped = false;
  for (const auto& ev : events) {
    auto doc = json::parse(ev.data, "anthropic stream event", json::kMaxInputDepth);
    if (!doc) return unavailable("anthropic stream: malformed event: " + doc.status().message());
    std::string type = json::get_string(*doc, "type", ev.event);
    if (type == "error" || ev.event == "error") return stream_error(*doc);
    if (type == "message_start") {
      if (const Value* m = json::find(*doc, "message")) {
        r.model = json::get_string(*m, "model");
        if (const Value* u = json::find(*m, "usage")) {
          r.usage.prompt_tokens = json::get_int(*u, "input_tokens") + json::get_int(*u, "cache_creation_input_tokens") +
                                  json::get_int(*u, "cache_read_input_tokens");
          r.usage.completion_tokens = json::get_int(*u, "output_tokens");
        }
      }
    } else if (type == "content_block_start") {
      Block& b = blocks[json::get_int(*doc, "index")];
      if (const Value* cb = json::find(*doc, "content_block")) {
        b.type = json::get_string(*cb, "type");
        if (b.type == "tool_use") {
          b.call.id = json::get_string(*cb, "id");
          b.call.name = json::get_string(*cb, "name");
        } else if (b.type == "text") {
          r.content += json::get_string(*cb, "text");
        }
      }
    } else if (type == "content_block_delta") {
      Block& b = blocks[json::get_int(*doc, "index")];
      const Value* delta = json::find(*doc, "delta");
      if (!delta) continue;
      std::string dt = json::get_string(*delta, "type");
      if (dt == "text_delta") r.content += json::get_string(*delta, "text");
      else if (dt == "thinking_delta") r.reasoning += json::get_string(*delta, "thinking");
      else if (dt == "input_json_delta") b.json += json::get_string(*delta, "partial_json");
    } else if (type == "message_delta") {
      if (const Value* delta = json::find(*doc, "delta")) {
        std::string sr = json::get_string(*delta, "stop_reason");
        if (!sr.empty()) r.finish_reason = stop_to_internal(sr);
      }
      if (const Value* u = json::find(*doc, "usage"))  // cumulative
        r.usage.completion_tokens = json::get_int(*u, "output_tokens", r.usage.completion_tokens);
    } else if (type == "message_stop") {
      stopped = true;
      break;
    }
  }
  if (!stopped)
    return unavailable(std::string("anthropic stream ended without message_stop") +
                       (complete ? "" : " (connection cut mid-event)") + "; the reply is incomplete");
  for (auto& [idx, b] : blocks) {
    if (b.type != "tool_use") continue;
    b.call.arguments_json = normalise_arguments(b.json);
    r.tool_calls.push_back(std::move(b.call));
  }
  r.usage.total_tokens = r.usage.prompt_tokens + r.usage.completion_tokens;
  return r;
}

}  // namespace atlas::llm::detail
