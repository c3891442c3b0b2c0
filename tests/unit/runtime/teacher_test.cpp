#include <gtest/gtest.h>

#include "runtime/teacher.hpp"

namespace atlas::runtime {
namespace {

TEST(TeacherParse, LenientVerdict) {
  Verdict v = Teacher::parse_verdict("Sure!\n```json\n{\"valid\": false, \"guidance\": \"Cite the line.\",}\n```");
  EXPECT_TRUE(v.parsed);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(v.guidance, "Cite the line.");
  Verdict s = Teacher::parse_verdict("{\"valid\": \"yes\"}");
  EXPECT_TRUE(s.parsed);
  EXPECT_TRUE(s.valid);
}

TEST(TeacherParse, GarbageIsAnInvalidVerdictKeepingTheRawText) {
  Verdict v = Teacher::parse_verdict("I think it's fine");
  EXPECT_FALSE(v.parsed);
  EXPECT_FALSE(v.valid);
  EXPECT_EQ(v.raw, "I think it's fine");
  EXPECT_NE(v.to_json().find("I think it's fine"), std::string::npos);
  Verdict w = Teacher::parse_verdict("{\"looks\": \"good\"}");
  EXPECT_FALSE(w.parsed);
}

TEST(TeacherParse, PlanReviewKeepsOriginalWhenEmptyOrBroken) {
  Plan original = single_step_plan("task");
  auto keep = Teacher::parse_review(R"({"steps": [], "concerns": ["fine"]})", original);
  EXPECT_TRUE(keep.parsed);
  EXPECT_FALSE(keep.changed);
  EXPECT_EQ(keep.concerns.size(), 1u);
  auto broken = Teacher::parse_review("no", original);
  EXPECT_FALSE(broken.parsed);
  EXPECT_EQ(broken.plan.steps.size(), 1u);
  auto changed = Teacher::parse_review(R"({"steps":[{"id":1,"description":"x"},{"id":2,"description":"y","depends_on":[1]}]})", original);
  EXPECT_TRUE(changed.changed);
  EXPECT_EQ(changed.plan.steps.size(), 2u);
}

TEST(Teacher, ValidateSendsJsonModeAndTheAttempt) {
  config::TeacherConfig cfg;
  cfg.llm.model = "m";
  llm::Request seen;
  Teacher t(cfg, "base prompt", [&](llm::Request r) -> Result<llm::Response> {
    seen = r;
    llm::Response resp;
    resp.content = R"({"valid": true})";
    return resp;
  });
  t.set_playbook_block(">>> Teacher Playbook >>>\nbe strict\n>>> End Teacher Playbook >>>");
  ValidationInput in;
  in.task = "T";
  in.output = "student said this";
  in.guidance = {"earlier advice"};
  Verdict v = t.validate(in);
  EXPECT_TRUE(v.valid);
  EXPECT_EQ(seen.role, "teacher");
  EXPECT_EQ(seen.response_format_json, R"({"type":"json_object"})");
  ASSERT_EQ(seen.messages.size(), 2u);
  EXPECT_EQ(seen.messages[0].content.rfind(">>> Teacher Playbook >>>", 0), 0u);
  EXPECT_NE(seen.messages[0].content.find("base prompt"), std::string::npos);
  EXPECT_NE(seen.messages[1].content.find("student said this"), std::string::npos);
  EXPECT_NE(seen.messages[1].content.find("earlier advice"), std::string::npos);
}

TEST(Teacher, UnreachableTeacherIsReportedNotThrown) {
  config::TeacherConfig cfg;
  Teacher t(cfg, "", [](llm::Request) -> Result<llm::Response> { return unavailable("connection refused"); });
  Verdict v = t.validate(ValidationInput{});
  EXPECT_TRUE(v.unavailable);
  EXPECT_FALSE(v.valid);
  EXPECT_NE(v.error.find("connection refused"), std::string::npos);
  auto review = t.review_plan("task", single_step_plan("task"), "[]");
  EXPECT_FALSE(review.parsed);
  EXPECT_EQ(review.plan.steps.size(), 1u);
}

}  // namespace
}  // namespace atlas::runtime
