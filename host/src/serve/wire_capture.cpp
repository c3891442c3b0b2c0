#include "serve/wire_capture.hpp"

#include "llm/wire.hpp"
#include "serve/responses_wire.hpp"

namespace atlas::serve {

using json::Value;

namespace {

std::string text_of(const Value& v) {
  return v.IsString() ? std::string(v.GetString(), v.GetStringLength()) : "";
}

}  // namespace

namespace detail {

// Text of a content that is a string or an array of parts ({"type":"text","text":...}); other
// parts (images, audio) are kept as a marker so the stored conversation says they were there.
std::string content_text(const Value* content) {
  if (!content || content->IsNull()) return "";
  if (content->IsString()) return text_of(*content);
  if (!content->IsArray()) return json::dump(*content);
  std::string out;
  for (const auto& part : content->GetArray()) {
    if (part.IsString()) {
      out += text_of(part);
      continue;
    }
    if (!part.IsObject()) continue;
    std::string type = json::get_string(part, "type");
    if (const Value* t = json::find(part, "text"); t && t->IsString()) {
      out += text_of(*t);
    } else if (!type.empty()) {
      out += "[" + type + "]";
    }
  }
  return out;
}

std::string schema_text(const Value* schema) {
  return schema && schema->IsObject() ? json::dump(*schema) : R"({"type":"object","properties":{}})";
}

// Adds `text` before the first text of a content that is a string or an array of text parts.
void prepend_to_content(Value& content, std::string_view text, std::string_view part_type, json::Allocator& a) {
  if (content.IsString()) {
    std::string joined = std::string(text) + "\n\n" + text_of(content);
    content.SetString(joined.data(), static_cast<rapidjson::SizeType>(joined.size()), a);
  } else if (content.IsArray()) {
    Value part(rapidjson::kObjectType);
    if (!part_type.empty()) part.AddMember("type", json::str(part_type, a), a);
    part.AddMember("text", json::str(text, a), a);
    content.PushBack(Value(), a);
    for (rapidjson::SizeType i = content.Size() - 1; i > 0; --i) content[i] = content[i - 1];
    content[0] = part;
  } else {
    content = json::str(text, a);
  }
}

}  // namespace detail

using detail::content_text;
using detail::prepend_to_content;
using detail::schema_text;

namespace {

Status bad(std::string_view what) {
  return invalid_argument(std::string(what));
}

// ---- OpenAI Chat Completions

Status read_openai(ClientRequest& r) {
  const Value* msgs = json::find(r.body, "messages");
  if (!msgs || !msgs->IsArray() || msgs->Empty())
    return bad(
        "the request has no \"messages\" array; send {\"model\": ..., \"messages\": [{\"role\": \"user\", "
        "\"content\": ...}]}");
  for (const auto& m : msgs->GetArray()) {
    if (!m.IsObject()) return bad("every entry of \"messages\" must be an object with a \"role\"");
    llm::Message out;
    out.role = json::get_string(m, "role");
    if (out.role.empty()) return bad("a message has no \"role\" (system, developer, user, assistant or tool)");
    if (out.role == "developer") out.role = "system";
    out.content = content_text(json::find(m, "content"));
    out.tool_call_id = json::get_string(m, "tool_call_id");
    out.name = json::get_string(m, "name");
    if (const Value* calls = json::find(m, "tool_calls"); calls && calls->IsArray()) {
      for (const auto& c : calls->GetArray()) {
        if (!c.IsObject()) continue;
        llm::ToolCall tc;
        tc.id = json::get_string(c, "id");
        if (const Value* f = json::find(c, "function"); f && f->IsObject()) {
          tc.name = json::get_string(*f, "name");
          tc.arguments_json = llm::normalise_arguments(json::get_string(*f, "arguments", "{}"));
        }
        out.tool_calls.push_back(std::move(tc));
      }
    }
    r.messages.push_back(std::move(out));
  }
  if (const Value* tools = json::find(r.body, "tools"); tools && tools->IsArray()) {
    for (const auto& t : tools->GetArray()) {
      const Value* f = t.IsObject() ? json::find(t, "function") : nullptr;
      if (!f || !f->IsObject()) continue;
      r.tools.push_back({json::get_string(*f, "name"), json::get_string(*f, "description"),
                         schema_text(json::find(*f, "parameters"))});
    }
  }
  return Status::ok();
}

// ---- Anthropic Messages

Status read_anthropic(ClientRequest& r) {
  if (const Value* sys = json::find(r.body, "system"); sys && !sys->IsNull())
    r.messages.push_back({"system", content_text(sys), {}, {}, {}});
  const Value* msgs = json::find(r.body, "messages");
  if (!msgs || !msgs->IsArray() || msgs->Empty())
    return bad(
        "the request has no \"messages\" array; send {\"model\": ..., \"max_tokens\": ..., \"messages\": "
        "[{\"role\": \"user\", \"content\": ...}]}");
  for (const auto& m : msgs->GetArray()) {
    if (!m.IsObject()) return bad("every entry of \"messages\" must be an object with a \"role\"");
    std::string role = json::get_string(m, "role");
    if (role != "user" && role != "assistant") return bad("a message's \"role\" must be \"user\" or \"assistant\"");
    const Value* content = json::find(m, "content");
    if (!content || !content->IsArray()) {
      r.messages.push_back({role, content_text(content), {}, {}, {}});
      continue;
    }
    llm::Message text_turn{role, "", {}, {}, {}};
    for (const auto& block : content->GetArray()) {
      if (!block.IsObject()) continue;
      std::string type = json::get_string(block, "type");
      if (type == "tool_use") {
        const Value* input = json::find(block, "input");
        text_turn.tool_calls.push_back({json::get_string(block, "id"), json::get_string(block, "name"),
                                        input && input->IsObject() ? json::dump(*input) : "{}"});
      } else if (type == "tool_result") {
        llm::Message result{
            "tool", content_text(json::find(block, "content")), {}, json::get_string(block, "tool_use_id"), {}};
        if (json::get_bool(block, "is_error")) result.content = "[error] " + result.content;
        r.messages.push_back(std::move(result));
      } else if (const Value* t = json::find(block, "text"); t && t->IsString()) {
        text_turn.content += text_of(*t);
      } else if (!type.empty()) {
        text_turn.content += "[" + type + "]";
      }
    }
    if (!text_turn.content.empty() || !text_turn.tool_calls.empty()) r.messages.push_back(std::move(text_turn));
  }
  if (const Value* tools = json::find(r.body, "tools"); tools && tools->IsArray()) {
    for (const auto& t : tools->GetArray()) {
      if (!t.IsObject()) continue;
      r.tools.push_back({json::get_string(t, "name"), json::get_string(t, "description"),
                         schema_text(json::find(t, "input_schema"))});
    }
  }
  return Status::ok();
}

// ---- Gemini generateContent

Status read_gemini(ClientRequest& r) {
  if (const Value* sys = json::find(r.body, "systemInstruction"); sys && sys->IsObject())
    r.messages.push_back({"system", content_text(json::find(*sys, "parts")), {}, {}, {}});
  const Value* contents = json::find(r.body, "contents");
  if (!contents || !contents->IsArray() || contents->Empty())
    return bad(
        "the request has no \"contents\" array; send {\"contents\": [{\"role\": \"user\", \"parts\": "
        "[{\"text\": ...}]}]}");
  for (const auto& c : contents->GetArray()) {
    if (!c.IsObject()) return bad("every entry of \"contents\" must be an object with \"parts\"");
    std::string role = json::get_string(c, "role", "user");
    llm::Message turn{role == "model" ? "assistant" : "user", "", {}, {}, {}};
    const Value* parts = json::find(c, "parts");
    if (!parts || !parts->IsArray()) continue;
    for (const auto& p : parts->GetArray()) {
      if (!p.IsObject()) continue;
      if (const Value* fc = json::find(p, "functionCall"); fc && fc->IsObject()) {
        const Value* args = json::find(*fc, "args");
        turn.tool_calls.push_back({json::get_string(*fc, "id"), json::get_string(*fc, "name"),
                                   args && args->IsObject() ? json::dump(*args) : "{}"});
      } else if (const Value* fr = json::find(p, "functionResponse"); fr && fr->IsObject()) {
        const Value* resp = json::find(*fr, "response");
        r.messages.push_back(
            {"tool", resp ? json::dump(*resp) : "", {}, json::get_string(*fr, "id"), json::get_string(*fr, "name")});
      } else if (const Value* t = json::find(p, "text"); t && t->IsString()) {
        turn.content += text_of(*t);
      }
    }
    if (!turn.content.empty() || !turn.tool_calls.empty()) r.messages.push_back(std::move(turn));
  }
  if (const Value* tools = json::find(r.body, "tools"); tools && tools->IsArray()) {
    for (const auto& t : tools->GetArray()) {
      const Value* decls = t.IsObject() ? json::find(t, "functionDeclarations") : nullptr;
      if (!decls || !decls->IsArray()) continue;
      for (const auto& d : decls->GetArray()) {
        if (!d.IsObject()) continue;
        const Value* schema = json::find(d, "parameters");
        if (!schema) schema = json::find(d, "parametersJsonSchema");
        r.tools.push_back({json::get_string(d, "name"), json::get_string(d, "description"), schema_text(schema)});
      }
    }
  }
  return Status::ok();
}

}  // namespace

std::string_view client_wire_name(ClientWire w) {
  switch (w) {
    case ClientWire::kOpenAIChat:
      return "openai.chat";
    case ClientWire::kAnthropicMessages:
      return "anthropic.messages";
    case ClientWire::kGeminiGenerate:
      return "gemini.generate";
    case ClientWire::kOpenAIResponses:
      return "openai.responses";
  }
  return "unknown";
}

llm::WireKind provider_wire(ClientWire w) {
  switch (w) {
    case ClientWire::kOpenAIChat:
    case ClientWire::kOpenAIResponses:
      return llm::WireKind::kOpenAI;
    case ClientWire::kAnthropicMessages:
      return llm::WireKind::kAnthropic;
    case ClientWire::kGeminiGenerate:
      return llm::WireKind::kGemini;
  }
  return llm::WireKind::kOpenAI;
}

Result<ClientRequest> read_client_request(ClientWire wire, std::string_view body, std::string_view path_model,
                                          bool path_streams) {
  auto doc = json::parse(body, "request body");
  if (!doc) return invalid_argument("the request body is not valid JSON: " + doc.status().message());
  if (!doc->IsObject()) return invalid_argument("the request body must be a JSON object");
  ClientRequest r;
  r.wire = wire;
  r.body = std::move(*doc);
  r.model = path_model.empty() ? json::get_string(r.body, "model") : std::string(path_model);
  r.stream = wire == ClientWire::kGeminiGenerate ? path_streams : json::get_bool(r.body, "stream");
  if (r.model.empty()) return invalid_argument("the request names no \"model\"");
  Status st = wire == ClientWire::kOpenAIChat          ? read_openai(r)
              : wire == ClientWire::kOpenAIResponses   ? read_responses_request(r)
              : wire == ClientWire::kAnthropicMessages ? read_anthropic(r)
                                                       : read_gemini(r);
  if (!st.is_ok()) return st;
  return r;
}

std::string first_user_text(const std::vector<llm::Message>& messages) {
  for (const auto& m : messages)
    if (m.role == "user" && !m.content.empty()) return m.content;
  return "";
}

void prepend_system_text(ClientRequest& req, std::string_view text) {
  auto& a = req.body.GetAllocator();
  switch (req.wire) {
    case ClientWire::kOpenAIChat: {
      Value& msgs = req.body["messages"];
      if (msgs.Size() > 0 && msgs[0].IsObject()) {
        std::string role = json::get_string(msgs[0], "role");
        if (role == "system" || role == "developer") {
          if (!msgs[0].HasMember("content")) msgs[0].AddMember("content", Value(), a);
          prepend_to_content(msgs[0]["content"], text, "text", a);
          break;
        }
      }
      Value sys(rapidjson::kObjectType);
      sys.AddMember("role", "system", a);
      sys.AddMember("content", json::str(text, a), a);
      msgs.PushBack(Value(), a);
      for (rapidjson::SizeType i = msgs.Size() - 1; i > 0; --i) msgs[i] = msgs[i - 1];
      msgs[0] = sys;
      break;
    }
    case ClientWire::kAnthropicMessages: {
      if (!req.body.HasMember("system")) req.body.AddMember("system", Value(), a);
      prepend_to_content(req.body["system"], text, "text", a);
      break;
    }
    case ClientWire::kGeminiGenerate: {
      if (!req.body.HasMember("systemInstruction") || !req.body["systemInstruction"].IsObject()) {
        req.body.RemoveMember("systemInstruction");
        Value sys(rapidjson::kObjectType);
        sys.AddMember("parts", Value(rapidjson::kArrayType), a);
        req.body.AddMember("systemInstruction", sys, a);
      }
      Value& sys = req.body["systemInstruction"];
      if (!sys.HasMember("parts") || !sys["parts"].IsArray()) {
        sys.RemoveMember("parts");
        sys.AddMember("parts", Value(rapidjson::kArrayType), a);
      }
      prepend_to_content(sys["parts"], text, "", a);
      break;
    }
    case ClientWire::kOpenAIResponses:
      responses_prepend_instructions(req.body, text);
      break;
  }
  req.messages.insert(req.messages.begin(), llm::Message{"system", std::string(text), {}, {}, {}});
  if (req.messages.size() > 1 && req.messages[1].role == "system") {  // one system message, as the upstream sees it
    req.messages[1].content = req.messages[0].content + "\n\n" + req.messages[1].content;
    req.messages.erase(req.messages.begin());
  }
}

namespace {

// Adds `text` as a user turn after the conversation (Anthropic: a block of the last user turn,
// turns alternate). Responses: `responses_text` instead, after the rejected reply as the
// assistant's own turn when there is one.
void append_user_text(ClientRequest& req, const std::string& text, const std::string_view* rejected_output,
                      std::string_view responses_text) {
  auto& a = req.body.GetAllocator();
  Value turn(rapidjson::kObjectType);
  switch (req.wire) {
    case ClientWire::kOpenAIChat:
    case ClientWire::kAnthropicMessages: {
      Value& msgs = req.body["messages"];
      Value& last = msgs[msgs.Size() - 1];
      if (req.wire == ClientWire::kAnthropicMessages && last.IsObject() && json::get_string(last, "role") == "user") {
        // Anthropic turns alternate: the guidance joins the last user turn as one more block.
        auto member = last.FindMember("content");
        if (member == last.MemberEnd()) {  // accepted without content: the upstream judges that
          last.AddMember("content", Value(rapidjson::kArrayType), a);
          member = last.FindMember("content");
        }
        Value& content = member->value;
        if (content.IsString()) {
          Value block(rapidjson::kObjectType);
          block.AddMember("type", "text", a);
          block.AddMember("text", Value(content, a), a);
          content.SetArray();
          content.PushBack(block, a);
        }
        Value block(rapidjson::kObjectType);
        block.AddMember("type", "text", a);
        block.AddMember("text", json::str(text, a), a);
        if (content.IsArray()) content.PushBack(block, a);
        break;
      }
      turn.AddMember("role", "user", a);
      turn.AddMember("content", json::str(text, a), a);
      msgs.PushBack(turn, a);
      break;
    }
    case ClientWire::kGeminiGenerate: {
      Value part(rapidjson::kObjectType);
      part.AddMember("text", json::str(text, a), a);
      Value parts(rapidjson::kArrayType);
      parts.PushBack(part, a);
      turn.AddMember("role", "user", a);
      turn.AddMember("parts", parts, a);
      req.body["contents"].PushBack(turn, a);
      break;
    }
    case ClientWire::kOpenAIResponses:
      responses_append_guidance(req.body, rejected_output, responses_text);
      break;
  }
}

}  // namespace

void append_guidance(ClientRequest& req, std::string_view rejected_output, std::string_view guidance) {
  std::string text = "Your previous reply was reviewed and not accepted.\n\nPrevious reply:\n" +
                     std::string(rejected_output) + "\n\nGuidance:\n" + std::string(guidance) +
                     "\n\nReply again, following the guidance.";
  // Responses: the rejected reply goes in as the assistant's own turn, so the text says only the guidance.
  append_user_text(req, text, &rejected_output,
                   "Your previous reply was reviewed and not accepted.\n\nGuidance:\n" + std::string(guidance) +
                       "\n\nReply again, following the guidance.");
}

void append_guidance_before_call(ClientRequest& req, std::string_view guidance) {
  std::string text = "Guidance from your reviewer for this reply:\n" + std::string(guidance);
  append_user_text(req, text, nullptr, text);
}

Result<llm::Response> read_reply(ClientWire wire, std::string_view body, bool streamed) {
  if (wire == ClientWire::kOpenAIResponses)
    return streamed ? parse_responses_stream(body) : parse_responses_reply(body);
  return streamed ? llm::parse_stream(provider_wire(wire), body) : llm::parse_reply(provider_wire(wire), body);
}

std::string error_body(ClientWire wire, int http_status, std::string_view type, std::string_view message) {
  switch (wire) {
    case ClientWire::kAnthropicMessages:
      return "{\"type\":\"error\",\"error\":{\"type\":" + json::quote(type) + ",\"message\":" + json::quote(message) +
             "}}";
    case ClientWire::kGeminiGenerate:
      return "{\"error\":{\"code\":" + std::to_string(http_status) + ",\"message\":" + json::quote(message) +
             ",\"status\":" + json::quote(type) + "}}";
    case ClientWire::kOpenAIChat:
    case ClientWire::kOpenAIResponses:
      break;
  }
  return "{\"error\":{\"message\":" + json::quote(message) + ",\"type\":" + json::quote(type) +
         ",\"code\":" + json::quote(type) + "}}";
}

}  // namespace atlas::serve
