// Judge plugin `verifiable`: rewards without a model. It checks the judged text (the final
// answer for a session, the step output for a step) against the expected answer given with
// the task (request "expected") and/or the checks in its config:
//   exact, contains, regex, json_schema, command (the text on stdin; exit 0 = pass).
// Score = fraction of checks passed, uncertainty 0. Nothing to check = INVALID_ARGUMENT.
#include <atlas/sdk.hpp>
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

#include "checks.hpp"
#include "command_check.hpp"

namespace atlas_judge_verifiable {
namespace {

using rapidjson::Value;

std::string dump(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const Value* member(const Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() || it->value.IsNull() ? nullptr : &it->value;
}

std::vector<std::string> strings(const Value& v, const std::string& what) {
  std::vector<std::string> out;
  if (v.IsString()) {
    out.emplace_back(v.GetString(), v.GetStringLength());
  } else if (v.IsArray()) {
    for (const auto& item : v.GetArray()) {
      if (!item.IsString()) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, what + " must be a string or a list of strings");
      out.emplace_back(item.GetString(), item.GetStringLength());
    }
  } else {
    throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, what + " must be a string or a list of strings");
  }
  return out;
}

constexpr const char* kChecks[] = {"exact", "contains", "regex", "json_schema", "command"};

constexpr const char* kSchema =
    R"({"type":"object","additionalProperties":false,"properties":{)"
    R"("checks":{"type":"object","description":"checks applied to every task; the expected values of a task win",)"
    R"("properties":{"exact":{"type":"string"},"contains":{"type":["string","array"],"items":{"type":"string"}},)"
    R"("regex":{"type":["string","array"],"items":{"type":"string"}},"json_schema":{"type":"object"},)"
    R"("command":{"type":["string","array"],"items":{"type":"string"}}}},)"
    R"("timeout_seconds":{"type":"number","minimum":0,"exclusiveMinimum":true},)"
    R"("case_sensitive":{"type":"boolean"},"normalize_whitespace":{"type":"boolean"},)"
    R"("max_capture_chars":{"type":"integer","minimum":0},"cwd":{"type":"string"}}})";

}  // namespace

class VerifiableJudge : public atlas::sdk::Judge {
 public:
  static constexpr atlas::sdk::Info info{"verifiable", "1.0.0", "atlas-host", "Apache-2.0",
                                         "Rewards without a model: exact, contains, regex, JSON Schema and command checks",
                                         ATLAS_CAP_THREAD_SAFE, kSchema};

  VerifiableJudge(const atlas::sdk::Host&, std::string_view config_json) {
    if (config_json.empty()) return;
    atlas::sdk::parse_json(config_, config_json);
    if (config_.HasParseError() || !config_.IsObject()) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "verifiable judge config is not a JSON object");
    }
    apply_options(config_, timeout_seconds_, text_, max_capture_);
    if (const Value* c = member(config_, "cwd"); c && c->IsString()) cwd_ = c->GetString();
  }

  std::string judge(atlas::sdk::Call& call, std::string_view request_json) override {
    rapidjson::Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject()) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "judge request is not a JSON object");

    const bool step_level = member(req, "level") && member(req, "level")->IsString() &&
                            std::string_view(member(req, "level")->GetString()) == "step";
    std::string subject;
    if (step_level) {
      const Value* step = member(req, "step");
      const Value* out = step ? member(*step, "output") : nullptr;
      subject = out && out->IsString() ? out->GetString() : "";
    } else {
      const Value* fa = member(req, "final_answer");
      subject = fa && fa->IsString() ? fa->GetString() : "";
    }

    // Expected values: the config's checks, overridden per key by the task's "expected".
    // A plain string "expected" means {"exact": ...}.
    rapidjson::Document expected(rapidjson::kObjectType);
    auto& a = expected.GetAllocator();
    if (const Value* c = member(config_, "checks"); c && c->IsObject()) expected.CopyFrom(*c, a);
    double timeout = timeout_seconds_;
    TextOptions text = text_;
    size_t capture = max_capture_;
    if (const Value* e = member(req, "expected")) {
      if (e->IsString()) {
        expected.RemoveMember("exact");
        expected.AddMember("exact", Value(*e, a), a);
      } else if (e->IsObject()) {
        for (const auto& m : e->GetObject()) {
          expected.RemoveMember(m.name);
          expected.AddMember(Value(m.name, a), Value(m.value, a), a);
        }
        apply_options(*e, timeout, text, capture);
      } else {
        throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "\"expected\" must be a string or an object");
      }
    }

    std::vector<CheckResult> results;
    if (const Value* v = member(expected, "exact")) {
      if (!v->IsString()) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "expected.exact must be a string");
      results.push_back(check_exact(subject, v->GetString(), text));
    }
    if (const Value* v = member(expected, "contains")) results.push_back(check_contains(subject, strings(*v, "expected.contains"), text));
    if (const Value* v = member(expected, "regex")) results.push_back(check_regex(subject, strings(*v, "expected.regex"), text));
    if (const Value* v = member(expected, "json_schema")) results.push_back(check_json_schema(subject, *v));
    if (const Value* v = member(expected, "command")) {
      if (call.cancelled()) throw atlas::sdk::Error(ATLAS_CANCELLED, "judging was cancelled");
      results.push_back(command_check(*v, subject, timeout, capture));
    }
    if (results.empty()) {
      throw atlas::sdk::Error(
          ATLAS_INVALID_ARGUMENT,
          "nothing to verify: the task gives no \"expected\" answer and the judge config has no \"checks\"; give "
          "the task an expected value (exact, contains, regex, json_schema or command) or configure checks "
          "for the verifiable judge");
    }

    size_t passed = 0;
    std::string rationale;
    for (const auto& r : results) {
      passed += r.passed ? 1 : 0;
      rationale += (rationale.empty() ? "" : "\n") + r.name + (r.passed ? ": passed - " : ": FAILED - ") + r.detail;
    }
    rapidjson::Document out(rapidjson::kObjectType);
    auto& oa = out.GetAllocator();
    out.AddMember("score", static_cast<double>(passed) / static_cast<double>(results.size()), oa);
    out.AddMember("uncertainty", 0.0, oa);
    out.AddMember("rationale", Value(rationale.c_str(), static_cast<rapidjson::SizeType>(rationale.size()), oa), oa);
    Value principles(rapidjson::kArrayType);
    for (const auto& r : results) {
      Value p(rapidjson::kObjectType);
      p.AddMember("name", Value(r.name.c_str(), static_cast<rapidjson::SizeType>(r.name.size()), oa), oa);
      p.AddMember("weight", 1.0 / static_cast<double>(results.size()), oa);
      const std::string d = r.passed ? "passed" : "failed";
      p.AddMember("description", Value(d.c_str(), static_cast<rapidjson::SizeType>(d.size()), oa), oa);
      principles.PushBack(p, oa);
    }
    out.AddMember("principles", principles, oa);
    out.AddMember("checks_passed", static_cast<uint64_t>(passed), oa);
    out.AddMember("checks_total", static_cast<uint64_t>(results.size()), oa);
    return dump(out);
  }

 private:
  static void apply_options(const Value& v, double& timeout, TextOptions& text, size_t& capture) {
    if (const Value* t = member(v, "timeout_seconds"); t && t->IsNumber() && t->GetDouble() > 0) timeout = t->GetDouble();
    if (const Value* c = member(v, "case_sensitive"); c && c->IsBool()) text.case_sensitive = c->GetBool();
    if (const Value* n = member(v, "normalize_whitespace"); n && n->IsBool()) text.normalize_whitespace = n->GetBool();
    if (const Value* m = member(v, "max_capture_chars"); m && m->IsUint64()) capture = static_cast<size_t>(m->GetUint64());
  }

  CheckResult command_check(const Value& spec, const std::string& subject, double timeout, size_t capture) const {
    std::vector<std::string> argv;
    std::string shown;
    if (spec.IsString()) {
      shown = spec.GetString();
      argv = {"/bin/sh", "-c", shown};
    } else {
      argv = strings(spec, "expected.command");
      for (const auto& a : argv) shown += (shown.empty() ? "" : " ") + a;
    }
    CheckResult r{"command", false, {}};
    CommandResult run = run_command(argv, subject, timeout, capture, cwd_);
    if (!run.started) {
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "command check `" + shown + "`: " + run.start_error);
    }
    std::string what;
    if (run.timed_out) {
      what = "timed out after " + std::to_string(timeout) + " s and was killed";
    } else if (run.exited) {
      r.passed = run.exit_code == 0;
      what = "exit code " + std::to_string(run.exit_code);
      if (run.exit_code == 127) what += " (command not found?)";
    } else {
      what = "killed by signal " + std::to_string(run.signal);
    }
    r.detail = "`" + shown + "` " + what;
    if (!run.stdout_text.empty()) r.detail += "; stdout: " + run.stdout_text;
    if (!r.passed && !run.stderr_text.empty()) r.detail += "; stderr: " + run.stderr_text;
    return r;
  }

  rapidjson::Document config_{rapidjson::kObjectType};
  double timeout_seconds_ = 30.0;
  TextOptions text_;
  size_t max_capture_ = 2000;
  std::string cwd_;
};

}  // namespace atlas_judge_verifiable

ATLAS_PLUGIN(atlas_judge_verifiable::VerifiableJudge)
