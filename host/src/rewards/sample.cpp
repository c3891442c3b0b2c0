#include "rewards/sample.hpp"

#include <algorithm>
#include <cmath>

#include "common/json.hpp"
#include "rewards/stats.hpp"

namespace atlas::rewards {
namespace {

Result<double> unit_number(const json::Value& doc, std::string_view key) {
  const json::Value* v = json::find(doc, key);
  if (!v) return invalid_argument("judge response has no \"" + std::string(key) + "\"");
  if (!v->IsNumber()) return invalid_argument("judge response \"" + std::string(key) + "\" is not a number");
  const double d = v->GetDouble();
  if (!std::isfinite(d) || d < 0.0 || d > 1.0) {
    return invalid_argument("judge response \"" + std::string(key) + "\" = " + std::to_string(d) +
                            " is outside [0, 1]");
  }
  return d;
}

std::string principles_json(const json::Value& doc) {
  const json::Value* p = json::find(doc, "principles");
  json::Document out(rapidjson::kArrayType);
  auto& a = out.GetAllocator();
  if (p && p->IsArray()) {
    for (const auto& item : p->GetArray()) {
      const json::Value* name = json::find(item, "name");
      const json::Value* weight = json::find(item, "weight");
      if (!name || !name->IsString() || !weight || !weight->IsNumber()) continue;
      json::Value entry(rapidjson::kObjectType);
      json::set(entry, "name", json::Value(*name, a), a);
      json::set(entry, "weight", weight->GetDouble(), a);
      const json::Value* desc = json::find(item, "description");
      std::string d = !desc ? "" : desc->IsString() ? std::string(desc->GetString(), desc->GetStringLength())
                                                   : json::dump(*desc);
      json::set(entry, "description", d, a);
      out.PushBack(entry, a);
    }
  }
  return json::dump(out);
}

}  // namespace

Result<ParsedJudgeResponse> parse_judge_response(std::string_view response_json) {
  auto parsed = json::parse(response_json, "judge response", json::kMaxInputDepth);
  if (!parsed) return parsed.status();
  const json::Document& doc = parsed.value();
  if (!doc.IsObject()) return invalid_argument("judge response is not a JSON object");
  ParsedJudgeResponse out;
  ATLAS_ASSIGN_OR_RETURN(out.sample.score, unit_number(doc, "score"));
  ATLAS_ASSIGN_OR_RETURN(out.sample.uncertainty, unit_number(doc, "uncertainty"));
  if (const json::Value* r = json::find(doc, "rationale")) {
    out.sample.rationale = r->IsString() ? std::string(r->GetString(), r->GetStringLength()) : json::dump(*r);
  }
  out.sample.principles_json = principles_json(doc);
  out.model = json::get_string(doc, "model");
  out.raw_response = json::get_string(doc, "raw_response");
  out.reasoning = json::get_string(doc, "reasoning");
  if (const json::Value* u = json::find(doc, "usage"); u && u->IsObject()) {
    RoleUsage usage;
    usage.calls = 1;
    usage.prompt_tokens = json::get_int(*u, "prompt_tokens");
    usage.completion_tokens = json::get_int(*u, "completion_tokens");
    usage.total_tokens = json::get_int(*u, "total_tokens", usage.prompt_tokens + usage.completion_tokens);
    out.usage = usage;
  }
  return out;
}

bool should_escalate(const std::vector<JudgeSample>& valid_samples, double variance_threshold,
                     double uncertainty_threshold) {
  if (valid_samples.size() < 2) return false;
  std::vector<double> scores;
  double max_uncertainty = 0.0;
  for (const auto& s : valid_samples) {
    scores.push_back(s.score);
    max_uncertainty = std::max(max_uncertainty, s.uncertainty);
  }
  const double spread = stats::pstdev(scores).value_or(0.0);
  return spread > variance_threshold + kThresholdTolerance ||
         max_uncertainty > uncertainty_threshold + kThresholdTolerance;
}

JudgeSample synthetic_sample() {
  JudgeSample s;
  s.score = 0.0;
  s.uncertainty = 1.0;
  s.rationale = "No valid reward sample produced.";
  s.principles_json = "[]";
  s.stage = "synthetic";
  return s;
}

}  // namespace atlas::rewards
