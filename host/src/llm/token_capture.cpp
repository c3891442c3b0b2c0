#include "llm/token_capture.hpp"

#include <cmath>
#include <cstdlib>

#include "common/json.hpp"

namespace atlas::llm {

using json::Value;

bool TokenCapture::token_exact() const {
  return text_only_because.empty() && prompt_ids && completion_ids && logprobs &&
         logprobs->size() == completion_ids->size() && !prompt_ids->empty();
}

std::string TokenCapture::text_only_reason() const {
  if (token_exact()) return {};
  if (!text_only_because.empty()) return text_only_because;
  if (!requested) return "token capture was not requested (capture_tokens is off for this model)";
  std::string missing;
  auto add = [&](const char* what) { missing += (missing.empty() ? "" : ", ") + std::string(what); };
  if (!prompt_ids || prompt_ids->empty()) add("prompt_token_ids");
  if (!completion_ids) add("token_ids");
  if (!logprobs) add("logprobs");
  if (!missing.empty())
    return "the server's reply carried no " + missing +
           " (vLLM returns them with return_token_ids and logprobs; docs/llm-model.md, \"Token-level capture\")";
  return "the server returned " + std::to_string(logprobs->size()) + " logprobs for " +
         std::to_string(completion_ids->size()) + " completion tokens";
}

namespace {

// "token_id:123" (vLLM's return_tokens_as_token_ids) -> 123.
std::optional<int64_t> id_from_token_string(const Value& entry) {
  const Value* tok = json::find(entry, "token");
  if (!tok || !tok->IsString()) return std::nullopt;
  std::string_view s(tok->GetString(), tok->GetStringLength());
  constexpr std::string_view kPrefix = "token_id:";
  if (s.substr(0, kPrefix.size()) != kPrefix || s.size() == kPrefix.size()) return std::nullopt;
  std::string digits(s.substr(kPrefix.size()));
  char* end = nullptr;
  long long v = std::strtoll(digits.c_str(), &end, 10);
  if (!end || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(v);
}

// Appends the integers of `arr` to `out`; false when an element is not an integer.
bool append_ids(const Value& arr, std::vector<int64_t>& out) {
  for (const Value& v : arr.GetArray()) {
    if (!v.IsInt64()) return false;
    out.push_back(v.GetInt64());
  }
  return true;
}

// The integers of a stored id array; nullopt when it is absent, null or not all integers.
std::optional<std::vector<int64_t>> stored_ids(const Value& stored, const char* key) {
  const Value* v = json::find(stored, key);
  if (!v || !v->IsArray()) return std::nullopt;
  std::vector<int64_t> ids;
  if (!append_ids(*v, ids)) return std::nullopt;
  return ids;
}

}  // namespace

json::Document token_request_fields(bool custom_api_base) {
  // The sampled token's logprob per position (top_logprobs 1: llama.cpp server sends no
  // probabilities with 0), and vLLM's token ids (docs/llm-model.md, "Token-level capture").
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  d.AddMember("logprobs", true, a);
  d.AddMember("top_logprobs", 1, a);
  if (custom_api_base) d.AddMember("return_token_ids", true, a);
  return d;
}

void read_openai_tokens(const Value& reply, bool chunk, TokenCapture& out) {
  if (const Value* p = json::find(reply, "prompt_token_ids"); p && p->IsArray()) {
    std::vector<int64_t> ids;
    if (append_ids(*p, ids)) out.prompt_ids = std::move(ids);
  }
  const Value* choices = json::find(reply, "choices");
  if (!choices || !choices->IsArray() || choices->Empty()) return;
  const Value* choice = nullptr;
  for (const Value& c : choices->GetArray())
    if (json::get_int(c, "index", 0) == 0) choice = &c;
  if (!choice) return;
  if (const Value* t = json::find(*choice, "token_ids"); t && t->IsArray()) {
    std::vector<int64_t> ids = chunk && out.completion_ids ? *out.completion_ids : std::vector<int64_t>{};
    if (append_ids(*t, ids)) out.completion_ids = std::move(ids);
  }
  const Value* lp = json::find(*choice, "logprobs");
  const Value* content = lp && lp->IsObject() ? json::find(*lp, "content") : nullptr;
  if (!content || !content->IsArray()) return;
  std::vector<double> values = chunk && out.logprobs ? *out.logprobs : std::vector<double>{};
  std::vector<int64_t> entry_ids;
  bool ids_complete = true;
  for (const Value& e : content->GetArray()) {
    const Value* v = json::find(e, "logprob");
    double x = v && v->IsNumber() ? v->GetDouble() : kLogprobFloor;
    values.push_back(std::isfinite(x) ? x : kLogprobFloor);
    const Value* id = json::find(e, "id");
    if (id && id->IsInt64()) {
      entry_ids.push_back(id->GetInt64());
    } else if (auto parsed = id_from_token_string(e)) {
      entry_ids.push_back(*parsed);
    } else {
      ids_complete = false;
    }
  }
  out.logprobs = std::move(values);
  // No token_ids field: the ids carried by the logprobs entries (llama.cpp server's `id`, vLLM's
  // return_tokens_as_token_ids strings) are the completion ids when every entry has one.
  if (ids_complete && !entry_ids.empty() && !json::find(*choice, "token_ids")) {
    std::vector<int64_t> ids = chunk && out.completion_ids ? *out.completion_ids : std::vector<int64_t>{};
    ids.insert(ids.end(), entry_ids.begin(), entry_ids.end());
    out.completion_ids = std::move(ids);
  }
}

std::string capture_request_from_body(std::string_view openai_body) {
  auto doc = json::parse(openai_body, "openai request", json::kMaxDepth);
  if (!doc || !doc->IsObject()) return {};
  json::Document out(rapidjson::kObjectType);
  auto& a = out.GetAllocator();
  if (const Value* m = json::find(*doc, "messages")) out.AddMember("messages", Value(*m, a), a);
  if (const Value* t = json::find(*doc, "tools")) out.AddMember("tools", Value(*t, a), a);
  return json::dump(out);
}

void write_token_capture(rapidjson::Writer<rapidjson::StringBuffer>& w, const TokenCapture& t) {
  w.StartObject();
  w.Key("capture");
  w.String(t.token_exact() ? "token_exact" : "text_only");
  if (!t.token_exact()) {
    w.Key("reason");
    std::string reason = t.text_only_reason();
    w.String(reason.data(), static_cast<rapidjson::SizeType>(reason.size()));
  }
  auto ids = [&w](const char* key, const std::optional<std::vector<int64_t>>& v) {
    w.Key(key);
    if (!v) return static_cast<void>(w.Null());
    w.StartArray();
    for (int64_t id : *v) w.Int64(id);
    w.EndArray();
  };
  ids("prompt_ids", t.prompt_ids);
  ids("completion_ids", t.completion_ids);
  w.Key("logprobs");
  if (t.logprobs) {
    w.StartArray();
    for (double x : *t.logprobs) w.Double(std::isfinite(x) ? x : kLogprobFloor);
    w.EndArray();
  } else {
    w.Null();
  }
  w.Key("request");
  if (t.request_json.empty()) {
    w.Null();
  } else {
    w.RawValue(t.request_json.data(), t.request_json.size(), rapidjson::kObjectType);
  }
  w.EndObject();
}

std::string token_capture_json(const TokenCapture& t) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  write_token_capture(w, t);
  return std::string(sb.GetString(), sb.GetSize());
}

TokenCapture read_token_capture(const Value& stored) {
  TokenCapture t;
  t.requested = true;
  t.prompt_ids = stored_ids(stored, "prompt_ids");
  t.completion_ids = stored_ids(stored, "completion_ids");
  if (const Value* lp = json::find(stored, "logprobs"); lp && lp->IsArray()) {
    std::vector<double> values;
    for (const Value& x : lp->GetArray()) values.push_back(x.IsNumber() ? x.GetDouble() : kLogprobFloor);
    t.logprobs = std::move(values);
  }
  if (const Value* req = json::find(stored, "request"); req && req->IsObject()) t.request_json = json::dump(*req);
  if (json::get_string(stored, "capture") != "token_exact")
    t.text_only_because = json::get_string(stored, "reason", "the stored capture was text-only");
  return t;
}

}  // namespace atlas::llm
