// Tool "convert_currency": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/convert_currency_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_convert_currency(ToolContext& ctx, const ConvertCurrencyArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"convert_currency\" is not implemented yet: write it in src/tools/convert_currency.cpp");
}

}  // namespace gen
