// What a session records about each step of its plan while it runs (internal to the runtime
// component): the attempts, the teacher's guidance, the last conversation and tool calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/statuses.hpp"
#include "llm/llm.hpp"
#include "rewards/rewards.hpp"
#include "runtime/plan.hpp"

namespace atlas::runtime {

struct Attempt {
  int number = 1;
  std::string output;
  std::string verdict_json;  // "" when not validated
  StepStatus status = StepStatus::kPending;
  std::string guidance;  // guidance produced after this attempt
};

struct StepState {
  PlanStep step;
  std::vector<Attempt> attempts;
  std::vector<std::string> guidance;
  std::string output;
  StepStatus status = StepStatus::kPending;
  std::string reason;
  std::vector<llm::Message> messages;  // last attempt's conversation
  std::vector<rewards::ToolCallEvidence> tool_calls;
  std::string trace;
  std::string event_id;
  int64_t started_us = 0, ended_us = 0;
};

}  // namespace atlas::runtime
