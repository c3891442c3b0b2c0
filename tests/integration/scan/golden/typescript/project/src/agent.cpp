// Agent wiring of this adapter plugin. This file is yours: atlas-host scan created it once
// and never overwrites it.
//
// run_agent() receives every adapter request (docs/plugin-contracts.md, "adapter") and returns
// the response JSON. The default, ctx.default_agent(request):
//   - metadata.tool_call = {"name": ..., "arguments": {...}} runs that tool directly and answers
//     with its result;
//   - otherwise asks the host's model (llm_complete, model_ref from the plugin config) with this
//     plugin's tools, runs the tool calls it makes (arguments validated first) and loops up to
//     max_turns.
#include "gen/tools.hpp"

namespace gen {

std::string run_agent(AgentContext& ctx, const rapidjson::Document& request) {
  return ctx.default_agent(request);
}

}  // namespace gen
