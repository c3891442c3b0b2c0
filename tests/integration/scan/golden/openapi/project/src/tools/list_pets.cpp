// Tool "listPets": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/list_pets_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_list_pets(ToolContext& ctx, const ListPetsArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"listPets\" is not implemented yet: write it in src/tools/list_pets.cpp");
}

}  // namespace gen
