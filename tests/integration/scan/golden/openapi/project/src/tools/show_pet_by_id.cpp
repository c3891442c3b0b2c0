// Tool "showPetById": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/show_pet_by_id_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_show_pet_by_id(ToolContext& ctx, const ShowPetByIdArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"showPetById\" is not implemented yet: write it in src/tools/show_pet_by_id.cpp");
}

}  // namespace gen
