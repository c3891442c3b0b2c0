#include <gtest/gtest.h>

#include "common/json.hpp"
#include "data/review.hpp"
#include "runtime/console.hpp"

namespace atlas {
namespace {

// A step attempt the teacher could not judge is stored as status "unvalidated" with a verdict
// that says valid=false: `review show` must not call it invalid.
TEST(ReviewShow, UnvalidatedAttemptIsNotShownAsInvalid) {
  auto doc = json::parse(R"({"session_id":"7","status":"succeeded","review_status":"pending","task":"t",
    "steps":[{"step_id":1,"attempts":2,"attempt_details":[
      {"attempt":1,"evaluation":{"validation":{"valid":false,"unavailable":true},"status":"unvalidated","output":"a"}},
      {"attempt":2,"evaluation":{"validation":{"valid":false},"status":"failed","output":"b"}},
      {"attempt":3,"evaluation":{"validation":{"valid":true},"status":"passed","output":"c"}}]}]})",
                         "session");
  ASSERT_TRUE(doc.is_ok());
  std::string text = data::render_session(*doc, false);
  EXPECT_NE(text.find("attempt 1: unvalidated"), std::string::npos) << text;
  EXPECT_NE(text.find("attempt 2: invalid"), std::string::npos) << text;
  EXPECT_NE(text.find("attempt 3: valid"), std::string::npos) << text;
}

// `review show` prints the stored cost per role, says which roles had no price (unknown, not
// $0), and the learning synthesis cost from its llm_call events.
TEST(ReviewShow, ShowsCostPerRoleAndUnknownWithoutAPrice) {
  auto doc = json::parse(R"({"session_id":"8","status":"succeeded","review_status":"approved","task":"t",
    "metadata":{"token_usage":{"cost_usd":null,"unpriced_roles":["judge"],
      "by_role":{"teacher":{"cost_usd":0.0042},"judge":{"cost_usd":null}}}},
    "trajectory_events":[{"created_at":"2026-01-01T00:00:00.000000Z",
      "event":{"type":"llm_call","name":"learning","role":"learning","data":{"cost_usd":0.0005}}}]})",
                         "session");
  ASSERT_TRUE(doc.is_ok());
  std::string text = data::render_session(*doc, false);
  EXPECT_NE(text.find("cost: unknown  (judge unknown, teacher $0.004200)  no price or no usage for: judge"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("learning cost (after the session): $0.000500 over 1 call(s)"), std::string::npos) << text;
  auto old_session = json::parse(R"({"session_id":"9","status":"succeeded","review_status":"approved","task":"t",
    "metadata":{"token_usage":{"prompt_tokens":10}}})");  // stored before cost was recorded
  ASSERT_TRUE(old_session.is_ok());
  EXPECT_NE(data::render_session(*old_session, false).find("cost: unknown"), std::string::npos);
}

TEST(BatchTable, ShowsSessionIdsAndEndsWithASummary) {
  std::vector<runtime::TaskSpec> tasks = {{"first task", "{}", ""}, {"second task", "{}", ""}};
  std::vector<runtime::SessionReport> reports(2);
  reports[0].session_id = "41";
  reports[0].stored = true;
  reports[0].status = SessionStatus::kSucceeded;
  reports[0].lane = "auto";
  reports[0].reward = 0.5;
  reports[0].total_tokens.total_tokens = 100;
  reports[1].session_id = "local-2";
  reports[1].status = SessionStatus::kFailed;
  reports[1].reward = 1.0;
  reports[1].total_tokens.total_tokens = 50;
  std::string t = runtime::console::batch_table(tasks, reports);
  EXPECT_NE(t.find("session"), std::string::npos) << t;
  EXPECT_NE(t.find("41"), std::string::npos) << t;
  EXPECT_NE(t.find("local-2 (not stored)"), std::string::npos) << t;
  EXPECT_NE(t.find("2 task(s): 1 succeeded, 1 failed; mean reward 0.75; 150 tokens\n"), std::string::npos) << t;
  EXPECT_EQ(t.substr(t.size() - 1), "\n");
}

}  // namespace
}  // namespace atlas
