#include "serve/responses_wire.hpp"

#include <map>

#include "llm/wire.hpp"

namespace atlas::serve {

using json::Value;

namespace {

Status bad(std::string_view what) {
  return invalid_argument(std::string(what));
}

// ---- the request

// The assistant message a function_call item joins: the previous one when it is an assistant
// turn (a text item and its calls, or parallel calls, are one turn), else a new empty one.
llm::Message& assistant_turn(std::vector<llm::Message>& messages) {
  if (messages.empty() || messages.back().role != "assistant") messages.push_back({"assistant", "", {}, {}, {}});
  return messages.back();
}

// The tool name of an earlier call, so a function_call_output is stored with its tool's name.
std::string called_tool_name(const std::vector<llm::Message>& messages, const std::string& call_id) {
  for (auto m = messages.rbegin(); m != messages.rend(); ++m)
    for (const auto& tc : m->tool_calls)
      if (tc.id == call_id) return tc.name;
  return "";
}

Status read_message_item(const Value& item, std::vector<llm::Message>& messages) {
  std::string role = json::get_string(item, "role");
  if (role != "user" && role != "system" && role != "developer" && role != "assistant")
    return bad("an \"input\" message's \"role\" must be \"user\", \"system\", \"developer\" or \"assistant\" (got \"" +
               role + "\")");
  messages.push_back(
      {role == "developer" ? "system" : role, detail::content_text(json::find(item, "content")), {}, {}, {}});
  return Status::ok();
}

Status read_input_item(const Value& item, std::vector<llm::Message>& messages) {
  if (!item.IsObject())
    return bad(
        "every entry of \"input\" must be an object: a message {\"role\": ..., \"content\": ...}, a "
        "function_call or a function_call_output item");
  // Messages may leave out "type"; every other item names its type.
  std::string type = json::get_string(item, "type", json::find(item, "role") ? "message" : "");
  if (type == "message") return read_message_item(item, messages);
  if (type == "function_call") {
    std::string call_id = json::get_string(item, "call_id", json::get_string(item, "id"));
    assistant_turn(messages).tool_calls.push_back(
        {call_id, json::get_string(item, "name"), llm::normalise_arguments(json::get_string(item, "arguments", "{}"))});
    return Status::ok();
  }
  if (type == "function_call_output") {
    std::string call_id = json::get_string(item, "call_id");
    if (call_id.empty())
      return bad("a function_call_output item has no \"call_id\"; send the call_id of its function_call");
    std::string name = called_tool_name(messages, call_id);
    messages.push_back({"tool", detail::content_text(json::find(item, "output")), {}, call_id, name});
    return Status::ok();
  }
  if (type.empty())
    return bad(
        "an \"input\" item has neither \"type\" nor \"role\"; send a message {\"role\": \"user\", \"content\": "
        "...} or an item with \"type\"");
  return Status::ok();  // reasoning, item_reference and hosted-tool items carry nothing the capture keeps
}

Status read_input(const Value& input, std::vector<llm::Message>& messages) {
  if (input.IsString()) {
    messages.push_back({"user", std::string(input.GetString(), input.GetStringLength()), {}, {}, {}});
    return Status::ok();
  }
  if (!input.IsArray() || input.Empty())
    return bad(
        "\"input\" must be a string or a non-empty array of items; send {\"model\": ..., \"input\": \"...\"} "
        "or \"input\": [{\"role\": \"user\", \"content\": \"...\"}]");
  for (const auto& item : input.GetArray()) ATLAS_RETURN_IF_ERROR(read_input_item(item, messages));
  return Status::ok();
}

// Function tools are flat on this wire ({"type":"function","name":...,"parameters":...}); hosted
// tools (web_search, file_search, ...) run at the provider and are not the agent's.
void read_tools(const Value& body, std::vector<llm::ToolSpec>& tools) {
  const Value* list = json::find(body, "tools");
  if (!list || !list->IsArray()) return;
  for (const auto& t : list->GetArray()) {
    if (!t.IsObject() || json::get_string(t, "type", "function") != "function") continue;
    tools.push_back({json::get_string(t, "name"), json::get_string(t, "description"),
                     detail::schema_text(json::find(t, "parameters"))});
  }
}

// ---- the reply

llm::Usage usage_from(const Value& u) {
  llm::Usage usage;
  usage.prompt_tokens = json::get_int(u, "input_tokens");
  usage.completion_tokens = json::get_int(u, "output_tokens");
  usage.total_tokens = json::get_int(u, "total_tokens", usage.prompt_tokens + usage.completion_tokens);
  return usage;
}

void read_output_item(const Value& item, llm::Response& r) {
  std::string type = json::get_string(item, "type");
  if (type == "message") {
    const Value* content = json::find(item, "content");
    if (!content || !content->IsArray()) return;
    for (const auto& part : content->GetArray()) {
      std::string part_type = json::get_string(part, "type");
      if (part_type == "output_text") r.content += json::get_string(part, "text");
      if (part_type == "refusal") r.content += json::get_string(part, "refusal");
    }
  } else if (type == "function_call") {
    r.tool_calls.push_back({json::get_string(item, "call_id", json::get_string(item, "id")),
                            json::get_string(item, "name"),
                            llm::normalise_arguments(json::get_string(item, "arguments", "{}"))});
  } else if (type == "reasoning") {
    if (const Value* summary = json::find(item, "summary"); summary && summary->IsArray())
      for (const auto& s : summary->GetArray()) r.reasoning += json::get_string(s, "text");
  }
}

// The internal finish vocabulary: stop, tool_calls, length, content_filter.
std::string finish_reason(const Value& response, const llm::Response& r) {
  if (json::get_string(response, "status") == "incomplete") {
    const Value* details = json::find(response, "incomplete_details");
    std::string reason = details ? json::get_string(*details, "reason") : "";
    return reason == "content_filter" ? "content_filter" : "length";
  }
  return r.tool_calls.empty() ? "stop" : "tool_calls";
}

std::string error_message(const Value* error) {
  std::string message = error ? json::get_string(*error, "message") : "";
  return message.empty() && error ? json::dump(*error) : message;
}

// A response object; an error when it failed or is not one.
Result<llm::Response> read_response_object(const Value& response) {
  if (!response.IsObject()) return unavailable("the Responses reply is not a JSON object");
  if (const Value* err = json::find(response, "error"); err && err->IsObject())
    return unavailable("the Responses call failed: " + error_message(err));
  if (json::get_string(response, "status") == "failed")
    return unavailable("the Responses call failed (status \"failed\")");
  const Value* output = json::find(response, "output");
  if (!output || !output->IsArray()) return unavailable("the Responses reply has no \"output\" array");
  llm::Response r;
  r.model = json::get_string(response, "model");
  for (const auto& item : output->GetArray()) read_output_item(item, r);
  if (const Value* u = json::find(response, "usage"); u && u->IsObject()) r.usage = usage_from(*u);
  r.finish_reason = finish_reason(response, r);
  return r;
}

// What the deltas say, for a terminal event whose response carries no output.
struct StreamAccumulator {
  llm::Response r;
  std::map<int64_t, size_t> call_at_output_index;  // output_index -> r.tool_calls index
  std::map<int64_t, std::string> arguments;        // output_index -> argument text so far

  void add(const std::string& type, const Value& data) {
    const int64_t index = json::get_int(data, "output_index", -1);
    const Value* item = json::find(data, "item");
    if (type == "response.output_text.delta") {
      r.content += json::get_string(data, "delta");
    } else if (type == "response.output_item.added" && item && json::get_string(*item, "type") == "function_call") {
      call_at_output_index[index] = r.tool_calls.size();
      r.tool_calls.push_back({json::get_string(*item, "call_id"), json::get_string(*item, "name"), "{}"});
    } else if (type == "response.function_call_arguments.delta") {
      arguments[index] += json::get_string(data, "delta");
    } else if (type == "response.function_call_arguments.done") {
      arguments[index] = json::get_string(data, "arguments");
    }
  }

  llm::Response finish() {
    for (const auto& [index, at] : call_at_output_index)
      r.tool_calls[at].arguments_json = llm::normalise_arguments(arguments[index]);
    if (r.finish_reason.empty()) r.finish_reason = r.tool_calls.empty() ? "stop" : "tool_calls";
    return r;
  }
};

}  // namespace

Status read_responses_request(ClientRequest& r) {
  if (const Value* ins = json::find(r.body, "instructions"); ins && !ins->IsNull()) {
    if (!ins->IsString()) return bad("\"instructions\" must be a string (the system prompt)");
    r.messages.push_back({"system", std::string(ins->GetString(), ins->GetStringLength()), {}, {}, {}});
  }
  const Value* input = json::find(r.body, "input");
  if (!input)
    return bad(
        "the request has no \"input\"; send {\"model\": ..., \"input\": \"...\"} or \"input\": [{\"role\": "
        "\"user\", \"content\": \"...\"}]");
  ATLAS_RETURN_IF_ERROR(read_input(*input, r.messages));
  read_tools(r.body, r.tools);
  return Status::ok();
}

void responses_prepend_instructions(json::Document& body, std::string_view text) {
  auto& a = body.GetAllocator();
  if (!body.HasMember("instructions")) body.AddMember("instructions", Value(), a);
  detail::prepend_to_content(body["instructions"], text, "", a);
}

void responses_append_guidance(json::Document& body, const std::string_view* rejected_output,
                               std::string_view guidance_text) {
  auto& a = body.GetAllocator();
  Value& input = body["input"];
  if (input.IsString()) {  // "input": "text" is one user message
    Value first(rapidjson::kObjectType);
    first.AddMember("role", "user", a);
    first.AddMember("content", Value(input, a), a);
    input.SetArray();
    input.PushBack(first, a);
  }
  auto message = [&](const char* role, std::string_view text) {
    Value m(rapidjson::kObjectType);
    m.AddMember("role", Value(role, a), a);
    m.AddMember("content", json::str(text, a), a);
    input.PushBack(m, a);
  };
  if (rejected_output) message("assistant", *rejected_output);
  message("user", guidance_text);
}

Result<llm::Response> parse_responses_reply(std::string_view body) {
  auto doc = json::parse(body, "Responses reply", json::kMaxInputDepth);
  if (!doc) return unavailable("the Responses reply is not valid JSON: " + doc.status().message());
  return read_response_object(*doc);
}

Result<llm::Response> parse_responses_stream(std::string_view body) {
  bool complete = false;
  StreamAccumulator acc;
  for (const auto& ev : llm::split_sse(body, &complete)) {
    auto data = json::parse(ev.data, "Responses stream event", json::kMaxInputDepth);
    if (!data || !data->IsObject())
      return unavailable("Responses stream: an event's data is not a JSON object: " + ev.data.substr(0, 200));
    std::string type = json::get_string(*data, "type", ev.event);
    if (type == "error") return unavailable("Responses stream failed after HTTP 200: " + error_message(&*data));
    const Value* response = json::find(*data, "response");
    if (type == "response.failed")
      return unavailable("Responses stream failed: " +
                         error_message(response ? json::find(*response, "error") : nullptr));
    if (type != "response.completed" && type != "response.incomplete") {
      acc.add(type, *data);
      continue;
    }
    if (!response) return unavailable("Responses stream: the " + type + " event has no \"response\" object");
    auto result = read_response_object(*response);
    if (!result) return result.status();
    if (result->content.empty() && result->tool_calls.empty()) {  // a terminal event without output
      llm::Response streamed = acc.finish();
      result->content = streamed.content;
      result->tool_calls = streamed.tool_calls;
      if (!result->tool_calls.empty() && result->finish_reason == "stop") result->finish_reason = "tool_calls";
    }
    return result;
  }
  return unavailable(std::string("Responses stream ended without response.completed") +
                     (complete ? "" : " (connection cut mid-event)") + "; the reply is incomplete");
}

}  // namespace atlas::serve
