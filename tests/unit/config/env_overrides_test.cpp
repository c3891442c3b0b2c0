// ATLAS_REVIEW_* and ATLAS_DRIFT_* overrides, with warnings on bad values.
#include <map>

#include "test_util.hpp"

namespace atlas::config {
namespace {

using ::testing::HasSubstr;
using testing::kMinimal;
using testing::parse_ok;

EnvLookup env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(EnvOverrides, NothingSetChangesNothing) {
  Config c = parse_ok(kMinimal);
  auto warnings = apply_env_overrides(c, env({}));
  EXPECT_TRUE(warnings.empty());
  EXPECT_TRUE(c.review.require_approval);
  EXPECT_EQ(c.drift.window, 50);
}

TEST(EnvOverrides, ReviewPolicy) {
  Config c = parse_ok(kMinimal);
  auto warnings = apply_env_overrides(
      c, env({{"ATLAS_REVIEW_REQUIRE_APPROVAL", "off"}, {"ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES", " Approved, pending ,"}}));
  EXPECT_TRUE(warnings.empty());
  EXPECT_FALSE(c.review.require_approval);
  EXPECT_EQ(c.review.default_export_statuses, (std::vector<ReviewStatus>{ReviewStatus::kApproved, ReviewStatus::kPending}));
  EXPECT_TRUE(c.review.statuses_explicit);

  Config all = parse_ok(kMinimal);
  apply_env_overrides(all, env({{"ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES", "*"}}));
  EXPECT_TRUE(all.review.include_all_statuses);
}

TEST(EnvOverrides, UnrecognisedApprovalValueWarnsAndRequiresApproval) {
  Config c = parse_ok(std::string(kMinimal) + "[review]\nrequire_approval = false\n");
  auto warnings = apply_env_overrides(c, env({{"ATLAS_REVIEW_REQUIRE_APPROVAL", "maybe"}}));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_THAT(warnings[0], HasSubstr("ATLAS_REVIEW_REQUIRE_APPROVAL='maybe'"));
  EXPECT_TRUE(c.review.require_approval);
}

TEST(EnvOverrides, DriftSettings) {
  Config c = parse_ok(kMinimal);
  auto warnings = apply_env_overrides(c, env({{"ATLAS_DRIFT_ENABLED", "false"},
                                              {"ATLAS_DRIFT_WINDOW", "20"},
                                              {"ATLAS_DRIFT_Z_THRESHOLD", "2.5"},
                                              {"ATLAS_DRIFT_MIN_BASELINE", "0"}}));
  EXPECT_TRUE(warnings.empty());
  EXPECT_FALSE(c.drift.enabled);
  EXPECT_EQ(c.drift.window, 20);
  EXPECT_DOUBLE_EQ(c.drift.z_threshold, 2.5);
  EXPECT_EQ(c.drift.min_baseline, 0);
}

TEST(EnvOverrides, InvalidDriftValuesAreIgnoredWithAWarningEach) {
  Config c = parse_ok(kMinimal);
  auto warnings = apply_env_overrides(c, env({{"ATLAS_DRIFT_ENABLED", "perhaps"},
                                              {"ATLAS_DRIFT_WINDOW", "0"},
                                              {"ATLAS_DRIFT_Z_THRESHOLD", "-1"},
                                              {"ATLAS_DRIFT_MIN_BASELINE", "5x"}}));
  EXPECT_EQ(warnings.size(), 4u);
  EXPECT_TRUE(c.drift.enabled);
  EXPECT_EQ(c.drift.window, 50);
  EXPECT_DOUBLE_EQ(c.drift.z_threshold, 3.0);
  EXPECT_EQ(c.drift.min_baseline, 5);
}

}  // namespace
}  // namespace atlas::config
