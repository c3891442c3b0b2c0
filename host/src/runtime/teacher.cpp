#include "runtime/teacher.hpp"

#include <cctype>

#include "common/json.hpp"
#include "runtime/prompts.hpp"

namespace atlas::runtime {
namespace {

const char* kJsonObject = R"({"type":"json_object"})";

std::string guidance_text(const std::vector<std::string>& g) {
  json::Document d;
  d.SetArray();
  for (const auto& s : g) d.PushBack(json::str(s, d.GetAllocator()), d.GetAllocator());
  return json::dump(d);
}

llm::Request make_request(std::string system, std::string user, std::optional<int> max_tokens) {
  llm::Request r;
  r.role = "teacher";
  r.messages.push_back({"system", std::move(system), {}, {}, {}});
  r.messages.push_back({"user", std::move(user), {}, {}, {}});
  r.response_format_json = kJsonObject;
  r.max_output_tokens = max_tokens;
  return r;
}

// Accepts true/false, "true"/"yes"/"valid"/"pass", 1/0.
std::optional<bool> as_bool(const json::Value* v) {
  if (!v) return std::nullopt;
  if (v->IsBool()) return v->GetBool();
  if (v->IsNumber()) return v->GetDouble() != 0.0;
  if (v->IsString()) {
    std::string s = v->GetString();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (s == "true" || s == "yes" || s == "valid" || s == "pass" || s == "passed") return true;
    if (s == "false" || s == "no" || s == "invalid" || s == "fail" || s == "failed") return false;
  }
  return std::nullopt;
}

}  // namespace

std::string Verdict::to_json() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("valid", valid, a);
  d.AddMember("guidance", guidance.empty() ? json::Value() : json::str(guidance, a), a);
  d.AddMember("reasoning", reasoning.empty() ? json::Value() : json::str(reasoning, a), a);
  d.AddMember("parsed", parsed, a);
  if (!parsed && !raw.empty()) d.AddMember("raw", json::str(raw, a), a);
  if (!error.empty()) d.AddMember("error", json::str(error, a), a);
  if (unavailable) d.AddMember("unavailable", true, a);
  return json::dump(d);
}

Teacher::Teacher(const config::TeacherConfig& config, std::string base_prompt, LlmCall call)
    : config_(config), base_prompt_(std::move(base_prompt)), call_(std::move(call)) {}

std::string Teacher::system_prompt(std::string_view custom, std::string_view builtin) const {
  return prompts::compose(playbook_block_, base_prompt_, custom, builtin);
}

Verdict Teacher::parse_verdict(std::string_view reply) {
  Verdict v;
  v.raw = std::string(reply);
  auto doc = json::parse_lenient_object(reply);
  if (!doc) {
    v.error = "teacher reply is not JSON: " + doc.status().message();
    return v;
  }
  auto valid = as_bool(json::find(*doc, "valid"));
  if (!valid) {
    v.error = "teacher reply has no boolean \"valid\"";
    return v;
  }
  v.parsed = true;
  v.valid = *valid;
  v.guidance = json::get_string(*doc, "guidance");
  v.reasoning = json::get_string(*doc, "reasoning");
  return v;
}

PlanReview Teacher::parse_review(std::string_view reply, const Plan& original) {
  PlanReview r;
  r.plan = original;
  r.raw = std::string(reply);
  auto doc = json::parse_lenient_object(reply);
  if (!doc) {
    r.error = "plan review is not JSON: " + doc.status().message();
    return r;
  }
  if (const json::Value* c = json::find(*doc, "concerns"); c && c->IsArray())
    for (const auto& s : c->GetArray())
      if (s.IsString()) r.concerns.emplace_back(s.GetString(), s.GetStringLength());
  r.parsed = true;
  const json::Value* steps = json::find(*doc, "steps");
  if (!steps || !steps->IsArray() || steps->Empty()) return r;  // keep the student's plan
  auto plan = plan_from_json(*doc);
  if (!plan) {
    r.error = "reviewed plan unusable, keeping the student's: " + plan.status().message();
    return r;
  }
  r.changed = plan_to_json_text(*plan) != plan_to_json_text(original);
  r.plan = std::move(*plan);
  return r;
}

PlanReview Teacher::review_plan(std::string_view task, const Plan& plan, std::string_view tools_json) const {
  std::string user = "{\"task\":" + json::quote(task) + ",\"plan\":" + plan_to_json_text(plan) +
                     ",\"available_tools\":" + (tools_json.empty() ? std::string("[]") : std::string(tools_json)) +
                     "}\nReturn json.";
  auto reply = call_(make_request(system_prompt(config_.prompts.plan_review, prompts::teacher_plan_review()),
                                  std::move(user),
                                  config_.max_review_tokens ? config_.max_review_tokens : config_.llm.max_output_tokens));
  if (!reply) {
    PlanReview r;
    r.plan = plan;
    r.error = "plan review unavailable: " + reply.status().to_string();
    return r;
  }
  return parse_review(reply->content, plan);
}

Verdict Teacher::validate(const ValidationInput& in) const {
  std::string user = "{\"task\":" + json::quote(in.task) + ",\"step\":{\"id\":" + std::to_string(in.step_id) +
                     ",\"description\":" + json::quote(in.step_description) + "},\"attempt\":" +
                     std::to_string(in.attempt) + ",\"student_output\":" + json::quote(in.output) +
                     ",\"prior_results\":" + in.prior_results_json + ",\"prior_guidance\":" +
                     guidance_text(in.guidance) + "}\nReturn json.";
  auto reply = call_(make_request(system_prompt(config_.prompts.validation, prompts::teacher_validation()),
                                  std::move(user),
                                  config_.validation_max_tokens ? config_.validation_max_tokens
                                                                : config_.llm.max_output_tokens));
  if (!reply) {
    Verdict v;
    v.unavailable = true;
    v.error = "teacher unavailable: " + reply.status().to_string();
    return v;
  }
  return parse_verdict(reply->content);
}

std::string Teacher::guidance(const ValidationInput& in, const Verdict& verdict) const {
  std::string user = "{\"task\":" + json::quote(in.task) + ",\"step\":{\"id\":" + std::to_string(in.step_id) +
                     ",\"description\":" + json::quote(in.step_description) + "},\"student_output\":" +
                     json::quote(in.output) + ",\"verdict\":" + verdict.to_json() + ",\"prior_guidance\":" +
                     guidance_text(in.guidance) + "}\nReturn json.";
  auto reply = call_(make_request(system_prompt(config_.prompts.guidance, prompts::teacher_guidance()), std::move(user),
                                  config_.guidance_max_tokens ? config_.guidance_max_tokens
                                                              : config_.llm.max_output_tokens));
  if (!reply) return {};
  auto doc = json::parse_lenient_object(reply->content);
  if (!doc) return {};
  return json::get_string(*doc, "guidance");
}

std::string Teacher::guidance_before_call(std::string_view task, int call_number, std::string_view conversation,
                                          const std::vector<std::string>& prior_guidance) const {
  std::string user = "{\"task\":" + json::quote(task) + ",\"next_model_call\":" + std::to_string(call_number) +
                     ",\"conversation_so_far\":" + json::quote(conversation) +
                     ",\"prior_guidance\":" + guidance_text(prior_guidance) + "}\nReturn json.";
  auto reply = call_(make_request(system_prompt("", prompts::teacher_guidance_before_call()), std::move(user),
                                  config_.guidance_max_tokens ? config_.guidance_max_tokens
                                                              : config_.llm.max_output_tokens));
  if (!reply) return {};
  auto doc = json::parse_lenient_object(reply->content);
  if (!doc) return {};
  return json::get_string(*doc, "guidance");
}

}  // namespace atlas::runtime
