#include "checks.hpp"

#include <atlas/sdk.hpp>
#include <atlas/json_parse.hpp>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <cctype>
#include <regex>

namespace atlas_judge_verifiable {
namespace {

constexpr size_t kRegexSubjectLimit = 200000;  // std::regex recurses per character

std::string short_text(const std::string& s, size_t n = 80) {
  std::string out = s.substr(0, n);
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  return s.size() > n ? out + "..." : out;
}

std::string pointer_text(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer sb;
  p.StringifyUriFragment(sb);
  return sb.GetString();
}

// The text between the first ``` fence pair, else the whole text.
std::string unfenced(const std::string& s) {
  const size_t open = s.find("```");
  if (open == std::string::npos) return s;
  const size_t nl = s.find('\n', open);
  const size_t close = nl == std::string::npos ? std::string::npos : s.find("```", nl);
  return close == std::string::npos ? s : s.substr(nl + 1, close - nl - 1);
}

}  // namespace

std::string normalize(const std::string& s, const TextOptions& o) {
  std::string out;
  out.reserve(s.size());
  bool pending_space = false;
  for (char c : s) {
    const auto uc = static_cast<unsigned char>(c);
    if (o.normalize_whitespace && std::isspace(uc)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += o.case_sensitive ? c : static_cast<char>(std::tolower(uc));
  }
  return out;
}

CheckResult check_exact(const std::string& output, const std::string& expected, const TextOptions& o) {
  CheckResult r{"exact", normalize(output, o) == normalize(expected, o), {}};
  r.detail = r.passed ? "output equals the expected answer"
                      : "output \"" + short_text(output) + "\" differs from the expected \"" + short_text(expected) + "\"";
  return r;
}

CheckResult check_contains(const std::string& output, const std::vector<std::string>& needles, const TextOptions& o) {
  const std::string hay = normalize(output, o);
  std::string missing;
  for (const auto& n : needles) {
    if (hay.find(normalize(n, o)) == std::string::npos) missing += (missing.empty() ? "\"" : ", \"") + short_text(n, 40) + "\"";
  }
  CheckResult r{"contains", missing.empty(), {}};
  r.detail = r.passed ? "output contains all " + std::to_string(needles.size()) + " expected fragment(s)"
                      : "output lacks " + missing;
  return r;
}

CheckResult check_regex(const std::string& output, const std::vector<std::string>& patterns, const TextOptions& o) {
  auto flags = std::regex::ECMAScript;
  if (!o.case_sensitive) flags |= std::regex::icase;
  const std::string subject = output.size() > kRegexSubjectLimit ? output.substr(0, kRegexSubjectLimit) : output;
  std::string failed;
  for (const auto& p : patterns) {
    std::regex re;
    try {
      re = std::regex(p, flags);
    } catch (const std::regex_error& e) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "expected.regex /" + p + "/ is not a valid ECMAScript regular expression (" +
                                                          e.what() + "); fix the pattern given with the task");
    }
    bool matched = false;
    try {
      matched = std::regex_search(subject, re);
    } catch (const std::regex_error& e) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT,
                              "expected.regex /" + p + "/ is too complex for this output (" + e.what() + ")");
    }
    if (!matched) failed += (failed.empty() ? "/" : ", /") + p + "/";
  }
  CheckResult r{"regex", failed.empty(), {}};
  r.detail = r.passed ? "output matches " + std::to_string(patterns.size()) + " pattern(s)" : "no match for " + failed;
  return r;
}

CheckResult check_json_schema(const std::string& output, const rapidjson::Value& schema) {
  if (!schema.IsObject()) {
    throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "expected.json_schema must be a JSON Schema object (draft-04)");
  }
  CheckResult r{"json_schema", false, {}};
  rapidjson::Document doc;
  atlas::sdk::parse_json(doc, output);
  if (doc.HasParseError()) {
    const std::string inner = unfenced(output);
    atlas::sdk::parse_json(doc, inner);
  }
  if (doc.HasParseError()) {
    r.detail = "output is not JSON, so it cannot match the schema";
    return r;
  }
  rapidjson::Document schema_copy;
  schema_copy.CopyFrom(schema, schema_copy.GetAllocator());
  rapidjson::SchemaDocument sd(schema_copy);
  rapidjson::SchemaValidator validator(sd);
  if (doc.Accept(validator)) {
    r.passed = true;
    r.detail = "output is valid against the JSON Schema";
  } else {
    r.detail = "output violates \"" + std::string(validator.GetInvalidSchemaKeyword()) + "\" at " +
               (pointer_text(validator.GetInvalidDocumentPointer()).empty() ? "#" : pointer_text(validator.GetInvalidDocumentPointer())) +
               " (schema " + pointer_text(validator.GetInvalidSchemaPointer()) + ")";
  }
  return r;
}

}  // namespace atlas_judge_verifiable
