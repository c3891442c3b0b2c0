// Maps the model references plugins and the runtime use ("student", "teacher",
// "rewards.small_model", "rewards.large_model", "learning", "routing.probe") to the
// config's model blocks, and the accounting role each one bills to.
#pragma once

#include <string>
#include <string_view>

#include "common/status.hpp"
#include "config/config.hpp"

namespace atlas::runtime {

// NOT_FOUND (listing the known refs) for an unknown ref; FAILED_PRECONDITION when the
// block exists but names no model.
Result<const config::ModelConfig*> resolve_model_ref(const config::Config& config, std::string_view ref);

// student, teacher, judge, arbiter, learning, probe.
std::string default_role_for_ref(std::string_view ref);

// A copy of `model` whose total timeout does not run past `deadline_unix_ms` (0 = none).
config::ModelConfig with_deadline(const config::ModelConfig& model, int64_t deadline_unix_ms);

}  // namespace atlas::runtime
