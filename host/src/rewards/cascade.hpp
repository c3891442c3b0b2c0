// The small/large judge cascade (docs/rewards.md), run for many judges at once: phase 1
// makes every tier-1 sample of every job concurrently, phase 2 every needed arbiter call
// concurrently. A session with 5 judged steps therefore costs about one judge latency for
// all step samples (plus one when an arbiter is needed), not 15.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {

struct CascadeJob {
  const BoundJudge* judge = nullptr;
  json::Document base_request;
  std::string step_id;  // "" for session judges
  int samples = 1;      // tier-1 calls to make (already admitted by the budget)

  // Results.
  JudgeVerdict verdict;
  std::vector<std::string> audit;  // JSON object texts, tier-1 entries in sample order, then the arbiter's
  JudgeUsage usage;
};

struct CascadeOptions {
  CascadeSettings settings;
  EngineHooks hooks;
  std::string session_id;
  size_t max_threads = 64;
  // Asked once per job that wants an arbiter, in job order; false = no budget left.
  std::function<bool()> reserve_arbiter_call;
};

void run_cascades(std::vector<std::unique_ptr<CascadeJob>>& jobs, const CascadeOptions& options);

// Number of tier-1 samples for a judge: the spec's override, else k for LLM judges, 1 otherwise.
int tier1_sample_count(const BoundJudge& judge, const CascadeSettings& settings);

}  // namespace atlas::rewards
