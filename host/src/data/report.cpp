#include "data/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/json.hpp"

namespace atlas::data {

using json::Value;

namespace {

void add_tokens(KeyReport& k, const Value* usage) {
  if (!usage || !usage->IsObject()) return;
  const Value* roles = json::find(*usage, "by_role");
  if (!roles || !roles->IsObject()) roles = usage;  // {"student": {...}, "teacher": {...}}
  for (auto it = roles->MemberBegin(); it != roles->MemberEnd(); ++it) {
    if (!it->value.IsObject()) continue;
    int64_t total = json::get_int(it->value, "total_tokens", -1);
    if (total < 0) total = json::get_int(it->value, "prompt_tokens") + json::get_int(it->value, "completion_tokens");
    k.tokens_by_role[std::string(it->name.GetString(), it->name.GetStringLength())] += total;
  }
}

void finish_stats(KeyReport& k) {
  size_t n = k.rewards.size();
  if (n == 0) return;
  double sum = 0, sx = 0, sy = 0, sxy = 0, sxx = 0;
  for (size_t i = 0; i < n; ++i) {
    double y = k.rewards[i].second, x = static_cast<double>(i);
    sum += y;
    sx += x;
    sy += y;
    sxy += x * y;
    sxx += x * x;
  }
  k.reward_mean = sum / static_cast<double>(n);
  size_t half = n / 2;
  double a = 0, b = 0;
  for (size_t i = 0; i < n; ++i) (i < half ? a : b) += k.rewards[i].second;
  k.reward_first_half = half ? a / static_cast<double>(half) : k.reward_mean;
  k.reward_second_half = b / static_cast<double>(n - half);
  double den = static_cast<double>(n) * sxx - sx * sx;
  k.reward_slope = den != 0.0 ? (static_cast<double>(n) * sxy - sx * sy) / den : 0.0;
}

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '<':
        o += "&lt;";
        break;
      case '>':
        o += "&gt;";
        break;
      case '&':
        o += "&amp;";
        break;
      case '"':
        o += "&quot;";
        break;
      default:
        o += c;
    }
  }
  return o;
}

// A learning key derived from the task is a SHA-256 (64 lower-case hex digits); a key set with
// learning_key_override (or Atlas's metadata learning_key) is the text given.
bool is_digest_key(std::string_view key) {
  return key.size() == 64 && key.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

}  // namespace

std::string shorten_for_display(std::string_view text, size_t max_code_points) {
  std::string flat;
  bool space = false;
  for (char c : text) {  // one line, runs of white space as one space
    const bool blank = c == ' ' || c == '\n' || c == '\r' || c == '\t';
    if (blank) {
      space = !flat.empty();
      continue;
    }
    if (space) flat += ' ';
    space = false;
    flat += c;
  }
  size_t code_points = 0, cut = 0;
  for (size_t i = 0; i < flat.size(); ++i) {
    if ((static_cast<unsigned char>(flat[i]) & 0xC0) == 0x80) continue;  // inside a UTF-8 sequence
    if (code_points == max_code_points) {
      cut = i;
      break;
    }
    ++code_points;
  }
  if (cut == 0 || max_code_points == 0) return flat;
  // Cut one code point earlier to make room for the ellipsis.
  size_t end = cut - 1;
  while (end > 0 && (static_cast<unsigned char>(flat[end]) & 0xC0) == 0x80) --end;
  return flat.substr(0, end) + "\u2026";
}

// Labels a person can read: the key itself when it is not a digest, else the task the key was
// derived from; labels that would be the same get the key's first 8 digits.
void assign_report_labels(std::vector<KeyReport>& keys) {
  std::map<std::string, int> uses;
  for (auto& k : keys) {
    if (k.learning_key.empty()) {
      k.label = "(no key)";
    } else if (!is_digest_key(k.learning_key)) {
      k.label = k.learning_key;
    } else {
      k.label = shorten_for_display(k.first_task.empty() ? k.learning_key : k.first_task, 40);
    }
    ++uses[k.label];
  }
  for (auto& k : keys)
    if (uses[k.label] > 1 && is_digest_key(k.learning_key)) k.label += " #" + k.learning_key.substr(0, 8);
}

std::optional<double> KeyReport::cost_per_accepted_usd() const {
  auto total = cost.value();
  if (!total || accepted_sessions == 0) return std::nullopt;
  return *total / static_cast<double>(accepted_sessions);
}

Result<Report> build_report(Store& store, const ReportRequest& req) {
  std::map<std::string, KeyReport> by_key;
  std::string after;
  for (;;) {
    json::Document f(rapidjson::kObjectType);
    auto& a = f.GetAllocator();
    json::set(f, "order", "asc", a);
    json::set(f, "limit", static_cast<int64_t>(200), a);
    if (!after.empty()) json::set(f, "after", after, a);
    if (!req.learning_key.empty()) json::set(f, "learning_key", req.learning_key, a);
    if (!req.since.empty()) json::set(f, "created_after", req.since, a);
    if (!req.tags.empty()) {
      Value t(rapidjson::kArrayType);
      for (const auto& x : req.tags) t.PushBack(json::str(x, a), a);
      json::set(f, "tags", std::move(t), a);
    }
    ATLAS_ASSIGN_OR_RETURN(std::string page, store.execute("query_sessions", json::dump(f)));
    ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(page, "query_sessions response"));
    const Value* sessions = json::find(doc, "sessions");
    if (!sessions || !sessions->IsArray() || sessions->Empty()) break;
    // Steps and metadata for interventions and tokens: one read_sessions call per page.
    std::string ids_req = "{\"event_limit\":1,\"session_ids\":[";
    bool first = true;
    for (const Value& s : sessions->GetArray()) {
      ids_req += (first ? "" : ",") + json::quote(json::get_string(s, "session_id"));
      first = false;
    }
    ids_req += "]}";
    ATLAS_ASSIGN_OR_RETURN(std::string full, store.execute("read_sessions", ids_req));
    ATLAS_ASSIGN_OR_RETURN(auto fd, json::parse(full, "read_sessions response"));
    std::map<std::string, const Value*> details;
    if (const Value* fs = json::find(fd, "sessions"); fs && fs->IsArray())
      for (const Value& v : fs->GetArray()) details[json::get_string(v, "session_id")] = &v;
    for (const Value& s : sessions->GetArray()) {
      std::string id = json::get_string(s, "session_id");
      KeyReport& k = by_key[json::get_string(s, "learning_key")];
      if (k.first_task.empty()) k.first_task = json::get_string(s, "task");
      ++k.sessions;
      ++k.status_counts[json::get_string(s, "status")];
      std::string lane = json::get_string(s, "execution_mode");
      if (!lane.empty()) ++k.lanes[lane];
      if (const Value* r = json::find(s, "reward"); r && r->IsNumber()) k.rewards.emplace_back(id, r->GetDouble());
      if (json::get_string(s, "status") == status_name(SessionStatus::kSucceeded) &&
          json::get_string(s, "review_status") == status_name(ReviewStatus::kApproved))
        ++k.accepted_sessions;
      auto found = details.find(id);
      if (found == details.end()) {
        k.cost.add(std::nullopt);  // not read back: its cost is not known
        continue;
      }
      const Value& sd = *found->second;
      bool teacher = false;
      if (const Value* steps = json::find(sd, "steps"); steps && steps->IsArray()) {
        for (const Value& st : steps->GetArray()) {
          int64_t attempts = json::get_int(st, "attempts", 1);
          if (attempts > 1) {
            k.retries += static_cast<uint64_t>(attempts - 1);
            teacher = true;
          }
          if (const Value* g = json::find(st, "guidance"); g && g->IsArray() && !g->Empty()) {
            k.guidance_notes += g->Size();
            teacher = true;
          }
        }
      }
      if (teacher) ++k.sessions_with_teacher;
      if (const Value* meta = json::find(sd, "metadata"); meta && meta->IsObject())
        add_tokens(k, json::find(*meta, "token_usage"));
      const SessionCost cost = session_cost(sd);
      k.cost.add(cost.total_usd);
      for (const auto& [role, usd] : cost.by_role) k.cost_by_role[role].add(usd);
    }
    const Value* next = json::find(doc, "next");
    if (!next || !next->IsString()) break;
    after = next->GetString();
  }
  Report r;
  for (auto& [key, k] : by_key) {
    k.learning_key = key;
    finish_stats(k);
    r.sessions += k.sessions;
    r.keys.push_back(std::move(k));
  }
  assign_report_labels(r.keys);
  return r;
}

std::string report_text(const Report& r) {
  std::ostringstream os;
  if (r.keys.empty()) return "No sessions match.\n";
  char line[512];
  for (const auto& k : r.keys) {
    os << "Learning key: " << k.label << "\n";
    if (k.label != k.learning_key && !k.learning_key.empty()) os << "  key                 " << k.learning_key << "\n";
    std::string statuses;
    for (const auto& [s, n] : k.status_counts) statuses += (statuses.empty() ? "" : ", ") + s + " " + std::to_string(n);
    os << "  sessions            " << k.sessions << "  (" << statuses << ")\n";
    if (!k.rewards.empty()) {
      std::snprintf(line, sizeof(line),
                    "  reward              mean %.3f over %zu scored; first half %.3f -> second half %.3f (%+.3f); "
                    "slope %+.4f/session\n",
                    k.reward_mean, k.rewards.size(), k.reward_first_half, k.reward_second_half,
                    k.reward_second_half - k.reward_first_half, k.reward_slope);
      os << line;
    } else {
      os << "  reward              (no scored sessions)\n";
    }
    std::string lanes;
    for (const auto& [l, n] : k.lanes) {
      std::snprintf(line, sizeof(line), "%s %llu (%.0f%%)", l.c_str(), static_cast<unsigned long long>(n),
                    100.0 * static_cast<double>(n) / static_cast<double>(std::max<uint64_t>(1, k.sessions)));
      lanes += (lanes.empty() ? "" : ", ") + std::string(line);
    }
    os << "  lanes               " << (lanes.empty() ? "-" : lanes) << "\n";
    std::snprintf(line, sizeof(line),
                  "  teacher             %llu sessions with interventions, %llu guidance notes, %llu retries\n",
                  static_cast<unsigned long long>(k.sessions_with_teacher),
                  static_cast<unsigned long long>(k.guidance_notes), static_cast<unsigned long long>(k.retries));
    os << line;
    std::string tokens;
    for (const auto& [role, n] : k.tokens_by_role)
      tokens += (tokens.empty() ? "" : ", ") + role + " " + std::to_string(n);
    os << "  tokens by role      " << (tokens.empty() ? "-" : tokens) << "\n";
    os << "  cost                " << format_usd(k.cost.value());
    if (k.cost.unknown_terms() > 0)
      os << " (" << k.cost.unknown_terms() << " of " << k.sessions << " session(s) without a price or usage; "
         << format_usd(k.cost.known_part()) << " priced)";
    os << "; per accepted example " << format_usd(k.cost_per_accepted_usd()) << " (" << k.accepted_sessions
       << " succeeded and approved)\n";
    std::string role_costs;
    for (const auto& [role, sum] : k.cost_by_role)
      role_costs += (role_costs.empty() ? "" : ", ") + role + " " + format_usd(sum.value());
    os << "  cost by role        " << (role_costs.empty() ? "-" : role_costs) << "\n\n";
  }
  os << "Total: " << r.sessions << " sessions in " << r.keys.size() << " learning key(s)\n";
  return os.str();
}

std::string report_json(const Report& r) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  Value keys(rapidjson::kArrayType);
  for (const auto& k : r.keys) {
    Value o(rapidjson::kObjectType);
    json::set(o, "learning_key", k.learning_key, a);
    json::set(o, "label", k.label, a);
    json::set(o, "sessions", static_cast<int64_t>(k.sessions), a);
    Value st(rapidjson::kObjectType);
    for (const auto& [s, n] : k.status_counts) json::set(st, s, static_cast<int64_t>(n), a);
    json::set(o, "status", std::move(st), a);
    Value lanes(rapidjson::kObjectType);
    for (const auto& [l, n] : k.lanes) json::set(lanes, l, static_cast<int64_t>(n), a);
    json::set(o, "lanes", std::move(lanes), a);
    Value rewards(rapidjson::kArrayType);
    for (const auto& [id, score] : k.rewards) {
      Value p(rapidjson::kObjectType);
      json::set(p, "session_id", id, a);
      json::set(p, "score", score, a);
      rewards.PushBack(p, a);
    }
    json::set(o, "rewards", std::move(rewards), a);
    Value trend(rapidjson::kObjectType);
    json::set(trend, "mean", k.reward_mean, a);
    json::set(trend, "first_half_mean", k.reward_first_half, a);
    json::set(trend, "second_half_mean", k.reward_second_half, a);
    json::set(trend, "slope_per_session", k.reward_slope, a);
    json::set(o, "reward_trend", std::move(trend), a);
    Value teacher(rapidjson::kObjectType);
    json::set(teacher, "sessions_with_interventions", static_cast<int64_t>(k.sessions_with_teacher), a);
    json::set(teacher, "guidance_notes", static_cast<int64_t>(k.guidance_notes), a);
    json::set(teacher, "retries", static_cast<int64_t>(k.retries), a);
    json::set(o, "teacher", std::move(teacher), a);
    Value tokens(rapidjson::kObjectType);
    for (const auto& [role, n] : k.tokens_by_role) json::set(tokens, role, n, a);
    json::set(o, "tokens_by_role", std::move(tokens), a);
    auto usd = [&](std::optional<double> v) { return v ? Value(*v) : Value(); };
    Value cost(rapidjson::kObjectType);
    json::set(cost, "usd", usd(k.cost.value()), a);
    json::set(cost, "priced_usd", k.cost.known_part(), a);
    json::set(cost, "sessions_unknown", static_cast<int64_t>(k.cost.unknown_terms()), a);
    Value by_role(rapidjson::kObjectType);
    for (const auto& [role, sum] : k.cost_by_role) json::set(by_role, role, usd(sum.value()), a);
    json::set(cost, "by_role", std::move(by_role), a);
    json::set(cost, "accepted_examples", static_cast<int64_t>(k.accepted_sessions), a);
    json::set(cost, "per_accepted_example_usd", usd(k.cost_per_accepted_usd()), a);
    json::set(o, "cost", std::move(cost), a);
    keys.PushBack(o, a);
  }
  json::set(d, "learning_keys", std::move(keys), a);
  json::set(d, "sessions", static_cast<int64_t>(r.sessions), a);
  return json::dump_pretty(d);
}

namespace {

// The chart's geometry (pixels). The legend has one row per plotted key, so the height grows
// with the number of keys instead of clipping the legend.
constexpr int kLeft = 64, kTop = 48, kBottom = 56, kPlotWidth = 560, kGap = 28, kLegendWidth = 360;
constexpr int kRowHeight = 18, kMinHeight = 400, kLegendLabelCodePoints = 44;

// 10 colours (Tableau 10) x 3 dash patterns: 30 keys drawn distinguishably, then they repeat.
constexpr const char* kColours[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
constexpr const char* kDashes[] = {"", "7 3", "2 3"};

struct SeriesStyle {
  const char* colour;
  const char* dash;
};
SeriesStyle style_of(size_t index) {
  constexpr size_t kColourCount = sizeof(kColours) / sizeof(kColours[0]);
  constexpr size_t kDashCount = sizeof(kDashes) / sizeof(kDashes[0]);
  return {kColours[index % kColourCount], kDashes[(index / kColourCount) % kDashCount]};
}

// Session-number ticks: a step of 1, 2 or 5 times a power of ten giving at most 10 ticks.
size_t tick_step(size_t sessions) {
  for (size_t magnitude = 1;; magnitude *= 10)
    for (size_t factor : {1, 2, 5})
      if (sessions <= 10 * factor * magnitude) return factor * magnitude;
}

std::string dash_attribute(const char* dash) {
  return *dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string();
}

}  // namespace

std::string report_svg(const Report& r) {
  std::vector<const KeyReport*> plotted;
  size_t max_n = 1, scored = 0;
  for (const auto& k : r.keys) {
    if (k.rewards.empty()) continue;
    plotted.push_back(&k);
    max_n = std::max(max_n, k.rewards.size());
    scored += k.rewards.size();
  }
  const int legend_rows = static_cast<int>(plotted.size());
  const int height = std::max(kMinHeight, kTop + 8 + legend_rows * kRowHeight + kBottom);
  const int width = kLeft + kPlotWidth + kGap + kLegendWidth;
  const int ph = height - kTop - kBottom;
  const int pw = kPlotWidth;
  auto x_of = [&](size_t i) {
    return kLeft + (max_n > 1 ? static_cast<double>(i) * pw / static_cast<double>(max_n - 1) : pw / 2.0);
  };
  auto y_of = [&](double v) { return kTop + ph - std::clamp(v, 0.0, 1.0) * ph; };
  char buf[160];
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height << "\" viewBox=\"0 0 "
     << width << " " << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  os << "<title>Reward over sessions per learning key</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << kLeft << "\" y=\"20\" font-size=\"15\" font-weight=\"bold\">Reward over sessions</text>\n";
  os << "<text x=\"" << kLeft << "\" y=\"36\" fill=\"#555\">" << plotted.size() << " learning key(s), " << scored
     << " scored session(s)</text>\n";
  // y axis: grid and ticks every 0.25
  for (int i = 0; i <= 4; ++i) {
    const double v = i / 4.0;
    std::snprintf(buf, sizeof(buf), "%.1f", y_of(v));
    os << "<line x1=\"" << kLeft << "\" y1=\"" << buf << "\" x2=\"" << kLeft + pw << "\" y2=\"" << buf
       << "\" stroke=\"#e4e4e4\"/>\n";
    os << "<line x1=\"" << kLeft - 5 << "\" y1=\"" << buf << "\" x2=\"" << kLeft << "\" y2=\"" << buf
       << "\" stroke=\"black\"/>\n";
    std::snprintf(buf, sizeof(buf), "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", kLeft - 8,
                  y_of(v) + 4, v);
    os << buf;
  }
  // x axis: session numbers (1 = each key's oldest scored session)
  const size_t step = tick_step(max_n);
  for (size_t n = 1; n <= max_n; n = n == 1 && step > 1 ? step : n + step) {
    const double x = x_of(n - 1);
    std::snprintf(buf, sizeof(buf),
                  "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"black\"/>"
                  "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%zu</text>\n",
                  x, kTop + ph, x, kTop + ph + 5, x, kTop + ph + 18, n);
    os << buf;
  }
  os << "<line x1=\"" << kLeft << "\" y1=\"" << kTop << "\" x2=\"" << kLeft << "\" y2=\"" << kTop + ph
     << "\" stroke=\"black\"/>\n";
  os << "<line x1=\"" << kLeft << "\" y1=\"" << kTop + ph << "\" x2=\"" << kLeft + pw << "\" y2=\"" << kTop + ph
     << "\" stroke=\"black\"/>\n";
  os << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << height - 14
     << "\" text-anchor=\"middle\">scored session of the key (1 = oldest)</text>\n";
  os << "<text x=\"18\" y=\"" << kTop + ph / 2 << "\" transform=\"rotate(-90 18 " << kTop + ph / 2
     << ")\" text-anchor=\"middle\">reward</text>\n";
  if (plotted.empty())
    os << "<text x=\"" << kLeft + pw / 2 << "\" y=\"" << kTop + ph / 2
       << "\" text-anchor=\"middle\" fill=\"#555\">no scored sessions</text>\n";
  const bool markers = max_n <= 60;
  const int legend_x = kLeft + pw + kGap;
  for (size_t index = 0; index < plotted.size(); ++index) {
    const KeyReport& k = *plotted[index];
    const SeriesStyle st = style_of(index);
    os << "<g><title>" << xml_escape(k.learning_key) << "</title>\n";
    if (k.rewards.size() > 1) {
      os << "<polyline fill=\"none\" stroke=\"" << st.colour << "\" stroke-width=\"2\"" << dash_attribute(st.dash)
         << " points=\"";
      for (size_t i = 0; i < k.rewards.size(); ++i) {
        std::snprintf(buf, sizeof(buf), "%.1f,%.1f ", x_of(i), y_of(k.rewards[i].second));
        os << buf;
      }
      os << "\"/>\n";
    }
    if (markers || k.rewards.size() == 1)  // a single session has no line to draw
      for (size_t i = 0; i < k.rewards.size(); ++i) {
        std::snprintf(buf, sizeof(buf), "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>", x_of(i),
                      y_of(k.rewards[i].second), st.colour);
        os << buf;
      }
    const int ly = kTop + 8 + static_cast<int>(index) * kRowHeight;
    os << "\n<line x1=\"" << legend_x << "\" y1=\"" << ly - 4 << "\" x2=\"" << legend_x + 24 << "\" y2=\"" << ly - 4
       << "\" stroke=\"" << st.colour << "\" stroke-width=\"3\"" << dash_attribute(st.dash) << "/>";
    os << "<text x=\"" << legend_x + 30 << "\" y=\"" << ly << "\">"
       << xml_escape(shorten_for_display(k.label.empty() ? k.learning_key : k.label, kLegendLabelCodePoints))
       << "</text></g>\n";
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace atlas::data
