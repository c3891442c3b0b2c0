// The teacher's replies: a step verdict and a plan review, then their JSON written back.
#include "fuzz_support.hpp"
#include "runtime/teacher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view reply = atlas::fuzz::input(data, size);
  atlas::runtime::Verdict v = atlas::runtime::Teacher::parse_verdict(reply);
  (void)v.to_json();
  atlas::runtime::Plan original = atlas::runtime::single_step_plan("task");
  atlas::runtime::PlanReview r = atlas::runtime::Teacher::parse_review(reply, original);
  (void)atlas::runtime::plan_to_json_text(r.plan);
  return 0;
}
