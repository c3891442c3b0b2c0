// Binding loaded judge plugins to the engine. Kept apart from the engine so that code using
// the engine with its own judge functions (tests, benchmarks) does not need the loader.
#include <atlas/plugin_abi.h>

#include "rewards/rewards.hpp"

namespace atlas::rewards {

BoundJudge bind_judge_handle(JudgeSpec spec, plugin::JudgeHandle handle) {
  BoundJudge bound;
  bound.spec = std::move(spec);
  bound.uses_llm = (handle.info().capabilities & ATLAS_CAP_USES_LLM) != 0;
  bound.batches_samples = (handle.info().capabilities & ATLAS_CAP_JUDGE_SAMPLES) != 0;
  bound.plugin_version = handle.info().version;
  bound.call = [handle](const plugin::CallContext& call, std::string_view request) {
    return handle.judge(call, request);
  };
  return bound;
}

}  // namespace atlas::rewards
