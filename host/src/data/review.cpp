#include "data/review.hpp"

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "data/session_cost.hpp"

namespace atlas::data {

using json::Value;

std::string review_filters_json(const ReviewListFilters& f) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto list = [&](const std::vector<std::string>& v) {
    Value arr(rapidjson::kArrayType);
    for (const auto& s : v) arr.PushBack(json::str(s, a), a);
    return arr;
  };
  if (!f.statuses.empty()) json::set(d, "status", list(status_names(f.statuses)), a);
  if (!f.review_statuses.empty()) json::set(d, "review_status", list(status_names(f.review_statuses)), a);
  if (!f.learning_key.empty()) json::set(d, "learning_key", f.learning_key, a);
  if (f.min_reward) json::set(d, "min_reward", *f.min_reward, a);
  if (f.max_reward) json::set(d, "max_reward", *f.max_reward, a);
  if (!f.since.empty()) json::set(d, "created_after", f.since, a);
  if (!f.until.empty()) json::set(d, "created_before", f.until, a);
  json::set(d, "limit", static_cast<int64_t>(f.limit), a);
  if (!f.after.empty()) json::set(d, "after", f.after, a);
  return json::dump(d);
}

namespace {

std::string paint(const std::string& s, const char* code, bool color) {
  return color ? std::string("\033[") + code + "m" + s + "\033[0m" : s;
}

std::string one_line(std::string s, size_t max) {
  for (auto& c : s)
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  if (s.size() > max) s = s.substr(0, max - 3) + "...";
  return s;
}

std::string indent(const std::string& text, const std::string& pad) {
  std::string out = pad;
  for (char c : text) {
    out += c;
    if (c == '\n') out += pad;
  }
  return out;
}

std::string fmt_score(const Value* v) {
  if (!v || !v->IsNumber()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v->GetDouble());
  return buf;
}

// Green for approved/succeeded, red for quarantined/failed/interrupted, yellow otherwise.
const char* status_color(const std::string& name) {
  const std::optional<ReviewStatus> review = parse_review_status(name);
  const std::optional<SessionStatus> session = parse_session_status(name);
  if (review == ReviewStatus::kApproved || session == SessionStatus::kSucceeded) return "32";
  if (review == ReviewStatus::kQuarantined || session == SessionStatus::kFailed ||
      session == SessionStatus::kInterrupted)
    return "31";
  return "33";
}

}  // namespace

std::string render_session_list(const Value& page, bool color) {
  std::ostringstream os;
  const Value* sessions = json::find(page, "sessions");
  if (!sessions || !sessions->IsArray() || sessions->Empty()) return "No sessions match.\n";
  char line[512];
  std::snprintf(line, sizeof(line), "%-7s %-11s %-11s %-6s %-8s %-20s %s\n", "ID", "STATUS", "REVIEW", "REWARD", "LANE",
                "CREATED", "TASK");
  os << paint(line, "1", color);
  for (const Value& s : sessions->GetArray()) {
    std::string st = json::get_string(s, "status"), rv = json::get_string(s, "review_status");
    std::string created = json::get_string(s, "created_at").substr(0, 19);
    char head[256];
    std::snprintf(head, sizeof(head), "%-7s ", json::get_string(s, "session_id").c_str());
    os << head;
    std::snprintf(head, sizeof(head), "%-11s ", st.c_str());
    os << paint(head, status_color(st), color);
    std::snprintf(head, sizeof(head), "%-11s ", rv.c_str());
    os << paint(head, status_color(rv), color);
    std::snprintf(head, sizeof(head), "%-6s %-8s %-20s ", fmt_score(json::find(s, "reward")).c_str(),
                  json::get_string(s, "execution_mode", "-").c_str(), created.c_str());
    os << head << one_line(json::get_string(s, "task"), 60) << "\n";
  }
  if (const Value* next = json::find(page, "next"); next && next->IsString())
    os << "(more: --after " << next->GetString() << ")\n";
  return os.str();
}

std::string render_session(const Value& s, bool color, size_t max_events) {
  std::ostringstream os;
  auto h = [&](const std::string& t) { os << "\n" << paint(t, "1", color) << "\n"; };
  std::string st = json::get_string(s, "status"), rv = json::get_string(s, "review_status");
  os << paint("Session " + json::get_string(s, "session_id"), "1", color) << "  " << paint(st, status_color(st), color)
     << "  review: " << paint(rv, status_color(rv), color) << "\n";
  os << "Created:   " << json::get_string(s, "created_at") << "\n";
  os << "Completed: " << json::get_string(s, "completed_at", "-") << "\n";
  const Value* meta = json::find(s, "metadata");
  if (meta && meta->IsObject()) {
    if (auto k = json::get_string(*meta, "learning_key"); !k.empty()) os << "Learning key: " << k << "\n";
    if (auto m = json::get_string(*meta, "execution_mode"); !m.empty()) os << "Lane: " << m << "\n";
  }
  if (auto n = json::get_string(s, "review_notes"); !n.empty()) os << "Review notes: " << n << "\n";
  h("Task");
  os << indent(json::get_string(s, "task"), "  ") << "\n";
  const Value* plan = json::find(s, "plan");
  if (plan && plan->IsObject() && json::find(*plan, "steps") && (*plan)["steps"].IsArray()) {
    h("Plan");
    for (const Value& p : (*plan)["steps"].GetArray()) {
      std::string deps;
      if (const Value* d = json::find(p, "depends_on"); d && d->IsArray())
        for (const Value& x : d->GetArray())
          deps += (deps.empty() ? "" : ",") + (x.IsInt64() ? std::to_string(x.GetInt64()) : json::dump(x));
      const Value* id = json::find(p, "id");
      os << "  " << (id ? (id->IsInt64() ? std::to_string(id->GetInt64()) : json::dump(*id)) : "?") << ". "
         << json::get_string(p, "description") << (deps.empty() ? "" : "  (after " + deps + ")") << "\n";
    }
  }
  if (const Value* steps = json::find(s, "steps"); steps && steps->IsArray() && !steps->Empty()) {
    h("Steps");
    for (const Value& step : steps->GetArray()) {
      const Value* ev = json::find(step, "evaluation");
      const Value* reward = ev ? json::find(*ev, "reward") : nullptr;
      const Value* score = reward ? json::find(*reward, "score") : nullptr;
      os << "  Step " << json::get_int(step, "step_id") << "  attempts: " << json::get_int(step, "attempts", 1)
         << "  reward: " << fmt_score(score);
      if (reward) {
        if (auto r = json::get_string(*reward, "rationale"); !r.empty()) os << " (" << one_line(r, 80) << ")";
      }
      os << "\n";
      if (auto out = json::get_string(step, "output"); !out.empty())
        os << indent("output: " + one_line(out, 200), "    ") << "\n";
      if (const Value* det = json::find(step, "attempt_details"); det && det->IsArray()) {
        for (const Value& a : det->GetArray()) {
          const Value* e = json::find(a, "evaluation");
          std::string verdict = "-";
          if (e) {
            const Value* v = json::find(*e, "validation");
            const Value* ok = v ? json::find(*v, "valid") : nullptr;
            std::string status = json::get_string(*e, "status", "-");
            // The teacher could not judge it: its verdict says valid=false, yet nobody rejected it.
            if (status == "unvalidated")
              verdict = "unvalidated (teacher unavailable)";
            else if (ok && ok->IsBool())
              verdict = ok->GetBool() ? "valid" : "invalid";
            else
              verdict = status;
          }
          os << "    attempt " << json::get_int(a, "attempt") << ": " << verdict;
          if (e) {
            if (auto o = json::get_string(*e, "output"); !o.empty()) os << "  " << one_line(o, 100);
          }
          os << "\n";
        }
      }
      if (const Value* g = json::find(step, "guidance"); g && g->IsArray())
        for (const Value& n : g->GetArray())
          if (n.IsString())
            os << "    " << paint("guidance:", "36", color) << " " << one_line(n.GetString(), 200) << "\n";
    }
  }
  h("Outcome");
  os << indent(json::get_string(s, "final_answer", "(no answer)"), "  ") << "\n";
  const Value* stats = json::find(s, "reward_stats");
  const Value* reward = json::find(s, "reward");
  if ((stats && stats->IsObject()) || (reward && reward->IsObject())) {
    os << "  reward: "
       << fmt_score(stats && stats->IsObject() ? json::find(*stats, "score") : json::find(*reward, "score"));
    if (stats && stats->IsObject()) {
      os << "  stddev: " << fmt_score(json::find(*stats, "score_stddev"))
         << "  uncertainty: " << fmt_score(json::find(*stats, "uncertainty_mean"));
    }
    os << "\n";
    if (reward && reward->IsObject()) {
      if (const Value* judges = json::find(*reward, "judges"); judges && judges->IsArray())
        for (const Value& j : judges->GetArray())
          os << "  judge " << json::get_string(j, "identifier") << ": " << fmt_score(json::find(j, "score"))
             << (json::get_bool(j, "escalated") ? " (escalated)" : "") << "  "
             << one_line(json::get_string(j, "rationale"), 120) << "\n";
    }
  }
  const SessionCost cost = session_cost(s);
  os << "  cost: " << format_usd(cost.total_usd);
  if (!cost.by_role.empty()) {
    std::string roles;
    for (const auto& [role, usd] : cost.by_role) roles += (roles.empty() ? "" : ", ") + role + " " + format_usd(usd);
    os << "  (" << roles << ")";
  }
  if (!cost.unpriced_roles.empty()) {
    std::string unpriced;
    for (const auto& role : cost.unpriced_roles) unpriced += (unpriced.empty() ? "" : ", ") + role;
    os << "  no price or no usage for: " << unpriced;
  }
  os << "\n";
  if (cost.learning_calls > 0)
    os << "  learning cost (after the session): " << format_usd(cost.learning_usd) << " over " << cost.learning_calls
       << " call(s)\n";
  for (const char* k : {"student_learning", "teacher_learning"}) {
    if (auto v = json::get_string(s, k); !v.empty()) os << "  " << k << ": " << one_line(v, 200) << "\n";
  }
  if (const Value* evs = json::find(s, "trajectory_events"); evs && evs->IsArray() && !evs->Empty()) {
    h("Events (" + std::to_string(evs->Size()) + ", oldest first)");
    size_t n = 0;
    for (const Value& e : evs->GetArray()) {
      if (n++ >= max_events) {
        os << "  ... " << (evs->Size() - max_events) << " more (use --events N)\n";
        break;
      }
      const Value* body = json::find(e, "event");
      std::string type = body ? json::get_string(*body, "type") : "";
      std::string name = body ? json::get_string(*body, "name") : "";
      std::string role = body ? json::get_string(*body, "role") : "";
      os << "  " << json::get_string(e, "created_at").substr(11, 12) << "  " << type << (name.empty() ? "" : "/" + name)
         << (role.empty() ? "" : "  [" + role + "]") << "\n";
    }
  }
  if (const Value* rev = json::find(s, "review_events"); rev && rev->IsArray() && !rev->Empty()) {
    h("Review history");
    for (const Value& r : rev->GetArray()) {
      os << "  " << json::get_string(r, "created_at").substr(0, 19) << "  " << json::get_string(r, "actor") << "  "
         << json::get_string(r, "action");
      if (auto ns = json::get_string(r, "new_status"); !ns.empty())
        os << ": " << json::get_string(r, "previous_status", "?") << " -> " << ns;
      if (auto why = json::get_string(r, "reason"); !why.empty()) os << "  why: " << why;
      const char* label = json::get_string(r, "action") == "demonstration" ? "  answer: " : "  note: ";
      if (auto note = json::get_string(r, "note"); !note.empty()) os << label << one_line(note, 120);
      os << "\n";
    }
  }
  return os.str();
}

Result<std::string> set_review(Store& store, const std::string& session_id, ReviewStatus status,
                               const std::string& actor, const std::string& reason, const std::string& note) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "session_id", session_id, a);
  json::set(d, "review_status", status_name(status), a);
  json::set(d, "actor", actor, a);
  if (!reason.empty()) json::set(d, "reason", reason, a);
  if (!note.empty()) json::set(d, "notes", note, a);
  ATLAS_ASSIGN_OR_RETURN(std::string out, store.execute("set_review", json::dump(d)));
  ATLAS_ASSIGN_OR_RETURN(auto doc, json::parse(out, "set_review response"));
  return json::get_string(doc, "previous");
}

Result<json::Document> matching_sessions(Store& store, const ReviewListFilters& filters) {
  json::Document all(rapidjson::kArrayType);
  ReviewListFilters page_filters = filters;
  page_filters.limit = 1000;
  page_filters.after.clear();
  for (;;) {
    ATLAS_ASSIGN_OR_RETURN(std::string out, store.execute("query_sessions", review_filters_json(page_filters)));
    ATLAS_ASSIGN_OR_RETURN(auto page, json::parse(out, "query_sessions response"));
    if (const Value* sessions = json::find(page, "sessions"); sessions && sessions->IsArray())
      for (const Value& s : sessions->GetArray()) all.PushBack(Value(s, all.GetAllocator()), all.GetAllocator());
    const Value* next = json::find(page, "next");
    if (!next || !next->IsString() || next->GetStringLength() == 0) break;
    page_filters.after = next->GetString();
  }
  return all;
}

std::vector<ReviewChange> set_review_many(Store& store, const std::vector<std::string>& session_ids,
                                          ReviewStatus status, const std::string& actor, const std::string& reason,
                                          const std::string& note) {
  std::vector<ReviewChange> out;
  for (const auto& id : session_ids) {
    ReviewChange c{id, "", ""};
    auto prev = set_review(store, id, status, actor, reason, note);
    if (prev.is_ok())
      c.previous = *prev;
    else
      c.error = prev.status().message();
    out.push_back(std::move(c));
  }
  return out;
}

Status add_review_note(Store& store, const std::string& session_id, const std::string& note, const std::string& actor) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "session_id", session_id, a);
  json::set(d, "note", note, a);
  json::set(d, "actor", actor, a);
  auto r = store.execute("add_review_note", json::dump(d));
  return r.is_ok() ? Status::ok() : r.status();
}

Status add_demonstration(Store& store, const std::string& session_id, const std::string& answer,
                         const std::string& actor, const std::string& reason) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "session_id", session_id, a);
  json::set(d, "answer", answer, a);
  json::set(d, "actor", actor, a);
  if (!reason.empty()) json::set(d, "reason", reason, a);
  auto r = store.execute("add_demonstration", json::dump(d));
  return r.is_ok() ? Status::ok() : r.status();
}

std::string default_actor() {
  const char* u = std::getenv("USER");
  if (!u || !*u) u = std::getenv("LOGNAME");
  return u && *u ? u : "unknown";
}

}  // namespace atlas::data
