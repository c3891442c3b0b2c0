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

}  // namespace

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
  return r;
}

std::string report_text(const Report& r) {
  std::ostringstream os;
  if (r.keys.empty()) return "No sessions match.\n";
  char line[512];
  for (const auto& k : r.keys) {
    os << "Learning key: " << (k.learning_key.empty() ? "(none)" : k.learning_key) << "\n";
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

std::string report_svg(const Report& r) {
  const int W = 720, H = 360, L = 60, R = 180, T = 30, B = 50;
  const int pw = W - L - R, ph = H - T - B;
  static const char* colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728",
                                 "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"};
  size_t max_n = 1;
  for (const auto& k : r.keys) max_n = std::max(max_n, k.rewards.size());
  std::ostringstream os;
  os << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << W << "\" height=\"" << H << "\" viewBox=\"0 0 " << W
     << " " << H << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
  os << "<title>Reward over sessions</title>\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  os << "<text x=\"" << L << "\" y=\"18\" font-size=\"14\" font-weight=\"bold\">Reward over sessions</text>\n";
  // axes and grid
  for (int i = 0; i <= 4; ++i) {
    double v = i / 4.0;
    int y = T + ph - static_cast<int>(v * ph);
    os << "<line x1=\"" << L << "\" y1=\"" << y << "\" x2=\"" << L + pw << "\" y2=\"" << y
       << "\" stroke=\"#ddd\"/>\n<text x=\"" << L - 8 << "\" y=\"" << y + 4 << "\" text-anchor=\"end\">" << v
       << "</text>\n";
  }
  os << "<line x1=\"" << L << "\" y1=\"" << T << "\" x2=\"" << L << "\" y2=\"" << T + ph << "\" stroke=\"black\"/>\n";
  os << "<line x1=\"" << L << "\" y1=\"" << T + ph << "\" x2=\"" << L + pw << "\" y2=\"" << T + ph
     << "\" stroke=\"black\"/>\n";
  os << "<text x=\"" << L + pw / 2 << "\" y=\"" << H - 12 << "\" text-anchor=\"middle\">session (oldest to newest, "
     << max_n << " max)</text>\n";
  os << "<text x=\"16\" y=\"" << T + ph / 2 << "\" transform=\"rotate(-90 16 " << T + ph / 2
     << ")\" text-anchor=\"middle\">reward</text>\n";
  size_t ci = 0;
  for (const auto& k : r.keys) {
    if (k.rewards.empty()) continue;
    const char* c = colors[ci++ % 8];
    os << "<polyline fill=\"none\" stroke=\"" << c << "\" stroke-width=\"2\" points=\"";
    for (size_t i = 0; i < k.rewards.size(); ++i) {
      double x = L + (max_n > 1 ? static_cast<double>(i) * pw / static_cast<double>(max_n - 1) : pw / 2.0);
      double v = std::clamp(k.rewards[i].second, 0.0, 1.0);
      double y = T + ph - v * ph;
      char pt[64];
      std::snprintf(pt, sizeof(pt), "%.1f,%.1f ", x, y);
      os << pt;
    }
    os << "\"/>\n";
    int ly = T + 14 + static_cast<int>(ci - 1) * 18;
    std::string label = k.learning_key.empty() ? "(no key)" : k.learning_key;
    if (label.size() > 22) label = label.substr(0, 21) + "…";
    os << "<rect x=\"" << L + pw + 12 << "\" y=\"" << ly - 9 << "\" width=\"10\" height=\"10\" fill=\"" << c
       << "\"/><text x=\"" << L + pw + 28 << "\" y=\"" << ly << "\">" << xml_escape(label) << "</text>\n";
  }
  os << "</svg>\n";
  return os.str();
}

}  // namespace atlas::data
