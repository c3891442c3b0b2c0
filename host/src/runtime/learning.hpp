// Learning synthesis (as Atlas's, with its weaknesses fixed: docs/atlas-compatibility.md): after a
// session is rewarded, the learning model turns the session evidence into playbook updates;
// they are merged into the stored state and written with an optimistic version check. On a
// version conflict (another session wrote first) the state is read again and the same
// synthesis merged again, so no session's entries are lost.
#pragma once

#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/config.hpp"
#include "runtime/playbook.hpp"
#include "runtime/teacher.hpp"

namespace atlas::data {
class Store;
}

namespace atlas::runtime {

struct SynthesisRequest {
  std::string learning_key;
  std::string session_id;
  std::string task;
  std::string reward_json = "null";
  std::string evidence_json = "{}";  // plan, steps, attempts, guidance, final answer
  std::string history_json = "{}";
  std::vector<std::string> handles;  // runtime handles (tool names) the agent has
};

struct SynthesisOutcome {
  bool updated = false;
  int64_t version = 0;
  int write_attempts = 0;  // > 1 when a concurrent writer forced a re-merge
  MergeReport report;
  std::string session_student_learning;
  std::string session_teacher_learning;
};

// Merge + versioned write loop (no model call). `synthesis` is the learning model's parsed reply.
Result<SynthesisOutcome> store_synthesis(data::Store& store, const config::LearningConfig& cfg,
                                         const SynthesisRequest& req, const json::Value& synthesis,
                                         int max_attempts = 16);

// The aggregated history with its entries cut to the last `history_limit` ([learning]
// history_limit): what the learning model is shown.
std::string history_for_learning(const std::string& history_json, int history_limit);

// Calls the learning model (role "learning", JSON mode) and stores the result.
Result<SynthesisOutcome> synthesize_and_store(data::Store& store, const config::LearningConfig& cfg,
                                              const SynthesisRequest& req, const LlmCall& call);

}  // namespace atlas::runtime
