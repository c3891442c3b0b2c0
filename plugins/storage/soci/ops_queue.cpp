#include "ops_queue.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <atlas/json_parse.hpp>
#include <cstdio>
#include <random>

#include "ops_json.hpp"
#include "ops_request.hpp"

namespace atlas_soci {

using atlas::sdk::Error;
using rapidjson::Document;
using rapidjson::Value;

namespace {

// States of a task: pending -> leased -> done | pending (retry, release, expired lease) | dead;
// pending/leased -> cancelled; dead/cancelled -> pending (queue retry).
constexpr const char* kColumns =
    "task_id, state, priority, attempts, max_attempts, leased_by, lease_expires_ms, "
    "last_error, session_id, group_key, rollout";

std::string random_token() {
  std::random_device rd;
  char buf[33];
  for (int i = 0; i < 4; ++i) std::snprintf(buf + i * 8, 9, "%08x", static_cast<unsigned>(rd()));
  return std::string(buf, 32);
}

// A task row as JSON (the columns of kColumns).
void write_task(Writer& w, const Row& r) {
  w.StartObject();
  w_cell(w, "task_id", r[0]);
  w_cell(w, "state", r[1]);
  put_int(w, "priority", r[2]);
  put_int(w, "attempts", r[3]);
  put_int(w, "max_attempts", r[4]);
  w_cell(w, "leased_by", r[5]);
  put_int(w, "lease_expires_ms", r[6]);
  w_cell(w, "last_error", r[7]);
  w_cell(w, "session_id", r[8]);
  w_cell(w, "group", r[9]);
  put_int(w, "rollout", r[10]);
  w.EndObject();
}

std::vector<std::string> id_list(const Value& req, const char* op) {
  std::vector<std::string> out;
  const Value* ids = member(req, "task_ids");
  if (!ids) return out;
  if (!ids->IsArray()) throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'task_ids' must be a list of strings");
  for (const Value& v : ids->GetArray()) {
    if (!v.IsString()) throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'task_ids' must be a list of strings");
    out.emplace_back(v.GetString(), v.GetStringLength());
  }
  return out;
}

// The condition under which a worker may still settle a task: its lease, unchanged.
constexpr const char* kMyLease = "task_id = :p0 AND lease_token = :p1 AND state = 'leased'";

}  // namespace

std::vector<std::string> work_queue_schema(Backend b) {
  const bool pg = b == Backend::kPostgres;
  const std::string seq = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  const std::string json = pg ? "JSONB" : "TEXT";
  return {
      "CREATE TABLE queue_tasks (seq " + seq +
          ", task_id TEXT NOT NULL UNIQUE, "
          "state TEXT NOT NULL DEFAULT 'pending', priority INTEGER NOT NULL DEFAULT 0, payload " +
          json +
          " NOT NULL, "
          "group_key TEXT, rollout INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0, "
          "max_attempts INTEGER NOT NULL DEFAULT 3, lease_token TEXT, leased_by TEXT, lease_expires_ms BIGINT, "
          "available_ms BIGINT NOT NULL DEFAULT 0, last_error TEXT, session_id BIGINT, last_session_id BIGINT, "
          "enqueued_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL, finished_ms BIGINT)",
      // What claim reads: the next pending tasks by priority, then enqueue order.
      "CREATE INDEX queue_tasks_claim_idx ON queue_tasks (priority DESC, seq) WHERE state = 'pending'",
      // What reclaim reads: leases by expiry.
      "CREATE INDEX queue_tasks_lease_idx ON queue_tasks (lease_expires_ms) WHERE state = 'leased'",
      "CREATE INDEX queue_tasks_state_idx ON queue_tasks (state)",
      // One stored session per task, whatever happens to leases: the database refuses a second.
      "ALTER TABLE sessions ADD COLUMN queue_task_id TEXT",
      "CREATE UNIQUE INDEX sessions_queue_task_idx ON sessions (queue_task_id)",
  };
}

// {"tasks": [{"task_id", "payload": {...}, "priority", "group", "rollout", "max_attempts"}]}
// -> {"inserted": N, "existing": M}. One transaction; a task id already queued (in any state)
// is left as it is, so enqueuing a file twice queues nothing twice.
std::string op_queue_enqueue(Pool& pool, const Value& req) {
  const Value* tasks = member(req, "tasks");
  if (!tasks || !tasks->IsArray())
    throw Error(ATLAS_INVALID_ARGUMENT, "queue_enqueue: 'tasks' (a list of task objects) is required");
  for (const Value& t : tasks->GetArray()) {
    if (required_str(t, "task_id", "queue_enqueue").empty())
      throw Error(ATLAS_INVALID_ARGUMENT, "queue_enqueue: 'task_id' must not be empty");
    const Value* p = member(t, "payload");
    if (!p || !p->IsObject()) throw Error(ATLAS_INVALID_ARGUMENT, "queue_enqueue: every task needs a 'payload' object");
    if (int_or(t, "max_attempts", 3, "queue_enqueue") < 1)
      throw Error(ATLAS_INVALID_ARGUMENT, "queue_enqueue: 'max_attempts' must be at least 1");
  }
  return with_conn(pool, "queue_enqueue", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long inserted = 0;
    const std::string sql =
        "INSERT INTO queue_tasks (task_id, state, priority, payload, group_key, rollout, max_attempts, "
        "enqueued_ms, updated_ms) VALUES (:p0, 'pending', :p1, " +
        json_in(b, ":p2") + ", :p3, :p4, :p5, " + now_ms(b) + ", " + now_ms(b) + ") ON CONFLICT (task_id) DO NOTHING";
    for (const Value& t : tasks->GetArray()) {
      inserted +=
          c.exec(sql, {Param::str(required_str(t, "task_id", "queue_enqueue")),
                       Param::num(int_or(t, "priority", 0, "queue_enqueue")), Param::str(dump(*member(t, "payload"))),
                       Param::opt_str(opt_str(t, "group", "queue_enqueue")),
                       Param::num(int_or(t, "rollout", 0, "queue_enqueue")),
                       Param::num(int_or(t, "max_attempts", 3, "queue_enqueue"))});
    }
    tx.commit();
    return "{\"inserted\":" + std::to_string(inserted) +
           ",\"existing\":" + std::to_string(static_cast<long long>(tasks->Size()) - inserted) + "}";
  });
}

// {"worker": "host:pid", "limit": N, "lease_seconds": S} -> {"lease_token", "tasks": [{task_id,
// payload, attempts, max_attempts, priority, group, rollout}]}. PostgreSQL: one UPDATE over a
// `SELECT ... FOR UPDATE SKIP LOCKED` (concurrent workers never wait on each other's rows);
// SQLite: the same UPDATE inside BEGIN IMMEDIATE (one writer at a time).
std::string op_queue_claim(Pool& pool, const Value& req) {
  const std::string worker = required_str(req, "worker", "queue_claim");
  const long long limit = std::clamp<long long>(int_or(req, "limit", 1, "queue_claim"), 1, 1000);
  const long long lease_ms = int_or(req, "lease_seconds", 60, "queue_claim") * 1000;
  if (lease_ms < 1000) throw Error(ATLAS_INVALID_ARGUMENT, "queue_claim: 'lease_seconds' must be at least 1");
  const std::string token = random_token();
  return with_conn(pool, "queue_claim", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    const std::string pick = "SELECT seq FROM queue_tasks WHERE state = 'pending' AND available_ms <= " + now_ms(b) +
                             " ORDER BY priority DESC, seq LIMIT :p3" +
                             (b == Backend::kPostgres ? " FOR UPDATE SKIP LOCKED" : "");
    auto rows = c.query(
        "UPDATE queue_tasks SET state = 'leased', lease_token = :p0, leased_by = :p1, lease_expires_ms = " + now_ms(b) +
            " + :p2, attempts = attempts + 1, updated_ms = " + now_ms(b) + " WHERE seq IN (" + pick +
            ") RETURNING task_id, " + json_out(b, "payload") +
            ", attempts, max_attempts, priority, group_key, rollout, seq",
        {Param::str(token), Param::str(worker), Param::num(lease_ms), Param::num(limit)}, 8);
    tx.commit();
    std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) {
      long long px = std::stoll(x[4].value_or("0")), py = std::stoll(y[4].value_or("0"));
      return px != py ? px > py : std::stoll(x[7].value_or("0")) < std::stoll(y[7].value_or("0"));
    });
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("lease_token");
    w.String(token.c_str());
    w.Key("tasks");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w_cell(w, "task_id", r[0]);
      w.Key("payload");
      w.RawValue(r[1] ? r[1]->c_str() : "{}", r[1] ? r[1]->size() : 2, rapidjson::kObjectType);
      put_int(w, "attempts", r[2]);
      put_int(w, "max_attempts", r[3]);
      put_int(w, "priority", r[4]);
      w_cell(w, "group", r[5]);
      put_int(w, "rollout", r[6]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

// {"lease_seconds": S, "leases": [{"task_id", "lease_token"}]} -> {"lost": [task ids]}: extends
// every lease still held; a lease that is no longer the caller's is reported lost.
std::string op_queue_heartbeat(Pool& pool, const Value& req) {
  const long long lease_ms = int_or(req, "lease_seconds", 60, "queue_heartbeat") * 1000;
  const Value* leases = member(req, "leases");
  if (!leases || !leases->IsArray())
    throw Error(ATLAS_INVALID_ARGUMENT, "queue_heartbeat: 'leases' (a list) is required");
  return with_conn(pool, "queue_heartbeat", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    std::vector<std::string> lost;
    for (const Value& l : leases->GetArray()) {
      std::string id = required_str(l, "task_id", "queue_heartbeat");
      long long n =
          c.exec("UPDATE queue_tasks SET lease_expires_ms = " + now_ms(b) + " + :p2, updated_ms = " + now_ms(b) +
                     " WHERE " + kMyLease,
                 {Param::str(id), Param::str(required_str(l, "lease_token", "queue_heartbeat")), Param::num(lease_ms)});
      if (n == 0) lost.push_back(id);
    }
    tx.commit();
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("lost");
    w.StartArray();
    for (const auto& id : lost) w.String(id.c_str());
    w.EndArray();
    w.EndObject();
    return done(sb);
  });
}

// {"task_id", "lease_token", "reason"} -> {"released": bool}: back to `pending` at once; the
// attempt does not count (a draining worker gives back what it did not start or finish).
std::string op_queue_release(Pool& pool, const Value& req) {
  const std::string id = required_str(req, "task_id", "queue_release"),
                    token = required_str(req, "lease_token", "queue_release");
  return with_conn(pool, "queue_release", [&](Conn& c) {
    const Backend b = c.backend();
    long long n = c.exec(
        "UPDATE queue_tasks SET state = 'pending', lease_token = NULL, leased_by = NULL, "
        "lease_expires_ms = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
        "available_ms = 0, last_error = COALESCE(:p2, last_error), updated_ms = " +
            now_ms(b) + " WHERE " + kMyLease,
        {Param::str(id), Param::str(token), Param::opt_str(opt_str(req, "reason", "queue_release"))});
    return std::string("{\"released\":") + (n > 0 ? "true" : "false") + "}";
  });
}

namespace {
// A failed attempt of a leased task: `dead` once attempts reached max_attempts, else `pending`
// after `delay_ms`. Returns the new state, "" when the lease is not the caller's any more.
std::string fail_task(Conn& c, const std::string& id, const std::string& token, const std::string& error,
                      long long delay_ms, std::optional<long long> session_id) {
  const Backend b = c.backend();
  auto r = c.query_one(
      "UPDATE queue_tasks SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, "
      "lease_token = NULL, leased_by = NULL, lease_expires_ms = NULL, last_error = :p2, "
      "last_session_id = COALESCE(:p3, last_session_id), available_ms = " +
          now_ms(b) +
          " + :p4, "
          "updated_ms = " +
          now_ms(b) + ", finished_ms = CASE WHEN attempts >= max_attempts THEN " + now_ms(b) + " ELSE NULL END WHERE " +
          kMyLease + " RETURNING state",
      {Param::str(id), Param::str(token), Param::str(error), session_id ? Param::num(*session_id) : Param::null(),
       Param::num(delay_ms)},
      1);
  return r && (*r)[0] ? *(*r)[0] : std::string();
}
}  // namespace

// {"task_id", "lease_token", "error", "retry_delay_ms"} -> {"state": "pending"|"dead"|null}.
std::string op_queue_fail(Pool& pool, const Value& req) {
  const std::string id = required_str(req, "task_id", "queue_fail"),
                    token = required_str(req, "lease_token", "queue_fail");
  const std::string error = str_or(req, "error", {}, "queue_fail");
  const long long delay = std::max<long long>(0, int_or(req, "retry_delay_ms", 1000, "queue_fail"));
  return with_conn(pool, "queue_fail", [&](Conn& c) {
    Tx tx(c);
    std::string state =
        fail_task(c, id, token, error.empty() ? "failed (no reason given)" : error, delay, std::nullopt);
    tx.commit();
    return state.empty() ? std::string("{\"state\":null}") : "{\"state\":\"" + state + "\"}";
  });
}

// {} -> {"reclaimed": N, "dead": M}: leases past their expiry (the worker died or hung) go back
// to `pending`, or to `dead` when that was the last allowed attempt.
std::string op_queue_reclaim(Pool& pool, const Value&) {
  return with_conn(pool, "queue_reclaim", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    auto rows = c.query(
        "UPDATE queue_tasks SET state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'pending' END, "
        "last_error = 'lease expired: worker ' || COALESCE(leased_by, '?') || ' stopped sending heartbeats', "
        "lease_token = NULL, leased_by = NULL, lease_expires_ms = NULL, available_ms = 0, updated_ms = " +
            now_ms(b) + " WHERE state = 'leased' AND lease_expires_ms < " + now_ms(b) + " RETURNING state",
        {}, 1);
    tx.commit();
    long long dead = std::count_if(rows.begin(), rows.end(), [](const Row& r) { return r[0] && *r[0] == "dead"; });
    return "{\"reclaimed\":" + std::to_string(static_cast<long long>(rows.size()) - dead) +
           ",\"dead\":" + std::to_string(dead) + "}";
  });
}

// {"list": "dead"|..., "limit": N} -> {"counts": {state: n}, "oldest_pending_age_ms", "tasks": [...]}.
std::string op_queue_status(Pool& pool, const Value& req) {
  const std::string list = str_or(req, "list", {}, "queue_status");
  const long long limit = std::clamp<long long>(int_or(req, "limit", 50, "queue_status"), 1, 10000);
  return with_conn(pool, "queue_status", [&](Conn& c) {
    const Backend b = c.backend();
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("counts");
    w.StartObject();
    long long seen[5] = {0, 0, 0, 0, 0};
    const char* states[] = {"pending", "leased", "done", "dead", "cancelled"};
    for (const Row& r : c.query("SELECT state, COUNT(*) FROM queue_tasks GROUP BY state", {}, 2)) {
      for (int i = 0; i < 5; ++i)
        if (r[0] && *r[0] == states[i]) seen[i] = std::stoll(r[1].value_or("0"));
    }
    for (int i = 0; i < 5; ++i) {
      w.Key(states[i]);
      w.Int64(seen[i]);
    }
    w.EndObject();
    auto age =
        c.query_one("SELECT " + now_ms(b) + " - MIN(enqueued_ms) FROM queue_tasks WHERE state = 'pending'", {}, 1);
    put_int(w, "oldest_pending_age_ms", age ? (*age)[0] : Cell{});
    if (!list.empty()) {
      w.Key("tasks");
      w.StartArray();
      for (const Row& r :
           c.query(std::string("SELECT ") + kColumns + " FROM queue_tasks WHERE state = :p0 ORDER BY seq LIMIT :p1",
                   {Param::str(list), Param::num(limit)}, 11))
        write_task(w, r);
      w.EndArray();
    }
    w.EndObject();
    return done(sb);
  });
}

// {"task_ids": [...]} or {"state": "dead"|"cancelled"} -> {"retried": N}: back to `pending` with
// a fresh attempt count. Done tasks are never re-run (their session is stored).
std::string op_queue_retry(Pool& pool, const Value& req) {
  std::vector<std::string> ids = id_list(req, "queue_retry");
  const std::string state = str_or(req, "state", {}, "queue_retry");
  if (ids.empty() && state != "dead" && state != "cancelled")
    throw Error(ATLAS_INVALID_ARGUMENT, "queue_retry: give 'task_ids' or 'state' (\"dead\" or \"cancelled\")");
  return with_conn(pool, "queue_retry", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    const std::string set =
        "UPDATE queue_tasks SET state = 'pending', attempts = 0, available_ms = 0, finished_ms = NULL, "
        "updated_ms = " +
        now_ms(b) + " WHERE state IN ('dead', 'cancelled')";
    long long n = 0;
    if (ids.empty()) {
      n = c.exec(set + " AND state = :p0", {Param::str(state)});
    } else {
      for (const auto& id : ids) n += c.exec(set + " AND task_id = :p0", {Param::str(id)});
    }
    tx.commit();
    return "{\"retried\":" + std::to_string(n) + "}";
  });
}

// {"task_ids": [...]} or {"all": true} -> {"cancelled": N}: pending and leased tasks stop being
// handed out; a leased task's session, when it ends, is stored `interrupted` (lease lost).
std::string op_queue_cancel(Pool& pool, const Value& req) {
  std::vector<std::string> ids = id_list(req, "queue_cancel");
  const Value* all = member(req, "all");
  const bool everything = all && all->IsBool() && all->GetBool();
  if (ids.empty() && !everything) throw Error(ATLAS_INVALID_ARGUMENT, "queue_cancel: give 'task_ids' or \"all\": true");
  return with_conn(pool, "queue_cancel", [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    const std::string set =
        "UPDATE queue_tasks SET state = 'cancelled', lease_token = NULL, leased_by = NULL, "
        "lease_expires_ms = NULL, updated_ms = " +
        now_ms(b) + ", finished_ms = " + now_ms(b) + " WHERE state IN ('pending', 'leased')";
    long long n = 0;
    if (everything) {
      n = c.exec(set);
    } else {
      for (const auto& id : ids) n += c.exec(set + " AND task_id = :p0", {Param::str(id)});
    }
    tx.commit();
    return "{\"cancelled\":" + std::to_string(n) + "}";
  });
}

// {"task_id"} -> the task's row ({"found": false} when there is none).
std::string op_queue_task(Pool& pool, const Value& req) {
  const std::string id = required_str(req, "task_id", "queue_task");
  return with_conn(pool, "queue_task", [&](Conn& c) {
    auto r =
        c.query_one(std::string("SELECT ") + kColumns + " FROM queue_tasks WHERE task_id = :p0", {Param::str(id)}, 11);
    if (!r) return std::string("{\"found\":false}");
    rapidjson::StringBuffer sb;
    Writer w(sb);
    write_task(w, *r);
    std::string out = done(sb);
    return "{\"found\":true," + out.substr(1);
  });
}

std::string queue_settle_in_finish(Conn& c, long long session_id, std::string& status, std::string& merged_metadata) {
  Document meta;
  atlas::sdk::parse_json(meta, merged_metadata.c_str());
  if (meta.HasParseError() || !meta.IsObject()) return {};
  const Value* q = member(meta, "atlas_queue");
  if (!q || !q->IsObject() || !member(*q, "task_id") || !member(*q, "lease_token")) return {};
  const std::string id = required_str(*q, "task_id", "finish_session"),
                    token = required_str(*q, "lease_token", "finish_session");
  const Backend b = c.backend();
  std::string outcome;
  if (status == "succeeded") {
    long long n = c.exec(
        "UPDATE queue_tasks SET state = 'done', session_id = :p2, last_session_id = :p3, lease_token = NULL, "
        "lease_expires_ms = NULL, updated_ms = " +
            now_ms(b) + ", finished_ms = " + now_ms(b) + " WHERE " + kMyLease,
        {Param::str(id), Param::str(token), Param::num(session_id), Param::num(session_id)});
    if (n > 0) {
      // The unique index on queue_task_id makes a second session for this task impossible.
      c.exec("UPDATE sessions SET queue_task_id = :p0 WHERE id = :p1", {Param::str(id), Param::num(session_id)});
      outcome = "done";
    }
  } else if (status == "failed") {
    const Value* err = member(meta, "error");
    std::string error = err && err->IsString() ? std::string(err->GetString(), err->GetStringLength())
                                               : "the session failed (session " + std::to_string(session_id) + ")";
    long long delay = int_or(*q, "retry_delay_ms", 1000, "finish_session");
    std::string state = fail_task(c, id, token, error, delay, session_id);
    if (!state.empty()) outcome = state == "dead" ? "dead" : "retry";
  } else {  // interrupted: give the task back, the attempt does not count
    long long n = c.exec(
        "UPDATE queue_tasks SET state = 'pending', lease_token = NULL, leased_by = NULL, "
        "lease_expires_ms = NULL, attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, "
        "available_ms = 0, last_session_id = :p2, updated_ms = " +
            now_ms(b) + " WHERE " + kMyLease,
        {Param::str(id), Param::str(token), Param::num(session_id)});
    outcome = n > 0 ? "released" : "";
  }
  if (outcome.empty()) {
    // The lease is not ours any more: this session must never count as the task's.
    outcome = "lease_lost";
    auto& a = meta.GetAllocator();
    Value copy(*q, a);
    copy.RemoveMember("outcome");
    copy.AddMember("outcome", Value("lease_lost", a), a);
    meta.RemoveMember("atlas_queue");
    meta.AddMember("atlas_queue", copy, a);
    status = "interrupted";
    merged_metadata = dump(meta);
  }
  return outcome;
}

}  // namespace atlas_soci
