// Tool "search_docs": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/search_docs_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_search_docs(ToolContext& ctx, const SearchDocsArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"search_docs\" is not implemented yet: write it in src/tools/search_docs.cpp");
}

}  // namespace gen
