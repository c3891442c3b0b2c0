// The status vocabularies: every enum value has one name that parses back to it, and names from
// outside (command line, files) are checked with the valid ones and a suggestion in the error.
#include "config/statuses.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace atlas {
namespace {

TEST(Statuses, EveryValueRoundTripsThroughItsName) {
  for (auto s : {SessionStatus::kRunning, SessionStatus::kSucceeded, SessionStatus::kFailed,
                 SessionStatus::kInterrupted, SessionStatus::kNotStarted})
    EXPECT_EQ(parse_session_status(status_name(s)), s) << status_name(s);
  for (auto s : {ReviewStatus::kPending, ReviewStatus::kApproved, ReviewStatus::kQuarantined})
    EXPECT_EQ(parse_review_status(status_name(s)), s) << status_name(s);
  for (auto s : {StepStatus::kPending, StepStatus::kCompleted, StepStatus::kPassed, StepStatus::kFailed,
                 StepStatus::kUnvalidated, StepStatus::kError, StepStatus::kTimeout, StepStatus::kSkipped})
    EXPECT_EQ(parse_step_status(status_name(s)), s) << status_name(s);
}

TEST(Statuses, NamesAreTheStoredVocabulary) {
  // What the database and every export already carry: changing a name is a data migration.
  EXPECT_EQ(status_name(SessionStatus::kSucceeded), "succeeded");
  EXPECT_EQ(status_name(SessionStatus::kInterrupted), "interrupted");
  EXPECT_EQ(status_name(ReviewStatus::kQuarantined), "quarantined");
  EXPECT_EQ(status_name(StepStatus::kTimeout), "timeout");
  std::ostringstream os;
  os << ReviewStatus::kApproved << "/" << StepStatus::kUnvalidated << "/" << SessionStatus::kFailed;
  EXPECT_EQ(os.str(), "approved/unvalidated/failed");
}

TEST(Statuses, ListsAreCaseInsensitiveAndDropDuplicates) {
  auto r = parse_review_statuses({"Approved", "PENDING", "approved"}, "--include-status");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(*r, (std::vector<ReviewStatus>{ReviewStatus::kApproved, ReviewStatus::kPending}));
  auto s = parse_session_statuses({"failed", "Succeeded"}, "--status");
  ASSERT_TRUE(s.is_ok());
  EXPECT_EQ(*s, (std::vector<SessionStatus>{SessionStatus::kFailed, SessionStatus::kSucceeded}));
}

TEST(Statuses, AnUnknownNameIsRefusedWithTheValidOnesAndTheNearest) {
  auto r = parse_review_statuses({"approved", "aproved"}, "--review-status");
  ASSERT_FALSE(r.is_ok());
  const std::string& m = r.status().message();
  EXPECT_NE(m.find("--review-status"), std::string::npos) << m;
  EXPECT_NE(m.find("\"aproved\""), std::string::npos) << m;
  EXPECT_NE(m.find("pending, approved, quarantined"), std::string::npos) << m;
  EXPECT_NE(m.find("did you mean \"approved\""), std::string::npos) << m;
  auto s = parse_session_statuses({"succeded"}, "--status");
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.status().message().find("did you mean \"succeeded\""), std::string::npos) << s.status().message();
}

TEST(Statuses, NotStartedIsNoFilterBecauseItIsNeverStored) {
  auto s = parse_session_statuses({"not_started"}, "--status");
  ASSERT_FALSE(s.is_ok());
  EXPECT_EQ(s.status().message().find("not_started,"), std::string::npos) << s.status().message();
}

}  // namespace
}  // namespace atlas
