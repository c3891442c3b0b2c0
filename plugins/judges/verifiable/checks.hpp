// The checks of the `verifiable` judge. Each returns whether it passed and a one-line detail;
// a check that cannot run because it is badly specified (invalid regex or schema) throws
// atlas::sdk::Error(INVALID_ARGUMENT) naming what to fix.
#ifndef ATLAS_JUDGE_VERIFIABLE_CHECKS_HPP
#define ATLAS_JUDGE_VERIFIABLE_CHECKS_HPP

#include <rapidjson/document.h>

#include <string>
#include <vector>

namespace atlas_judge_verifiable {

struct CheckResult {
  std::string name;  // exact | contains | regex | json_schema | command
  bool passed = false;
  std::string detail;
};

struct TextOptions {
  bool case_sensitive = true;
  bool normalize_whitespace = true;  // trim and collapse runs of whitespace (exact, contains)
};

CheckResult check_exact(const std::string& output, const std::string& expected, const TextOptions& o);
CheckResult check_contains(const std::string& output, const std::vector<std::string>& needles, const TextOptions& o);
CheckResult check_regex(const std::string& output, const std::vector<std::string>& patterns, const TextOptions& o);
CheckResult check_json_schema(const std::string& output, const rapidjson::Value& schema);

// Lowercases ASCII and/or collapses whitespace. Exposed for tests.
std::string normalize(const std::string& s, const TextOptions& o);

}  // namespace atlas_judge_verifiable

#endif
