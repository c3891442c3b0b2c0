// Probe plugin `history`: routes a task from its learning history alone (no model call).
// Deterministic; the rules are listed in README.md and mirrored in the code below.
#include <atlas/sdk.hpp>
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

namespace {

using rapidjson::Document;
using rapidjson::Value;

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "auto_streak": {"type": "integer", "minimum": 1, "maximum": 100},
    "auto_average": {"type": "number", "minimum": 0, "maximum": 1},
    "min_samples": {"type": "integer", "minimum": 1, "maximum": 100},
    "coach_average": {"type": "number", "minimum": 0, "maximum": 1},
    "coach_low_streak": {"type": "integer", "minimum": 1, "maximum": 100},
    "stale_after_days": {"type": "number", "minimum": 0}
  },
  "additionalProperties": false
})";

double num(const Value& v, const char* key, double fallback) {
  auto it = v.IsObject() ? v.FindMember(key) : v.MemberEnd();
  return v.IsObject() && it != v.MemberEnd() && it->value.IsNumber() ? it->value.GetDouble() : fallback;
}

// "2026-11-25T20:42:44.123456Z" / "2026-11-25 20:42:44+00:00" -> unix seconds; -1 when unreadable.
double parse_time(const Value* v) {
  if (!v || !v->IsString()) return -1;
  std::tm tm{};
  int y, mo, d, h = 0, mi = 0;
  double s = 0;
  if (std::sscanf(v->GetString(), "%d-%d-%d%*[T ]%d:%d:%lf", &y, &mo, &d, &h, &mi, &s) < 3) return -1;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = static_cast<int>(s);
  return static_cast<double>(timegm(&tm));
}

struct Options {
  int auto_streak = 3;
  double auto_average = 0.8;
  int min_samples = 3;
  double coach_average = 0.5;
  int coach_low_streak = 2;
  double stale_after_days = 30;
};

class HistoryProbe : public atlas::sdk::Probe {
 public:
  static constexpr atlas::sdk::Info info{"history", "1.0.0", "atlas-host", "Apache-2.0",
                                         "Deterministic lane choice from learning-history scores, streaks, counts and recency",
                                         ATLAS_CAP_THREAD_SAFE, kSchema};

  HistoryProbe(const atlas::sdk::Host&, std::string_view config_json) {
    Document d;
    atlas::sdk::parse_json(d, config_json);
    if (d.HasParseError() || !d.IsObject()) return;
    opt_.auto_streak = static_cast<int>(num(d, "auto_streak", opt_.auto_streak));
    opt_.auto_average = num(d, "auto_average", opt_.auto_average);
    opt_.min_samples = static_cast<int>(num(d, "min_samples", opt_.min_samples));
    opt_.coach_average = num(d, "coach_average", opt_.coach_average);
    opt_.coach_low_streak = static_cast<int>(num(d, "coach_low_streak", opt_.coach_low_streak));
    opt_.stale_after_days = num(d, "stale_after_days", opt_.stale_after_days);
  }

  std::string probe(atlas::sdk::Call&, std::string_view request_json) override {
    Document req;
    atlas::sdk::parse_json(req, request_json);
    if (req.HasParseError() || !req.IsObject())
      throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "probe request is not a JSON object");
    const Value empty(rapidjson::kObjectType);
    auto hit = req.FindMember("learning_history");
    const Value& h = hit != req.MemberEnd() && hit->value.IsObject() ? hit->value : empty;

    // Scores of the kept entries, oldest first (from "scores", else from entries[].reward.score).
    std::vector<double> scores;
    auto sit = h.FindMember("scores");
    if (sit != h.MemberEnd() && sit->value.IsArray()) {
      for (const auto& s : sit->value.GetArray())
        if (s.IsNumber()) scores.push_back(s.GetDouble());
    }
    double newest = -1;
    auto eit = h.FindMember("entries");
    if (eit != h.MemberEnd() && eit->value.IsArray()) {
      bool fill = scores.empty();
      for (const auto& e : eit->value.GetArray()) {
        if (!e.IsObject()) continue;
        if (fill) {
          auto r = e.FindMember("reward");
          if (r != e.MemberEnd() && r->value.IsObject()) {
            auto sc = r->value.FindMember("score");
            if (sc != r->value.MemberEnd() && sc->value.IsNumber()) scores.push_back(sc->value.GetDouble());
          }
        }
        for (const char* k : {"completed_at", "created_at"}) {
          auto t = e.FindMember(k);
          double ts = parse_time(t != e.MemberEnd() ? &t->value : nullptr);
          if (ts > newest) newest = ts;
        }
      }
    }
    // "Now" for staleness: the request's as-of time (evaluations replay old histories), else the clock.
    double now = num(req, "now_unix", static_cast<double>(std::time(nullptr)));
    size_t n = scores.size();
    // Rewarded sessions on record: the window is the last `limit` of them.
    double recorded = std::max(static_cast<double>(n), num(h, "total_count", 0));
    const bool window_of_longer_record = recorded > static_cast<double>(n);
    // A streak cannot be longer than the window; when the window is a cut of a longer record,
    // a streak covering all of it counts as long enough.
    int needed_streak = window_of_longer_record ? std::min<int>(opt_.auto_streak, static_cast<int>(n)) : opt_.auto_streak;
    double avg = 0;
    for (double s : scores) avg += s;
    if (n) avg /= static_cast<double>(n);
    int high = 0, low = 0;
    for (auto it = scores.rbegin(); it != scores.rend() && *it >= 0.8; ++it) ++high;
    for (auto it = scores.rbegin(); it != scores.rend() && *it <= 0.4; ++it) ++low;
    double age_days = newest >= 0 ? (now - newest) / 86400.0 : 0;

    std::string mode, why;
    double confidence;
    if (n == 0) {
      mode = "paired", confidence = 0.5, why = "no scored history: the teacher checks the answer";
    } else if (low >= opt_.coach_low_streak) {
      mode = "coach", confidence = 0.2, why = "the last " + std::to_string(low) + " sessions scored <= 0.4";
    } else if (avg < opt_.coach_average) {
      mode = "coach", confidence = 0.3, why = "average score " + fmt(avg) + " is below " + fmt(opt_.coach_average);
    } else if (newest >= 0 && age_days > opt_.stale_after_days) {
      mode = "paired", confidence = 0.6, why = "history is stale (" + fmt(age_days) + " days old): re-check with the teacher";
    } else if (recorded < opt_.min_samples) {
      mode = "paired", confidence = 0.65,
      why = "only " + std::to_string(static_cast<long long>(recorded)) + " rewarded sessions: too few to run unattended";
    } else if (high >= needed_streak && avg >= opt_.auto_average) {
      mode = "auto", confidence = std::min(0.99, 0.85 + 0.02 * (high - needed_streak)),
      why = std::to_string(high) + " high scores in a row, average " + fmt(avg);
    } else {
      mode = "paired", confidence = 0.7, why = "mixed recent scores (average " + fmt(avg) + ")";
    }
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("mode");
    w.String(mode.c_str());
    w.Key("confidence");
    w.Double(confidence);
    w.Key("rationale");
    w.String(why.c_str());
    w.EndObject();
    return buf.GetString();
  }

 private:
  static std::string fmt(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.2f", v);
    return b;
  }
  Options opt_;
};

}  // namespace

ATLAS_PLUGIN(HistoryProbe)
