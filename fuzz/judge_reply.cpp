// The llm judge plugin's reply parser (plugins/judges/llm/judge_reply.cpp).
#include "judge_reply.hpp"

#include "fuzz_support.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  atlas_judge_llm::ParsedReply r = atlas_judge_llm::parse_reply(atlas::fuzz::input(data, size));
  if (r.ok && (r.score < 0.0 || r.score > 1.0 || r.uncertainty < 0.0 || r.uncertainty > 1.0)) __builtin_trap();
  return 0;
}
