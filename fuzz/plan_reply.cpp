// The planner's reply: parse, check and order the plan, write it back.
#include "fuzz_support.hpp"
#include "runtime/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto plan = atlas::runtime::parse_plan(atlas::fuzz::input(data, size));
  if (!plan) return 0;
  if (atlas::runtime::check_plan(*plan).is_ok()) (void)atlas::runtime::topological_order(*plan);
  (void)atlas::runtime::plan_to_json_text(*plan);
  return 0;
}
