// The review UI list's storage operations (plugins/storage/soci/ops_review_ui.cpp) against a plain
// reference computed here from the sessions the test stored, on SQLite and PostgreSQL: text search
// for a term most sessions have (SQLite walks the reward index) and for a rare one (SQLite sorts
// the trigram candidates), with filters that leave the walk without a full page (it falls back),
// every page of a reward-sorted cursor walk with ties and scores SQLite would print with 15
// digits, and the capped counts with the tab counts standing in for the selection's own.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <vector>

#include "storage_fixture.hpp"

namespace atlas::test {
namespace {

// One stored session, as the reference sees it.
struct Stored {
  long long id = 0;
  std::string task, answer, review, key, lane;
  std::optional<double> score;
};

// What a list request filters on (the subset of review_ui_sessions' fields the tests use).
struct Filter {
  std::string text = {};
  std::string key = {};
  std::string lane = {};
  std::vector<std::string> review = {};
  std::optional<double> min_reward = std::nullopt;

  std::string json() const {
    std::string j = "\"text\":" + json::quote(text);
    if (!key.empty()) j += ",\"learning_key\":" + json::quote(key);
    if (!lane.empty()) j += ",\"lane\":" + json::quote(lane);
    if (!review.empty()) {
      j += ",\"review_status\":[";
      for (size_t i = 0; i < review.size(); ++i) j += (i ? "," : "") + json::quote(review[i]);
      j += "]";
    }
    if (min_reward) j += ",\"min_reward\":" + std::to_string(*min_reward);
    return j;
  }
};

std::string ascii_lower(std::string s) {
  for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

bool selected(const Stored& s, const Filter& f) {
  const std::string needle = ascii_lower(f.text);
  if (!needle.empty() && ascii_lower(s.task).find(needle) == std::string::npos &&
      ascii_lower(s.answer).find(needle) == std::string::npos)
    return false;
  if (!f.key.empty() && s.key != f.key) return false;
  if (!f.lane.empty() && s.lane != f.lane) return false;
  if (!f.review.empty() && std::find(f.review.begin(), f.review.end(), s.review) == f.review.end()) return false;
  if (f.min_reward && (!s.score || *s.score < *f.min_reward)) return false;
  return true;
}

// The reference list: filter, then order by (score or -1, id) or by id.
std::vector<long long> reference(const std::vector<Stored>& all, const Filter& f, const std::string& sort) {
  std::vector<const Stored*> rows;
  for (const Stored& s : all)
    if (selected(s, f)) rows.push_back(&s);
  const bool by_reward = sort.rfind("reward", 0) == 0;
  const bool asc = sort == "reward_asc" || sort == "oldest";
  std::sort(rows.begin(), rows.end(), [&](const Stored* a, const Stored* b) {
    if (by_reward) {
      double x = a->score.value_or(-1), y = b->score.value_or(-1);
      if (x != y) return asc ? x < y : x > y;
    }
    return asc ? a->id < b->id : a->id > b->id;
  });
  std::vector<long long> ids;
  for (const Stored* s : rows) ids.push_back(s->id);
  return ids;
}

constexpr int kSessions = 600;
// Scores with ties, and two that differ only in the 17th digit.
const char* kScores[] = {"0.0", "0.25", "0.30000000000000004", "0.3", "1.0"};

class ReviewUiList : public BackendTest {
 protected:
  // Session i: "Translate" (a common term, any case) in every even task, "zebra" (a rare one)
  // in three answers; review by i % 3, key by i % 4, lane by i % 2, score by i % 5 (none when
  // i % 11 == 0). Stored through begin_session / finish_session.
  void seed(plugin::StorageHandle& h) {
    ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
    const char* reviews[] = {"pending", "approved", "quarantined"};
    for (int i = 1; i <= kSessions; ++i) {
      Stored s;
      s.task = (i % 2 == 0 ? (i % 4 == 0 ? "TRANSLATE the notes #" : "Please translate release notes #")
                           : "Fix the parser #") +
               std::to_string(i);
      s.answer = i % 200 == 7 ? "spotted a zebra" : "done " + std::to_string(i);
      s.review = reviews[i % 3];
      s.key = "k" + std::to_string(i % 4);
      s.lane = i % 2 == 0 ? "coach" : "auto";
      auto begun = call(h, "begin_session", "{\"task\":" + json::quote(s.task) + "}");
      ASSERT_TRUE(begun.is_ok()) << begun.status().to_string();
      s.id = std::stoll(json::get_string(*begun, "session_id"));
      std::string reward;
      if (i % 11 != 0) {
        const char* score = kScores[i % 5];
        s.score = std::stod(score);
        reward = std::string(",\"reward_stats\":{\"score\":") + score + "}";
      }
      auto fin = call(h, "finish_session",
                      "{\"session_id\":\"" + std::to_string(s.id) +
                          "\",\"status\":\"succeeded\",\"final_answer\":" + json::quote(s.answer) +
                          ",\"review_status\":\"" + s.review + "\",\"metadata\":{\"learning_key\":\"" + s.key +
                          "\",\"execution_mode\":\"" + s.lane + "\"}" + reward + "}");
      ASSERT_TRUE(fin.is_ok()) << fin.status().to_string();
      all_.push_back(s);
    }
  }

  // Every page of the list, `limit` rows at a time, following "next" to the end.
  std::vector<long long> pages(plugin::StorageHandle& h, const Filter& f, const std::string& sort, int limit) {
    std::vector<long long> ids;
    std::string after;
    for (int page = 0; page < kSessions + 1; ++page) {
      std::string req = "{" + f.json() + ",\"sort\":\"" + sort + "\",\"limit\":" + std::to_string(limit);
      if (!after.empty()) req += ",\"after\":" + json::quote(after);
      auto r = call(h, "review_ui_sessions", req + "}");
      EXPECT_TRUE(r.is_ok()) << req << ": " << r.status().to_string();
      if (!r.is_ok()) break;
      const auto& rows = (*r)["sessions"];
      EXPECT_LE(rows.Size(), static_cast<unsigned>(limit));
      for (const auto& row : rows.GetArray()) ids.push_back(std::stoll(json::get_string(row, "session_id")));
      const json::Value* next = json::find(*r, "next");
      if (!next || !next->IsString()) break;
      EXPECT_EQ(rows.Size(), static_cast<unsigned>(limit)) << "a page before the last one is short";
      after = next->GetString();
    }
    return ids;
  }

  std::vector<Stored> all_;
};

TEST_P(ReviewUiList, ReadsEveryPageOfASearchInTheReferenceOrder) {
  auto h = handle();
  seed(h);
  ASSERT_EQ(all_.size(), static_cast<size_t>(kSessions));
  Filter common{"translate"};
  Filter rare{"ZEBRA"};
  // Filters that leave the walk in reward order (SQLite) few rows: 27 and 8 rows, all with the
  // top score, so reward_desc fills its page at once while reward_asc spends its budget (200 rows
  // for a page of 4) and falls back to the candidates; `none` always falls back.
  Filter thin{"translate", "k0", "", {}, 0.9};
  Filter thinner{"translate", "k0", "", {"quarantined"}, 0.9};
  Filter none{"translate", "k1"};
  Filter lane{"translate", "", "coach", {"approved", "pending"}};
  ASSERT_GT(reference(all_, common, "newest").size(), 200u);  // over the walk's budget for a page of 4
  ASSERT_EQ(reference(all_, rare, "newest").size(), 3u);
  ASSERT_EQ(reference(all_, none, "newest").size(), 0u);
  for (const Filter& f : {common, rare, thin, thinner, none, lane}) {
    for (const char* sort : {"reward_desc", "reward_asc", "newest", "oldest"}) {
      for (int limit : {4, 50}) {
        SCOPED_TRACE(f.json() + " sort " + sort + " limit " + std::to_string(limit));
        EXPECT_EQ(pages(h, f, sort, limit), reference(all_, f, sort));
      }
    }
  }
}

TEST_P(ReviewUiList, RewardSortWithoutTextPagesThroughTiesAndFullPrecisionScores) {
  auto h = handle();
  seed(h);
  Filter everything;
  for (const char* sort : {"reward_desc", "reward_asc"}) {
    SCOPED_TRACE(sort);
    EXPECT_EQ(pages(h, everything, sort, 7), reference(all_, everything, sort));
  }
  // A cursor that is not from a page is refused, not read as the first page.
  auto bad = call(h, "review_ui_sessions", R"({"sort":"reward_desc","after":"0.3"})");
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ReviewUiList, IdsOnlyFollowsThePageOrder) {
  auto h = handle();
  seed(h);
  Filter common{"translate"};
  for (const char* sort : {"reward_desc", "newest"}) {
    auto r = call(h, "review_ui_sessions",
                  "{" + common.json() + ",\"sort\":\"" + sort + "\",\"ids_only\":true,\"limit\":30}");
    ASSERT_TRUE(r.is_ok()) << r.status().to_string();
    std::vector<long long> ids;
    for (const auto& id : (*r)["ids"].GetArray()) ids.push_back(std::stoll(id.GetString()));
    auto want = reference(all_, common, sort);
    want.resize(30);
    EXPECT_EQ(ids, want) << sort;
    EXPECT_TRUE(json::get_bool(*r, "truncated"));
  }
}

TEST_P(ReviewUiList, CountsMatchTheReferenceUpToTheCap) {
  auto h = handle();
  seed(h);
  const std::vector<Filter> filters = {
      Filter{},
      Filter{"translate"},
      Filter{"zebra"},
      Filter{"translate", "k2", "coach"},
      Filter{"", "k0", "coach", {}, 0.2},
      Filter{"translate", "", "", {"approved"}},
      Filter{"translate", "", "", {"approved", "quarantined"}},
      Filter{"", "", "", {"APPROVED"}},  // compared lowercase, like the list
      Filter{"translate", "k1"},
  };
  for (const Filter& f : filters) {
    for (int cap : {30, 95, 1000}) {
      SCOPED_TRACE(f.json() + " cap " + std::to_string(cap));
      auto r = call(h, "review_ui_counts", "{" + f.json() + ",\"count_cap\":" + std::to_string(cap) + "}");
      ASSERT_TRUE(r.is_ok()) << r.status().to_string();
      Filter lowered = f;
      for (std::string& s : lowered.review) s = ascii_lower(s);
      const auto want = static_cast<int64_t>(reference(all_, lowered, "newest").size());
      EXPECT_EQ(json::get_int(*r, "count"), std::min<int64_t>(want, cap));
      EXPECT_EQ(json::get_bool(*r, "count_capped"), want > cap);
      for (const char* tab : {"pending", "approved", "quarantined"}) {
        Filter one = lowered;
        one.review = {tab};
        const auto n = static_cast<int64_t>(reference(all_, one, "newest").size());
        EXPECT_EQ(json::get_int((*r)["counts"], tab), std::min<int64_t>(n, cap)) << tab;
        EXPECT_EQ(json::find((*r)["counts_capped"], tab) != nullptr, n > cap) << tab;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ReviewUiList, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
