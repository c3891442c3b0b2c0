// Shared body of the openai, anthropic and gemini adapters. They are thin: each maps the
// adapter request (docs/plugin-contracts.md "adapter") onto the host's LLM request
// (docs/llm-model.md) and calls the host's llm_complete service, which owns the provider
// wire formats, retries, accounting and secret redaction. The three differ only in the
// provider an inline model block defaults to.
#ifndef ATLAS_LLM_ADAPTER_HPP
#define ATLAS_LLM_ADAPTER_HPP

#include <atlas/sdk.hpp>

#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace llm_adapter {

using rapidjson::Document;
using rapidjson::Value;

// Config schema shared by the three adapters. Either model_ref (a model block the host
// config defines: "student" by default) or an inline block (model + provider fields). API
// keys are never literal: api_key_env names the variable.
inline constexpr const char* kSchema = R"json({
  "type": "object",
  "properties": {
    "model_ref": {"type": "string", "minLength": 1, "default": "student",
                  "description": "a model block of the host config: student, teacher, ..."},
    "model": {"type": "string", "minLength": 1, "description": "inline model name (instead of model_ref)"},
    "provider": {"type": "string", "enum": ["openai", "anthropic", "gemini"]},
    "api_key_env": {"type": "string"},
    "api_base": {"type": "string"},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "max_output_tokens": {"type": "integer", "minimum": 1},
    "timeout_seconds": {"type": "number", "minimum": 0.01},
    "stream": {"type": "boolean", "default": false}
  },
  "additionalProperties": false
})json";

inline std::string dump(const Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

class LlmAdapter : public atlas::sdk::Adapter {
 public:
  LlmAdapter(const atlas::sdk::Host& host, std::string_view config_json, const char* name, const char* provider)
      : host_(host), name_(name) {
    Document cfg;
    atlas::sdk::parse_json(cfg, config_json);
    if (cfg.HasParseError() || !cfg.IsObject()) fail(ATLAS_INVALID_ARGUMENT, "config must be a JSON object");
    for (const auto& m : cfg.GetObject()) {
      std::string key = m.name.GetString();
      if (key == "api_key")
        fail(ATLAS_INVALID_ARGUMENT, "literal API keys are not accepted; set api_key_env to the name of the "
                                     "environment variable that holds the key");
    }
    auto text = [&](const char* key, std::string fallback) {
      auto it = cfg.FindMember(key);
      return it != cfg.MemberEnd() && it->value.IsString() ? std::string(it->value.GetString()) : fallback;
    };
    model_ref_ = text("model_ref", "student");
    auto model = cfg.FindMember("model");
    if (model != cfg.MemberEnd()) {
      if (!model->value.IsString() || model->value.GetStringLength() == 0)
        fail(ATLAS_INVALID_ARGUMENT, "'model' must be a model name such as \"gpt-4o-mini\"");
      if (cfg.HasMember("model_ref"))
        fail(ATLAS_INVALID_ARGUMENT, "give either model_ref (a model block of the config) or an inline model, not both");
      inline_model_.SetObject();
      auto& a = inline_model_.GetAllocator();
      std::string prov = text("provider", provider);
      inline_model_.AddMember("provider", Value(prov.c_str(), a), a);
      for (const char* key : {"model", "api_key_env", "api_base", "temperature", "max_output_tokens", "timeout_seconds"}) {
        auto it = cfg.FindMember(key);
        if (it == cfg.MemberEnd()) continue;
        Value v;
        v.CopyFrom(it->value, a);
        inline_model_.AddMember(Value(key, a), v, a);
      }
    } else {
      for (const char* key : {"provider", "api_key_env", "api_base", "timeout_seconds"})
        if (cfg.HasMember(key))
          fail(ATLAS_INVALID_ARGUMENT, std::string("'") + key +
                                           "' only applies to an inline model block; add 'model' or set it in the "
                                           "config's model block that model_ref names");
      if (auto t = cfg.FindMember("temperature"); t != cfg.MemberEnd() && t->value.IsNumber())
        temperature_ = t->value.GetDouble(), has_temperature_ = true;
      if (auto t = cfg.FindMember("max_output_tokens"); t != cfg.MemberEnd() && t->value.IsInt())
        max_output_tokens_ = t->value.GetInt();
    }
    if (auto s = cfg.FindMember("stream"); s != cfg.MemberEnd() && s->value.IsBool()) stream_ = s->value.GetBool();
  }

  std::string invoke(atlas::sdk::Call& call, std::string_view request_json) override {
    Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject()) fail(ATLAS_INVALID_ARGUMENT, "the request is not a JSON object");
    std::string llm_request = to_llm_request(req, call);
    std::string reply;
    try {
      reply = call.llm_complete(llm_request);
    } catch (const atlas::sdk::Error& e) {
      throw atlas::sdk::Error(e.status(), name_ + " adapter: " + e.what());
    }
    return from_llm_response(reply);
  }

  // Adapter request -> LLM request. Public for readability of tests through the ABI only.
  std::string to_llm_request(const Document& req, atlas::sdk::Call& call) const {
    Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    if (inline_model_.IsObject()) {
      Value m;
      m.CopyFrom(inline_model_, a);
      out.AddMember("model", m, a);
    } else {
      out.AddMember("model_ref", Value(model_ref_.c_str(), a), a);
    }
    out.AddMember("role", "student", a);
    Value messages(rapidjson::kArrayType);
    if (auto it = req.FindMember("messages"); it != req.MemberEnd() && it->value.IsArray()) {
      rapidjson::SizeType i = 0;
      for (const auto& m : it->value.GetArray()) {
        messages.PushBack(map_message(m, i++, a), a);
      }
    }
    if (messages.Empty()) {  // a bare task becomes the user message
      auto task = req.FindMember("task");
      if (task == req.MemberEnd() || !task->value.IsString() || task->value.GetStringLength() == 0)
        fail(ATLAS_INVALID_ARGUMENT, "the request has no messages and no task; nothing to send to the model");
      Value m(rapidjson::kObjectType);
      m.AddMember("role", "user", a);
      m.AddMember("content", Value(task->value.GetString(), a), a);
      messages.PushBack(m, a);
    }
    out.AddMember("messages", messages, a);
    if (auto it = req.FindMember("tools"); it != req.MemberEnd() && it->value.IsArray() && !it->value.Empty()) {
      Value tools(rapidjson::kArrayType);
      for (const auto& t : it->value.GetArray()) {
        auto n = t.FindMember("name");
        if (!t.IsObject() || n == t.MemberEnd() || !n->value.IsString())
          fail(ATLAS_INVALID_ARGUMENT, "every entry of 'tools' needs a string 'name'");
        Value tool(rapidjson::kObjectType);
        tool.AddMember("name", Value(n->value.GetString(), a), a);
        auto d = t.FindMember("description");
        tool.AddMember("description", Value(d != t.MemberEnd() && d->value.IsString() ? d->value.GetString() : "", a), a);
        Value params;
        auto p = t.FindMember("parameters");
        if (p != t.MemberEnd() && p->value.IsObject()) {
          params.CopyFrom(p->value, a);
        } else {
          params.SetObject();
          params.AddMember("type", "object", a);
          params.AddMember("properties", Value(rapidjson::kObjectType), a);
        }
        tool.AddMember("parameters", params, a);
        tools.PushBack(tool, a);
      }
      out.AddMember("tools", tools, a);
      if (auto tc = req.FindMember("tool_choice"); tc != req.MemberEnd() && tc->value.IsString())
        out.AddMember("tool_choice", Value(tc->value.GetString(), a), a);
    }
    if (auto rf = req.FindMember("response_format"); rf != req.MemberEnd() && rf->value.IsObject()) {
      Value v;
      v.CopyFrom(rf->value, a);
      out.AddMember("response_format", v, a);
    }
    // A rollout sibling's own temperature (the request's "sampling", docs/plugin-contracts.md)
    // wins over the configured one; the host's LLM clients carry no seed, so it is not sent.
    const Value* sampled = nullptr;
    if (auto sampling = req.FindMember("sampling"); sampling != req.MemberEnd() && sampling->value.IsObject())
      if (auto t = sampling->value.FindMember("temperature"); t != sampling->value.MemberEnd() && t->value.IsNumber())
        sampled = &t->value;
    if (sampled) {
      out.AddMember("temperature", sampled->GetDouble(), a);
    } else if (has_temperature_) {
      out.AddMember("temperature", temperature_, a);
    }
    if (max_output_tokens_ > 0) out.AddMember("max_output_tokens", max_output_tokens_, a);
    if (stream_) out.AddMember("stream", true, a);
    std::string session = std::string(call.session_id());
    if (session.empty())
      if (auto s = req.FindMember("session_id"); s != req.MemberEnd() && s->value.IsString()) session = s->value.GetString();
    if (!session.empty()) out.AddMember("session_id", Value(session.c_str(), a), a);
    return dump(out);
  }

  // LLM response -> adapter response.
  std::string from_llm_response(const std::string& reply) const {
    Document in;
    atlas::sdk::parse_json(in, reply);
    if (in.HasParseError() || !in.IsObject())
      fail(ATLAS_INTERNAL, "the host's llm_complete returned something that is not a JSON object");
    Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    auto content = in.FindMember("content");
    out.AddMember("content",
                  Value(content != in.MemberEnd() && content->value.IsString() ? content->value.GetString() : "", a), a);
    Value calls(rapidjson::kArrayType);
    if (auto tc = in.FindMember("tool_calls"); tc != in.MemberEnd() && tc->value.IsArray()) {
      for (const auto& c : tc->value.GetArray()) {
        Value call(rapidjson::kObjectType);
        for (const char* key : {"id", "name"}) {
          auto it = c.FindMember(key);
          call.AddMember(Value(key, a), Value(it != c.MemberEnd() && it->value.IsString() ? it->value.GetString() : "", a), a);
        }
        Value args(rapidjson::kObjectType);
        auto it = c.FindMember("arguments");
        if (it == c.MemberEnd()) it = c.FindMember("arguments_json");
        if (it != c.MemberEnd()) {
          if (it->value.IsObject()) {
            args.CopyFrom(it->value, a);
          } else if (it->value.IsString()) {
            Document parsed;
            atlas::sdk::parse_json(parsed, std::string_view(it->value.GetString(), it->value.GetStringLength()));
            if (!parsed.HasParseError() && parsed.IsObject()) args.CopyFrom(parsed, a);
          }
        }
        call.AddMember("arguments", args, a);
        calls.PushBack(call, a);
      }
    }
    out.AddMember("tool_calls", calls, a);
    Value usage(rapidjson::kObjectType);
    auto u = in.FindMember("usage");
    for (const char* key : {"prompt_tokens", "completion_tokens", "total_tokens"}) {
      int64_t v = 0;
      if (u != in.MemberEnd() && u->value.IsObject()) {
        auto f = u->value.FindMember(key);
        if (f != u->value.MemberEnd() && f->value.IsInt64()) v = f->value.GetInt64();
      }
      usage.AddMember(Value(key, a), Value(v), a);
    }
    out.AddMember("usage", usage, a);
    auto reasoning = in.FindMember("reasoning");
    if (reasoning != in.MemberEnd() && reasoning->value.IsString() && reasoning->value.GetStringLength() > 0)
      out.AddMember("reasoning", Value(reasoning->value.GetString(), a), a);
    else
      out.AddMember("reasoning", Value(), a);
    auto finish = in.FindMember("finish_reason");
    out.AddMember("finish_reason",
                  Value(finish != in.MemberEnd() && finish->value.IsString() ? finish->value.GetString() : "stop", a), a);
    if (auto m = in.FindMember("model"); m != in.MemberEnd() && m->value.IsString())
      out.AddMember("model", Value(m->value.GetString(), a), a);
    return dump(out);
  }

 private:
  Value map_message(const Value& m, rapidjson::SizeType index, rapidjson::MemoryPoolAllocator<>& a) const {
    if (!m.IsObject()) fail(ATLAS_INVALID_ARGUMENT, "messages[" + std::to_string(index) + "] is not an object");
    auto role = m.FindMember("role");
    std::string r = role != m.MemberEnd() && role->value.IsString() ? role->value.GetString() : "";
    if (r != "system" && r != "user" && r != "assistant" && r != "tool")
      fail(ATLAS_INVALID_ARGUMENT, "messages[" + std::to_string(index) + "].role is '" + r +
                                       "'; expected system, user, assistant or tool");
    Value out(rapidjson::kObjectType);
    out.AddMember("role", Value(r.c_str(), a), a);
    auto content = m.FindMember("content");
    std::string text;
    if (content != m.MemberEnd()) {
      if (content->value.IsString()) text = content->value.GetString();
      else if (!content->value.IsNull()) text = dump(content->value);
    }
    out.AddMember("content", Value(text.c_str(), a), a);
    if (auto tc = m.FindMember("tool_calls"); tc != m.MemberEnd() && tc->value.IsArray() && !tc->value.Empty()) {
      Value calls;
      calls.CopyFrom(tc->value, a);
      out.AddMember("tool_calls", calls, a);
    }
    for (const char* key : {"tool_call_id", "name"})
      if (auto it = m.FindMember(key); it != m.MemberEnd() && it->value.IsString())
        out.AddMember(Value(key, a), Value(it->value.GetString(), a), a);
    if (r == "tool" && !m.HasMember("tool_call_id"))
      fail(ATLAS_INVALID_ARGUMENT, "messages[" + std::to_string(index) + "] is a tool message without tool_call_id");
    return out;
  }

  [[noreturn]] void fail(atlas_status status, const std::string& message) const {
    throw atlas::sdk::Error(status, name_ + " adapter: " + message);
  }

  atlas::sdk::Host host_;
  std::string name_;
  std::string model_ref_ = "student";
  Document inline_model_;
  bool has_temperature_ = false;
  double temperature_ = 0.0;
  int max_output_tokens_ = 0;
  bool stream_ = false;
};

}  // namespace llm_adapter

#endif
