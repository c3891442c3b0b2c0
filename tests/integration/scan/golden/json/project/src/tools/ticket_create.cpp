// Tool "ticket-create": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/ticket_create_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_ticket_create(ToolContext& ctx, const TicketCreateArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"ticket-create\" is not implemented yet: write it in src/tools/ticket_create.cpp");
}

}  // namespace gen
