#include "ops.hpp"

#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <map>

#include "ops_gateway.hpp"
#include "ops_json.hpp"
#include "ops_queue.hpp"
#include "ops_review_ui.hpp"
#include "ops_playbook.hpp"
#include "schema.hpp"
#include "sqlite_group_commit.hpp"

namespace atlas_soci {

using atlas::sdk::Error;
using rapidjson::Document;
using rapidjson::Value;

namespace {

// ---- request helpers ----------------------------------------------------------------------

Document parse_request(std::string_view op, std::string_view text) {
  Document d;
  if (text.empty()) text = "{}";
  atlas::sdk::parse_json(d, text);
  if (d.HasParseError()) {
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": request is not valid JSON at offset " +
                                            std::to_string(d.GetErrorOffset()) + ": " +
                                            rapidjson::GetParseError_En(d.GetParseError()));
  }
  if (!d.IsObject()) throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": request must be a JSON object");
  return d;
}

// member, str_or, opt_str, int_or and dump are in ops_json.hpp (shared with the other ops files).

// JSON text of member `key` (nullopt when absent or null).
std::optional<std::string> opt_json(const Value& v, const char* key) {
  const Value* m = member(v, key);
  if (!m) return std::nullopt;
  return dump(*m);
}

long long parse_id(const std::string& s, const char* what) {
  if (s.empty() || s.find_first_not_of("0123456789") != std::string::npos) {
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(what) + " '" + s + "' is not a session id (a decimal number)");
  }
  return std::stoll(s);
}

std::vector<std::string> str_list(const Value& v, const char* key) {
  std::vector<std::string> out;
  const Value* m = member(v, key);
  if (!m) return out;
  if (m->IsString()) {
    out.emplace_back(m->GetString(), m->GetStringLength());
    return out;
  }
  if (!m->IsArray()) throw Error(ATLAS_INVALID_ARGUMENT, std::string("'") + key + "' must be a list of strings");
  for (const Value& e : m->GetArray()) {
    if (e.IsString()) {
      out.emplace_back(e.GetString(), e.GetStringLength());
    } else if (e.IsInt64()) {
      out.push_back(std::to_string(e.GetInt64()));
    } else {
      throw Error(ATLAS_INVALID_ARGUMENT, std::string("'") + key + "' must be a list of strings");
    }
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// ---- response helpers ---------------------------------------------------------------------

// w_str, w_cell, w_raw_json and done are in ops_json.hpp (shared with the other ops files).

// Placeholder list ":pN, :pN+1, ..." appending params.
std::string in_list(std::vector<Param>& params, const std::vector<Param>& values) {
  std::string s;
  for (const Param& v : values) {
    if (!s.empty()) s += ", ";
    s += ":p" + std::to_string(params.size());
    params.push_back(v);
  }
  return s;
}
std::string ph(std::vector<Param>& params, Param v) {
  std::string s = ":p" + std::to_string(params.size());
  params.push_back(std::move(v));
  return s;
}

// ---- session resolution -------------------------------------------------------------------

// The session a write refers to: "session_id" (decimal) or "session_key" (client key).
long long resolve_session(Conn& c, const Value& req, const char* op) {
  if (auto key = opt_str(req, "session_key"); key && !key->empty()) {
    auto r = c.query_one("SELECT id FROM sessions WHERE session_key = :p0", {Param::str(*key)}, 1);
    if (r && (*r)[0]) return std::stoll(*(*r)[0]);
    if (!member(req, "session_id"))
      throw Error(ATLAS_NOT_FOUND, std::string(op) + ": no session with session_key " + *key);
  }
  std::string id = str_or(req, "session_id");
  if (id.empty()) throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'session_id' is required");
  long long sid = parse_id(id, "session_id");
  auto r = c.query_one("SELECT id FROM sessions WHERE id = :p0", {Param::num(sid)}, 1);
  if (!r) {
    throw Error(ATLAS_NOT_FOUND, std::string(op) + ": session " + id +
                                     " does not exist (`atlas-host review list` shows the stored sessions)");
  }
  return sid;
}

std::string hostname() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown";
  return buf;
}

// ---- operations ---------------------------------------------------------------------------

std::string op_migrate(Pool& pool, const Value&) {
  std::vector<int> applied = migrate(pool);
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  w.Key("applied");
  w.StartArray();
  for (int v : applied) w.Int(v);
  w.EndArray();
  w.Key("schema_version");
  w.Int(latest_schema_version());
  w.EndObject();
  return done(sb);
}

std::string op_status(Pool& pool, const Value&) {
  return with_conn(pool, "status", [&](Conn& c) {
    std::vector<int> applied = applied_migrations(c);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w_str(w, "backend", pool.backend() == Backend::kPostgres ? "postgresql" : "sqlite");
    w_str(w, "location", pool.target().location);
    w.Key("schema_version");
    w.Int(applied.empty() ? 0 : applied.back());
    w.Key("latest_schema_version");
    w.Int(latest_schema_version());
    w.Key("pending_migrations");
    w.StartArray();
    for (const Migration& m : migrations()) {
      if (std::find(applied.begin(), applied.end(), m.version) == applied.end()) w.Int(m.version);
    }
    w.EndArray();
    w.Key("sessions");
    w.StartObject();
    if (!applied.empty()) {
      for (const Row& r : c.query("SELECT status, COUNT(*) FROM sessions GROUP BY status ORDER BY status", {}, 2)) {
        w.Key(r[0].value_or("").c_str());
        w.Int64(std::stoll(r[1].value_or("0")));
      }
    }
    w.EndObject();
    w.Key("review");
    w.StartObject();
    if (!applied.empty()) {
      for (const Row& r :
           c.query("SELECT review_status, COUNT(*) FROM sessions GROUP BY review_status ORDER BY review_status", {}, 2)) {
        w.Key(r[0].value_or("").c_str());
        w.Int64(std::stoll(r[1].value_or("0")));
      }
    }
    w.EndObject();
    if (GroupCommit* group = pool.group_commit()) {
      const GroupCommit::Counts n = group->counts();
      w.Key("group_commit");
      w.StartObject();
      w.Key("ops");
      w.Uint64(n.ops);
      w.Key("commits");
      w.Uint64(n.commits);
      w.Key("running");
      w.Uint64(n.running);
      w.Key("queued");
      w.Uint64(n.queued);
      w.EndObject();
    }
    w.EndObject();
    return done(sb);
  });
}

std::string op_recover_interrupted(Pool& pool, const Value&) {
  const std::string me = hostname();
  return with_conn(pool, "recover_interrupted", [&](Conn& c) {
    const Backend b = c.backend();
    auto rows = c.query("SELECT id, " + json_out(b, "metadata") + " FROM sessions WHERE status = 'running'", {}, 2);
    std::vector<std::string> marked;
    for (const Row& r : rows) {
      Document meta;
      if (!r[1]) continue;
      atlas::sdk::parse_json(meta, r[1]->c_str());
      if (meta.HasParseError() || !meta.IsObject()) continue;
      const Value* host = member(meta, "host");
      if (!host || !host->IsObject()) continue;  // not ours (e.g. written by the Python SDK): leave it
      if (str_or(*host, "hostname") != me) continue;  // cannot tell whether that process lives
      long long pid = int_or(*host, "pid", 0);
      if (pid <= 0) continue;
      if (pid == static_cast<long long>(getpid())) continue;
      if (kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // still alive (or not ours)
      long long n = c.exec("UPDATE sessions SET status = 'interrupted', completed_at = " + ts_in(b, ":p0") +
                               " WHERE id = :p1 AND status = 'running'",
                           {Param::str(now_iso()), Param::num(std::stoll(*r[0]))});
      if (n > 0) marked.push_back(*r[0]);
    }
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("interrupted");
    w.StartArray();
    for (const auto& id : marked) w.String(id.c_str());
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

std::string op_begin_session(Pool& pool, const Value& req) {
  const Value* task = member(req, "task");
  if (!task || !task->IsString()) throw Error(ATLAS_INVALID_ARGUMENT, "begin_session: 'task' (a string) is required");
  Document meta;
  meta.SetObject();
  if (const Value* m = member(req, "metadata")) {
    if (!m->IsObject()) throw Error(ATLAS_INVALID_ARGUMENT, "begin_session: 'metadata' must be an object");
    meta.CopyFrom(*m, meta.GetAllocator());
  }
  if (!member(meta, "host")) {
    Value host(rapidjson::kObjectType);
    auto& a = meta.GetAllocator();
    host.AddMember("hostname", Value(hostname().c_str(), a), a);
    host.AddMember("pid", Value(static_cast<int64_t>(getpid())), a);
    host.AddMember("started_at", Value(now_iso().c_str(), a), a);
    meta.AddMember("host", host, a);
  }
  std::string created_at = str_or(req, "created_at", now_iso());
  std::optional<std::string> key = opt_str(req, "session_key");
  return with_write_tx(pool, "begin_session", [&](Conn& c) {
    const Backend b = c.backend();
    bool existing = false;
    std::string id;
    std::vector<Param> p = {Param::str(task->GetString()), Param::str(dump(meta)), Param::str(created_at),
                            Param::opt_str(key)};
    auto r = c.query_one("INSERT INTO sessions (task, status, metadata, review_status, created_at, session_key) "
                         "VALUES (:p0, 'running', " + json_in(b, ":p1") + ", 'pending', " + ts_in(b, ":p2") +
                             ", :p3) ON CONFLICT (session_key) DO NOTHING RETURNING id",
                         p, 1);
    if (r && (*r)[0]) {
      id = *(*r)[0];
    } else {
      auto e = c.query_one("SELECT id FROM sessions WHERE session_key = :p0", {Param::opt_str(key)}, 1);
      if (!e || !(*e)[0]) throw Error(ATLAS_INTERNAL, "begin_session: insert returned no id");
      id = *(*e)[0];
      existing = true;
    }
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w_str(w, "session_id", id);
    w.Key("existing");
    w.Bool(existing);
    w.EndObject();
    return done(sb);
  });
}

// One element of a PostgreSQL array literal: quoted, with '\\' and '"' escaped; NULL bare.
void append_pg_array_item(std::string& out, const std::optional<std::string>& item, bool first) {
  if (!first) out += ',';
  if (!item) {
    out += "NULL";
    return;
  }
  out += '"';
  for (char ch : *item) {
    if (ch == '"' || ch == '\\') out += '\\';
    out += ch;
  }
  out += '"';
}

std::string op_append_events(Pool& pool, const Value& req) {
  const Value* events = member(req, "events");
  if (!events || !events->IsArray())
    throw Error(ATLAS_INVALID_ARGUMENT, "append_events: 'events' (a list) is required");
  struct Ev {
    std::string event, created_at;
    std::optional<std::string> key;
  };
  std::vector<Ev> evs;
  evs.reserve(events->Size());
  for (const Value& e : events->GetArray()) {
    const Value* body = member(e, "event");
    if (!body || !body->IsObject())
      throw Error(ATLAS_INVALID_ARGUMENT, "append_events: every entry needs an 'event' object");
    evs.push_back({dump(*body), str_or(e, "created_at", now_iso()), opt_str(e, "event_key")});
  }
  return with_write_tx(pool, "append_events", [&](Conn& c) {
    long long appended = 0;
    long long sid = resolve_session(c, req, "append_events");
    if (c.backend() == Backend::kSqlite) {
      // In-process: one prepared single-row INSERT executed per event is the fastest path
      // (a many-row VALUES list costs SQLite more to parse than to run).
      std::vector<Param> flat;
      flat.reserve(evs.size() * 4);
      for (Ev& e : evs) {
        flat.push_back(Param::num(sid));
        flat.push_back(Param::str(std::move(e.event)));
        flat.push_back(Param::str(std::move(e.created_at)));
        flat.push_back(Param::opt_str(e.key));
      }
      appended = c.exec_rows("INSERT INTO trajectory_events (session_id, event, created_at, event_key) "
                             "VALUES (:p0, :p1, :p2, :p3) ON CONFLICT (session_id, event_key) DO NOTHING",
                             4, flat);
    } else {
      // One round trip per chunk: three text arrays unnested server-side, in their order.
      constexpr size_t kChunk = 5000;
      for (size_t start = 0; start < evs.size(); start += kChunk) {
        size_t end = std::min(evs.size(), start + kChunk);
        std::string events_arr, times_arr, keys_arr;
        events_arr.reserve((end - start) * (evs[start].event.size() + 16));
        for (size_t i = start; i < end; ++i) {
          append_pg_array_item(events_arr, evs[i].event, i == start);
          append_pg_array_item(times_arr, evs[i].created_at, i == start);
          append_pg_array_item(keys_arr, evs[i].key, i == start);
        }
        events_arr = "{" + events_arr + "}";
        times_arr = "{" + times_arr + "}";
        keys_arr = "{" + keys_arr + "}";
        appended += c.exec(
            "INSERT INTO trajectory_events (session_id, event, created_at, event_key) "
            "SELECT :p0, CAST(u.e AS JSONB), CAST(u.t AS TIMESTAMPTZ), u.k "
            "FROM unnest(CAST(:p1 AS TEXT[]), CAST(:p2 AS TEXT[]), CAST(:p3 AS TEXT[])) WITH ORDINALITY AS u(e, t, k, n) "
            "ORDER BY u.n ON CONFLICT (session_id, event_key) DO NOTHING",
            {Param::num(sid), Param::str(std::move(events_arr)), Param::str(std::move(times_arr)),
             Param::str(std::move(keys_arr))});
      }
    }
    return "{\"appended\":" + std::to_string(appended) + "}";
  });
}

// Top-level merge: keys of `overlay` replace those of `base`.
std::string merge_objects(const Cell& base_text, const Value* overlay) {
  Document base;
  base.SetObject();
  if (base_text) {
    Document parsed;
    atlas::sdk::parse_json(parsed, base_text->c_str());
    if (!parsed.HasParseError() && parsed.IsObject()) base.CopyFrom(parsed, base.GetAllocator());
  }
  if (overlay && overlay->IsObject()) {
    auto& a = base.GetAllocator();
    for (auto it = overlay->MemberBegin(); it != overlay->MemberEnd(); ++it) {
      Value copy(it->value, a);
      auto found = base.FindMember(it->name);
      if (found != base.MemberEnd()) {
        found->value = copy;
      } else {
        base.AddMember(Value(it->name, a), copy, a);
      }
    }
  }
  return dump(base);
}

// The steps of a finished session, in five prepared statements however many steps there are (one
// statement prepared per row cost more than writing the row). A step given twice keeps its last
// occurrence, as writing them one after another would.
void write_steps(Conn& c, Backend b, long long sid, const Value& steps) {
  std::map<long long, rapidjson::SizeType> last_index;
  for (rapidjson::SizeType i = 0; i < steps.Size(); ++i) {
    long long step_id = int_or(steps[i], "step_id", -1);
    if (step_id < 0) throw Error(ATLAS_INVALID_ARGUMENT, "finish_session: every step needs an integer 'step_id'");
    last_index[step_id] = i;
  }
  std::vector<Param> results, cleared, attempts, notes;
  for (rapidjson::SizeType i = 0; i < steps.Size(); ++i) {
    const Value& s = steps[i];
    const long long step_id = int_or(s, "step_id", -1);
    if (last_index[step_id] != i) continue;
    const Value* attempts_list = member(s, "attempt_details");
    const bool has_attempts = attempts_list && attempts_list->IsArray();
    results.insert(results.end(),
                   {Param::num(sid), Param::num(step_id), Param::opt_str(opt_str(s, "trace")),
                    Param::opt_str(opt_str(s, "output")), Param::opt_str(opt_json(s, "evaluation")),
                    Param::num(int_or(s, "attempts", has_attempts ? attempts_list->Size() : 1)),
                    Param::opt_str(opt_json(s, "metadata"))});
    cleared.insert(cleared.end(), {Param::num(sid), Param::num(step_id)});
    if (has_attempts) {
      long long n = 0;
      for (const Value& a : attempts_list->GetArray()) {
        ++n;
        attempts.insert(attempts.end(), {Param::num(sid), Param::num(step_id), Param::num(int_or(a, "attempt", n)),
                                         Param::opt_str(opt_json(a, "evaluation"))});
      }
    }
    const Value* guidance = member(s, "guidance");
    if (guidance && guidance->IsArray()) {
      long long seq = 0;
      for (const Value& g : guidance->GetArray()) {
        std::string note = g.IsString() ? std::string(g.GetString(), g.GetStringLength()) : dump(g);
        notes.insert(notes.end(), {Param::num(sid), Param::num(step_id), Param::num(++seq), Param::str(note)});
      }
    }
  }
  c.exec_rows("INSERT INTO step_results (session_id, step_id, trace, output, evaluation, attempts, metadata) "
                  "VALUES (:p0, :p1, :p2, :p3, " + json_in(b, ":p4") + ", :p5, " + json_in(b, ":p6") +
                  ") ON CONFLICT (session_id, step_id) DO UPDATE SET trace = excluded.trace, output = excluded.output, "
                  "evaluation = excluded.evaluation, attempts = excluded.attempts, metadata = excluded.metadata",
              7, results);
  c.exec_rows("DELETE FROM step_attempts WHERE session_id = :p0 AND step_id = :p1", 2, cleared);
  c.exec_rows("INSERT INTO step_attempts (session_id, step_id, attempt, evaluation) VALUES (:p0, :p1, :p2, " +
                  json_in(b, ":p3") + ")",
              4, attempts);
  c.exec_rows("DELETE FROM guidance_notes WHERE session_id = :p0 AND step_id = :p1", 2, cleared);
  c.exec_rows("INSERT INTO guidance_notes (session_id, step_id, sequence, note) VALUES (:p0, :p1, :p2, :p3)", 4,
              notes);
}

std::string op_finish_session(Pool& pool, const Value& req) {
  std::string status = lower(str_or(req, "status"));
  if (status != "succeeded" && status != "failed" && status != "interrupted") {
    throw Error(ATLAS_INVALID_ARGUMENT,
                "finish_session: 'status' must be \"succeeded\", \"failed\" or \"interrupted\", got \"" + status + "\"");
  }
  std::optional<std::string> review = opt_str(req, "review_status");
  if (review) {
    *review = lower(*review);
    if (*review != "pending" && *review != "approved" && *review != "quarantined")
      throw Error(ATLAS_INVALID_ARGUMENT, "finish_session: 'review_status' must be pending, approved or quarantined");
  }
  const Value* steps = member(req, "steps");
  if (steps && !steps->IsArray()) throw Error(ATLAS_INVALID_ARGUMENT, "finish_session: 'steps' must be a list");
  const Value* metadata = member(req, "metadata");
  if (metadata && !metadata->IsObject())
    throw Error(ATLAS_INVALID_ARGUMENT, "finish_session: 'metadata' must be an object");
  std::string completed_at = str_or(req, "completed_at", now_iso());

  return with_write_tx(pool, "finish_session", [&](Conn& c) {
    const Backend b = c.backend();
    long long sid = resolve_session(c, req, "finish_session");
    std::string lock = b == Backend::kPostgres ? " FOR UPDATE" : "";
    auto cur = c.query_one("SELECT status, " + json_out(b, "metadata") + ", review_status FROM sessions WHERE id = :p0" +
                               lock,
                           {Param::num(sid)}, 3);
    std::string current = cur ? (*cur)[0].value_or("") : "";
    if (current == "succeeded" || current == "failed" || (current == "interrupted" && status == "interrupted")) {
      // A replayed finish: the first one won; nothing to do.
      return std::string("{\"already_finished\":true,\"session_id\":\"") + std::to_string(sid) + "\"}";
    }
    const Value* plan = member(req, "plan");
    if (plan) {
      c.exec("INSERT INTO plans (session_id, plan) VALUES (:p0, " + json_in(b, ":p1") +
                 ") ON CONFLICT (session_id) DO UPDATE SET plan = excluded.plan",
             {Param::num(sid), Param::str(dump(*plan))});
    }
    if (steps) write_steps(c, b, sid, *steps);
    std::string merged = merge_objects(cur ? (*cur)[1] : Cell{}, metadata);
    // A work-queue task settles in this same transaction (ops_queue.hpp); a session whose lease
    // was lost is stored `interrupted` instead, and is not reviewed.
    const std::string queue = queue_settle_in_finish(c, sid, status, merged);
    if (queue == "lease_lost") review.reset();
    std::string new_review = review.value_or(cur ? (*cur)[2].value_or("pending") : "pending");
    c.exec("UPDATE sessions SET status = :p0, final_answer = :p1, metadata = " + json_in(b, ":p2") +
               ", reward = " + json_in(b, ":p3") + ", reward_stats = " + json_in(b, ":p4") +
               ", reward_audit = " + json_in(b, ":p5") +
               ", student_learning = :p6, teacher_learning = :p7, review_status = :p8, "
               "review_notes = COALESCE(:p9, review_notes), completed_at = " + ts_in(b, ":p10") + " WHERE id = :p11",
           {Param::str(status), Param::str(str_or(req, "final_answer")), Param::str(merged),
            Param::opt_str(opt_json(req, "reward")), Param::opt_str(opt_json(req, "reward_stats")),
            Param::opt_str(opt_json(req, "reward_audit")), Param::opt_str(opt_str(req, "student_learning")),
            Param::opt_str(opt_str(req, "teacher_learning")), Param::str(new_review),
            Param::opt_str(opt_str(req, "review_notes")), Param::str(completed_at), Param::num(sid)});
    if (review) {
      c.exec("INSERT INTO review_events (session_id, action, previous_status, new_status, note, actor, reason, "
             "created_at) VALUES (:p0, 'finish', :p1, :p2, :p3, :p4, :p5, " + ts_in(b, ":p6") + ")",
             {Param::num(sid), Param::str(cur ? (*cur)[2].value_or("pending") : "pending"), Param::str(*review),
              Param::opt_str(opt_str(req, "review_notes")), Param::str(str_or(req, "review_actor", "runtime")),
              Param::opt_str(opt_str(req, "review_reason")), Param::str(completed_at)});
    }
    return std::string("{\"already_finished\":false,\"session_id\":\"") + std::to_string(sid) + "\"" +
           (queue.empty() ? std::string() : ",\"queue\":\"" + queue + "\"") + "}";
  });
}

std::string op_learning_history(Pool& pool, const Value& req) {
  std::string key = str_or(req, "learning_key");
  long long limit = std::clamp<long long>(int_or(req, "limit", 10), 1, 1000);
  return with_conn(pool, "learning_history", [&](Conn& c) {
    const Backend b = c.backend();
    auto rows = c.query("SELECT " + json_out(b, "reward") + ", student_learning, teacher_learning, " +
                            ts_out(b, "created_at") + ", " + ts_out(b, "completed_at") + " FROM sessions WHERE " +
                            json_key_text(b, "metadata", "learning_key") +
                            " = :p0 AND reward IS NOT NULL ORDER BY created_at DESC, id DESC LIMIT :p1",
                        {Param::str(key), Param::num(limit)}, 5);
    std::reverse(rows.begin(), rows.end());  // oldest first
    // Totals over every rewarded session of the key, not just the window: the history's
    // total_count and overall_average_score describe the whole record (as Atlas computes them).
    // Triggers keep them per key (migration 10), so they cost one row read however long the record.
    auto totals = c.query_one("SELECT rewarded, CASE WHEN scored > 0 THEN score_sum / scored END "
                              "FROM learning_reward_totals WHERE learning_key = :p0",
                              {Param::str(key)}, 2);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("total_count");
    w.Int64(totals && (*totals)[0] ? std::stoll(*(*totals)[0]) : static_cast<long long>(rows.size()));
    w.Key("overall_average_score");
    if (totals && (*totals)[1]) w.Double(std::stod(*(*totals)[1]));
    else w.Null();
    w.Key("records");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w_raw_json(w, "reward", r[0]);
      w_cell(w, "student_learning", r[1]);
      w_cell(w, "teacher_learning", r[2]);
      w_cell(w, "created_at", r[3]);
      w_cell(w, "completed_at", r[4]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

std::string op_learning_get(Pool& pool, const Value& req) {
  std::string key = str_or(req, "learning_key");
  if (key.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "learning_get: 'learning_key' is required");
  return with_conn(pool, "learning_get", [&](Conn& c) {
    const Backend b = c.backend();
    auto r = c.query_one("SELECT student_learning, teacher_learning, " + json_out(b, "metadata") + ", version, " +
                             ts_out(b, "updated_at") + " FROM learning_registry WHERE learning_key = :p0",
                         {Param::str(key)}, 5);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("found");
    w.Bool(r.has_value());
    if (r) {
      w_cell(w, "student_learning", (*r)[0]);
      w_cell(w, "teacher_learning", (*r)[1]);
      w_raw_json(w, "metadata", (*r)[2]);
      w.Key("version");
      w.Int64(std::stoll((*r)[3].value_or("1")));
      w_cell(w, "updated_at", (*r)[4]);
    } else {
      w.Key("version");
      w.Int64(0);
    }
    w.EndObject();
    return done(sb);
  });
}

std::string op_learning_put(Pool& pool, const Value& req) {
  std::string key = str_or(req, "learning_key");
  if (key.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'learning_key' is required");
  if (!member(req, "expected_version"))
    throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'expected_version' is required (0 = the row must not exist)");
  long long expected = int_or(req, "expected_version", 0);
  std::optional<std::string> meta = opt_json(req, "metadata");
  // Optional: the session whose synthesis this is gets its own learning text, in the same
  // transaction (Atlas's sessions.student_learning / teacher_learning).
  const Value* session = member(req, "session");
  // "session_only": on a version conflict keep the stored playbook (it is newer) and still
  // store the session's own learning text (how the host replays a spooled learning_put).
  const std::string on_conflict = str_or(req, "on_version_conflict", "fail");
  if (on_conflict != "fail" && on_conflict != "session_only")
    throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'on_version_conflict' must be \"fail\" or \"session_only\", got \"" +
                                            on_conflict + "\"");
  if (session && !session->IsObject())
    throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'session' must be an object {session_id | session_key, "
                                        "student_learning, teacher_learning}");
  return with_conn(pool, "learning_put", [&](Conn& c) {
    const Backend b = c.backend();
    std::string now = now_iso();
    Tx tx(c);
    long long n;
    if (expected == 0) {
      n = c.exec("INSERT INTO learning_registry (learning_key, student_learning, teacher_learning, metadata, "
                 "updated_at, version) VALUES (:p0, :p1, :p2, " + json_in(b, ":p3") + ", " + ts_in(b, ":p4") +
                     ", 1) ON CONFLICT (learning_key) DO NOTHING",
                 {Param::str(key), Param::opt_str(opt_str(req, "student_learning")),
                  Param::opt_str(opt_str(req, "teacher_learning")), Param::opt_str(meta), Param::str(now)});
    } else {
      n = c.exec("UPDATE learning_registry SET student_learning = :p0, teacher_learning = :p1, metadata = " +
                     json_in(b, ":p2") + ", updated_at = " + ts_in(b, ":p3") +
                     ", version = version + 1 WHERE learning_key = :p4 AND version = :p5",
                 {Param::opt_str(opt_str(req, "student_learning")), Param::opt_str(opt_str(req, "teacher_learning")),
                  Param::opt_str(meta), Param::str(now), Param::str(key), Param::num(expected)});
    }
    long long version = expected + 1;
    if (n == 0) {
      auto r = c.query_one("SELECT version FROM learning_registry WHERE learning_key = :p0", {Param::str(key)}, 1);
      std::string actual = r ? (*r)[0].value_or("?") : "0 (no row)";
      if (on_conflict == "session_only") version = r && (*r)[0] ? std::stoll(*(*r)[0]) : 0;
      else throw Error(ATLAS_ABORTED, "learning_put: learning_key '" + key + "' is at version " + actual +
                                     ", expected " + std::to_string(expected) +
                                     " (another session updated it first; re-read and retry)");
    }
    if (n > 0) record_learning_version(c, key, version, req, now);  // migration 6: history kept
    long long sessions_updated = 0;
    if (session) {
      std::string sid = str_or(*session, "session_id");
      std::string skey = str_or(*session, "session_key");
      std::vector<Param> p = {Param::opt_str(opt_str(*session, "student_learning")),
                              Param::opt_str(opt_str(*session, "teacher_learning"))};
      std::string where;
      if (!sid.empty()) {
        where = "id = " + ph(p, Param::num(parse_id(sid, "session.session_id")));
      } else if (!skey.empty()) {
        where = "session_key = " + ph(p, Param::str(skey));
      } else {
        throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'session' needs 'session_id' or 'session_key'");
      }
      sessions_updated = c.exec("UPDATE sessions SET student_learning = :p0, teacher_learning = :p1 WHERE " + where, p);
    }
    tx.commit();
    return "{\"version\":" + std::to_string(version) + ",\"playbook_updated\":" + (n > 0 ? "true" : "false") +
           ",\"sessions_updated\":" + std::to_string(sessions_updated) + "}";
  });
}

std::string op_reward_baseline(Pool& pool, const Value& req) {
  std::string key = str_or(req, "learning_key");
  long long window = std::clamp<long long>(int_or(req, "window", 50), 1, 10000);
  std::string exclude = str_or(req, "exclude_session_id");
  return with_conn(pool, "reward_baseline", [&](Conn& c) {
    const Backend b = c.backend();
    std::vector<Param> p;
    std::string sql = "SELECT " + json_out(b, "reward_stats") + " FROM sessions WHERE reward_stats IS NOT NULL";
    if (!key.empty()) sql += " AND " + json_key_text(b, "metadata", "learning_key") + " = " + ph(p, Param::str(key));
    if (!exclude.empty()) sql += " AND id <> " + ph(p, Param::num(parse_id(exclude, "exclude_session_id")));
    sql += " ORDER BY created_at DESC, id DESC LIMIT " + ph(p, Param::num(window));
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("reward_stats");
    w.StartArray();
    for (const Row& r : c.query(sql, p, 1)) {
      // A row another program wrote with broken stats is not part of the baseline.
      if (r[0] && is_json_text(*r[0])) w.RawValue(r[0]->c_str(), r[0]->size(), rapidjson::kObjectType);
    }
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

std::string op_set_review(Pool& pool, const Value& req) {
  std::string status = lower(str_or(req, "review_status"));
  if (status != "approved" && status != "quarantined" && status != "pending") {
    throw Error(ATLAS_INVALID_ARGUMENT, "set_review: review_status must be approved, quarantined or pending, got \"" +
                                            status + "\"");
  }
  std::string actor = str_or(req, "actor");
  if (actor.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "set_review: 'actor' is required (who made the change)");
  return with_conn(pool, "set_review", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long sid = resolve_session(c, req, "set_review");
    auto cur = c.query_one("SELECT review_status, status FROM sessions WHERE id = :p0", {Param::num(sid)}, 2);
    std::string previous = (*cur)[0].value_or("pending");
    std::string run_status = (*cur)[1].value_or("");
    if (status == "approved" && (run_status == "running" || run_status == "interrupted")) {
      throw Error(ATLAS_FAILED_PRECONDITION, "session " + std::to_string(sid) + " is " + run_status +
                                                 "; only finished sessions (succeeded/failed) can be approved");
    }
    std::optional<std::string> notes = opt_str(req, "notes");
    c.exec("UPDATE sessions SET review_status = :p0, review_notes = COALESCE(:p1, review_notes) WHERE id = :p2",
           {Param::str(status), Param::opt_str(notes), Param::num(sid)});
    c.exec("INSERT INTO review_events (session_id, action, previous_status, new_status, note, actor, reason, "
           "created_at) VALUES (:p0, 'set_review', :p1, :p2, :p3, :p4, :p5, " + ts_in(b, ":p6") + ")",
           {Param::num(sid), Param::str(previous), Param::str(status), Param::opt_str(notes), Param::str(actor),
            Param::opt_str(opt_str(req, "reason")), Param::str(now_iso())});
    tx.commit();
    return "{\"previous\":\"" + previous + "\",\"session_id\":\"" + std::to_string(sid) + "\"}";
  });
}

std::string op_add_review_note(Pool& pool, const Value& req) {
  std::string note = str_or(req, "note");
  std::string actor = str_or(req, "actor");
  if (note.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "add_review_note: 'note' is required");
  if (actor.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "add_review_note: 'actor' is required");
  return with_conn(pool, "add_review_note", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long sid = resolve_session(c, req, "add_review_note");
    c.exec("UPDATE sessions SET review_notes = :p0 WHERE id = :p1", {Param::str(note), Param::num(sid)});
    c.exec("INSERT INTO review_events (session_id, action, note, actor, reason, created_at) VALUES "
           "(:p0, 'note', :p1, :p2, :p3, " + ts_in(b, ":p4") + ")",
           {Param::num(sid), Param::str(note), Param::str(actor), Param::opt_str(opt_str(req, "reason")),
            Param::str(now_iso())});
    tx.commit();
    return std::string("{}");
  });
}

// A reviewer's corrected answer: one review_events row (action 'demonstration', note = the
// answer). The latest one is the session's demonstration; earlier ones stay as history.
std::string op_add_demonstration(Pool& pool, const Value& req) {
  std::string answer = str_or(req, "answer");
  std::string actor = str_or(req, "actor");
  if (answer.find_first_not_of(" \t\r\n") == std::string::npos)
    throw Error(ATLAS_INVALID_ARGUMENT, "add_demonstration: 'answer' is required (the corrected answer text)");
  if (actor.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "add_demonstration: 'actor' is required (who wrote it)");
  return with_conn(pool, "add_demonstration", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long sid = resolve_session(c, req, "add_demonstration");
    auto cur = c.query_one("SELECT status FROM sessions WHERE id = :p0", {Param::num(sid)}, 1);
    std::string run_status = (*cur)[0].value_or("");
    if (run_status == "running") {
      throw Error(ATLAS_FAILED_PRECONDITION, "session " + std::to_string(sid) +
                                                 " is still running; a demonstration corrects a finished session");
    }
    c.exec("INSERT INTO review_events (session_id, action, note, actor, reason, created_at) VALUES "
           "(:p0, 'demonstration', :p1, :p2, :p3, " + ts_in(b, ":p4") + ")",
           {Param::num(sid), Param::str(answer), Param::str(actor), Param::opt_str(opt_str(req, "reason")),
            Param::str(now_iso())});
    tx.commit();
    return "{\"session_id\":\"" + std::to_string(sid) + "\"}";
  });
}

// WHERE clause for query_sessions filters.
std::string session_filters(Backend b, const Value& req, std::vector<Param>& p) {
  std::string where = "1 = 1";
  auto add_in = [&](const char* key, const char* col, bool lowercase) {
    std::vector<std::string> vals = str_list(req, key);
    if (vals.empty()) return;
    std::vector<Param> ps;
    ps.reserve(vals.size());
    for (auto& v : vals) ps.push_back(Param::str(lowercase ? lower(v) : v));
    where += std::string(" AND ") + (lowercase ? "LOWER(" + std::string(col) + ")" : col) + " IN (" + in_list(p, ps) +
             ")";
  };
  add_in("status", "status", true);
  add_in("review_status", "review_status", true);
  const Value* exclude = member(req, "exclude_unfinished");
  if (exclude && ((exclude->IsBool() && exclude->GetBool()) || (exclude->IsInt64() && exclude->GetInt64() != 0))) {
    where += " AND status NOT IN ('running', 'interrupted')";
  }
  std::vector<std::string> ids = str_list(req, "session_ids");
  if (!ids.empty()) {
    std::vector<Param> ps;
    ps.reserve(ids.size());
    for (auto& v : ids) ps.push_back(Param::num(parse_id(v, "session_ids")));
    where += " AND id IN (" + in_list(p, ps) + ")";
  }
  if (auto k = opt_str(req, "learning_key"); k && !k->empty())
    where += " AND " + json_key_text(b, "metadata", "learning_key") + " = " + ph(p, Param::str(*k));
  auto number = [&](const char* key) -> std::optional<double> {
    const Value* m = member(req, key);
    if (!m) return std::nullopt;
    if (!m->IsNumber()) throw Error(ATLAS_INVALID_ARGUMENT, std::string("'") + key + "' must be a number");
    return m->GetDouble();
  };
  if (auto v = number("min_reward"))
    where += " AND reward_stats IS NOT NULL AND " + reward_score_expr(b) + " >= " + ph(p, Param::real_num(*v));
  if (auto v = number("max_reward"))
    where += " AND reward_stats IS NOT NULL AND " + reward_score_expr(b) + " <= " + ph(p, Param::real_num(*v));
  if (auto v = opt_str(req, "created_after"); v && !v->empty())
    where += " AND created_at >= " + ts_in(b, ph(p, Param::str(*v)));
  if (auto v = opt_str(req, "created_before"); v && !v->empty())
    where += " AND created_at < " + ts_in(b, ph(p, Param::str(*v)));
  for (const std::string& tag : str_list(req, "tags")) {
    if (b == Backend::kPostgres) {
      where += " AND jsonb_exists(metadata->'tags', " + ph(p, Param::str(tag)) + ")";
    } else {
      where += " AND EXISTS (SELECT 1 FROM json_each(sessions.metadata, '$.tags') WHERE value = " +
               ph(p, Param::str(tag)) + ")";
    }
  }
  return where;
}

std::string op_query_sessions(Pool& pool, const Value& req) {
  long long limit = std::clamp<long long>(int_or(req, "limit", 50), 1, 5000);
  bool asc = lower(str_or(req, "order", "desc")) == "asc";
  std::string after = str_or(req, "after");
  return with_conn(pool, "query_sessions", [&](Conn& c) {
    const Backend b = c.backend();
    std::vector<Param> p;
    std::string where = session_filters(b, req, p);
    if (!after.empty()) where += std::string(" AND id ") + (asc ? ">" : "<") + " " + ph(p, Param::num(parse_id(after, "after")));
    std::string sql = "SELECT id, task, status, review_status, " + ts_out(b, "created_at") + ", " +
                      ts_out(b, "completed_at") + ", " + reward_score_expr(b) + ", " +
                      json_key_text(b, "metadata", "learning_key") + ", " +
                      json_key_text(b, "metadata", "execution_mode") + ", review_notes, " +
                      json_key_text(b, "metadata", "rollout_group") + " FROM sessions WHERE " + where +
                      " ORDER BY id " + (asc ? "ASC" : "DESC") + " LIMIT " + ph(p, Param::num(limit + 1));
    auto rows = c.query(sql, p, 11);
    bool more = rows.size() > static_cast<size_t>(limit);
    if (more) rows.resize(static_cast<size_t>(limit));
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("sessions");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w_cell(w, "session_id", r[0]);
      w_cell(w, "task", r[1]);
      w_cell(w, "status", r[2]);
      w_cell(w, "review_status", r[3]);
      w_cell(w, "created_at", r[4]);
      w_cell(w, "completed_at", r[5]);
      w.Key("reward");
      if (r[6]) {
        w.Double(std::stod(*r[6]));
      } else {
        w.Null();
      }
      w_cell(w, "learning_key", r[7]);
      w_cell(w, "execution_mode", r[8]);
      w_cell(w, "review_notes", r[9]);
      w_cell(w, "rollout_group", r[10]);  // run --rollouts / X-Atlas-Rollout-Group (null = none)
      w.EndObject();
    }
    w.EndArray();
    w.Key("next");
    if (more && !rows.empty()) {
      w.String(rows.back()[0]->c_str());
    } else {
      w.Null();
    }
    w.EndObject();
    return done(sb);
  });
}

std::string op_count_sessions(Pool& pool, const Value& req) {
  return with_conn(pool, "count_sessions", [&](Conn& c) {
    std::vector<Param> p;
    std::string where = session_filters(c.backend(), req, p);
    auto r = c.query_one("SELECT COUNT(*) FROM sessions WHERE " + where, p, 1);
    return "{\"count\":" + (r && (*r)[0] ? *(*r)[0] : std::string("0")) + "}";
  });
}

// Writes full session objects for `ids` (in that order) with one query per table, so an export
// page of 100 sessions costs 7 queries instead of 700. Missing ids are skipped.
void write_sessions(Conn& c, const std::vector<long long>& ids, long long event_limit, Writer& w) {
  const Backend b = c.backend();
  // The id match is the same for every query of the page (each starts its parameters at :p0),
  // so it is built once. A 100-id IN list costs PostgreSQL a parse of 100 parameters per
  // query (and SOCI 100 binds); = ANY of one BIGINT[] is the same plan for a fraction of that.
  std::vector<Param> id_params;
  std::string id_match;
  if (b == Backend::kPostgres) {
    std::string array;
    for (long long id : ids) array += (array.empty() ? "{" : ",") + std::to_string(id);
    id_match = "= ANY(CAST(" + ph(id_params, Param::str(array + "}")) + " AS BIGINT[]))";
  } else {
    std::vector<Param> idp;
    idp.reserve(ids.size());
    for (long long id : ids) idp.push_back(Param::num(id));
    id_match = "IN (" + in_list(id_params, idp) + ")";
  }
  auto by_session = [&](const std::string& sql, size_t cols) {
    std::string q = sql;
    q.replace(q.find("IN (@IDS)"), 9, id_match);
    const std::vector<Param>& p = id_params;
    std::map<std::string, std::vector<Row>> out;
    for (Row& r : c.query(q, p, cols)) out[r[0].value_or("")].push_back(std::move(r));
    return out;
  };
  auto sessions = by_session("SELECT id, task, status, " + json_out(b, "metadata") + ", final_answer, " +
                                 json_out(b, "reward") + ", " + json_out(b, "reward_stats") + ", " +
                                 json_out(b, "reward_audit") +
                                 ", student_learning, teacher_learning, review_status, review_notes, " +
                                 ts_out(b, "created_at") + ", " + ts_out(b, "completed_at") +
                                 " FROM sessions WHERE id IN (@IDS)",
                             14);
  auto plans = by_session("SELECT session_id, " + json_out(b, "plan") + " FROM plans WHERE session_id IN (@IDS)", 2);
  auto steps = by_session("SELECT session_id, step_id, trace, output, " + json_out(b, "evaluation") + ", attempts, " +
                              json_out(b, "metadata") +
                              " FROM step_results WHERE session_id IN (@IDS) ORDER BY session_id, step_id",
                          7);
  auto attempts = by_session("SELECT session_id, step_id, attempt, " + json_out(b, "evaluation") +
                                 " FROM step_attempts WHERE session_id IN (@IDS) ORDER BY session_id, step_id, attempt",
                             4);
  auto guidance = by_session("SELECT session_id, step_id, note FROM guidance_notes WHERE session_id IN (@IDS) "
                             "ORDER BY session_id, step_id, sequence",
                             3);
  auto events = by_session("SELECT session_id, id, " + json_out(b, "event") + ", " + ts_out(b, "created_at") +
                               " FROM trajectory_events WHERE session_id IN (@IDS) ORDER BY session_id, id",
                           4);
  auto reviews = by_session("SELECT session_id, action, previous_status, new_status, note, actor, reason, " +
                                ts_out(b, "created_at") + " FROM review_events WHERE session_id IN (@IDS) ORDER BY id",
                            8);
  static const std::vector<Row> none;
  auto rows_of = [](const std::map<std::string, std::vector<Row>>& m, const std::string& id) -> const std::vector<Row>& {
    auto it = m.find(id);
    return it == m.end() ? none : it->second;
  };
  const char* names[] = {"session_id", "task", "status", "metadata", "final_answer", "reward", "reward_stats",
                         "reward_audit", "student_learning", "teacher_learning", "review_status", "review_notes",
                         "created_at", "completed_at"};
  for (long long id_num : ids) {
    std::string id = std::to_string(id_num);
    auto found = sessions.find(id);
    if (found == sessions.end()) continue;
    const Row& s = found->second.front();
    w.StartObject();
    for (size_t i = 0; i < 14; ++i) {
      bool json = i == 3 || i == 5 || i == 6 || i == 7;
      if (json) {
        w_raw_json(w, names[i], s[i]);
      } else {
        w_cell(w, names[i], s[i]);
      }
    }
    const auto& plan = rows_of(plans, id);
    w_raw_json(w, "plan", plan.empty() ? Cell{} : plan.front()[1]);
    w.Key("steps");
    w.StartArray();
    for (const Row& st : rows_of(steps, id)) {
      w.StartObject();
      w.Key("step_id");
      w.Int64(std::stoll(st[1].value_or("0")));
      w_cell(w, "trace", st[2]);
      w_cell(w, "output", st[3]);
      w_raw_json(w, "evaluation", st[4]);
      w.Key("attempts");
      if (st[5]) {
        w.Int64(std::stoll(*st[5]));
      } else {
        w.Null();
      }
      w_raw_json(w, "metadata", st[6]);
      w.Key("attempt_details");
      w.StartArray();
      for (const Row& a : rows_of(attempts, id)) {
        if (a[1] != st[1]) continue;
        w.StartObject();
        w.Key("attempt");
        w.Int64(std::stoll(a[2].value_or("0")));
        w_raw_json(w, "evaluation", a[3]);
        w.EndObject();
      }
      w.EndArray();
      w.Key("guidance");
      w.StartArray();
      for (const Row& g : rows_of(guidance, id)) {
        if (g[1] == st[1] && g[2]) w.String(g[2]->c_str(), static_cast<rapidjson::SizeType>(g[2]->size()));
      }
      w.EndArray();
      w.EndObject();
    }
    w.EndArray();
    const auto& evs = rows_of(events, id);
    size_t n = event_limit > 0 ? std::min(evs.size(), static_cast<size_t>(event_limit)) : evs.size();
    w.Key("trajectory_events");
    w.StartArray();
    for (size_t i = 0; i < n; ++i) {
      const Row& e = evs[i];
      w.StartObject();
      w.Key("id");
      w.Int64(std::stoll(e[1].value_or("0")));
      w_raw_json(w, "event", e[2]);
      w_cell(w, "created_at", e[3]);
      w.EndObject();
    }
    w.EndArray();
    w.Key("trajectory_events_truncated");
    w.Bool(n < evs.size());
    w.Key("review_events");
    w.StartArray();
    for (const Row& r : rows_of(reviews, id)) {
      w.StartObject();
      w_cell(w, "action", r[1]);
      w_cell(w, "previous_status", r[2]);
      w_cell(w, "new_status", r[3]);
      w_cell(w, "note", r[4]);
      w_cell(w, "actor", r[5]);
      w_cell(w, "reason", r[6]);
      w_cell(w, "created_at", r[7]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
  }
}

std::string op_read_session(Pool& pool, const Value& req) {
  long long event_limit = int_or(req, "event_limit", 0);  // 0 = all
  return with_conn(pool, "read_session", [&](Conn& c) {
    long long sid = resolve_session(c, req, "read_session");
    rapidjson::StringBuffer sb;
    Writer w(sb);
    write_sessions(c, {sid}, event_limit, w);
    return done(sb);
  });
}

std::string op_read_sessions(Pool& pool, const Value& req) {
  std::vector<long long> ids;
  for (const std::string& s : str_list(req, "session_ids")) ids.push_back(parse_id(s, "session_ids"));
  if (ids.size() > 1000) throw Error(ATLAS_INVALID_ARGUMENT, "read_sessions: at most 1000 session_ids per call");
  long long event_limit = int_or(req, "event_limit", 0);
  return with_conn(pool, "read_sessions", [&](Conn& c) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("sessions");
    w.StartArray();
    if (!ids.empty()) write_sessions(c, ids, event_limit, w);
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

std::string op_record_training_run(Pool& pool, const Value& req) {
  std::string path = str_or(req, "export_path");
  std::string command = str_or(req, "command");
  if (path.empty() || command.empty())
    throw Error(ATLAS_INVALID_ARGUMENT, "record_training_run: 'export_path' and 'command' are required");
  return with_conn(pool, "record_training_run", [&](Conn& c) {
    const Backend b = c.backend();
    const Value* exit_status = member(req, "exit_status");
    auto r = c.query_one(
        "INSERT INTO training_runs (export_path, export_format, export_sha256, exported_sessions, command, exit_status, "
        "started_at, finished_at, metadata) VALUES (:p0, :p1, :p2, :p3, :p4, :p5, " + ts_in(b, ":p6") + ", " +
            ts_in(b, ":p7") + ", " + json_in(b, ":p8") + ") RETURNING id",
        {Param::str(path), Param::opt_str(opt_str(req, "export_format")), Param::opt_str(opt_str(req, "export_sha256")),
         Param::num(int_or(req, "exported_sessions", 0)), Param::str(command),
         exit_status ? Param::num(int_or(req, "exit_status", 0)) : Param::null(),
         Param::str(str_or(req, "started_at", now_iso())), Param::opt_str(opt_str(req, "finished_at")),
         Param::opt_str(opt_json(req, "metadata"))},
        1);
    return "{\"run_id\":\"" + (r ? (*r)[0].value_or("") : std::string()) + "\"}";
  });
}

std::string op_list_training_runs(Pool& pool, const Value& req) {
  long long limit = std::clamp<long long>(int_or(req, "limit", 20), 1, 1000);
  return with_conn(pool, "list_training_runs", [&](Conn& c) {
    const Backend b = c.backend();
    auto rows = c.query("SELECT id, export_path, export_format, export_sha256, exported_sessions, command, exit_status, " +
                            ts_out(b, "started_at") + ", " + ts_out(b, "finished_at") +
                            " FROM training_runs ORDER BY id DESC LIMIT :p0",
                        {Param::num(limit)}, 9);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("runs");
    w.StartArray();
    const char* names[] = {"run_id", "export_path", "export_format", "export_sha256", "exported_sessions",
                           "command", "exit_status", "started_at", "finished_at"};
    for (const Row& r : rows) {
      w.StartObject();
      for (size_t i = 0; i < 9; ++i) w_cell(w, names[i], r[i]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

}  // namespace

// For the op files next to this one (ops_review_ui.hpp).
std::string session_filters_sql(Backend b, const Value& req, std::vector<Param>& params) {
  return session_filters(b, req, params);
}
std::string bind_param(std::vector<Param>& params, Param v) { return ph(params, std::move(v)); }
std::string bind_list(std::vector<Param>& params, const std::vector<Param>& values) { return in_list(params, values); }
std::vector<std::string> review_status_filter(const Value& req) {
  std::vector<std::string> statuses = str_list(req, "review_status");
  for (std::string& s : statuses) s = lower(s);
  return statuses;
}

std::string run_op(Pool& pool, std::string_view op, std::string_view request_json) {
  using Fn = std::string (*)(Pool&, const Value&);
  static const std::map<std::string_view, Fn> table = {
      {"migrate", &op_migrate},
      {"status", &op_status},
      {"recover_interrupted", &op_recover_interrupted},
      {"begin_session", &op_begin_session},
      {"append_events", &op_append_events},
      {"finish_session", &op_finish_session},
      {"learning_history", &op_learning_history},
      {"learning_get", &op_learning_get},
      {"learning_put", &op_learning_put},
      {"learning_versions", &op_learning_versions},
      {"learning_keys", &op_learning_keys},
      {"reward_baseline", &op_reward_baseline},
      {"set_review", &op_set_review},
      {"add_review_note", &op_add_review_note},
      {"add_demonstration", &op_add_demonstration},
      {"query_sessions", &op_query_sessions},
      {"count_sessions", &op_count_sessions},
      {"read_session", &op_read_session},
      {"read_sessions", &op_read_sessions},
      {"record_training_run", &op_record_training_run},
      {"list_training_runs", &op_list_training_runs},
      {"queue_enqueue", &op_queue_enqueue},
      {"queue_claim", &op_queue_claim},
      {"queue_heartbeat", &op_queue_heartbeat},
      {"queue_release", &op_queue_release},
      {"queue_fail", &op_queue_fail},
      {"queue_reclaim", &op_queue_reclaim},
      {"queue_status", &op_queue_status},
      {"queue_retry", &op_queue_retry},
      {"queue_cancel", &op_queue_cancel},
      {"queue_task", &op_queue_task},
      {"review_ui_sessions", &op_review_ui_sessions},
      {"review_ui_counts", &op_review_ui_counts},
      {"review_ui_learning_keys", &op_review_ui_learning_keys},
      {"review_ui_learning", &op_review_ui_learning},
      {"gateway_episode_claim", &op_gateway_episode_claim},
      {"gateway_episode_opened", &op_gateway_episode_opened},
      {"gateway_episode_get", &op_gateway_episode_get},
      {"gateway_call_append", &op_gateway_call_append},
      {"gateway_feedback_add", &op_gateway_feedback_add},
      {"gateway_episode_note_limit", &op_gateway_episode_note_limit},
      {"gateway_episode_end", &op_gateway_episode_end},
      {"gateway_episode_finish", &op_gateway_episode_finish},
      {"gateway_episodes_idle", &op_gateway_episodes_idle},
      {"gateway_episodes_heartbeat", &op_gateway_episodes_heartbeat},
  };
  auto it = table.find(op);
  if (it == table.end()) {
    throw Error(ATLAS_UNIMPLEMENTED, "storage plugin soci: unknown operation '" + std::string(op) + "'");
  }
  Document req = parse_request(op, request_json);
  return it->second(pool, req);
}

}  // namespace atlas_soci
