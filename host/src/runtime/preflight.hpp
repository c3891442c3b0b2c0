// Preflight before a batch: checks every model the configuration will call before the first
// session starts, so a missing key or a wrong endpoint fails the command once, with one
// message, instead of failing (and storing) every session of the batch.
//
// Per role in use (student, teacher, judge, arbiter, learning, probe): the provider is known,
// the key variable is set (unless api_base points at a server that needs none), the endpoint
// answers its model-list request (GET /models), the key is not refused, and the model is in the
// list when the provider lists models. A server without a model list (404 and the like) passes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace atlas::runtime {

struct PreflightProblem {
  std::string role;     // student | teacher | judge | arbiter | learning | probe
  std::string section;  // the config block to fix: "[teacher.llm]"
  std::string message;  // what is wrong and how to fix it
};

// The roles `config` will call, each checked; empty when everything is in order.
std::vector<PreflightProblem> preflight_models(const config::Config& config);

// One message for all problems: "<command>: N model(s) not usable, nothing was run:\n  ...".
std::string preflight_message(std::string_view command, const std::vector<PreflightProblem>& problems);

}  // namespace atlas::runtime
