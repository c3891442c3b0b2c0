#include "runtime/learning_history.hpp"

#include <cstdlib>
#include <string_view>
#include <vector>

namespace atlas::runtime {
namespace {

// Truncates to `limit` bytes on a UTF-8 boundary and appends "..." when cut.
std::string truncate_note(std::string_view s, size_t limit) {
  if (s.size() <= limit) return std::string(s);
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return std::string(s.substr(0, cut)) + "...";
}

std::optional<double> score_of(const json::Value& record) {
  const json::Value* reward = json::find(record, "reward");
  if (!reward || !reward->IsObject()) return std::nullopt;
  return json::get_optional_double(*reward, "score");
}

}  // namespace

int effective_history_limit(int configured) {
  if (const char* env = std::getenv("ATLAS_LEARNING_HISTORY_LIMIT")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end && *end == '\0' && end != env && v > 0) return v > kMaxHistoryLimit ? kMaxHistoryLimit : static_cast<int>(v);
  }
  if (configured <= 0) return kDefaultHistoryLimit;
  return configured > kMaxHistoryLimit ? kMaxHistoryLimit : configured;
}

int64_t history_count(const json::Value& history) { return json::get_int(history, "count", 0); }

json::Document aggregate_learning_history(const json::Value& records, int limit) {
  return aggregate_learning_history(records, limit, HistoryTotals{});
}

json::Document aggregate_learning_history(const data::LearningHistory& history, int limit) {
  json::Document records;
  records.SetArray();
  auto& a = records.GetAllocator();
  for (const auto& r : history.records) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("reward", json::parsed_or_null(r.reward_json, a), a);
    o.AddMember("student_learning", json::str(r.student_learning, a), a);
    o.AddMember("teacher_learning", json::str(r.teacher_learning, a), a);
    o.AddMember("created_at", json::str(r.created_at, a), a);
    o.AddMember("completed_at", json::str(r.completed_at, a), a);
    records.PushBack(o, a);
  }
  return aggregate_learning_history(records, limit, HistoryTotals{history.total_count, history.overall_average_score});
}

json::Document aggregate_learning_history(const json::Value& records, int limit, const HistoryTotals& totals) {
  json::Document out;
  out.SetObject();
  auto& a = out.GetAllocator();
  limit = effective_history_limit(limit);
  size_t total = records.IsArray() ? records.Size() : 0;
  if (total == 0) {
    out.AddMember("entries", json::Value(rapidjson::kArrayType), a);
    out.AddMember("count", 0, a);
    out.AddMember("total_count", 0, a);
    return out;
  }
  size_t first = total > static_cast<size_t>(limit) ? total - static_cast<size_t>(limit) : 0;
  json::Value entries(rapidjson::kArrayType);
  std::vector<double> kept_scores;
  double overall_sum = 0;
  size_t overall_n = 0;
  for (size_t i = 0; i < total; ++i) {
    const json::Value& rec = records[static_cast<rapidjson::SizeType>(i)];
    auto score = score_of(rec);
    if (score) {
      overall_sum += *score;
      ++overall_n;
    }
    if (i < first) continue;
    if (score) kept_scores.push_back(*score);
    json::Value entry(rapidjson::kObjectType);
    json::Value reward(rapidjson::kNullType);
    if (const json::Value* r = json::find(rec, "reward"); r && r->IsObject()) {
      reward.SetObject();
      for (const auto& m : r->GetObject()) {
        std::string_view k(m.name.GetString(), m.name.GetStringLength());
        if (k == "raw" || k == "step_artifacts" || k == "artifacts") continue;
        reward.AddMember(json::Value(m.name, a), json::Value(m.value, a), a);
      }
    } else if (r) {
      reward.CopyFrom(*r, a);
    }
    entry.AddMember("reward", reward, a);
    for (const char* key : {"student_learning", "teacher_learning"}) {
      const json::Value* v = json::find(rec, key);
      if (v && v->IsString())
        entry.AddMember(json::str(key, a), json::str(truncate_note({v->GetString(), v->GetStringLength()}, kHistoryNoteLimit), a), a);
      else
        entry.AddMember(json::str(key, a), json::Value(rapidjson::kNullType), a);
    }
    for (const char* key : {"created_at", "completed_at"}) {
      const json::Value* v = json::find(rec, key);
      json::Value copy;
      if (v) copy.CopyFrom(*v, a);
      entry.AddMember(json::str(key, a), copy, a);
    }
    entries.PushBack(entry, a);
  }
  out.AddMember("entries", entries, a);
  out.AddMember("count", static_cast<int64_t>(total - first), a);
  // A window of a longer record: the totals describe the whole record.
  const bool windowed = totals.total_count > static_cast<int64_t>(total);
  out.AddMember("total_count", windowed ? totals.total_count : static_cast<int64_t>(total), a);
  int64_t high = 0, low = 0;
  if (!kept_scores.empty()) {
    json::Value scores(rapidjson::kArrayType);
    double sum = 0;
    for (double s : kept_scores) {
      scores.PushBack(s, a);
      sum += s;
    }
    out.AddMember("scores", scores, a);
    out.AddMember("average_score", sum / static_cast<double>(kept_scores.size()), a);
    for (auto it = kept_scores.rbegin(); it != kept_scores.rend() && *it >= 0.8; ++it) ++high;
    for (auto it = kept_scores.rbegin(); it != kept_scores.rend() && *it <= 0.4; ++it) ++low;
  }
  if (windowed && totals.overall_average_score) out.AddMember("overall_average_score", *totals.overall_average_score, a);
  else if (overall_n > 0) out.AddMember("overall_average_score", overall_sum / static_cast<double>(overall_n), a);
  out.AddMember("recent_high_score_streak", high, a);
  out.AddMember("recent_low_score_streak", low, a);
  out.AddMember("limit", limit, a);
  return out;
}

}  // namespace atlas::runtime
