#include "serve/token_fields.hpp"

namespace atlas::serve {

using json::Value;

namespace {

// A field the client set itself: present and neither false nor null.
bool client_set(const Value& body, const Value& name) {
  auto m = body.FindMember(name);
  return m != body.MemberEnd() && !m->value.IsNull() && !(m->value.IsBool() && !m->value.GetBool());
}

// Removes the added fields from one reply object (a whole reply or a stream chunk); EraseMember
// keeps the other members in their order. True when anything changed.
bool strip_object(Value& reply, const AddedTokenFields& added) {
  bool changed = false;
  if (added.token_ids) changed |= reply.EraseMember("prompt_token_ids");
  auto choices = reply.FindMember("choices");
  if (choices == reply.MemberEnd() || !choices->value.IsArray()) return changed;
  for (Value& choice : choices->value.GetArray()) {
    if (!choice.IsObject()) continue;
    if (added.token_ids) changed |= choice.EraseMember("token_ids");
    auto lp = choice.FindMember("logprobs");
    if (added.logprobs && lp != choice.MemberEnd() && !lp->value.IsNull()) {
      lp->value.SetNull();
      changed = true;
    }
  }
  return changed;
}

// One complete SSE line (with its line ending), rewritten when its data carries an added field.
std::string strip_line(std::string_view line, const AddedTokenFields& added) {
  constexpr std::string_view kData = "data:";
  if (line.substr(0, kData.size()) != kData) return std::string(line);
  size_t start = kData.size();
  if (start < line.size() && line[start] == ' ') ++start;
  size_t end = line.size();
  while (end > start && (line[end - 1] == '\n' || line[end - 1] == '\r')) --end;
  std::string_view payload = line.substr(start, end - start);
  if (payload.empty() || payload.front() != '{') return std::string(line);
  auto doc = json::parse(payload, "upstream stream chunk", json::kMaxInputDepth);
  if (!doc || !doc->IsObject() || !strip_object(*doc, added)) return std::string(line);
  return std::string(line.substr(0, start)) + json::dump(*doc) + std::string(line.substr(end));
}

}  // namespace

AddedTokenFields request_token_fields(Value& body, json::Allocator& a, bool custom_api_base) {
  AddedTokenFields added;
  if (!body.IsObject()) return added;
  const bool client_logprobs = json::get_bool(body, "logprobs");
  json::Document fields = llm::token_request_fields(custom_api_base);
  for (auto& field : fields.GetObject()) {
    const std::string_view name(field.name.GetString(), field.name.GetStringLength());
    // The client's own logprobs request decides how many alternatives it gets.
    if (client_set(body, field.name) || (name == "top_logprobs" && client_logprobs)) continue;
    json::set(body, name, Value(field.value, a), a);
    if (name == "logprobs") added.logprobs = true;
    if (name == "return_token_ids") added.token_ids = true;
  }
  return added;
}

std::string without_added_fields(std::string body, bool streamed, const AddedTokenFields& added) {
  if (!added.any()) return body;
  if (streamed) {
    StreamFieldStripper stripper(added);
    return stripper.feed(body) + stripper.finish();
  }
  auto doc = json::parse(body, "upstream reply", json::kMaxInputDepth);
  if (!doc || !doc->IsObject() || !strip_object(*doc, added)) return body;
  return json::dump(*doc);
}

std::string StreamFieldStripper::feed(std::string_view piece) {
  if (!added_.any()) return std::string(piece);
  partial_.append(piece);
  const size_t last = partial_.rfind('\n');
  if (last == std::string::npos) return {};
  std::string out;
  out.reserve(last + 1);
  size_t pos = 0;
  while (pos <= last) {
    size_t eol = partial_.find('\n', pos);
    out += strip_line(std::string_view(partial_).substr(pos, eol + 1 - pos), added_);
    pos = eol + 1;
  }
  partial_.erase(0, last + 1);
  return out;
}

std::string StreamFieldStripper::finish() {
  std::string rest = strip_line(partial_, added_);
  partial_.clear();
  return rest;
}

void note_token_capture(ClientWire wire, bool capture_tokens, std::string_view sent_body, llm::TokenCapture& tokens) {
  if (!capture_tokens) return;
  tokens.requested = true;
  if (wire == ClientWire::kOpenAIChat) {
    tokens.request_json = llm::capture_request_from_body(sent_body);
    return;
  }
  tokens.text_only_because = "the " + std::string(client_wire_name(wire)) +
                             " wire carries no token ids (the gateway captures them on OpenAI Chat Completions "
                             "calls only; docs/serve.md, \"Token-level capture\")";
}

}  // namespace atlas::serve
