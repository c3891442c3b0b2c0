// template_echo: an example adapter plugin. Copy this project and replace the logic.
//
// It answers with a deterministic transformation of the last user message: the configured
// prefix followed by the message in upper case. Config: {"prefix": "<string>"} (optional).
//
// What an adapter receives and returns is documented in docs/plugin-contracts.md of
// atlas-host ("adapter — invoke"): request {"messages": [...], "tools": [...], ...},
// response {"content", "tool_calls", "usage", "finish_reason"}.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atlas/json_parse.hpp>
#include <atlas/sdk.hpp>
#include <cctype>
#include <string>

#ifndef TEMPLATE_ECHO_VERSION
#define TEMPLATE_ECHO_VERSION "1.0.0"
#endif

namespace {

class TemplateEcho : public atlas::sdk::Adapter {
 public:
  static constexpr atlas::sdk::Info info{
      "template_echo", TEMPLATE_ECHO_VERSION, "Example Vendor", "MIT",
      "Answers with the prefix and the last user message in upper case",
      ATLAS_CAP_THREAD_SAFE,  // invoke() only reads members set in the constructor
      // The host validates the user's config against this schema (JSON Schema draft-04)
      // before the constructor runs.
      R"({"type":"object","properties":{"prefix":{"type":"string","maxLength":200}},"additionalProperties":false})"};

  TemplateEcho(const atlas::sdk::Host& host, std::string_view config_json) {
    rapidjson::Document config;
    atlas::sdk::parse_json(config, config_json);
    if (config.HasParseError() || !config.IsObject()) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "template_echo: config must be a JSON object");
    }
    auto prefix = config.FindMember("prefix");
    if (prefix != config.MemberEnd() && prefix->value.IsString()) prefix_ = prefix->value.GetString();
    host.log(ATLAS_LOG_DEBUG, "template_echo ready");
  }

  std::string invoke(atlas::sdk::Call& call, std::string_view request_json) override {
    rapidjson::Document request;
    atlas::sdk::parse_json(request, request_json);
    if (request.HasParseError() || !request.IsObject()) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "template_echo: the request is not a JSON object");
    }
    std::string last_user;
    bool found = false;
    auto messages = request.FindMember("messages");
    if (messages != request.MemberEnd() && messages->value.IsArray()) {
      for (const auto& m : messages->value.GetArray()) {
        if (!m.IsObject()) continue;
        auto role = m.FindMember("role");
        auto content = m.FindMember("content");
        if (role == m.MemberEnd() || !role->value.IsString() || std::string(role->value.GetString()) != "user")
          continue;
        if (content == m.MemberEnd() || !content->value.IsString()) continue;
        last_user.assign(content->value.GetString(), content->value.GetStringLength());
        found = true;
      }
    }
    if (!found) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "template_echo: the request has no user message (messages[].role == \"user\")");
    }
    if (call.cancelled()) throw atlas::sdk::Error(ATLAS_CANCELLED, "template_echo: cancelled by the host");

    std::string answer = prefix_;
    for (char c : last_user) answer += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));

    // Token counts are words here; a real adapter reports its model's usage.
    auto words = [](const std::string& s) {
      int n = 0;
      bool in_word = false;
      for (char c : s) {
        bool space = std::isspace(static_cast<unsigned char>(c)) != 0;
        if (!space && !in_word) ++n;
        in_word = !space;
      }
      return n;
    };
    int prompt = words(last_user), completion = words(answer);

    rapidjson::StringBuffer out;
    rapidjson::Writer<rapidjson::StringBuffer> w(out);
    w.StartObject();
    w.Key("content");
    w.String(answer.c_str(), static_cast<rapidjson::SizeType>(answer.size()));
    w.Key("tool_calls");
    w.StartArray();
    w.EndArray();
    w.Key("usage");
    w.StartObject();
    w.Key("prompt_tokens");
    w.Int(prompt);
    w.Key("completion_tokens");
    w.Int(completion);
    w.Key("total_tokens");
    w.Int(prompt + completion);
    w.EndObject();
    w.Key("finish_reason");
    w.String("stop");
    w.EndObject();
    return std::string(out.GetString(), out.GetSize());
  }

 private:
  std::string prefix_;
};

}  // namespace

ATLAS_PLUGIN(TemplateEcho)
