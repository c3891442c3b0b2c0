// One `atlas-host scan` source (ATLAS_FUZZ_SCAN): find tools in the text, then normalise their
// schemas the way code generation does.
#include <cstring>

#include "fuzz_support.hpp"
#include "scan/normalize.hpp"
#include "scan/scanner.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = atlas::fuzz::input(data, size);
  atlas::scan::Found found;
  const char* source = ATLAS_FUZZ_SCAN;
  if (std::strcmp(source, "python") == 0)
    atlas::scan::scan_python_text(text, "fuzz.py", found);
  else if (std::strcmp(source, "typescript") == 0)
    atlas::scan::scan_typescript_text(text, "fuzz.ts", found);
  else if (std::strcmp(source, "openapi") == 0)
    (void)atlas::scan::scan_openapi_text(text, "fuzz.json", found);
  else
    atlas::scan::scan_json_text(text, "fuzz.json", found);
  (void)atlas::scan::normalize_tools(found.tools, found.skipped);
  return 0;
}
