#include <cstdlib>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::llm {

Result<WireKind> wire_for_provider(std::string_view p) {
  if (p == "openai" || p == "azure-openai" || p == "azure" || p == "xai" || p == "vllm" || p == "ollama" ||
      p == "llamacpp" || p == "llama.cpp" || p == "tgi" || p == "openai-compatible")
    return WireKind::kOpenAI;
  if (p == "anthropic") return WireKind::kAnthropic;
  if (p == "gemini" || p == "google") return WireKind::kGemini;
  return invalid_argument("unknown model provider \"" + std::string(p) +
                          "\"; use openai (also for vLLM, Ollama, llama.cpp, TGI with api_base), azure-openai, xai, "
                          "anthropic or gemini");
}

std::string_view wire_kind_name(WireKind w) {
  switch (w) {
    case WireKind::kOpenAI: return "openai";
    case WireKind::kAnthropic: return "anthropic";
    case WireKind::kGemini: return "gemini";
  }
  return "unknown";
}

std::string default_base_url(WireKind w, std::string_view provider, bool* from_env) {
  const char* env_name = w == WireKind::kOpenAI ? "OPENAI_BASE_URL"
                         : w == WireKind::kAnthropic ? "ANTHROPIC_BASE_URL"
                                                     : "GEMINI_BASE_URL";
  const char* env = std::getenv(env_name);
  if (from_env) *from_env = env && *env;
  if (env && *env) return env;
  switch (w) {
    case WireKind::kOpenAI: return provider == "xai" ? "https://api.x.ai/v1" : "https://api.openai.com/v1";
    case WireKind::kAnthropic: return "https://api.anthropic.com";
    case WireKind::kGemini: return "https://generativelanguage.googleapis.com";
  }
  return {};
}

Result<WireHttp> build_request(WireKind w, const config::ModelConfig& model, const Request& request,
                               std::string_view base_url, const std::optional<std::string>& api_key) {
  switch (w) {
    case WireKind::kOpenAI: return detail::openai_build(model, request, base_url, api_key);
    case WireKind::kAnthropic: return detail::anthropic_build(model, request, base_url, api_key);
    case WireKind::kGemini: return detail::gemini_build(model, request, base_url, api_key);
  }
  return internal_error("unknown wire");
}

Result<Response> parse_reply(WireKind w, std::string_view body) {
  switch (w) {
    case WireKind::kOpenAI: return detail::openai_parse_reply(body);
    case WireKind::kAnthropic: return detail::anthropic_parse_reply(body);
    case WireKind::kGemini: return detail::gemini_parse_reply(body);
  }
  return internal_error("unknown wire");
}

Result<Response> parse_stream(WireKind w, std::string_view body) {
  switch (w) {
    case WireKind::kOpenAI: return detail::openai_parse_stream(body);
    case WireKind::kAnthropic: return detail::anthropic_parse_stream(body);
    case WireKind::kGemini: return detail::gemini_parse_stream(body);
  }
  return internal_error("unknown wire");
}

namespace {

// "2s", "1.5s", "500ms" -> seconds; -1 when unparsable.
double parse_duration(const std::string& s) {
  if (s.empty()) return -1;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return -1;
  std::string unit(end);
  if (unit == "ms") return v / 1000.0;
  if (unit == "s" || unit.empty()) return v;
  if (unit == "m") return v * 60.0;
  return -1;
}

}  // namespace

ProviderError parse_error_body(WireKind w, std::string_view body) {
  ProviderError e;
  json::Document doc;
  sdk::parse_json(doc, body, json::kMaxInputDepth);
  if (doc.HasParseError() || !doc.IsObject()) {
    std::string text(body.substr(0, 300));
    e.message = text.empty() ? "(empty body)" : text;
    return e;
  }
  const json::Value* err = json::find(doc, "error");
  if (!err || !err->IsObject()) {
    e.message = json::dump(doc).substr(0, 300);
    return e;
  }
  e.message = json::get_string(*err, "message");
  switch (w) {
    case WireKind::kOpenAI: {
      std::string code = json::get_string(*err, "code");
      std::string type = json::get_string(*err, "type");
      e.kind = !code.empty() ? code : type;
      e.permanent = type == "insufficient_quota" || code == "insufficient_quota";
      break;
    }
    case WireKind::kAnthropic: {
      e.kind = json::get_string(*err, "type");
      if (const json::Value* d = json::find(*err, "details"))
        e.permanent = json::get_string(*d, "error_code") == "enforced_spend_limit_reached";
      break;
    }
    case WireKind::kGemini: {
      e.kind = json::get_string(*err, "status");
      if (const json::Value* details = json::find(*err, "details"); details && details->IsArray()) {
        for (const auto& d : details->GetArray()) {
          if (json::get_string(d, "@type").find("RetryInfo") != std::string::npos)
            e.retry_after_seconds = parse_duration(json::get_string(d, "retryDelay"));
        }
      }
      break;
    }
  }
  return e;
}

std::vector<SseEvent> split_sse(std::string_view body, bool* complete) {
  std::vector<SseEvent> out;
  SseEvent cur;
  bool has_data = false, pending = false;
  size_t pos = 0;
  bool ended_at_boundary = true;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    bool last_line_cut = nl == std::string_view::npos;
    std::string_view line = body.substr(pos, last_line_cut ? std::string_view::npos : nl - pos);
    pos = last_line_cut ? body.size() : nl + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (last_line_cut) {
      ended_at_boundary = false;
      break;  // an unterminated line is not part of any event
    }
    if (line.empty()) {
      if (pending) {
        if (has_data || !cur.event.empty()) out.push_back(std::move(cur));
        cur = SseEvent{};
        has_data = pending = false;
      }
      ended_at_boundary = true;
      continue;
    }
    ended_at_boundary = false;
    pending = true;
    if (line.front() == ':') continue;  // comment
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (field == "event") {
      cur.event = std::string(value);
    } else if (field == "data") {
      if (has_data) cur.data += '\n';
      cur.data += value;
      has_data = true;
    }
  }
  if (complete) *complete = ended_at_boundary && !pending;
  return out;
}

std::string normalise_arguments(std::string_view text) {
  if (text.empty()) return "{}";
  json::Document doc;
  sdk::parse_json(doc, text, json::kMaxInputDepth);
  if (!doc.HasParseError() && doc.IsObject()) return std::string(text);
  return "{\"_raw_arguments\":" + json::quote(text) + "}";
}

}  // namespace atlas::llm
