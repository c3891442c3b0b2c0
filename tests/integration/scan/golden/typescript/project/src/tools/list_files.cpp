// Tool "list_files": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/list_files_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_list_files(ToolContext& ctx, const ListFilesArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"list_files\" is not implemented yet: write it in src/tools/list_files.cpp");
}

}  // namespace gen
