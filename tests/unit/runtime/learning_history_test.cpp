#include <gtest/gtest.h>

#include <cstdlib>

#include "runtime/learning.hpp"
#include "runtime/learning_history.hpp"

namespace atlas::runtime {
namespace {

json::Document records(std::initializer_list<double> scores) {
  json::Document d;
  d.SetArray();
  auto& a = d.GetAllocator();
  int i = 0;
  for (double s : scores) {
    json::Value r(rapidjson::kObjectType);
    json::Value reward(rapidjson::kObjectType);
    reward.AddMember("score", s, a);
    reward.AddMember("raw", "secret stuff", a);
    r.AddMember("reward", reward, a);
    r.AddMember("student_learning", json::str(std::string(1500, 'n'), a), a);
    r.AddMember("teacher_learning", json::Value(), a);
    r.AddMember("created_at", json::str("2026-01-0" + std::to_string(++i) + "T00:00:00Z", a), a);
    r.AddMember("completed_at", json::str("2026-01-0" + std::to_string(i) + "T00:01:00Z", a), a);
    d.PushBack(r, a);
  }
  return d;
}

TEST(LearningHistory, EmptyHasOnlyCounts) {
  json::Document r;
  r.SetArray();
  auto h = aggregate_learning_history(r, 10);
  EXPECT_EQ(h["count"].GetInt(), 0);
  EXPECT_EQ(h["total_count"].GetInt(), 0);
  EXPECT_TRUE(h["entries"].Empty());
  EXPECT_FALSE(h.HasMember("scores"));
}

TEST(LearningHistory, KeepsTheLastLimitAndComputesStreaks) {
  ::unsetenv("ATLAS_LEARNING_HISTORY_LIMIT");
  auto r = records({0.2, 0.9, 0.3, 0.85, 0.9});
  auto h = aggregate_learning_history(r, 4);
  EXPECT_EQ(h["count"].GetInt(), 4);
  EXPECT_EQ(h["total_count"].GetInt(), 5);
  EXPECT_EQ(h["limit"].GetInt(), 4);
  ASSERT_EQ(h["scores"].Size(), 4u);
  EXPECT_DOUBLE_EQ(h["scores"][0].GetDouble(), 0.9);
  EXPECT_NEAR(h["average_score"].GetDouble(), (0.9 + 0.3 + 0.85 + 0.9) / 4, 1e-12);
  EXPECT_NEAR(h["overall_average_score"].GetDouble(), (0.2 + 0.9 + 0.3 + 0.85 + 0.9) / 5, 1e-12);
  EXPECT_EQ(h["recent_high_score_streak"].GetInt(), 2);
  EXPECT_EQ(h["recent_low_score_streak"].GetInt(), 0);
  // raw is dropped; notes are cut to 1024 chars + "..."
  EXPECT_FALSE(h["entries"][0]["reward"].HasMember("raw"));
  EXPECT_EQ(h["entries"][0]["student_learning"].GetStringLength(), 1027u);
  EXPECT_STREQ(h["entries"][0]["created_at"].GetString(), "2026-01-02T00:00:00Z");
}

TEST(LearningHistory, LowStreakAndEnvLimit) {
  ::setenv("ATLAS_LEARNING_HISTORY_LIMIT", "2", 1);
  auto r = records({0.9, 0.4, 0.1});
  auto h = aggregate_learning_history(r, 10);
  ::unsetenv("ATLAS_LEARNING_HISTORY_LIMIT");
  EXPECT_EQ(h["count"].GetInt(), 2);
  EXPECT_EQ(h["recent_low_score_streak"].GetInt(), 2);
  EXPECT_EQ(effective_history_limit(0), 10);
  EXPECT_EQ(effective_history_limit(500), 200);
}

TEST(LearningHistory, AWindowOfALongerRecordReportsTheRecordsTotals) {
  ::unsetenv("ATLAS_LEARNING_HISTORY_LIMIT");
  data::LearningHistory stored;
  stored.records.push_back({R"({"score":0.9,"raw":{}})", "s", "", "2025-10-01T12:00:00Z", "2025-10-01T12:15:00Z"});
  stored.total_count = 24;
  stored.overall_average_score = 0.61;
  auto h = aggregate_learning_history(stored, 1);
  EXPECT_EQ(h["count"].GetInt(), 1);
  EXPECT_EQ(h["total_count"].GetInt(), 24);
  EXPECT_DOUBLE_EQ(h["overall_average_score"].GetDouble(), 0.61);
  EXPECT_DOUBLE_EQ(h["average_score"].GetDouble(), 0.9);
  EXPECT_FALSE(h["entries"][0]["reward"].HasMember("raw"));
  // Totals that do not exceed the window (an older storage plugin) change nothing.
  stored.total_count = 0;
  stored.overall_average_score.reset();
  auto w = aggregate_learning_history(stored, 1);
  EXPECT_EQ(w["total_count"].GetInt(), 1);
  EXPECT_DOUBLE_EQ(w["overall_average_score"].GetDouble(), 0.9);
}

TEST(LearningHistory, TheLearningModelSeesOnlyTheLastHistoryLimitEntries) {
  ::unsetenv("ATLAS_LEARNING_HISTORY_LIMIT");
  auto h = aggregate_learning_history(records({0.1, 0.2, 0.3, 0.4, 0.5}), 10);
  auto cut = json::parse(history_for_learning(json::dump(h), 2));
  ASSERT_TRUE(cut.is_ok());
  ASSERT_EQ((*cut)["entries"].Size(), 2u);
  EXPECT_DOUBLE_EQ((*cut)["entries"][0]["reward"]["score"].GetDouble(), 0.4);
  EXPECT_DOUBLE_EQ((*cut)["entries"][1]["reward"]["score"].GetDouble(), 0.5);
  EXPECT_EQ((*cut)["total_count"].GetInt(), 5);  // the counts still describe the whole history
  EXPECT_EQ(history_for_learning(json::dump(h), 10), json::dump(h));
}

}  // namespace
}  // namespace atlas::runtime
