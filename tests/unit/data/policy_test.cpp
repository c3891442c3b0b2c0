// Review-status export policy (docs/export-formats.md), trainer command construction, report maths.
#include <gtest/gtest.h>

#include <cstdlib>

#include "data/export.hpp"
#include "data/report.hpp"
#include "data/train.hpp"

namespace atlas::data {
namespace {

using Statuses = std::optional<std::vector<ReviewStatus>>;
constexpr ReviewStatus kApproved = ReviewStatus::kApproved;
constexpr ReviewStatus kPending = ReviewStatus::kPending;
constexpr ReviewStatus kQuarantined = ReviewStatus::kQuarantined;

class EnvGuard {
 public:
  EnvGuard() {
    ::unsetenv("ATLAS_REVIEW_REQUIRE_APPROVAL");
    ::unsetenv("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES");
  }
  ~EnvGuard() {
    ::unsetenv("ATLAS_REVIEW_REQUIRE_APPROVAL");
    ::unsetenv("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES");
  }
};

TEST(ReviewPolicy, ApprovedOnlyByDefault) {
  EnvGuard g;
  EXPECT_EQ(resolve_review_filter(nullptr, {}, false), Statuses(std::vector<ReviewStatus>{kApproved}));
  config::ReviewConfig rc;
  EXPECT_EQ(resolve_review_filter(&rc, {}, false), Statuses(std::vector<ReviewStatus>{kApproved}));
}

TEST(ReviewPolicy, IncludeStatusAddsAndIncludeAllDropsTheFilter) {
  EnvGuard g;
  EXPECT_EQ(resolve_review_filter(nullptr, {kPending, kApproved}, false),
            Statuses(std::vector<ReviewStatus>{kApproved, kPending}));
  EXPECT_EQ(resolve_review_filter(nullptr, {}, true), std::nullopt);
}

TEST(ReviewPolicy, ApprovalNotRequiredMeansApprovedAndPending) {
  EnvGuard g;
  config::ReviewConfig rc;
  rc.require_approval = false;
  EXPECT_EQ(resolve_review_filter(&rc, {}, false), Statuses(std::vector<ReviewStatus>{kApproved, kPending}));
  rc.statuses_explicit = true;
  rc.default_export_statuses = {kApproved};
  EXPECT_EQ(resolve_review_filter(&rc, {}, false), Statuses(std::vector<ReviewStatus>{kApproved}));
  rc.include_all_statuses = true;
  EXPECT_EQ(resolve_review_filter(&rc, {}, false), std::nullopt);
}

TEST(ReviewPolicy, EnvironmentWithoutAConfig) {
  EnvGuard g;
  ::setenv("ATLAS_REVIEW_REQUIRE_APPROVAL", "off", 1);
  EXPECT_EQ(resolve_review_filter(nullptr, {}, false), Statuses(std::vector<ReviewStatus>{kApproved, kPending}));
  ::setenv("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES", "quarantined, Approved", 1);
  EXPECT_EQ(resolve_review_filter(nullptr, {}, false), Statuses(std::vector<ReviewStatus>{kQuarantined, kApproved}));
  ::setenv("ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES", "*", 1);
  EXPECT_EQ(resolve_review_filter(nullptr, {}, false), std::nullopt);
}

TEST(ExportFilters, NeverSelectRunningOrInterruptedSessions) {
  ExportFilters f;
  f.statuses = {SessionStatus::kSucceeded};
  std::string j = filters_json(f);
  EXPECT_NE(j.find("\"exclude_unfinished\":true"), std::string::npos) << j;
  EXPECT_NE(j.find("\"review_status\":[\"approved\"]"), std::string::npos) << j;
  EXPECT_FALSE(parse_export_format("csv").is_ok());
  EXPECT_NE(parse_export_format("csv").status().message().find("trl-grpo"), std::string::npos);
}

TEST(ExportFilters, FailedSessionsOnlyWhenAskedFor) {
  ExportFilters f;  // the default: a failed session is not training data
  EXPECT_NE(filters_json(f).find("\"status\":[\"succeeded\"]"), std::string::npos) << filters_json(f);
  f.statuses = {SessionStatus::kSucceeded, SessionStatus::kFailed};  // --include-failed
  EXPECT_NE(filters_json(f).find("\"status\":[\"succeeded\",\"failed\"]"), std::string::npos) << filters_json(f);
}

TEST(TrainerArgv, ExportPathIsAHydraOverrideUnlessPlaced) {
  config::TrainConfig t;
  t.command = {"python", "train.py"};
  t.overrides = {{"trainer", "grpo"}};
  auto argv = trainer_argv(t, "/tmp/x.jsonl", {"trainer.lr=1e-5"});
  ASSERT_TRUE(argv.is_ok());
  EXPECT_EQ(*argv, (std::vector<std::string>{"python", "train.py", "data.dataset_path=/tmp/x.jsonl", "trainer=grpo",
                                             "trainer.lr=1e-5"}));
  t.args = {"--data", "{export_path}"};
  argv = trainer_argv(t, "/tmp/x.jsonl", {});
  EXPECT_EQ(*argv, (std::vector<std::string>{"python", "train.py", "--data", "/tmp/x.jsonl", "trainer=grpo"}));
}

TEST(TrainerArgv, ShellCommandsQuoteWhatTheyAppendAndBadInputIsRefused) {
  config::TrainConfig t;
  t.command = {"echo training"};
  t.command_is_shell = true;
  auto argv = trainer_argv(t, "/tmp/it's.jsonl", {"a=b c"});
  ASSERT_TRUE(argv.is_ok());
  EXPECT_EQ((*argv)[0], "/bin/sh");
  EXPECT_EQ((*argv)[2], "echo training 'data.dataset_path=/tmp/it'\\''s.jsonl' 'a=b c'");
  EXPECT_EQ(trainer_argv(t, "x", {"novalue"}).status().code(), StatusCode::kInvalidArgument);
  config::TrainConfig none;
  auto missing = trainer_argv(none, "x", {});
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("[train]"), std::string::npos);
}

TEST(ReportSvg, DrawsOneLinePerLearningKeyWithinTheChart) {
  Report r;
  KeyReport a;
  a.learning_key = "k<1>";
  a.rewards = {{"1", 0.2}, {"2", 0.5}, {"3", 1.0}};
  r.keys.push_back(a);
  std::string svg = report_svg(r);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("<polyline"), std::string::npos);
  EXPECT_NE(svg.find("k&lt;1&gt;"), std::string::npos);  // escaped label
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
}

}  // namespace
}  // namespace atlas::data
