#include "mock/mock_wire.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/clock.hpp"
#include "common/json.hpp"

namespace atlas::mock {
namespace {

using json::Value;
using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- reading requests ------------------------------------------------------------------

// Text of an OpenAI/Anthropic "content": a string or an array of blocks.
std::string content_text(const Value& content, bool include_tool_results) {
  if (content.IsString()) return content.GetString();
  std::string out;
  if (!content.IsArray()) return out;
  for (const auto& block : content.GetArray()) {
    if (block.IsString()) {
      out += block.GetString();
      continue;
    }
    std::string type = json::get_string(block, "type");
    if (type == "text" || type == "input_text" || type == "output_text") {
      if (!out.empty()) out += "\n";
      out += json::get_string(block, "text");
    } else if (type == "tool_result" && include_tool_results) {
      if (const Value* c = json::find(block, "content")) {
        if (!out.empty()) out += "\n";
        out += content_text(*c, true);
      }
    }
  }
  return out;
}

bool has_text_block(const Value& content) {
  if (content.IsString()) return true;
  if (!content.IsArray()) return false;
  for (const auto& block : content.GetArray())
    if (block.IsString() || json::get_string(block, "type") == "text") return true;
  return false;
}

void append_line(std::string& all, const std::string& s) {
  if (s.empty()) return;
  if (!all.empty()) all += "\n";
  all += s;
}

// OpenAI Responses: "instructions" plus "input", a string or a list of items (messages,
// function_call, function_call_output, reasoning).
Status read_responses_input(const Value& doc, IncomingCall& c) {
  c.previous_response_id = json::get_string(doc, "previous_response_id");
  if (const Value* ins = json::find(doc, "instructions"); ins && ins->IsString()) c.system = ins->GetString();
  append_line(c.all_text, c.system);
  const Value* input = json::find(doc, "input");
  if (input && input->IsString()) {
    c.last_user = c.last_message = input->GetString();
    append_line(c.all_text, c.last_user);
    return Status::ok();
  }
  if (!input || !input->IsArray())
    return invalid_argument("request body: \"input\" must be a string or an array of input items");
  for (const auto& item : input->GetArray()) {
    if (!item.IsObject()) continue;
    std::string type = json::get_string(item, "type", "message");
    std::string text;
    if (type == "function_call_output") {
      if (const Value* out = json::find(item, "output")) text = content_text(*out, true);
    } else if (type == "message") {
      std::string role = json::get_string(item, "role");
      text = json::find(item, "content") ? content_text(item["content"], true) : "";
      if (role == "system" || role == "developer") append_line(c.system, text);
      if (role == "user") c.last_user = text;
    } else {
      continue;  // function_call and reasoning items carry no text a rule matches on
    }
    c.last_message = text;
    append_line(c.all_text, text);
  }
  return Status::ok();
}

}  // namespace

Result<IncomingCall> parse_incoming(Wire wire, std::string_view body, std::string model_from_path, bool stream) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(body, "request body"));
  if (!doc.IsObject()) return invalid_argument("request body: must be a JSON object");
  IncomingCall c;
  c.wire = wire;
  c.stream = stream || json::get_bool(doc, "stream");
  if (wire == Wire::kOpenAI) {
    c.model = json::get_string(doc, "model");
    if (const Value* so = json::find(doc, "stream_options")) c.include_usage = json::get_bool(*so, "include_usage");
    const Value* msgs = json::find(doc, "messages");
    if (!msgs || !msgs->IsArray()) return invalid_argument("request body: \"messages\" must be an array");
    for (const auto& m : msgs->GetArray()) {
      std::string role = json::get_string(m, "role");
      std::string text = json::find(m, "content") ? content_text(m["content"], true) : "";
      if (role == "system" || role == "developer") append_line(c.system, text);
      if (role == "user") c.last_user = text;
      c.last_message = text;
      append_line(c.all_text, text);
    }
    const Value* tools = json::find(doc, "tools");
    c.has_tools = tools && tools->IsArray() && !tools->Empty();
  } else if (wire == Wire::kOpenAIResponses) {
    c.model = json::get_string(doc, "model");
    ATLAS_RETURN_IF_ERROR(read_responses_input(doc, c));
    const Value* tools = json::find(doc, "tools");
    c.has_tools = tools && tools->IsArray() && !tools->Empty();
  } else if (wire == Wire::kAnthropic) {
    c.model = json::get_string(doc, "model");
    if (const Value* sys = json::find(doc, "system")) c.system = content_text(*sys, false);
    append_line(c.all_text, c.system);
    const Value* msgs = json::find(doc, "messages");
    if (!msgs || !msgs->IsArray()) return invalid_argument("request body: \"messages\" must be an array");
    for (const auto& m : msgs->GetArray()) {
      std::string role = json::get_string(m, "role");
      const Value* content = json::find(m, "content");
      std::string text = content ? content_text(*content, true) : "";
      if (role == "user" && content && has_text_block(*content)) c.last_user = content_text(*content, false);
      c.last_message = text;
      append_line(c.all_text, text);
    }
    const Value* tools = json::find(doc, "tools");
    c.has_tools = tools && tools->IsArray() && !tools->Empty();
  } else {
    c.model = std::move(model_from_path);
    if (const Value* si = json::find(doc, "systemInstruction"); si && json::find(*si, "parts")) {
      for (const auto& p : (*si)["parts"].GetArray()) append_line(c.system, json::get_string(p, "text"));
    }
    append_line(c.all_text, c.system);
    const Value* contents = json::find(doc, "contents");
    if (!contents || !contents->IsArray()) return invalid_argument("request body: \"contents\" must be an array");
    for (const auto& turn : contents->GetArray()) {
      std::string role = json::get_string(turn, "role", "user");
      std::string text;
      bool any_text = false;
      if (const Value* parts = json::find(turn, "parts"); parts && parts->IsArray()) {
        for (const auto& p : parts->GetArray()) {
          if (const Value* t = json::find(p, "text"); t && t->IsString()) {
            append_line(text, t->GetString());
            any_text = true;
          } else if (const Value* fr = json::find(p, "functionResponse")) {
            if (const Value* r = json::find(*fr, "response")) append_line(text, json::dump(*r));
          }
        }
      }
      if (role == "user" && any_text) c.last_user = text;
      c.last_message = text;
      append_line(c.all_text, text);
    }
    const Value* tools = json::find(doc, "tools");
    c.has_tools = tools && tools->IsArray() && !tools->Empty();
  }
  return c;
}

namespace {

// ---- rendering ----------------------------------------------------------------------------

struct Resolved {
  std::string model;
  std::string text;
  std::string reasoning;
  std::vector<ReplyToolCall> tool_calls;
  std::string finish_reason;  // internal vocabulary
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  std::string id;
  int64_t created = 0;
};

int64_t estimate_tokens(size_t chars) { return std::max<int64_t>(1, static_cast<int64_t>((chars + 3) / 4)); }

Resolved resolve(const IncomingCall& call, const Reply& r, int64_t seq, std::string_view id_prefix,
                 std::string_view tool_prefix) {
  Resolved out;
  out.model = r.model.empty() ? (call.model.empty() ? "mock-model" : call.model) : r.model;
  out.text = r.echo ? "echo: " + call.last_user : r.text;
  out.reasoning = r.reasoning;
  out.tool_calls = r.tool_calls;
  for (size_t i = 0; i < out.tool_calls.size(); ++i)
    if (out.tool_calls[i].id.empty())
      out.tool_calls[i].id = std::string(tool_prefix) + std::to_string(seq) + "_" + std::to_string(i);
  out.finish_reason = !r.finish_reason.empty() ? r.finish_reason : (out.tool_calls.empty() ? "stop" : "tool_calls");
  size_t out_chars = out.text.size() + out.reasoning.size();
  for (const auto& tc : out.tool_calls) out_chars += tc.name.size() + tc.arguments_json.size();
  out.prompt_tokens = r.prompt_tokens.value_or(estimate_tokens(call.all_text.size()));
  out.completion_tokens = r.completion_tokens.value_or(estimate_tokens(out_chars));
  out.id = std::string(id_prefix) + std::to_string(seq);
  out.created = clock::now_unix_ms() / 1000;
  return out;
}

// Splits text into a few pieces at spaces (never inside a UTF-8 sequence).
std::vector<std::string> pieces(const std::string& text, size_t words_per_piece = 3) {
  std::vector<std::string> out;
  std::string cur;
  size_t words = 0;
  for (char ch : text) {
    cur += ch;
    if (ch == ' ' && ++words >= words_per_piece) {
      out.push_back(std::move(cur));
      cur.clear();
      words = 0;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

// Splits JSON argument text in two at an ASCII position (for streamed fragments).
std::vector<std::string> halves(const std::string& s) {
  if (s.size() < 4) return {s};
  size_t mid = s.size() / 2;
  while (mid < s.size() && (static_cast<unsigned char>(s[mid]) & 0xC0) == 0x80) ++mid;
  return {s.substr(0, mid), s.substr(mid)};
}

void key(Writer& w, const char* k) { w.Key(k); }
void kv(Writer& w, const char* k, const std::string& v) {
  w.Key(k);
  w.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
}
void kv(Writer& w, const char* k, int64_t v) {
  w.Key(k);
  w.Int64(v);
}
void raw_json(Writer& w, const std::string& text) {
  w.RawValue(text.data(), text.size(), rapidjson::kObjectType);
}

std::string data_event(const rapidjson::StringBuffer& sb) {
  return std::string("data: ") + sb.GetString() + "\n\n";
}
std::string named_event(const char* name, const rapidjson::StringBuffer& sb) {
  return std::string("event: ") + name + "\ndata: " + sb.GetString() + "\n\n";
}

// ---- OpenAI -------------------------------------------------------------------------------

void openai_usage(Writer& w, const Resolved& r) {
  key(w, "usage");
  w.StartObject();
  kv(w, "prompt_tokens", r.prompt_tokens);
  kv(w, "completion_tokens", r.completion_tokens);
  kv(w, "total_tokens", r.prompt_tokens + r.completion_tokens);
  key(w, "prompt_tokens_details");
  w.StartObject();
  kv(w, "cached_tokens", int64_t{0});
  w.EndObject();
  key(w, "completion_tokens_details");
  w.StartObject();
  kv(w, "reasoning_tokens", int64_t{0});
  w.EndObject();
  w.EndObject();
}

void openai_chunk_head(Writer& w, const Resolved& r) {
  kv(w, "id", r.id);
  kv(w, "object", std::string("chat.completion.chunk"));
  kv(w, "created", r.created);
  kv(w, "model", r.model);
}

template <typename F>
std::string openai_delta_event(const Resolved& r, F&& delta, const char* finish_reason) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  openai_chunk_head(w, r);
  key(w, "choices");
  w.StartArray();
  w.StartObject();
  kv(w, "index", int64_t{0});
  key(w, "delta");
  w.StartObject();
  delta(w);
  w.EndObject();
  key(w, "logprobs");
  w.Null();
  key(w, "finish_reason");
  if (finish_reason) w.String(finish_reason);
  else w.Null();
  w.EndObject();
  w.EndArray();
  w.EndObject();
  return data_event(sb);
}

Outgoing render_openai(const IncomingCall& call, const Resolved& r) {
  Outgoing out;
  if (!call.stream) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    kv(w, "id", r.id);
    kv(w, "object", std::string("chat.completion"));
    kv(w, "created", r.created);
    kv(w, "model", r.model);
    key(w, "choices");
    w.StartArray();
    w.StartObject();
    kv(w, "index", int64_t{0});
    kv(w, "finish_reason", r.finish_reason);
    key(w, "logprobs");
    w.Null();
    key(w, "message");
    w.StartObject();
    kv(w, "role", std::string("assistant"));
    key(w, "content");
    if (r.text.empty() && !r.tool_calls.empty()) w.Null();
    else w.String(r.text.data(), static_cast<rapidjson::SizeType>(r.text.size()));
    key(w, "refusal");
    w.Null();
    if (!r.reasoning.empty()) kv(w, "reasoning_content", r.reasoning);
    if (!r.tool_calls.empty()) {
      key(w, "tool_calls");
      w.StartArray();
      for (const auto& tc : r.tool_calls) {
        w.StartObject();
        kv(w, "id", tc.id);
        kv(w, "type", std::string("function"));
        key(w, "function");
        w.StartObject();
        kv(w, "name", tc.name);
        kv(w, "arguments", tc.arguments_json);  // a string on this wire
        w.EndObject();
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    w.EndObject();
    w.EndArray();
    openai_usage(w, r);
    key(w, "system_fingerprint");
    w.Null();
    w.EndObject();
    out.body = sb.GetString();
    return out;
  }
  out.streaming = true;
  out.content_type = "text/event-stream";
  out.events.push_back(openai_delta_event(
      r,
      [](Writer& w) {
        kv(w, "role", std::string("assistant"));
        kv(w, "content", std::string());
      },
      nullptr));
  if (!r.reasoning.empty())
    out.events.push_back(openai_delta_event(r, [&](Writer& w) { kv(w, "reasoning_content", r.reasoning); }, nullptr));
  for (const auto& piece : pieces(r.text))
    out.events.push_back(openai_delta_event(r, [&](Writer& w) { kv(w, "content", piece); }, nullptr));
  for (size_t i = 0; i < r.tool_calls.size(); ++i) {
    const auto& tc = r.tool_calls[i];
    out.events.push_back(openai_delta_event(
        r,
        [&](Writer& w) {
          key(w, "tool_calls");
          w.StartArray();
          w.StartObject();
          kv(w, "index", static_cast<int64_t>(i));
          kv(w, "id", tc.id);
          kv(w, "type", std::string("function"));
          key(w, "function");
          w.StartObject();
          kv(w, "name", tc.name);
          kv(w, "arguments", std::string());
          w.EndObject();
          w.EndObject();
          w.EndArray();
        },
        nullptr));
    for (const auto& frag : halves(tc.arguments_json)) {
      out.events.push_back(openai_delta_event(
          r,
          [&](Writer& w) {
            key(w, "tool_calls");
            w.StartArray();
            w.StartObject();
            kv(w, "index", static_cast<int64_t>(i));
            key(w, "function");
            w.StartObject();
            kv(w, "arguments", frag);
            w.EndObject();
            w.EndObject();
            w.EndArray();
          },
          nullptr));
    }
  }
  out.events.push_back(openai_delta_event(r, [](Writer&) {}, r.finish_reason.c_str()));
  if (call.include_usage) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    openai_chunk_head(w, r);
    key(w, "choices");
    w.StartArray();
    w.EndArray();
    openai_usage(w, r);
    w.EndObject();
    out.events.push_back(data_event(sb));
  }
  out.events.push_back("data: [DONE]\n\n");
  return out;
}

// ---- OpenAI Responses ---------------------------------------------------------------------

// "completed", or "incomplete" with the reason the output stopped (max_output_tokens, content_filter).
std::string responses_incomplete_reason(const std::string& internal) {
  if (internal == "length") return "max_output_tokens";
  if (internal == "content_filter") return "content_filter";
  return "";
}

std::string responses_message_id(const Resolved& r) { return "msg_" + r.id.substr(5); }
std::string responses_call_item_id(const Resolved& r, size_t i) {
  return "fc_" + r.id.substr(5) + "_" + std::to_string(i);
}

// Output items in order: an assistant message (when there is text or nothing else), then one
// function_call per tool call.
bool responses_has_message(const Resolved& r) { return !r.text.empty() || r.tool_calls.empty(); }

void responses_text_part(Writer& w, const std::string& text) {
  w.StartObject();
  kv(w, "type", std::string("output_text"));
  kv(w, "text", text);
  key(w, "annotations");
  w.StartArray();
  w.EndArray();
  w.EndObject();
}

void responses_message_item(Writer& w, const Resolved& r, bool done) {
  w.StartObject();
  kv(w, "type", std::string("message"));
  kv(w, "id", responses_message_id(r));
  kv(w, "role", std::string("assistant"));
  kv(w, "status", std::string(done ? "completed" : "in_progress"));
  key(w, "content");
  w.StartArray();
  if (done) responses_text_part(w, r.text);
  w.EndArray();
  w.EndObject();
}

void responses_call_item(Writer& w, const Resolved& r, size_t i, bool done) {
  const auto& tc = r.tool_calls[i];
  w.StartObject();
  kv(w, "type", std::string("function_call"));
  kv(w, "id", responses_call_item_id(r, i));
  kv(w, "call_id", tc.id);
  kv(w, "name", tc.name);
  kv(w, "arguments", done ? tc.arguments_json : std::string());  // a string on this wire
  kv(w, "status", std::string(done ? "completed" : "in_progress"));
  w.EndObject();
}

// Reasoning goes out as a reasoning item with a summary, ahead of the message.
void responses_reasoning_item(Writer& w, const Resolved& r, bool done) {
  w.StartObject();
  kv(w, "type", std::string("reasoning"));
  kv(w, "id", "rs_" + r.id.substr(5));
  key(w, "summary");
  w.StartArray();
  if (done) {
    w.StartObject();
    kv(w, "type", std::string("summary_text"));
    kv(w, "text", r.reasoning);
    w.EndObject();
  }
  w.EndArray();
  w.EndObject();
}

// The response object; `final` adds the output items, usage and the final status.
void responses_object(Writer& w, const Resolved& r, bool final) {
  const std::string reason = responses_incomplete_reason(r.finish_reason);
  w.StartObject();
  kv(w, "id", r.id);
  kv(w, "object", std::string("response"));
  kv(w, "created_at", r.created);
  kv(w, "status", std::string(!final ? "in_progress" : reason.empty() ? "completed" : "incomplete"));
  key(w, "error");
  w.Null();
  key(w, "incomplete_details");
  if (final && !reason.empty()) {
    w.StartObject();
    kv(w, "reason", reason);
    w.EndObject();
  } else {
    w.Null();
  }
  kv(w, "model", r.model);
  key(w, "output");
  w.StartArray();
  if (final && !r.reasoning.empty()) responses_reasoning_item(w, r, true);
  if (final && responses_has_message(r)) responses_message_item(w, r, true);
  for (size_t i = 0; final && i < r.tool_calls.size(); ++i) responses_call_item(w, r, i, true);
  w.EndArray();
  key(w, "usage");
  if (!final) {
    w.Null();
  } else {
    w.StartObject();
    kv(w, "input_tokens", r.prompt_tokens);
    key(w, "input_tokens_details");
    w.StartObject();
    kv(w, "cached_tokens", int64_t{0});
    w.EndObject();
    kv(w, "output_tokens", r.completion_tokens);
    key(w, "output_tokens_details");
    w.StartObject();
    kv(w, "reasoning_tokens", int64_t{0});
    w.EndObject();
    kv(w, "total_tokens", r.prompt_tokens + r.completion_tokens);
    w.EndObject();
  }
  w.EndObject();
}

// The typed SSE events: created, in_progress, per item added/deltas/done, then completed (or
// incomplete). Every event carries its "type" and a rising "sequence_number"; there is no [DONE].
std::vector<std::string> responses_events(const Resolved& r) {
  std::vector<std::string> events;
  int64_t sequence = 0;
  auto event = [&](const char* type, auto&& body) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    kv(w, "type", std::string(type));
    kv(w, "sequence_number", sequence++);
    body(w);
    w.EndObject();
    events.push_back(named_event(type, sb));
  };
  const bool incomplete = !responses_incomplete_reason(r.finish_reason).empty();
  event("response.created", [&](Writer& w) {
    key(w, "response");
    responses_object(w, r, false);
  });
  event("response.in_progress", [&](Writer& w) {
    key(w, "response");
    responses_object(w, r, false);
  });
  int64_t output_index = 0;
  auto item_event = [&](const char* type, auto&& item) {
    event(type, [&](Writer& w) {
      kv(w, "output_index", output_index);
      key(w, "item");
      item(w);
    });
  };
  if (!r.reasoning.empty()) {
    item_event("response.output_item.added", [&](Writer& w) { responses_reasoning_item(w, r, false); });
    item_event("response.output_item.done", [&](Writer& w) { responses_reasoning_item(w, r, true); });
    ++output_index;
  }
  if (responses_has_message(r)) {
    const std::string item_id = responses_message_id(r);
    auto part_event = [&](const char* type, auto&& body) {
      event(type, [&](Writer& w) {
        kv(w, "item_id", item_id);
        kv(w, "output_index", output_index);
        kv(w, "content_index", int64_t{0});
        body(w);
      });
    };
    item_event("response.output_item.added", [&](Writer& w) { responses_message_item(w, r, false); });
    part_event("response.content_part.added", [&](Writer& w) {
      key(w, "part");
      responses_text_part(w, "");
    });
    for (const auto& piece : pieces(r.text)) {
      part_event("response.output_text.delta", [&](Writer& w) {
        kv(w, "delta", piece);
        key(w, "logprobs");
        w.StartArray();
        w.EndArray();
      });
    }
    part_event("response.output_text.done", [&](Writer& w) {
      kv(w, "text", r.text);
      key(w, "logprobs");
      w.StartArray();
      w.EndArray();
    });
    part_event("response.content_part.done", [&](Writer& w) {
      key(w, "part");
      responses_text_part(w, r.text);
    });
    item_event("response.output_item.done", [&](Writer& w) { responses_message_item(w, r, true); });
    ++output_index;
  }
  for (size_t i = 0; i < r.tool_calls.size(); ++i, ++output_index) {
    const std::string item_id = responses_call_item_id(r, i);
    item_event("response.output_item.added", [&](Writer& w) { responses_call_item(w, r, i, false); });
    for (const auto& frag : halves(r.tool_calls[i].arguments_json)) {
      event("response.function_call_arguments.delta", [&](Writer& w) {
        kv(w, "item_id", item_id);
        kv(w, "output_index", output_index);
        kv(w, "delta", frag);
      });
    }
    event("response.function_call_arguments.done", [&](Writer& w) {
      kv(w, "item_id", item_id);
      kv(w, "output_index", output_index);
      kv(w, "name", r.tool_calls[i].name);
      kv(w, "arguments", r.tool_calls[i].arguments_json);
    });
    item_event("response.output_item.done", [&](Writer& w) { responses_call_item(w, r, i, true); });
  }
  event(incomplete ? "response.incomplete" : "response.completed", [&](Writer& w) {
    key(w, "response");
    responses_object(w, r, true);
  });
  return events;
}

Outgoing render_responses(const IncomingCall& call, const Resolved& r) {
  Outgoing out;
  if (!call.stream) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    responses_object(w, r, true);
    out.body = sb.GetString();
    return out;
  }
  out.streaming = true;
  out.content_type = "text/event-stream";
  out.events = responses_events(r);
  return out;
}

// ---- Anthropic ----------------------------------------------------------------------------

std::string anthropic_stop_reason(const std::string& internal) {
  if (internal == "stop") return "end_turn";
  if (internal == "length") return "max_tokens";
  if (internal == "tool_calls") return "tool_use";
  if (internal == "content_filter") return "refusal";
  return internal;
}

Outgoing render_anthropic(const IncomingCall& call, const Resolved& r) {
  Outgoing out;
  const std::string stop = anthropic_stop_reason(r.finish_reason);
  if (!call.stream) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    kv(w, "id", r.id);
    kv(w, "type", std::string("message"));
    kv(w, "role", std::string("assistant"));
    kv(w, "model", r.model);
    key(w, "content");
    w.StartArray();
    if (!r.reasoning.empty()) {
      w.StartObject();
      kv(w, "type", std::string("thinking"));
      kv(w, "thinking", r.reasoning);
      kv(w, "signature", std::string("mock-signature"));
      w.EndObject();
    }
    if (!r.text.empty() || r.tool_calls.empty()) {
      w.StartObject();
      kv(w, "type", std::string("text"));
      kv(w, "text", r.text);
      w.EndObject();
    }
    for (const auto& tc : r.tool_calls) {
      w.StartObject();
      kv(w, "type", std::string("tool_use"));
      kv(w, "id", tc.id);
      kv(w, "name", tc.name);
      key(w, "input");
      raw_json(w, tc.arguments_json);  // an object on this wire
      w.EndObject();
    }
    w.EndArray();
    kv(w, "stop_reason", stop);
    key(w, "stop_sequence");
    w.Null();
    key(w, "usage");
    w.StartObject();
    kv(w, "input_tokens", r.prompt_tokens);
    kv(w, "output_tokens", r.completion_tokens);
    kv(w, "cache_creation_input_tokens", int64_t{0});
    kv(w, "cache_read_input_tokens", int64_t{0});
    w.EndObject();
    w.EndObject();
    out.body = sb.GetString();
    return out;
  }
  out.streaming = true;
  out.content_type = "text/event-stream";
  auto event = [&](const char* name, auto&& body) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    kv(w, "type", std::string(name));
    body(w);
    w.EndObject();
    out.events.push_back(named_event(name, sb));
  };
  event("message_start", [&](Writer& w) {
    key(w, "message");
    w.StartObject();
    kv(w, "id", r.id);
    kv(w, "type", std::string("message"));
    kv(w, "role", std::string("assistant"));
    kv(w, "model", r.model);
    key(w, "content");
    w.StartArray();
    w.EndArray();
    key(w, "stop_reason");
    w.Null();
    key(w, "stop_sequence");
    w.Null();
    key(w, "usage");
    w.StartObject();
    kv(w, "input_tokens", r.prompt_tokens);
    kv(w, "output_tokens", int64_t{1});
    w.EndObject();
    w.EndObject();
  });
  int64_t index = 0;
  auto block = [&](auto&& start_block, const std::vector<std::string>& deltas, auto&& delta_body) {
    event("content_block_start", [&](Writer& w) {
      kv(w, "index", index);
      key(w, "content_block");
      w.StartObject();
      start_block(w);
      w.EndObject();
    });
    if (index == 0) event("ping", [](Writer&) {});
    for (const auto& d : deltas) {
      event("content_block_delta", [&](Writer& w) {
        kv(w, "index", index);
        key(w, "delta");
        w.StartObject();
        delta_body(w, d);
        w.EndObject();
      });
    }
    event("content_block_stop", [&](Writer& w) { kv(w, "index", index); });
    ++index;
  };
  if (!r.reasoning.empty()) {
    block(
        [](Writer& w) {
          kv(w, "type", std::string("thinking"));
          kv(w, "thinking", std::string());
        },
        pieces(r.reasoning),
        [](Writer& w, const std::string& d) {
          kv(w, "type", std::string("thinking_delta"));
          kv(w, "thinking", d);
        });
  }
  if (!r.text.empty() || r.tool_calls.empty()) {
    block(
        [](Writer& w) {
          kv(w, "type", std::string("text"));
          kv(w, "text", std::string());
        },
        pieces(r.text),
        [](Writer& w, const std::string& d) {
          kv(w, "type", std::string("text_delta"));
          kv(w, "text", d);
        });
  }
  for (const auto& tc : r.tool_calls) {
    block(
        [&](Writer& w) {
          kv(w, "type", std::string("tool_use"));
          kv(w, "id", tc.id);
          kv(w, "name", tc.name);
          key(w, "input");
          w.StartObject();
          w.EndObject();
        },
        halves(tc.arguments_json),
        [](Writer& w, const std::string& d) {
          kv(w, "type", std::string("input_json_delta"));
          kv(w, "partial_json", d);
        });
  }
  event("message_delta", [&](Writer& w) {
    key(w, "delta");
    w.StartObject();
    kv(w, "stop_reason", stop);
    key(w, "stop_sequence");
    w.Null();
    w.EndObject();
    key(w, "usage");
    w.StartObject();
    kv(w, "output_tokens", r.completion_tokens);
    w.EndObject();
  });
  event("message_stop", [](Writer&) {});
  return out;
}

// ---- Gemini -------------------------------------------------------------------------------

std::string gemini_finish(const std::string& internal) {
  if (internal == "stop" || internal == "tool_calls") return "STOP";
  if (internal == "length") return "MAX_TOKENS";
  if (internal == "content_filter") return "SAFETY";
  std::string up = internal;
  for (auto& ch : up) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  return up;
}

void gemini_usage(Writer& w, const Resolved& r) {
  key(w, "usageMetadata");
  w.StartObject();
  kv(w, "promptTokenCount", r.prompt_tokens);
  kv(w, "candidatesTokenCount", r.completion_tokens);
  kv(w, "totalTokenCount", r.prompt_tokens + r.completion_tokens);
  kv(w, "thoughtsTokenCount", int64_t{0});
  kv(w, "cachedContentTokenCount", int64_t{0});
  w.EndObject();
}

// One GenerateContentResponse; `parts` writes the parts array content.
template <typename F>
std::string gemini_response(const Resolved& r, F&& parts, bool final_chunk) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "candidates");
  w.StartArray();
  w.StartObject();
  key(w, "content");
  w.StartObject();
  kv(w, "role", std::string("model"));
  key(w, "parts");
  w.StartArray();
  parts(w);
  w.EndArray();
  w.EndObject();
  kv(w, "index", int64_t{0});
  if (final_chunk) kv(w, "finishReason", gemini_finish(r.finish_reason));
  w.EndObject();
  w.EndArray();
  if (final_chunk) gemini_usage(w, r);
  kv(w, "modelVersion", r.model);
  kv(w, "responseId", r.id);
  w.EndObject();
  return sb.GetString();
}

void gemini_call_part(Writer& w, const ReplyToolCall& tc) {
  w.StartObject();
  key(w, "functionCall");
  w.StartObject();
  kv(w, "name", tc.name);
  key(w, "args");
  raw_json(w, tc.arguments_json);
  w.EndObject();
  w.EndObject();
}

Outgoing render_gemini(const IncomingCall& call, const Resolved& r) {
  Outgoing out;
  auto text_part = [](Writer& w, const std::string& text, bool thought) {
    w.StartObject();
    kv(w, "text", text);
    if (thought) {
      key(w, "thought");
      w.Bool(true);
    }
    w.EndObject();
  };
  if (!call.stream) {
    out.body = gemini_response(
        r,
        [&](Writer& w) {
          if (!r.reasoning.empty()) text_part(w, r.reasoning, true);
          if (!r.text.empty() || r.tool_calls.empty()) text_part(w, r.text, false);
          for (const auto& tc : r.tool_calls) gemini_call_part(w, tc);
        },
        true);
    return out;
  }
  out.streaming = true;
  out.content_type = "text/event-stream";
  std::vector<std::string> text_pieces = pieces(r.text);
  if (!r.reasoning.empty())
    out.events.push_back("data: " + gemini_response(r, [&](Writer& w) { text_part(w, r.reasoning, true); }, false) +
                         "\n\n");
  // The last chunk carries the tool calls (or the last text piece), finishReason and usage.
  std::string last_text = r.tool_calls.empty() && !text_pieces.empty() ? text_pieces.back() : "";
  if (r.tool_calls.empty() && !text_pieces.empty()) text_pieces.pop_back();
  for (const auto& p : text_pieces)
    out.events.push_back("data: " + gemini_response(r, [&](Writer& w) { text_part(w, p, false); }, false) + "\n\n");
  out.events.push_back("data: " +
                       gemini_response(
                           r,
                           [&](Writer& w) {
                             if (r.tool_calls.empty()) text_part(w, last_text, false);
                             for (const auto& tc : r.tool_calls) gemini_call_part(w, tc);
                           },
                           true) +
                       "\n\n");
  return out;
}

// ---- errors -------------------------------------------------------------------------------

std::string openai_error_body(int status, const std::string& message) {
  std::string type = "invalid_request_error", code;
  if (status == 401) code = "invalid_api_key";
  else if (status == 404) code = "model_not_found";
  else if (status == 429) type = "requests", code = "rate_limit_exceeded";
  else if (status == 503 || status == 529) type = "server_error", code = "server_is_overloaded";
  else if (status >= 500) type = "server_error";
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "error");
  w.StartObject();
  kv(w, "message", message);
  kv(w, "type", type);
  key(w, "param");
  w.Null();
  key(w, "code");
  if (code.empty()) w.Null();
  else w.String(code.c_str());
  w.EndObject();
  w.EndObject();
  return sb.GetString();
}

std::string anthropic_error_type(int status) {
  switch (status) {
    case 400: return "invalid_request_error";
    case 401: return "authentication_error";
    case 402: return "billing_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 529: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

std::string anthropic_error_json(int status, const std::string& message, int64_t seq, bool with_request_id) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  kv(w, "type", std::string("error"));
  key(w, "error");
  w.StartObject();
  kv(w, "type", anthropic_error_type(status));
  kv(w, "message", message);
  w.EndObject();
  if (with_request_id) kv(w, "request_id", "req_mock_" + std::to_string(seq));
  w.EndObject();
  return sb.GetString();
}

std::string gemini_status(int status) {
  switch (status) {
    case 400: return "INVALID_ARGUMENT";
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 504: return "DEADLINE_EXCEEDED";
    default: return status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
  }
}

std::string gemini_error_json(int status, const std::string& message, double retry_after) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  key(w, "error");
  w.StartObject();
  kv(w, "code", int64_t{status});
  kv(w, "message", message);
  kv(w, "status", gemini_status(status));
  if (retry_after >= 0) {
    key(w, "details");
    w.StartArray();
    w.StartObject();
    kv(w, "@type", std::string("type.googleapis.com/google.rpc.RetryInfo"));
    char delay[32];
    std::snprintf(delay, sizeof delay, "%gs", retry_after);
    kv(w, "retryDelay", std::string(delay));
    w.EndObject();
    w.EndArray();
  }
  w.EndObject();
  w.EndObject();
  return sb.GetString();
}

}  // namespace

Outgoing render_reply(const IncomingCall& call, const Reply& reply, int64_t seq) {
  switch (call.wire) {
    case Wire::kOpenAI: return render_openai(call, resolve(call, reply, seq, "chatcmpl-mock", "call_"));
    case Wire::kOpenAIResponses: return render_responses(call, resolve(call, reply, seq, "resp_mock_", "call_"));
    case Wire::kAnthropic: return render_anthropic(call, resolve(call, reply, seq, "msg_mock_", "toolu_mock_"));
    case Wire::kGemini: return render_gemini(call, resolve(call, reply, seq, "resp-mock-", "call_"));
  }
  return {};
}

Outgoing render_error(Wire wire, int status, std::string message, double retry_after_seconds, bool retry_after_in_ms,
                      int64_t seq) {
  Outgoing out;
  out.status = status;
  if (message.empty()) {
    if (status == 429) message = "Rate limit reached for requests (mock-llm).";
    else if (status == 529 || status == 503) message = "Overloaded";
    else if (status >= 500) message = "The server had an error while processing your request (mock-llm).";
    else message = "mock-llm: request rejected with HTTP " + std::to_string(status);
    if (status == 429 && retry_after_seconds >= 0) {
      char buf[64];
      std::snprintf(buf, sizeof buf, " Please try again in %gs.", retry_after_seconds);
      message += buf;
    }
  }
  switch (wire) {
    case Wire::kOpenAI:
    case Wire::kOpenAIResponses: out.body = openai_error_body(status, message); break;
    case Wire::kAnthropic: out.body = anthropic_error_json(status, message, seq, true); break;
    case Wire::kGemini: out.body = gemini_error_json(status, message, retry_after_seconds); break;
  }
  // Gemini puts the delay in the body only (RetryInfo); the others use headers.
  if (retry_after_seconds >= 0 && wire != Wire::kGemini) {
    if (retry_after_in_ms) {
      out.headers.emplace_back("retry-after-ms", std::to_string(std::llround(retry_after_seconds * 1000.0)));
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%g", retry_after_seconds);
      out.headers.emplace_back("retry-after", buf);
    }
  }
  if (wire == Wire::kAnthropic) out.headers.emplace_back("request-id", "req_mock_" + std::to_string(seq));
  else if (wire == Wire::kOpenAI || wire == Wire::kOpenAIResponses)
    out.headers.emplace_back("x-request-id", "req_mock_" + std::to_string(seq));
  return out;
}

std::string render_stream_error_event(Wire wire, std::string message) {
  if (message.empty()) message = "Overloaded";
  switch (wire) {
    case Wire::kOpenAI: return "data: " + openai_error_body(500, message) + "\n\n";
    case Wire::kOpenAIResponses: {  // the Responses API's stream error event
      rapidjson::StringBuffer sb;
      Writer w(sb);
      w.StartObject();
      kv(w, "type", std::string("error"));
      kv(w, "code", std::string("server_error"));
      kv(w, "message", message);
      key(w, "param");
      w.Null();
      kv(w, "sequence_number", int64_t{0});
      w.EndObject();
      return named_event("error", sb);
    }
    case Wire::kAnthropic: return "event: error\ndata: " + anthropic_error_json(529, message, 0, false) + "\n\n";
    case Wire::kGemini: return "data: " + gemini_error_json(500, message, -1) + "\n\n";
  }
  return {};
}

}  // namespace atlas::mock
