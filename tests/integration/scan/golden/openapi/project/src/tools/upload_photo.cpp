// Tool "uploadPhoto": your implementation. atlas-host scan created this file once and
// never overwrites it. Arguments arrive validated against the tool's schema (gen/upload_photo_args.hpp).
// Return the result as JSON text; the MCP form {"content":[{"type":"text","text":"..."}]}
// is shown to the model as its text.
#include "gen/tools.hpp"

namespace gen {

std::string run_upload_photo(ToolContext& ctx, const UploadPhotoArgs& args) {
  (void)args;
  (void)ctx;
  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,
                          "tool \"uploadPhoto\" is not implemented yet: write it in src/tools/upload_photo.cpp");
}

}  // namespace gen
