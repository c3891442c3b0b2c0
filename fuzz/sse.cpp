// The SSE splitter every streaming wire uses, and the tool-argument normaliser.
#include "common/json.hpp"
#include "fuzz_support.hpp"
#include "llm/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body = atlas::fuzz::input(data, size);
  bool complete = false;
  for (const auto& ev : atlas::llm::split_sse(body, &complete)) (void)atlas::llm::normalise_arguments(ev.data);
  // The normaliser must always return a JSON object.
  std::string args = atlas::llm::normalise_arguments(body);
  auto doc = atlas::json::parse(args, "arguments");
  if (!doc || !doc->IsObject()) __builtin_trap();
  return 0;
}
