// The pure parts of `atlas-host playbook`: the editable document, the unified diff and the
// candidates the learning gates refused.
#include "runtime/playbook_admin.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"
#include "runtime/playbook.hpp"

namespace atlas::runtime {
namespace {

PlaybookVersion version(int64_t n, std::string student, std::string metadata = "{}") {
  PlaybookVersion v;
  v.version = n;
  v.student_learning = std::move(student);
  v.teacher_learning = "teach";
  v.metadata_json = std::move(metadata);
  return v;
}

TEST(PlaybookDocument, RoundTripsPamphletsAndEntries) {
  auto v = version(3, "line one\nline two",
                   R"({"playbook_entries":[{"id":"playbook-entry-1","imperative":"check inputs"}]})");
  std::string doc = playbook_document("k", v);
  EXPECT_NE(doc.find("version 3"), std::string::npos);
  auto parsed = parse_playbook_document(doc);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->student_learning, "line one\nline two");
  EXPECT_EQ(parsed->teacher_learning, "teach");
  EXPECT_EQ(parsed->entries_json, R"([{"id":"playbook-entry-1","imperative":"check inputs"}])");
}

TEST(PlaybookDocument, BadDocumentsSayWhatIsWrong) {
  auto missing = parse_playbook_document("=== student_learning ===\nx\n");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("teacher_learning"), std::string::npos) << missing.status().message();
  auto stray = parse_playbook_document("hello\n=== student_learning ===\n");
  ASSERT_FALSE(stray.is_ok());
  EXPECT_NE(stray.status().message().find("line 1"), std::string::npos);
  auto not_json = parse_playbook_document(
      "=== student_learning ===\n=== teacher_learning ===\n=== playbook_entries (JSON array) ===\n[{oops}]\n");
  ASSERT_FALSE(not_json.is_ok());
  EXPECT_NE(not_json.status().message().find("not JSON"), std::string::npos);
  auto not_objects = parse_playbook_document(
      "=== student_learning ===\n=== teacher_learning ===\n=== playbook_entries (JSON array) ===\n[1]\n");
  ASSERT_FALSE(not_objects.is_ok());
  EXPECT_NE(not_objects.status().message().find("playbook_entries[0]"), std::string::npos);
  auto twice = parse_playbook_document("=== student_learning ===\n=== student_learning ===\n");
  ASSERT_FALSE(twice.is_ok());
  EXPECT_NE(twice.status().message().find("twice"), std::string::npos);
  auto empty_entries = parse_playbook_document(
      "=== student_learning ===\na\n=== teacher_learning ===\n=== playbook_entries (JSON array) ===\n");
  ASSERT_TRUE(empty_entries.is_ok());
  EXPECT_EQ(empty_entries->entries_json, "[]");
}

TEST(UnifiedDiff, GnuShapeWithContextAndSeparateHunks) {
  EXPECT_EQ(unified_diff("a\nb\n", "a\nb\n", "x", "y"), "");
  std::string d = unified_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
                               "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n", "v1", "v2", 1);
  EXPECT_EQ(d,
            "--- v1\n+++ v2\n"
            "@@ -2,3 +2,3 @@\n 2\n-3\n+three\n 4\n"
            "@@ -12 +12,2 @@\n 12\n+13\n");
  EXPECT_EQ(unified_diff("", "new\n", "a", "b"), "--- a\n+++ b\n@@ -0,0 +1 @@\n+new\n");
  EXPECT_EQ(unified_diff("old\n", "", "a", "b"), "--- a\n+++ b\n@@ -1 +0,0 @@\n-old\n");
}

TEST(RejectedCandidates, OncePerSynthesisWithEntryAndReasons) {
  // A real merge: one candidate without a cue is refused by the gates.
  config::LearningConfig cfg;
  auto syn = json::parse(R"({"playbook_entries":[{"audience":"student","action":{"imperative":"do it"},
      "cue":{"type":"keyword","pattern":""}}]})");
  ASSERT_TRUE(syn.is_ok());
  MergeReport report;
  LearningSnapshot merged = merge_synthesis(LearningSnapshot{}, *syn, cfg, {}, "42", &report);
  ASSERT_EQ(report.rejected, 1) << merged.metadata_json;
  std::vector<PlaybookVersion> versions = {version(1, "", merged.metadata_json),
                                           version(2, "edited", merged.metadata_json)};  // an edit copies it along
  auto rejected = rejected_candidates(versions);
  ASSERT_EQ(rejected.size(), 1u);
  EXPECT_EQ(rejected[0].version, 1);
  EXPECT_EQ(rejected[0].session_id, "42");
  EXPECT_FALSE(rejected[0].reasons.empty());
  EXPECT_NE(rejected[0].entry_json.find("do it"), std::string::npos) << rejected[0].entry_json;
  EXPECT_TRUE(rejected_candidates({version(1, "")}).empty());
}

}  // namespace
}  // namespace atlas::runtime
