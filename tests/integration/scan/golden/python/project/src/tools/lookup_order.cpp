// Tool "lookup_order": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/lookup_order_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_lookup_order(ToolContext& ctx, const LookupOrderArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"lookup_order\" is not implemented yet: write it in src/tools/lookup_order.cpp");
}

}  // namespace gen
