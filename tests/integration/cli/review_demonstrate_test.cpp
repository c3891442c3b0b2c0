// review demonstrate: a reviewer's corrected answer is stored as a review_events row
// (action 'demonstration', with the actor and reason), read back by `review show`, and bad
// input (no answer, an empty one, an unreadable file, an unknown session) changes nothing.
#include <gtest/gtest.h>

#include <fstream>

#include "cli_support.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

class ReviewDemonstrate : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(copy_three_sessions_db(db()));
    stored_events_ = all_events();
  }
  long long all_events() { return sqlite_int(db(), "SELECT COUNT(*) FROM review_events"); }
  long long demonstrations() {
    return sqlite_int(db(), "SELECT COUNT(*) FROM review_events WHERE action = 'demonstration'");
  }
  fs::path db() const { return dir_.path() / "s.db"; }
  std::string url() const { return " --database-url " + sh_quote("sqlite://" + db().string()); }
  CliResult review(const std::string& args) { return run_cli(dir_.path(), "review " + args + url()); }
  TempDir dir_{"review-demo"};
  long long stored_events_ = 0;
};

TEST_F(ReviewDemonstrate, AnswerIsStoredWithActorAndReasonAndShown) {
  CliResult r = review("demonstrate 2 --answer 'The fix is to escape the input.' --reason 'wrong fix' --actor carol");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(demonstrations(), 1);
  EXPECT_EQ(sqlite_int(db(),
                       "SELECT COUNT(*) FROM review_events WHERE action = 'demonstration' AND session_id = 2 "
                       "AND actor = 'carol' AND reason = 'wrong fix' AND note = 'The fix is to escape the input.'"),
            1);
  CliResult shown = review("show 2");
  ASSERT_EQ(shown.exit_code, 0) << shown.all();
  EXPECT_NE(shown.out.find("carol  demonstration  why: wrong fix  answer: The fix is to escape the input."),
            std::string::npos)
      << shown.out;
}

TEST_F(ReviewDemonstrate, AnswerFromAFileKeepsItsBytes) {
  const std::string text = "line one\nline \"two\" with a tab\t\n";
  {
    std::ofstream f(dir_.path() / "answer.txt", std::ios::binary);
    f << text;
  }
  CliResult r = review("demonstrate 1 --json --answer-file " + sh_quote((dir_.path() / "answer.txt").string()));
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("\"demonstration_bytes\":" + std::to_string(text.size())), std::string::npos) << r.out;
  EXPECT_EQ(sqlite_int(db(), "SELECT COUNT(*) FROM review_events WHERE action = 'demonstration' AND note = '" +
                                 std::string("line one\nline \"two\" with a tab\t\n") + "'"),
            1);
}

TEST_F(ReviewDemonstrate, MissingEmptyOrUnreadableAnswersAreUsageErrorsThatChangeNothing) {
  for (const char* args :
       {"demonstrate 1", "demonstrate 1 --answer '  \n'", "demonstrate 1 --answer a --answer-file b",
        "demonstrate 1 --answer-file /nonexistent/answer.txt", "demonstrate --answer x", "approve 1 --answer x"}) {
    CliResult r = review(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.all();
    EXPECT_FALSE(r.err.empty()) << args;
  }
  EXPECT_EQ(all_events(), stored_events_);
}

TEST_F(ReviewDemonstrate, AnUnknownSessionFailsWithExit1) {
  CliResult r = review("demonstrate 999 --answer x");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("999"), std::string::npos) << r.all();
  EXPECT_EQ(all_events(), stored_events_);
}

}  // namespace
}  // namespace atlas::cli_test
