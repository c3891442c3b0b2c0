// The teacher: reviews coach-lane plans, validates student attempts and writes retry
// guidance, through the LLM client with accounting role "teacher". Replies are parsed
// leniently (code fences, prose, trailing commas); a reply that still does not parse is an
// invalid verdict that keeps the raw text, never a crash or a failed session.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "llm/llm.hpp"
#include "runtime/plan.hpp"

namespace atlas::runtime {

// Makes one LLM call for a role; the session's gateway does the accounting. Thread-safe.
using LlmCall = std::function<Result<llm::Response>(llm::Request request)>;

struct Verdict {
  bool valid = false;
  std::string guidance;
  std::string reasoning;
  bool parsed = false;      // false: the reply was not usable JSON (raw kept)
  bool unavailable = false; // the teacher model could not be reached (error kept)
  std::string raw;          // the model's reply text
  std::string error;
  std::string to_json() const;  // {"valid","guidance","reasoning","parsed","raw"?,"error"?}
};

struct PlanReview {
  Plan plan;                      // the reviewed plan (the student's when the review is unusable)
  bool changed = false;
  bool parsed = false;
  std::vector<std::string> concerns;
  std::string raw;
  std::string error;
};

struct ValidationInput {
  std::string task;
  int step_id = 1;
  std::string step_description;
  std::string output;                    // the student's attempt
  std::string prior_results_json = "{}";  // validated dependency results {"<id>": "..."}
  std::vector<std::string> guidance;     // guidance given so far for this step
  int attempt = 1;
};

class Teacher {
 public:
  Teacher(const config::TeacherConfig& config, std::string base_prompt, LlmCall call);

  // The ">>> Teacher Playbook >>>" block put in front of every teacher prompt ("" = none).
  void set_playbook_block(std::string block) { playbook_block_ = std::move(block); }

  // Never fails: an unreachable or unparsable review keeps the student's plan (error/raw set).
  PlanReview review_plan(std::string_view task, const Plan& plan, std::string_view tools_json) const;
  Verdict validate(const ValidationInput& input) const;
  // Guidance when a verdict said "invalid" without any; "" when the teacher gives none.
  std::string guidance(const ValidationInput& input, const Verdict& verdict) const;
  // Coach lane of the capture gateway: guidance for the student's next model call, from the task
  // and the conversation so far; "" when the teacher gives none or cannot be reached.
  std::string guidance_before_call(std::string_view task, int call_number, std::string_view conversation,
                                   const std::vector<std::string>& prior_guidance) const;

  // Parsing, exposed for tests.
  static Verdict parse_verdict(std::string_view reply);
  static PlanReview parse_review(std::string_view reply, const Plan& original);

 private:
  std::string system_prompt(std::string_view custom, std::string_view builtin) const;
  const config::TeacherConfig& config_;
  std::string base_prompt_;
  LlmCall call_;
  std::string playbook_block_;
};

}  // namespace atlas::runtime
