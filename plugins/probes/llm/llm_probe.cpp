// Probe plugin `llm`: Atlas's capability probe (docs/atlas-compatibility.md). The task and
// its learning history go to the model configured as [routing.probe_llm] (model_ref
// "routing.probe") in JSON mode; the reply's mode and confidence pick the lane. Any failure
// (missing key, timeout, unparsable reply) answers {"mode": null, "confidence": null} with the
// reason, so the host falls back to its fallback lane: the probe fails open.
#include <atlas/sdk.hpp>
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace {

using rapidjson::Document;
using rapidjson::Value;

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "model_ref": {"type": "string"},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2}
  },
  "additionalProperties": false
})";

constexpr const char* kSystemPrompt =
    "You decide how much supervision a student agent needs for its next task. There are three lanes:\n"
    "- auto: the student works alone. Choose it when the learning history shows consistently high scores "
    "and no recent regressions on this kind of task.\n"
    "- paired: the student answers and a teacher checks the final answer. Choose it when there is some "
    "history but scores are mixed or only moderately good.\n"
    "- coach: the teacher reviews the student's plan and checks every step. Choose it when the task is only "
    "partly familiar or recent scores are low.\n"
    "Reply with JSON only: {\"mode\": \"auto\" | \"paired\" | \"coach\", \"confidence\": a number from 0 to 1, "
    "\"rationale\": \"one sentence\"}";

std::string dump(const Value& v) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  v.Accept(w);
  return std::string(b.GetString(), b.GetSize());
}

std::string quote(const std::string& s) {
  rapidjson::StringBuffer b;
  rapidjson::Writer<rapidjson::StringBuffer> w(b);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(b.GetString(), b.GetSize());
}

// First balanced {...} in the text (models wrap JSON in fences or prose).
bool parse_object(const std::string& text, Document& out) {
  atlas::sdk::ObjectScanner objects(text);
  for (std::string_view candidate; objects.next(candidate);) {
    atlas::sdk::JsonParseStatus st = atlas::sdk::parse_json<rapidjson::kParseTrailingCommasFlag>(out, candidate);
    if (st.too_deep) return false;
    if (st && out.IsObject()) return true;
  }
  return false;
}

std::string fail_open(const std::string& reason) {
  return "{\"mode\":null,\"confidence\":null,\"rationale\":" + quote("probe unavailable: " + reason) +
         ",\"disabled\":true}";
}

class LlmProbe : public atlas::sdk::Probe {
 public:
  static constexpr atlas::sdk::Info info{"llm", "1.0.0", "atlas-host", "Apache-2.0",
                                         "Atlas capability probe: a model reads the task and its learning history",
                                         ATLAS_CAP_THREAD_SAFE | ATLAS_CAP_USES_LLM, kSchema};

  LlmProbe(const atlas::sdk::Host& host, std::string_view config_json) : host_(host) {
    Document d;
    atlas::sdk::parse_json(d, config_json);
    if (!d.HasParseError() && d.IsObject()) {
      auto m = d.FindMember("model_ref");
      if (m != d.MemberEnd() && m->value.IsString()) model_ref_ = m->value.GetString();
      auto t = d.FindMember("temperature");
      if (t != d.MemberEnd() && t->value.IsNumber()) temperature_ = t->value.GetDouble();
    }
  }

  std::string probe(atlas::sdk::Call& call, std::string_view request_json) override {
    Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "probe request is not a JSON object");
    if (!host_.has_llm()) return fail_open("the host offers no llm_complete service");
    std::string task, history = "{}";
    auto t = req.FindMember("task");
    if (t != req.MemberEnd() && t->value.IsString()) task = t->value.GetString();
    auto h = req.FindMember("learning_history");
    if (h != req.MemberEnd()) history = dump(h->value);
    std::string user = "{\"task\":" + quote(task) + ",\"learning_history\":" + history + "}";
    char temp[32];
    std::snprintf(temp, sizeof temp, "%.3f", temperature_);
    std::string llm_req = "{\"model_ref\":" + quote(model_ref_) + ",\"role\":\"probe\",\"temperature\":" + temp +
                          ",\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":\"system\",\"content\":" +
                          quote(kSystemPrompt) + "},{\"role\":\"user\",\"content\":" + quote(user) + "}]}";
    std::string reply;
    try {
      reply = call.llm_complete(llm_req);
    } catch (const atlas::sdk::Error& e) {
      return fail_open(e.what());
    }
    Document resp;
    atlas::sdk::parse_json(resp, reply);
    std::string content;
    if (!resp.HasParseError() && resp.IsObject()) {
      auto c = resp.FindMember("content");
      if (c != resp.MemberEnd() && c->value.IsString()) content = c->value.GetString();
    }
    Document answer;
    if (!parse_object(content, answer)) return fail_open("the model's reply is not JSON: " + content.substr(0, 200));
    std::string mode;
    auto m = answer.FindMember("mode");
    if (m != answer.MemberEnd() && m->value.IsString()) {
      mode = m->value.GetString();
      std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
      if (mode != "auto" && mode != "paired" && mode != "coach") mode.clear();
    }
    std::string confidence = "null";
    auto cf = answer.FindMember("confidence");
    if (cf != answer.MemberEnd() && cf->value.IsNumber()) {
      char b[32];
      std::snprintf(b, sizeof b, "%.4f", std::clamp(cf->value.GetDouble(), 0.0, 1.0));
      confidence = b;
    }
    std::string rationale;
    auto r = answer.FindMember("rationale");
    if (r != answer.MemberEnd() && r->value.IsString()) rationale = r->value.GetString();
    return "{\"mode\":" + (mode.empty() ? std::string("null") : quote(mode)) + ",\"confidence\":" + confidence +
           ",\"rationale\":" + quote(rationale) + "}";
  }

 private:
  atlas::sdk::Host host_;
  std::string model_ref_ = "routing.probe";
  double temperature_ = 0.2;
};

}  // namespace

ATLAS_PLUGIN(LlmProbe)
