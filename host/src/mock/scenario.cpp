#include "mock/scenario.hpp"

#include <fstream>
#include <sstream>

#include "common/json.hpp"

namespace atlas::mock {
namespace {

using json::Value;

std::string where(std::string_view what, std::string_view path) {
  return std::string(what) + ": " + std::string(path);
}

Result<Fault> parse_fault(std::string_view s, std::string_view at) {
  static const std::pair<std::string_view, Fault> kNames[] = {
      {"rate_limit", Fault::kRateLimit},         {"server_error", Fault::kServerError},
      {"overloaded", Fault::kOverloaded},        {"http_error", Fault::kHttpError},
      {"timeout", Fault::kTimeout},              {"malformed_json", Fault::kMalformedJson},
      {"mid_stream_error", Fault::kMidStreamError}, {"drop_connection", Fault::kDropConnection},
  };
  for (const auto& [name, f] : kNames)
    if (name == s) return f;
  return invalid_argument(std::string(at) + ": unknown fault \"" + std::string(s) +
                          "\"; use one of rate_limit, server_error, overloaded, http_error, timeout, "
                          "malformed_json, mid_stream_error, drop_connection");
}

Result<std::regex> compile_regex(const Value& v, std::string_view at) {
  if (!v.IsString()) return invalid_argument(std::string(at) + ": must be a string (an ECMAScript regex)");
  try {
    return std::regex(v.GetString(), std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return invalid_argument(std::string(at) + ": invalid regex \"" + v.GetString() + "\": " + e.what());
  }
}

Status check_keys(const Value& obj, std::initializer_list<std::string_view> allowed, std::string_view at) {
  for (auto it = obj.MemberBegin(); it != obj.MemberEnd(); ++it) {
    std::string_view key(it->name.GetString(), it->name.GetStringLength());
    bool ok = false;
    for (auto a : allowed) ok = ok || a == key;
    if (!ok) {
      std::string list;
      for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return invalid_argument(std::string(at) + ": unknown key \"" + std::string(key) + "\" (allowed: " + list +
                              ")");
    }
  }
  return Status::ok();
}

Result<Reply> parse_reply(const Value& v, const std::string& at) {
  if (!v.IsObject()) return invalid_argument(at + ": a response must be an object");
  ATLAS_RETURN_IF_ERROR(check_keys(v,
                                   {"text", "json", "tool_calls", "reasoning", "echo", "usage", "finish_reason",
                                    "model", "latency_ms", "fault", "status", "retry_after", "retry_after_ms",
                                    "error_message", "hang_ms", "token_ids"},
                                   at));
  Reply r;
  if (const Value* t = json::find(v, "text")) {
    if (!t->IsString()) return invalid_argument(at + ".text: must be a string");
    r.text = t->GetString();
  }
  if (const Value* j = json::find(v, "json")) {
    if (!r.text.empty()) return invalid_argument(at + ": give either \"text\" or \"json\", not both");
    r.text = json::dump(*j);
  }
  if (const Value* tcs = json::find(v, "tool_calls")) {
    if (!tcs->IsArray()) return invalid_argument(at + ".tool_calls: must be an array");
    for (rapidjson::SizeType i = 0; i < tcs->Size(); ++i) {
      const Value& tc = (*tcs)[i];
      std::string tat = at + ".tool_calls[" + std::to_string(i) + "]";
      if (!tc.IsObject() || !json::find(tc, "name") || !tc["name"].IsString())
        return invalid_argument(tat + ": needs \"name\" (string) and optional \"arguments\" (object), \"id\"");
      ReplyToolCall call;
      call.name = tc["name"].GetString();
      call.id = json::get_string(tc, "id");
      if (const Value* a = json::find(tc, "arguments")) {
        if (a->IsString()) {
          auto parsed = json::parse(a->GetString(), tat + ".arguments");
          if (!parsed || !parsed->IsObject())
            return invalid_argument(tat + ".arguments: must be a JSON object (or a string holding one)");
          call.arguments_json = a->GetString();
        } else if (a->IsObject()) {
          call.arguments_json = json::dump(*a);
        } else {
          return invalid_argument(tat + ".arguments: must be a JSON object");
        }
      }
      r.tool_calls.push_back(std::move(call));
    }
  }
  r.reasoning = json::get_string(v, "reasoning");
  r.echo = json::get_bool(v, "echo");
  if (const Value* t = json::find(v, "token_ids")) {
    if (!t->IsBool()) return invalid_argument(at + ".token_ids: must be true or false");
    r.token_ids = t->GetBool();
  }
  if (const Value* u = json::find(v, "usage")) {
    if (!u->IsObject()) return invalid_argument(at + ".usage: must be an object");
    if (json::find(*u, "prompt_tokens")) r.prompt_tokens = json::get_int(*u, "prompt_tokens");
    if (json::find(*u, "completion_tokens")) r.completion_tokens = json::get_int(*u, "completion_tokens");
  }
  r.finish_reason = json::get_string(v, "finish_reason");
  r.model = json::get_string(v, "model");
  if (json::find(v, "latency_ms")) r.latency_ms = static_cast<int>(json::get_int(v, "latency_ms"));
  if (const Value* f = json::find(v, "fault")) {
    if (!f->IsString()) return invalid_argument(at + ".fault: must be a string");
    ATLAS_ASSIGN_OR_RETURN(r.fault, parse_fault(f->GetString(), at + ".fault"));
  }
  r.status = static_cast<int>(json::get_int(v, "status", 0));
  if (r.fault == Fault::kHttpError && (r.status < 400 || r.status > 599))
    return invalid_argument(at + ": fault \"http_error\" needs \"status\" between 400 and 599");
  if (json::find(v, "retry_after")) r.retry_after_seconds = json::get_double(v, "retry_after");
  if (json::find(v, "retry_after_ms")) {
    r.retry_after_seconds = json::get_double(v, "retry_after_ms") / 1000.0;
    r.retry_after_in_ms = true;
  }
  r.error_message = json::get_string(v, "error_message");
  r.hang_ms = static_cast<int>(json::get_int(v, "hang_ms", 60000));
  return r;
}

Result<Match> parse_match(const Value& v, const std::string& at) {
  if (!v.IsObject()) return invalid_argument(at + ": must be an object");
  ATLAS_RETURN_IF_ERROR(check_keys(v,
                                   {"wire", "model", "last_user_contains", "last_user_regex",
                                    "last_message_contains", "system_contains", "system_regex", "any_contains",
                                    "has_tools", "role"},
                                   at));
  Match m;
  m.wire = json::get_string(v, "wire");
  if (!m.wire.empty() && m.wire != "openai" && m.wire != "openai.chat" && m.wire != "openai.responses" &&
      m.wire != "anthropic" && m.wire != "gemini")
    return invalid_argument(at + ".wire: \"" + m.wire +
                            "\" is not one of openai, openai.chat, openai.responses, anthropic, gemini");
  m.model = json::get_string(v, "model");
  m.last_user_contains = json::get_string(v, "last_user_contains");
  m.last_message_contains = json::get_string(v, "last_message_contains");
  m.system_contains = json::get_string(v, "system_contains");
  m.any_contains = json::get_string(v, "any_contains");
  m.role = json::get_string(v, "role");
  if (const Value* r = json::find(v, "last_user_regex")) {
    ATLAS_ASSIGN_OR_RETURN(m.last_user_regex, compile_regex(*r, at + ".last_user_regex"));
  }
  if (const Value* r = json::find(v, "system_regex")) {
    ATLAS_ASSIGN_OR_RETURN(m.system_regex, compile_regex(*r, at + ".system_regex"));
  }
  if (const Value* t = json::find(v, "has_tools")) {
    if (!t->IsBool()) return invalid_argument(at + ".has_tools: must be true or false");
    m.has_tools = t->GetBool();
  }
  return m;
}

Result<Rule> parse_rule(const Value& v, const std::string& at) {
  if (!v.IsObject()) return invalid_argument(at + ": a rule must be an object");
  ATLAS_RETURN_IF_ERROR(check_keys(v, {"name", "match", "response", "responses", "after", "times"}, at));
  Rule rule;
  rule.name = json::get_string(v, "name");
  if (const Value* m = json::find(v, "match")) {
    ATLAS_ASSIGN_OR_RETURN(rule.match, parse_match(*m, at + ".match"));
  }
  const Value* one = json::find(v, "response");
  const Value* many = json::find(v, "responses");
  if ((one == nullptr) == (many == nullptr))
    return invalid_argument(at + ": give exactly one of \"response\" (object) or \"responses\" (array)");
  if (one) {
    ATLAS_ASSIGN_OR_RETURN(Reply r, parse_reply(*one, at + ".response"));
    rule.replies.push_back(std::move(r));
    rule.after = After::kRepeatLast;  // a single response keeps answering (bounded by "times")
  } else {
    if (!many->IsArray() || many->Empty()) return invalid_argument(at + ".responses: must be a non-empty array");
    for (rapidjson::SizeType i = 0; i < many->Size(); ++i) {
      ATLAS_ASSIGN_OR_RETURN(Reply r, parse_reply((*many)[i], at + ".responses[" + std::to_string(i) + "]"));
      rule.replies.push_back(std::move(r));
    }
  }
  if (const Value* a = json::find(v, "after")) {
    std::string s = a->IsString() ? a->GetString() : "";
    if (s == "fall_through") rule.after = After::kFallThrough;
    else if (s == "repeat_last") rule.after = After::kRepeatLast;
    else if (s == "cycle") rule.after = After::kCycle;
    else return invalid_argument(at + ".after: must be \"fall_through\", \"repeat_last\" or \"cycle\"");
  }
  if (const Value* t = json::find(v, "times")) {
    if (!t->IsInt() || t->GetInt() < 1) return invalid_argument(at + ".times: must be an integer >= 1");
    rule.times = t->GetInt();
  }
  return rule;
}

}  // namespace

std::string_view wire_name(Wire w) {
  switch (w) {
    case Wire::kOpenAI: return "openai";
    case Wire::kAnthropic: return "anthropic";
    case Wire::kGemini: return "gemini";
    case Wire::kOpenAIResponses: return "openai.responses";
  }
  return "unknown";
}

bool wire_matches(std::string_view rule_wire, Wire w) {
  if (rule_wire.empty()) return true;
  if (rule_wire == "openai") return w == Wire::kOpenAI || w == Wire::kOpenAIResponses;
  if (rule_wire == "openai.chat") return w == Wire::kOpenAI;
  return rule_wire == wire_name(w);
}

std::string_view fault_name(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kRateLimit: return "rate_limit";
    case Fault::kServerError: return "server_error";
    case Fault::kOverloaded: return "overloaded";
    case Fault::kHttpError: return "http_error";
    case Fault::kTimeout: return "timeout";
    case Fault::kMalformedJson: return "malformed_json";
    case Fault::kMidStreamError: return "mid_stream_error";
    case Fault::kDropConnection: return "drop_connection";
  }
  return "unknown";
}

Result<Scenario> parse_scenario(std::string_view json_text, std::string_view what) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(json_text, what));
  if (!doc.IsObject()) return invalid_argument(std::string(what) + ": the scenario must be a JSON object");
  ATLAS_RETURN_IF_ERROR(check_keys(doc, {"default", "latency_ms", "models", "rules", "description", "tokenizer"}, what));
  Scenario s;
  std::string def = json::get_string(doc, "default", "echo");
  if (def != "echo" && def != "error")
    return invalid_argument(where(what, "default") + ": must be \"echo\" or \"error\"");
  s.default_echo = def == "echo";
  s.latency_ms = static_cast<int>(json::get_int(doc, "latency_ms", 0));
  if (s.latency_ms < 0) return invalid_argument(where(what, "latency_ms") + ": must be >= 0");
  if (const Value* tok = json::find(doc, "tokenizer")) {
    if (!tok->IsObject()) return invalid_argument(where(what, "tokenizer") + ": must be an object {\"drift_at\": N}");
    ATLAS_RETURN_IF_ERROR(check_keys(*tok, {"drift_at"}, where(what, "tokenizer")));
    const Value* d = json::find(*tok, "drift_at");
    if (d && (!d->IsInt64() || d->GetInt64() < 0))
      return invalid_argument(where(what, "tokenizer.drift_at") + ": must be a token position >= 0");
    if (d) s.tokenize_drift_at = d->GetInt64();
  }
  if (const Value* models = json::find(doc, "models")) {
    if (!models->IsArray()) return invalid_argument(where(what, "models") + ": must be an array of strings");
    s.models.clear();
    for (const auto& m : models->GetArray())
      if (m.IsString()) s.models.emplace_back(m.GetString());
  }
  if (const Value* rules = json::find(doc, "rules")) {
    if (!rules->IsArray()) return invalid_argument(where(what, "rules") + ": must be an array");
    for (rapidjson::SizeType i = 0; i < rules->Size(); ++i) {
      ATLAS_ASSIGN_OR_RETURN(Rule r, parse_rule((*rules)[i], where(what, "rules[" + std::to_string(i) + "]")));
      if (!r.match.model.empty() && r.match.model.back() != '*') s.models.push_back(r.match.model);
      s.rules.push_back(std::move(r));
    }
  }
  return s;
}

Result<Scenario> load_scenario_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return not_found("mock scenario file " + path + " cannot be read; check the path");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_scenario(ss.str(), "mock scenario " + path);
}

}  // namespace atlas::mock
