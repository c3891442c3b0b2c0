#include "mock/mock_tokens.hpp"

#include <map>

#include "common/json.hpp"

namespace atlas::mock {

using json::Value;

void append_text_tokens(std::string_view text, std::vector<int64_t>& out) {
  for (unsigned char c : text) out.push_back(static_cast<int64_t>(c));
}

double mock_logprob(int64_t id) {
  return -static_cast<double>(1 + id % 16) / 64.0;
}

namespace {

std::string text_of(const Value* content) {
  if (!content || content->IsNull()) return {};
  if (content->IsString()) return std::string(content->GetString(), content->GetStringLength());
  std::string out;
  if (content->IsArray())
    for (const Value& p : content->GetArray()) out += json::get_string(p, "text");
  return out;
}

// <|tool_call|>{"name":..,"arguments":"<the argument text>"}<|/tool_call|>
void append_call(const std::string& name, const std::string& arguments, std::vector<int64_t>& out) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "name", name, a);
  json::set(d, "arguments", arguments, a);
  out.push_back(kTokCallBegin);
  append_text_tokens(json::dump(d), out);
  out.push_back(kTokCallEnd);
}

int64_t role_token(std::string_view role) {
  if (role == "user") return kTokUser;
  if (role == "assistant") return kTokAssistant;
  if (role == "tool") return kTokTool;
  return kTokSystem;  // system, developer
}

}  // namespace

Result<std::vector<int64_t>> chat_prompt_tokens(const Value& messages, const Value* tools, bool add_generation_prompt) {
  if (!messages.IsArray()) return invalid_argument("\"messages\" must be an array of chat messages");
  std::vector<int64_t> out;
  if (tools && tools->IsArray() && !tools->Empty()) {
    out.push_back(kTokTools);
    append_text_tokens(json::dump(*tools), out);
    out.push_back(kTokEnd);
  }
  for (rapidjson::SizeType i = 0; i < messages.Size(); ++i) {
    const Value& m = messages[i];
    if (!m.IsObject() || !json::find(m, "role") || !m["role"].IsString())
      return invalid_argument("messages[" + std::to_string(i) + "] needs a string \"role\"");
    out.push_back(role_token(m["role"].GetString()));
    append_text_tokens(text_of(json::find(m, "content")), out);
    if (const Value* calls = json::find(m, "tool_calls"); calls && calls->IsArray())
      for (const Value& c : calls->GetArray()) {
        const Value* fn = json::find(c, "function");
        if (!fn) continue;
        const Value* args = json::find(*fn, "arguments");
        append_call(json::get_string(*fn, "name"),
                    args && args->IsString() ? args->GetString() : (args ? json::dump(*args) : "{}"), out);
      }
    out.push_back(kTokEnd);
  }
  if (add_generation_prompt) out.push_back(kTokAssistant);
  return out;
}

namespace {

Value id_array(const std::vector<int64_t>& ids, json::Allocator& a) {
  Value arr(rapidjson::kArrayType);
  for (int64_t id : ids) arr.PushBack(id, a);
  return arr;
}

Value logprobs_object(const std::vector<int64_t>& ids, json::Allocator& a) {
  Value content(rapidjson::kArrayType);
  for (int64_t id : ids) {
    Value e(rapidjson::kObjectType);
    std::string tok = id < 256 ? std::string(1, static_cast<char>(id)) : "<|special_" + std::to_string(id) + "|>";
    // Single bytes of a UTF-8 sequence are not valid JSON text: name them as vLLM's
    // return_tokens_as_token_ids would.
    if (id >= 128 && id < 256) tok = "token_id:" + std::to_string(id);
    e.AddMember("token", json::str(tok, a), a);
    e.AddMember("logprob", mock_logprob(id), a);
    Value top(rapidjson::kArrayType);
    Value t(rapidjson::kObjectType);
    t.AddMember("token", json::str(tok, a), a);
    t.AddMember("logprob", mock_logprob(id), a);
    top.PushBack(t, a);
    e.AddMember("top_logprobs", top, a);
    content.PushBack(e, a);
  }
  Value lp(rapidjson::kObjectType);
  lp.AddMember("content", content, a);
  return lp;
}

}  // namespace

Status add_token_fields(Outgoing& out, std::string_view request_body, const Reply& reply) {
  auto req = json::parse(request_body, "chat request", json::kMaxInputDepth);
  if (!req || !req->IsObject()) return Status::ok();  // parse_incoming already refused it
  const bool want_ids = json::get_bool(*req, "return_token_ids");
  const bool want_logprobs = json::get_bool(*req, "logprobs");
  if (!reply.token_ids || (!want_ids && !want_logprobs)) return Status::ok();
  const Value* messages = json::find(*req, "messages");
  if (!messages) return Status::ok();
  ATLAS_ASSIGN_OR_RETURN(std::vector<int64_t> prompt, chat_prompt_tokens(*messages, json::find(*req, "tools"), true));

  if (!out.streaming) {
    auto doc = json::parse(out.body, "mock reply");
    if (!doc) return doc.status();
    auto& a = doc->GetAllocator();
    Value& choice = (*doc)["choices"][0];
    const Value& msg = choice["message"];
    std::vector<int64_t> completion;
    append_text_tokens(text_of(json::find(msg, "content")), completion);
    if (const Value* calls = json::find(msg, "tool_calls"); calls && calls->IsArray())
      for (const Value& c : calls->GetArray())
        append_call(json::get_string(c["function"], "name"), json::get_string(c["function"], "arguments"), completion);
    if (want_ids) {
      json::set(*doc, "prompt_token_ids", id_array(prompt, a), a);
      json::set(choice, "token_ids", id_array(completion, a), a);
    }
    if (want_logprobs) json::set(choice, "logprobs", logprobs_object(completion, a), a);
    out.body = json::dump(*doc);
    return Status::ok();
  }

  // Streaming: collect the completion from the deltas, then put prompt_token_ids on the first
  // chunk and the completion's ids and logprobs on the chunk that carries finish_reason.
  std::vector<json::Document> chunks(out.events.size());
  std::string content;
  std::map<int64_t, std::pair<std::string, std::string>> calls;  // index -> (name, arguments)
  int first = -1, last = -1;
  for (size_t i = 0; i < out.events.size(); ++i) {
    const std::string& ev = out.events[i];
    if (ev.rfind("data: {", 0) != 0) continue;
    auto d = json::parse(std::string_view(ev).substr(6, ev.size() - 8), "mock chunk");
    if (!d) return d.status();
    chunks[i] = std::move(*d);
    const Value* ch = json::find(chunks[i], "choices");
    if (!ch || !ch->IsArray() || ch->Empty()) continue;
    if (first < 0) first = static_cast<int>(i);
    const Value& c0 = (*ch)[0];
    if (const Value* fr = json::find(c0, "finish_reason"); fr && fr->IsString()) last = static_cast<int>(i);
    const Value* delta = json::find(c0, "delta");
    if (!delta) continue;
    content += json::get_string(*delta, "content");
    if (const Value* tcs = json::find(*delta, "tool_calls"); tcs && tcs->IsArray())
      for (const Value& tc : tcs->GetArray()) {
        auto& slot = calls[json::get_int(tc, "index", 0)];
        if (const Value* fn = json::find(tc, "function")) {
          slot.first += json::get_string(*fn, "name");
          slot.second += json::get_string(*fn, "arguments");
        }
      }
  }
  if (first < 0 || last < 0) return Status::ok();
  std::vector<int64_t> completion;
  append_text_tokens(content, completion);
  for (const auto& [idx, call] : calls) append_call(call.first, call.second, completion);
  auto rewrite = [&](int i) {
    out.events[static_cast<size_t>(i)] = "data: " + json::dump(chunks[static_cast<size_t>(i)]) + "\n\n";
  };
  if (want_ids) {
    json::set(chunks[static_cast<size_t>(first)], "prompt_token_ids",
              id_array(prompt, chunks[static_cast<size_t>(first)].GetAllocator()),
              chunks[static_cast<size_t>(first)].GetAllocator());
    rewrite(first);
  }
  json::Document& fin = chunks[static_cast<size_t>(last)];
  Value& c0 = fin["choices"][0];
  if (want_ids) json::set(c0, "token_ids", id_array(completion, fin.GetAllocator()), fin.GetAllocator());
  if (want_logprobs) json::set(c0, "logprobs", logprobs_object(completion, fin.GetAllocator()), fin.GetAllocator());
  rewrite(last);
  return Status::ok();
}

Result<std::string> tokenize_body(std::string_view request_body, int64_t drift_at) {
  ATLAS_ASSIGN_OR_RETURN(json::Document req, json::parse(request_body, "tokenize request", json::kMaxInputDepth));
  if (!req.IsObject()) return invalid_argument("tokenize request: expected a JSON object");
  std::vector<int64_t> ids;
  if (const Value* messages = json::find(req, "messages")) {
    ATLAS_ASSIGN_OR_RETURN(ids, chat_prompt_tokens(*messages, json::find(req, "tools"),
                                                   json::get_bool(req, "add_generation_prompt", true)));
  } else if (const Value* prompt = json::find(req, "prompt"); prompt && prompt->IsString()) {
    append_text_tokens(std::string_view(prompt->GetString(), prompt->GetStringLength()), ids);
  } else {
    return invalid_argument("tokenize request: give \"messages\" (a chat) or \"prompt\" (a string)");
  }
  if (drift_at >= 0 && static_cast<size_t>(drift_at) < ids.size()) ids[static_cast<size_t>(drift_at)] += 1000;
  json::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  json::set(out, "count", static_cast<int64_t>(ids.size()), a);
  json::set(out, "max_model_len", static_cast<int64_t>(1) << 20, a);
  json::set(out, "tokens", id_array(ids, a), a);
  return json::dump(out);
}

}  // namespace atlas::mock
