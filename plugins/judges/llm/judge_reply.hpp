// Parsing a judge model's reply into the judge contract, robustly: code fences, prose around
// the object, trailing commas and comments are accepted; scores given as strings ("0.8"),
// percentages ("80%") or fractions ("4/5") are converted; values a hair outside [0,1]
// (|excess| <= 0.05, rounding) are clamped; anything else is rejected with a reason.
#ifndef ATLAS_JUDGE_LLM_JUDGE_REPLY_HPP
#define ATLAS_JUDGE_LLM_JUDGE_REPLY_HPP

#include <string>
#include <string_view>

namespace atlas_judge_llm {

struct ParsedReply {
  bool ok = false;
  std::string error;  // why the reply is unusable (when !ok)
  double score = 0.0;
  double uncertainty = 1.0;
  std::string rationale;
  std::string principles_json = "[]";  // [{name, weight, description}] with malformed entries dropped
};

ParsedReply parse_reply(std::string_view reply);

// A value from a reply in [0,1], or an error text. Exposed for tests.
struct UnitValue {
  bool ok = false;
  double value = 0.0;
  std::string error;
};
UnitValue to_unit_interval(std::string_view field, const void* rapidjson_value);

}  // namespace atlas_judge_llm

#endif
