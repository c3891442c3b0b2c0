// OpenAI Chat Completions (also vLLM, Ollama, llama.cpp server, TGI via api_base).
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <map>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::llm::detail {
namespace {

using json::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void str(Writer& w, const std::string& s) { w.String(s.data(), static_cast<rapidjson::SizeType>(s.size())); }
void raw_object(Writer& w, const std::string& text) { w.RawValue(text.data(), text.size(), rapidjson::kObjectType); }

bool valid_json(const std::string& text) {
  json::Document d;
  return static_cast<bool>(sdk::parse_json(d, text));
}

std::string joined_base(std::string_view base, std::string_view suffix) {
  std::string url(base);
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url + std::string(suffix);
}

Usage usage_from(const Value& u) {
  Usage out;
  out.prompt_tokens = json::get_int(u, "prompt_tokens");
  out.completion_tokens = json::get_int(u, "completion_tokens");
  out.total_tokens = json::get_int(u, "total_tokens", out.prompt_tokens + out.completion_tokens);
  return out;
}

std::string text_of(const Value* content) {
  if (!content || content->IsNull()) return {};
  if (content->IsString()) return content->GetString();
  std::string out;
  if (content->IsArray())
    for (const auto& p : content->GetArray()) out += json::get_string(p, "text");
  return out;
}

Status error_object(const Value& err, std::string_view where) {
  return unavailable(std::string(where) + ": " + json::get_string(err, "message", "provider error") +
                     (json::get_string(err, "code").empty() ? "" : " (" + json::get_string(err, "code") + ")"));
}

}  // namespace

Result<WireHttp> openai_build(const config::ModelConfig& model, const Request& request, std::string_view base_url,
                              const std::optional<std::string>& api_key) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("model");
  str(w, model.model);
  w.Key("messages");
  w.StartArray();
  for (const auto& m : request.messages) {
    w.StartObject();
    w.Key("role");
    str(w, m.role);
    if (m.role == "tool") {
      w.Key("tool_call_id");
      str(w, m.tool_call_id);
      w.Key("content");
      str(w, m.content);
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      w.Key("content");
      if (m.content.empty()) w.Null();
      else str(w, m.content);
      w.Key("tool_calls");
      w.StartArray();
      for (const auto& tc : m.tool_calls) {
        w.StartObject();
        w.Key("id");
        str(w, tc.id);
        w.Key("type");
        w.String("function");
        w.Key("function");
        w.StartObject();
        w.Key("name");
        str(w, tc.name);
        w.Key("arguments");  // a string on this wire
        str(w, tc.arguments_json.empty() ? std::string("{}") : tc.arguments_json);
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    } else {
      w.Key("content");
      str(w, m.content);
    }
    w.EndObject();
  }
  w.EndArray();
  if (!request.tools.empty()) {
    w.Key("tools");
    w.StartArray();
    for (const auto& t : request.tools) {
      if (!valid_json(t.parameters_json))
        return invalid_argument("tool \"" + t.name + "\": parameters is not valid JSON Schema text");
      w.StartObject();
      w.Key("type");
      w.String("function");
      w.Key("function");
      w.StartObject();
      w.Key("name");
      str(w, t.name);
      if (!t.description.empty()) {
        w.Key("description");
        str(w, t.description);
      }
      w.Key("parameters");
      raw_object(w, t.parameters_json);
      w.EndObject();
      w.EndObject();
    }
    w.EndArray();
  }
  if (!request.tool_choice.empty()) {
    w.Key("tool_choice");
    const std::string& tc = request.tool_choice;
    if (tc == "auto" || tc == "required" || tc == "none") {
      str(w, tc);
    } else {
      w.StartObject();
      w.Key("type");
      w.String("function");
      w.Key("function");
      w.StartObject();
      w.Key("name");
      str(w, tc);
      w.EndObject();
      w.EndObject();
    }
  }
  if (!request.response_format_json.empty()) {
    if (!valid_json(request.response_format_json))
      return invalid_argument("response_format is not valid JSON: " + request.response_format_json);
    w.Key("response_format");
    raw_object(w, request.response_format_json);
  }
  w.Key("temperature");
  w.Double(request.temperature.value_or(model.temperature));
  if (model.top_p) {
    w.Key("top_p");
    w.Double(*model.top_p);
  }
  std::optional<int> max_tokens = request.max_output_tokens ? request.max_output_tokens : model.max_output_tokens;
  if (max_tokens) {
    // Local OpenAI-compatible servers know max_tokens; OpenAI itself wants max_completion_tokens.
    w.Key(model.api_base.empty() ? "max_completion_tokens" : "max_tokens");
    w.Int(*max_tokens);
  }
  if (!model.reasoning_effort.empty()) {
    w.Key("reasoning_effort");
    str(w, model.reasoning_effort);
  }
  if (model.capture_tokens) {
    const json::Document fields = token_request_fields(!model.api_base.empty());
    for (const auto& field : fields.GetObject()) {
      w.Key(field.name.GetString(), field.name.GetStringLength());
      field.value.Accept(w);
    }
  }
  if (request.stream) {
    w.Key("stream");
    w.Bool(true);
    w.Key("stream_options");
    w.StartObject();
    w.Key("include_usage");
    w.Bool(true);
    w.EndObject();
  }
  w.EndObject();

  WireHttp http;
  http.url = joined_base(base_url, "/chat/completions");
  http.body = sb.GetString();
  http.headers.push_back("Content-Type: application/json");
  http.headers.push_back(request.stream ? "Accept: text/event-stream" : "Accept: application/json");
  if (api_key) {
    if (model.provider == "azure-openai" || model.provider == "azure") http.headers.push_back("api-key: " + *api_key);
    else http.headers.push_back("Authorization: Bearer " + *api_key);
  }
  if (!model.organization.empty()) http.headers.push_back("OpenAI-Organization: " + model.organization);
  return http;
}

Result<Response> openai_parse_reply(std::string_view body) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "openai reply", json::kMaxInputDepth));
  if (!doc.IsObject()) return unavailable("openai reply: not a JSON object");
  if (const Value* err = json::find(doc, "error"); err && err->IsObject())
    return error_object(*err, "openai reply carried an error with HTTP 200");
  const Value* choices = json::find(doc, "choices");
  if (!choices || !choices->IsArray() || choices->Empty())
    return unavailable("openai reply: no \"choices\" in the response");
  const Value& choice = (*choices)[0];
  const Value* msg = json::find(choice, "message");
  if (!msg || !msg->IsObject()) return unavailable("openai reply: choices[0].message is missing");
  Response r;
  r.content = text_of(json::find(*msg, "content"));
  r.finish_reason = json::get_string(choice, "finish_reason");
  if (r.content.empty()) {
    std::string refusal = json::get_string(*msg, "refusal");
    if (!refusal.empty()) {
      r.content = refusal;
      r.finish_reason = "content_filter";
    }
  }
  r.reasoning = json::get_string(*msg, "reasoning_content", json::get_string(*msg, "reasoning"));
  if (const Value* tcs = json::find(*msg, "tool_calls"); tcs && tcs->IsArray()) {
    for (const auto& tc : tcs->GetArray()) {
      ToolCall call;
      call.id = json::get_string(tc, "id");
      if (const Value* fn = json::find(tc, "function")) {
        call.name = json::get_string(*fn, "name");
        const Value* args = json::find(*fn, "arguments");
        call.arguments_json = !args ? "{}" : args->IsString() ? normalise_arguments(args->GetString()) : json::dump(*args);
      }
      r.tool_calls.push_back(std::move(call));
    }
  }
  if (const Value* u = json::find(doc, "usage"); u && u->IsObject()) r.usage = usage_from(*u);
  r.model = json::get_string(doc, "model");
  read_openai_tokens(doc, false, r.tokens);
  return r;
}

Result<Response> openai_parse_stream(std::string_view body) {
  bool complete = false;
  std::vector<SseEvent> events = split_sse(body, &complete);
  Response r;
  std::map<int64_t, ToolCall> calls;
  std::map<int64_t, std::string> args;
  bool done = false;
  for (const auto& ev : events) {
    if (ev.data == "[DONE]") {
      done = true;
      break;
    }
    auto doc = json::parse(ev.data, "openai stream event", json::kMaxInputDepth);
    if (!doc) return unavailable("openai stream: malformed event: " + doc.status().message());
    if (const Value* err = json::find(*doc, "error"); err && err->IsObject())
      return error_object(*err, "openai stream failed after HTTP 200");
    if (ev.event == "error") return unavailable("openai stream failed after HTTP 200: " + ev.data.substr(0, 300));
    if (r.model.empty()) r.model = json::get_string(*doc, "model");
    if (const Value* u = json::find(*doc, "usage"); u && u->IsObject()) r.usage = usage_from(*u);
    read_openai_tokens(*doc, true, r.tokens);
    const Value* choices = json::find(*doc, "choices");
    if (!choices || !choices->IsArray()) continue;  // vLLM: usage chunk with "choices": null
    for (const auto& choice : choices->GetArray()) {
      if (json::get_int(choice, "index", 0) != 0) continue;
      std::string fr = json::get_string(choice, "finish_reason");
      if (!fr.empty()) r.finish_reason = fr;
      const Value* delta = json::find(choice, "delta");
      if (!delta) continue;
      r.content += json::get_string(*delta, "content");
      r.reasoning += json::get_string(*delta, "reasoning_content", json::get_string(*delta, "reasoning"));
      if (const Value* tcs = json::find(*delta, "tool_calls"); tcs && tcs->IsArray()) {
        for (const auto& tc : tcs->GetArray()) {
          int64_t idx = json::get_int(tc, "index", 0);
          ToolCall& call = calls[idx];
          std::string id = json::get_string(tc, "id");
          if (!id.empty()) call.id = id;
          if (const Value* fn = json::find(tc, "function")) {
            std::string name = json::get_string(*fn, "name");
            if (!name.empty()) call.name = name;
            args[idx] += json::get_string(*fn, "arguments");
          }
        }
      }
    }
  }
  if (!done)
    return unavailable(std::string("openai stream ended without \"data: [DONE]\"") +
                       (complete ? "" : " (connection cut mid-event)") + "; the reply is incomplete");
  for (auto& [idx, call] : calls) {
    call.arguments_json = normalise_arguments(args[idx]);
    r.tool_calls.push_back(std::move(call));
  }
  return r;
}

}  // namespace atlas::llm::detail
