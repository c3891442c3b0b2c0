#include "runtime/model_directory.hpp"

#include <algorithm>

#include "common/clock.hpp"

namespace atlas::runtime {

Result<const config::ModelConfig*> resolve_model_ref(const config::Config& c, std::string_view ref) {
  const config::ModelConfig* m = nullptr;
  std::string key;
  if (ref == "student") m = &c.student.llm, key = "[student.llm]";
  else if (ref == "teacher") m = &c.teacher.llm, key = "[teacher.llm]";
  else if (ref == "rewards.small_model") m = &c.rewards.small_model, key = "[rewards.small_model]";
  else if (ref == "rewards.large_model") {
    m = c.rewards.large_model.configured() ? &c.rewards.large_model : &c.rewards.small_model;
    key = "[rewards.large_model]";
  } else if (ref == "learning") m = &c.learning.llm, key = "[learning.llm]";
  else if (ref == "routing.probe") m = &c.routing.probe_llm, key = "[routing.probe_llm]";
  else
    return not_found("unknown model_ref \"" + std::string(ref) +
                     "\"; known: student, teacher, rewards.small_model, rewards.large_model, learning, routing.probe");
  if (!m->configured())
    return failed_precondition("model_ref \"" + std::string(ref) + "\" has no model: set `model` in " + key +
                               " of the config");
  return m;
}

std::string default_role_for_ref(std::string_view ref) {
  if (ref == "rewards.small_model") return "judge";
  if (ref == "rewards.large_model") return "arbiter";
  if (ref == "routing.probe") return "probe";
  return std::string(ref);
}

config::ModelConfig with_deadline(const config::ModelConfig& model, int64_t deadline_unix_ms) {
  config::ModelConfig out = model;
  if (deadline_unix_ms <= 0) return out;
  double remaining = static_cast<double>(deadline_unix_ms - clock::now_unix_ms()) / 1000.0;
  out.timeout_seconds = std::max(0.001, std::min(out.timeout_seconds, remaining));
  out.connect_timeout_seconds = std::min(out.connect_timeout_seconds, out.timeout_seconds);
  return out;
}

}  // namespace atlas::runtime
