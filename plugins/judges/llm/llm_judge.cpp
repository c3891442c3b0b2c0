// Judge plugin `llm`: rubric judgements through the host's llm_complete service.
// The host's cascade decides temperatures, sample counts and escalation; this plugin builds
// the prompt, calls the small or large judge model, and turns the reply into the judge
// contract (docs/plugin-contracts.md "judge"). An unusable reply is an INVALID_ARGUMENT error
// (the cascade counts an invalid sample), never a crash.
// With "temperatures" (ATLAS_CAP_JUDGE_SAMPLES) it makes every tier-1 sample in one call: the
// model calls go out together through llm_complete_many and the answer is {"replies": [...]}.
#include <atlas/sdk.hpp>
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

#include "judge_prompt.hpp"
#include "judge_reply.hpp"

namespace atlas_judge_llm {
namespace {

using rapidjson::Value;

std::string dump(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

Value str(const std::string& s, rapidjson::Document::AllocatorType& a) {
  return Value(s.c_str(), static_cast<rapidjson::SizeType>(s.size()), a);
}

rapidjson::Document parse_object(std::string_view text, const char* what) {
  rapidjson::Document d;
  atlas::sdk::parse_json(d, text);
  if (d.HasParseError() || !d.IsObject()) {
    throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, std::string(what) + " is not a JSON object");
  }
  return d;
}

std::string preview(std::string_view s) {
  std::string p(s.substr(0, 160));
  for (char& c : p) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return s.size() > 160 ? p + "..." : p;
}

}  // namespace

class LlmJudge : public atlas::sdk::Judge {
 public:
  static constexpr atlas::sdk::Info info{
      "llm", "1.0.0", "atlas-host", "Apache-2.0",
      "Rubric judge (process, outcome, helpfulness or custom) through the host's judge models",
      ATLAS_CAP_THREAD_SAFE | ATLAS_CAP_USES_LLM | ATLAS_CAP_JUDGE_SAMPLES,
      R"({"type":"object","additionalProperties":false,"properties":{)"
      R"("small_model_ref":{"type":"string","minLength":1,"description":"model used for tier-1 samples"},)"
      R"("large_model_ref":{"type":"string","minLength":1,"description":"model used by the arbiter"},)"
      R"("max_trace_chars":{"type":"integer","minimum":500,"description":"step trace budget in characters"},)"
      R"("max_text_chars":{"type":"integer","minimum":200,"description":"budget for each output/answer/plan"},)"
      R"("max_output_tokens":{"type":"integer","minimum":16},)"
      R"("rubric_text":{"type":"string","description":"text for a custom rubric the request gives no text for"}}})"};

  LlmJudge(const atlas::sdk::Host& host, std::string_view config_json) {
    if (config_json.empty()) return;
    rapidjson::Document c = parse_object(config_json, "llm judge config");
    auto get_str = [&c](const char* k, std::string& out) {
      auto it = c.FindMember(k);
      if (it != c.MemberEnd() && it->value.IsString()) out = it->value.GetString();
    };
    auto get_size = [&c](const char* k, size_t& out) {
      auto it = c.FindMember(k);
      if (it != c.MemberEnd() && it->value.IsUint64()) out = static_cast<size_t>(it->value.GetUint64());
    };
    get_str("small_model_ref", small_ref_);
    get_str("large_model_ref", large_ref_);
    get_str("rubric_text", default_rubric_text_);
    get_size("max_trace_chars", limits_.max_trace_chars);
    get_size("max_text_chars", limits_.max_text_chars);
    auto it = c.FindMember("max_output_tokens");
    if (it != c.MemberEnd() && it->value.IsInt()) max_output_tokens_ = it->value.GetInt();
  }

  std::string judge(atlas::sdk::Call& call, std::string_view request_json) override {
    rapidjson::Document req = parse_object(request_json, "judge request");
    Prompt prompt = build_prompt(req, limits_, default_rubric_text_);
    if (!prompt.ok) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, prompt.error);

    auto stage = req.FindMember("stage");
    auto model = req.FindMember("model");
    const bool arbiter = (stage != req.MemberEnd() && stage->value.IsString() &&
                          std::string_view(stage->value.GetString()) == "arbiter") ||
                         (model != req.MemberEnd() && model->value.IsString() &&
                          std::string_view(model->value.GetString()) == "large");
    auto temps = req.FindMember("temperatures");
    if (temps != req.MemberEnd()) return judge_samples(call, prompt, arbiter, temps->value);

    double temperature = arbiter ? 0.3 : 0.2;
    auto t = req.FindMember("temperature");
    if (t != req.MemberEnd() && t->value.IsNumber()) temperature = t->value.GetDouble();
    // Provider errors keep the host's status (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
    const std::string llm_resp_text = call.llm_complete(llm_request(prompt, arbiter, temperature));
    return dump(judge_reply(prompt, llm_resp_text));
  }

 private:
  static constexpr size_t kMaxSamples = 16;

  // Every tier-1 sample at once: {"replies": [judge reply | {"error": {"code", "message"}}]}.
  std::string judge_samples(atlas::sdk::Call& call, const Prompt& prompt, bool arbiter, const Value& temps) {
    if (arbiter) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "\"temperatures\" is for tier-1 samples; an arbiter request takes one \"temperature\"");
    }
    if (!temps.IsArray() || temps.Empty() || temps.Size() > kMaxSamples) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "\"temperatures\" must be an array of 1 to " +
                                                          std::to_string(kMaxSamples) + " numbers");
    }
    std::vector<std::string> requests;
    for (const auto& t : temps.GetArray()) {
      if (!t.IsNumber()) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "\"temperatures\" holds a non-number");
      requests.push_back(llm_request(prompt, false, t.GetDouble()));
    }
    std::vector<atlas::sdk::LlmResult> results = call.llm_complete_many(requests);
    rapidjson::Document out(rapidjson::kObjectType);
    auto& a = out.GetAllocator();
    Value replies(rapidjson::kArrayType);
    for (const auto& r : results) {
      atlas_status status = r.status;
      std::string message = r.text;
      if (r.ok()) {
        try {
          rapidjson::Document one = judge_reply(prompt, r.text);
          replies.PushBack(Value(one, a), a);
          continue;
        } catch (const atlas::sdk::Error& e) {
          status = e.status();
          message = e.what();
        }
      }
      Value err(rapidjson::kObjectType);
      err.AddMember("code", rapidjson::StringRef(atlas::sdk::status_name(status)), a);
      err.AddMember("message", str(message, a), a);
      Value wrapped(rapidjson::kObjectType);
      wrapped.AddMember("error", err, a);
      replies.PushBack(wrapped, a);
    }
    out.AddMember("replies", replies, a);
    return dump(out);
  }

  // The llm_complete request for one judgement.
  std::string llm_request(const Prompt& prompt, bool arbiter, double temperature) const {
    rapidjson::Document llm_req(rapidjson::kObjectType);
    auto& a = llm_req.GetAllocator();
    llm_req.AddMember("model_ref", str(arbiter ? large_ref_ : small_ref_, a), a);
    llm_req.AddMember("role", str(arbiter ? "arbiter" : "judge", a), a);
    llm_req.AddMember("temperature", temperature, a);
    if (max_output_tokens_ > 0) llm_req.AddMember("max_output_tokens", max_output_tokens_, a);
    Value messages(rapidjson::kArrayType);
    for (const auto& [role, content] : {std::pair<const char*, const std::string*>{"system", &prompt.system},
                                        std::pair<const char*, const std::string*>{"user", &prompt.user}}) {
      Value m(rapidjson::kObjectType);
      m.AddMember("role", rapidjson::StringRef(role), a);
      m.AddMember("content", str(*content, a), a);
      messages.PushBack(m, a);
    }
    llm_req.AddMember("messages", messages, a);
    Value rf(rapidjson::kObjectType);
    rf.AddMember("type", "json_object", a);
    llm_req.AddMember("response_format", rf, a);
    return dump(llm_req);
  }

  // The judge contract's reply from the model's response; throws Error when it is unusable.
  static rapidjson::Document judge_reply(const Prompt& prompt, const std::string& llm_resp_text) {
    rapidjson::Document llm_resp;
    atlas::sdk::parse_json(llm_resp, llm_resp_text);
    if (llm_resp.HasParseError() || !llm_resp.IsObject()) {
      throw atlas::sdk::Error(ATLAS_INTERNAL, "llm_complete returned a response that is not a JSON object");
    }
    auto content_it = llm_resp.FindMember("content");
    const std::string content =
        content_it != llm_resp.MemberEnd() && content_it->value.IsString() ? content_it->value.GetString() : "";

    ParsedReply parsed = parse_reply(content);
    if (!parsed.ok) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "unusable judge reply (" + parsed.error + "); the reply began: \"" +
                                                          preview(content) + "\"");
    }

    rapidjson::Document out(rapidjson::kObjectType);
    auto& oa = out.GetAllocator();
    out.AddMember("score", parsed.score, oa);
    out.AddMember("uncertainty", parsed.uncertainty, oa);
    out.AddMember("rationale", str(parsed.rationale, oa), oa);
    rapidjson::Document principles;
    atlas::sdk::parse_json(principles, parsed.principles_json);
    Value pv(rapidjson::kArrayType);
    if (!principles.HasParseError() && principles.IsArray()) pv.CopyFrom(principles, oa);
    out.AddMember("principles", pv, oa);
    out.AddMember("rubric", str(prompt.rubric_name, oa), oa);
    out.AddMember("trace_truncated", prompt.trace_truncated, oa);
    out.AddMember("raw_response", str(content, oa), oa);
    for (const char* key : {"model", "reasoning"}) {
      auto it = llm_resp.FindMember(key);
      if (it != llm_resp.MemberEnd() && it->value.IsString()) out.AddMember(rapidjson::StringRef(key), Value(it->value, oa), oa);
    }
    auto usage = llm_resp.FindMember("usage");
    if (usage != llm_resp.MemberEnd() && usage->value.IsObject()) out.AddMember("usage", Value(usage->value, oa), oa);
    return out;
  }

  std::string small_ref_ = "rewards.small_model";
  std::string large_ref_ = "rewards.large_model";
  std::string default_rubric_text_;
  PromptLimits limits_;
  int max_output_tokens_ = 0;
};

}  // namespace atlas_judge_llm

ATLAS_PLUGIN(atlas_judge_llm::LlmJudge)
