// `eval probe` over records in Atlas's probe-dataset format that this repository did not shape:
// histories recorded long ago, a short window of a long record. The real `history` probe plugin.
#include "runtime/probe_eval.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/clock.hpp"
#include "config/loader.hpp"

namespace fs = std::filesystem;

namespace atlas::runtime {
namespace {

class ProbeEval : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("atlas-probe-eval-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "atlas.toml") << "[agent]\nadapter = \"openai\"\n[student.llm]\nmodel = \"m\"\n[teacher.llm]\n"
                                          "model = \"m\"\n[rewards.small_model]\nmodel = \"m\"\n[routing]\nprobe = "
                                          "\"history\"\n[storage]\nenabled = false\n[plugins]\ndirs = [\""
                                       << ATLAS_TEST_PLUGIN_DIR << "\"]\n";
    auto cfg = config::load_config(dir_ / "atlas.toml");
    ASSERT_TRUE(cfg.is_ok()) << cfg.status().to_string();
    config_ = *cfg;
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<ProbeEvalReport> eval(const std::string& lines, std::optional<int64_t> as_of = std::nullopt) {
    std::ofstream(dir_ / "set.jsonl") << lines;
    return run_probe_eval(config_, dir_ / "set.jsonl", "", {}, as_of);
  }

  fs::path dir_;
  config::Config config_;
};

// One entry in the window, recorded in October 2025, of a key with 24 rewarded sessions averaging 0.92.
const char* kYearOldLongRecord =
    R"({"task": "Summarize security posture", "learning_history": {"entries": [{"reward": {"score": 0.92},)"
    R"( "student_learning": null, "teacher_learning": null, "created_at": "2025-10-01T12:00:00Z",)"
    R"( "completed_at": "2025-10-01T12:15:00Z"}], "count": 1, "total_count": 24, "scores": [0.92],)"
    R"( "average_score": 0.92, "overall_average_score": 0.92, "recent_high_score_streak": 1,)"
    R"( "recent_low_score_streak": 0, "limit": 10}, "expected_mode": "auto"})"
    "\n";

TEST_F(ProbeEval, AnOldHistoryIsJudgedAsOfItsOwnNewestTimestampAndByItsWholeRecord) {
  auto report = eval(kYearOldLongRecord);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  ASSERT_EQ(report->cases.size(), 1u);
  EXPECT_EQ(report->cases[0].predicted, "auto") << report->cases[0].rationale;
  EXPECT_EQ(report->correct, 1);
}

TEST_F(ProbeEval, AsOfOverridesTheRecordsOwnTime) {
  // Judged a year after the history ends, the same record is stale: the teacher re-checks.
  auto as_of = clock::parse_iso8601_seconds("2026-10-01T12:15:00Z");
  ASSERT_TRUE(as_of);
  auto report = eval(kYearOldLongRecord, as_of);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->cases[0].predicted, "paired");
  EXPECT_NE(report->cases[0].rationale.find("stale"), std::string::npos) << report->cases[0].rationale;
}

TEST_F(ProbeEval, AShortRecordIsStillTooFewSessions) {
  // total_count 2: the window is the whole record, too short to run unattended.
  std::string line = kYearOldLongRecord;
  line.replace(line.find("\"total_count\": 24"), 17, "\"total_count\": 2");
  auto report = eval(line);
  ASSERT_TRUE(report.is_ok()) << report.status().to_string();
  EXPECT_EQ(report->cases[0].predicted, "paired");
  EXPECT_NE(report->cases[0].rationale.find("too few"), std::string::npos) << report->cases[0].rationale;
}

TEST(ProbeEvalTime, NewestHistoryTimeReadsIsoTimestampsWithOffsets) {
  auto doc =
      json::parse(R"({"entries": [{"created_at": "2025-10-01T12:00:00Z", "completed_at": "2025-10-01 14:00:00+02:00"},
                                          {"created_at": "2025-10-02T00:00:00.123456Z", "completed_at": null}]})");
  ASSERT_TRUE(doc.is_ok());
  auto newest = newest_history_time(*doc);
  ASSERT_TRUE(newest);
  EXPECT_EQ(*newest, *clock::parse_iso8601_seconds("2025-10-02T00:00:00Z"));
  EXPECT_EQ(*clock::parse_iso8601_seconds("1970-01-02"), 86400);
  EXPECT_EQ(*clock::parse_iso8601_seconds("2025-10-01 14:00:00+02:00"),
            *clock::parse_iso8601_seconds("2025-10-01T12:00:00Z"));
  EXPECT_FALSE(clock::parse_iso8601_seconds("yesterday"));
  EXPECT_FALSE(clock::parse_iso8601_seconds("2025-13-01"));
  EXPECT_FALSE(clock::parse_iso8601_seconds("2025-10-01T12:00:00Zjunk"));
  auto none = json::parse(R"({"entries": []})");
  EXPECT_FALSE(newest_history_time(*none));
}

}  // namespace
}  // namespace atlas::runtime
