// review approve/quarantine of many sessions: every id given is changed (one review_events row
// each), a bad id fails only itself, and --all-matching selects by the `review list` filters
// behind a confirmation of the count.
#include <gtest/gtest.h>

#include "cli_support.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

class ReviewBulk : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(copy_three_sessions_db(db()));
    ASSERT_EQ(sqlite_int(db(), "SELECT COUNT(*) FROM sessions"), 3);
    stored_events_ = all_events();  // the finish of each session recorded its initial status
  }
  long long all_events() { return sqlite_int(db(), "SELECT COUNT(*) FROM review_events"); }
  fs::path db() const { return dir_.path() / "s.db"; }
  std::string url() const { return " --database-url " + sh_quote("sqlite://" + db().string()); }
  CliResult review(const std::string& args) { return run_cli(dir_.path(), "review " + args + url()); }
  long long with_status(const std::string& s) {
    return sqlite_int(db(), "SELECT COUNT(*) FROM sessions WHERE review_status = '" + s + "'");
  }
  long long events(const std::string& new_status) {
    return sqlite_int(db(), "SELECT COUNT(*) FROM review_events WHERE new_status = '" + new_status + "'");
  }
  TempDir dir_{"review-bulk"};
  long long stored_events_ = 0;
};

TEST_F(ReviewBulk, ApproveManyIdsApprovesEveryOneWithItsOwnEvent) {
  CliResult r = review("approve 1 2 3 --reason checked --actor alice");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_EQ(with_status("approved"), 3);
  EXPECT_EQ(events("approved"), 3);
  EXPECT_EQ(
      sqlite_int(db(),
                 "SELECT COUNT(DISTINCT session_id) FROM review_events WHERE actor = 'alice' AND reason = 'checked'"),
      3);
  for (const char* id : {"1", "2", "3"})
    EXPECT_NE(r.out.find(std::string("Session ") + id + " marked as approved"), std::string::npos) << r.all();
}

TEST_F(ReviewBulk, AnUnknownIdFailsOnlyItselfAndTheCommandExits1) {
  CliResult r = review("quarantine 1 999 3");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("session 999"), std::string::npos) << r.all();
  EXPECT_NE(r.err.find("2 of 3"), std::string::npos) << r.all();
  EXPECT_EQ(with_status("quarantined"), 2);
  EXPECT_EQ(events("quarantined"), 2);
}

TEST_F(ReviewBulk, AMalformedIdIsAUsageErrorBeforeAnyChange) {
  CliResult r = review("approve 1 two 3");
  EXPECT_EQ(r.exit_code, 2) << r.all();
  EXPECT_NE(r.err.find("'two'"), std::string::npos) << r.all();
  EXPECT_EQ(with_status("approved"), 0);
  EXPECT_EQ(all_events(), stored_events_);
}

// A misspelt status used to be passed to the database as given: the filter matched nothing
// and `--all-matching` said "no session matches". Now it is a usage error naming the valid ones.
TEST_F(ReviewBulk, AMisspeltStatusFilterIsAUsageErrorNotAnEmptySelection) {
  CliResult list = review("list --review-status pendng");
  EXPECT_EQ(list.exit_code, 2) << list.all();
  EXPECT_NE(list.err.find("did you mean \"pending\""), std::string::npos) << list.all();
  CliResult bulk = review("approve --all-matching --status succeded --confirm 3");
  EXPECT_EQ(bulk.exit_code, 2) << bulk.all();
  EXPECT_NE(bulk.err.find("did you mean \"succeeded\""), std::string::npos) << bulk.all();
  EXPECT_EQ(with_status("approved"), 0);
  EXPECT_EQ(all_events(), stored_events_);
  CliResult mixed_case = review("list --review-status PENDING --json");
  EXPECT_EQ(mixed_case.exit_code, 0) << mixed_case.all();
  CliResult export_typo = run_cli(dir_.path(), "export --format atlas-jsonl --output - --include-status aproved" + url());
  EXPECT_EQ(export_typo.exit_code, 2) << export_typo.all();
  EXPECT_NE(export_typo.err.find("did you mean \"approved\""), std::string::npos) << export_typo.all();
}

TEST_F(ReviewBulk, AllMatchingNeedsTheCountConfirmedAndDryRunChangesNothing) {
  std::string filters = "--all-matching --learning-key atlas-quickstart-security-review --review-status pending";
  CliResult dry = review("approve " + filters + " --dry-run");
  ASSERT_EQ(dry.exit_code, 0) << dry.all();
  EXPECT_NE(dry.out.find("3 session(s) would be approved"), std::string::npos) << dry.all();
  EXPECT_EQ(with_status("approved"), 0);

  CliResult unconfirmed = review("approve " + filters);  // stdin is not a terminal
  EXPECT_EQ(unconfirmed.exit_code, 1) << unconfirmed.all();
  EXPECT_NE(unconfirmed.err.find("--confirm 3"), std::string::npos) << unconfirmed.all();
  CliResult wrong = review("approve " + filters + " --confirm 2");
  EXPECT_EQ(wrong.exit_code, 1) << wrong.all();
  EXPECT_EQ(with_status("approved"), 0);
  EXPECT_EQ(all_events(), stored_events_);

  CliResult ok = review("approve " + filters + " --confirm 3 --json");
  ASSERT_EQ(ok.exit_code, 0) << ok.all();
  EXPECT_EQ(with_status("approved"), 3);
  EXPECT_EQ(events("approved"), 3);
  EXPECT_NE(ok.out.find("\"review_status\":\"approved\""), std::string::npos) << ok.out;

  // Nothing pending is left: the same selection now matches nothing and says so.
  CliResult none = review("approve " + filters + " --confirm 0");
  EXPECT_EQ(none.exit_code, 1) << none.all();
  EXPECT_NE(none.err.find("no session matches"), std::string::npos) << none.all();
}

TEST_F(ReviewBulk, FiltersWithoutAllMatchingAndIdsWithAllMatchingAreUsageErrors) {
  EXPECT_EQ(review("approve --review-status pending").exit_code, 2);
  EXPECT_EQ(review("approve 1 --all-matching").exit_code, 2);
  EXPECT_EQ(review("show 1 --dry-run").exit_code, 2);
  EXPECT_EQ(with_status("approved"), 0);
}

}  // namespace
}  // namespace atlas::cli_test
