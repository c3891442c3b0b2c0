#include <gtest/gtest.h>

#include "runtime/plan.hpp"

namespace atlas::runtime {
namespace {

TEST(Plan, ParsesFencedReplyWithStringIds) {
  auto p = parse_plan("Here is my plan:\n```json\n{\"steps\":[{\"id\":\"step_1\",\"description\":\"a\"},"
                      "{\"id\":\"s2\",\"description\":\"b\",\"depends_on\":[\"step_1\"]},]}\n```");
  ASSERT_TRUE(p.is_ok()) << p.status().to_string();
  ASSERT_EQ(p->steps.size(), 2u);
  EXPECT_EQ(p->steps[1].id, 2);
  EXPECT_EQ(p->steps[1].depends_on, std::vector<int>{1});
  EXPECT_TRUE(check_plan(*p).is_ok());
}

// Found by fuzz_plan_reply: a dependency written as a number far outside int was converted to
// int (undefined behaviour). Ids outside int, fractional or huge, are refused with the value.
TEST(Plan, IdsOutsideIntAreRefusedNotConverted) {
  auto huge_dep = parse_plan(R"({"steps":[{"id":1,"description":"x","depends_on":[111111111111111111111111111111111111111]}]})");
  ASSERT_FALSE(huge_dep.is_ok());
  EXPECT_NE(huge_dep.status().message().find("not a step id"), std::string::npos) << huge_dep.status().message();
  auto huge_id = parse_plan(R"({"steps":[{"id":1e38,"description":"x"}]})");
  ASSERT_FALSE(huge_id.is_ok());
  EXPECT_NE(huge_id.status().message().find("1e38"), std::string::npos) << huge_id.status().message();
  EXPECT_FALSE(parse_plan(R"({"steps":[{"id":9000000000,"description":"x"}]})").is_ok());
  EXPECT_FALSE(parse_plan(R"({"steps":[{"id":1.5,"description":"x"}]})").is_ok());
  auto whole = parse_plan(R"({"steps":[{"id":2.0,"description":"x"}]})");
  ASSERT_TRUE(whole.is_ok()) << whole.status().to_string();
  EXPECT_EQ(whole->steps[0].id, 2);
}

TEST(Plan, BareListAndMissingIds) {
  auto p = parse_plan(R"([{"description":"a"},{"description":"b"}])");
  ASSERT_TRUE(p.is_ok());
  EXPECT_EQ(p->steps[1].id, 2);
}

TEST(Plan, DetectsCycleUnknownDependencyEmptyAndDuplicates) {
  auto cyc = parse_plan(R"({"steps":[{"id":1,"description":"a","depends_on":[2]},{"id":2,"description":"b","depends_on":[1]}]})");
  ASSERT_TRUE(cyc.is_ok());
  Status st = check_plan(*cyc);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("cycle"), std::string::npos) << st.message();
  auto unk = parse_plan(R"({"steps":[{"id":1,"description":"a","depends_on":[7]}]})");
  EXPECT_NE(check_plan(*unk).message().find("unknown step 7"), std::string::npos);
  auto empty = parse_plan(R"({"steps":[]})");
  EXPECT_NE(check_plan(*empty).message().find("no steps"), std::string::npos);
  auto dup = parse_plan(R"({"steps":[{"id":1,"description":"a"},{"id":1,"description":"b"}]})");
  EXPECT_NE(check_plan(*dup).message().find("more than one"), std::string::npos);
  EXPECT_FALSE(parse_plan("no json here").is_ok());
}

TEST(Plan, APlanLongerThanTheStepLimitIsRefusedWithTheLimitNamed) {
  Plan p;
  for (int i = 1; i <= 500; ++i) p.steps.push_back({i, "step " + std::to_string(i), {}, ""});
  EXPECT_TRUE(check_plan(p).is_ok());  // no limit
  Status st = check_plan(p, 32);
  EXPECT_EQ(st.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(st.message().find("500 steps, more than [limits] max_plan_steps = 32"), std::string::npos) << st.message();
  p.steps.resize(32);
  EXPECT_TRUE(check_plan(p, 32).is_ok());
}

TEST(Plan, TopologicalOrderRespectsDependencies) {
  auto p = parse_plan(R"({"steps":[{"id":4,"description":"d","depends_on":[2,3]},{"id":2,"description":"b","depends_on":[1]},
                                   {"id":3,"description":"c","depends_on":[1]},{"id":1,"description":"a"}]})");
  ASSERT_TRUE(p.is_ok());
  auto order = topological_order(*p);
  ASSERT_EQ(order.size(), 4u);
  EXPECT_EQ(p->steps[order.front()].id, 1);
  EXPECT_EQ(p->steps[order.back()].id, 4);
}

}  // namespace
}  // namespace atlas::runtime
