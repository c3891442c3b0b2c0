#include "ops_gateway.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>

#include "ops_json.hpp"
#include "ops_request.hpp"

namespace atlas_soci {

using atlas::sdk::Error;
using rapidjson::Value;

namespace {

// States: opening (the first call's replica is creating the session) -> open -> ending (one
// replica won the end and is judging and storing) -> ended (report kept for repeated ends and
// GET). Every transition is one conditional UPDATE on the row, so two replicas never both win.
// While a row is opening or ending it is leased: `owner` names the replica doing the work and
// `last_activity_ms` is its lease, renewed by gateway_episodes_heartbeat. A lease older than the
// caller's `lease_seconds` means the owner died (kill -9, lost node): another replica takes the
// row over (opening: the next call opens the session again; ending: the reaper ends it with the
// outcome the first /end stored), and the dead owner's late writes are refused (owner check).
std::string episode_columns(Backend b) {
  return "episode_id, state, session_id, learning_key, lane, playbook_block, resume_state, recorded, calls, "
         "model_calls, tokens, limit_note, ended_by, report, feedback_count, last_activity_ms, " +
         now_ms(b) + ", owner, end_outcome";
}
constexpr size_t kEpisodeColumnCount = 19;

void write_episode(Writer& w, const Row& r) {
  w.StartObject();
  w_cell(w, "episode_id", r[0]);
  w_cell(w, "state", r[1]);
  w_cell(w, "session_id", r[2]);
  w_cell(w, "learning_key", r[3]);
  w_cell(w, "lane", r[4]);
  w_cell(w, "playbook_block", r[5]);
  w_cell(w, "resume_state", r[6]);
  w.Key("recorded");
  w.Bool(r[7] && *r[7] != "0");
  put_int(w, "calls", r[8]);
  put_int(w, "model_calls", r[9]);
  put_int(w, "tokens", r[10]);
  w_cell(w, "limit_note", r[11]);
  w_cell(w, "ended_by", r[12]);
  w_raw_json(w, "report", r[13]);
  put_int(w, "feedback_count", r[14]);
  put_int(w, "last_activity_ms", r[15]);
  put_int(w, "now_ms", r[16]);
  w_cell(w, "owner", r[17]);
  w_raw_json(w, "end_outcome", r[18]);
  w.EndObject();
}

std::optional<Row> read_episode(Conn& c, const std::string& id) {
  return c.query_one("SELECT " + episode_columns(c.backend()) + " FROM gateway_episodes WHERE episode_id = :p0",
                     {Param::str(id)}, kEpisodeColumnCount);
}

// {"<key>": <episode row or null>} and more members from `extra`.
template <typename Extra>
std::string episode_answer(const std::optional<Row>& row, Extra&& extra) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  w.StartObject();
  extra(w);
  w.Key("episode");
  if (row)
    write_episode(w, *row);
  else
    w.Null();
  w.EndObject();
  return done(sb);
}

std::string episode_id(const Value& req, const char* op) {
  std::string id = required_str(req, "episode_id", op);
  if (id.empty() || id.size() > 128)
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'episode_id' must be 1-128 characters");
  return id;
}

const Value& object_field(const Value& req, const char* key, const char* op) {
  const Value* f = member(req, key);
  if (!f || !f->IsObject())
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": '" + key + "' (an object) is required");
  return *f;
}

// Locks the episode row for the rest of the transaction while it is open, bumping `counter`
// (calls or feedback_count) and returning its new value; nullopt when the episode is not open.
std::optional<long long> bump_open_episode(Conn& c, const std::string& id, const std::string& set) {
  auto r = c.query_one("UPDATE gateway_episodes SET " + set + " WHERE episode_id = :p0 AND state = 'open' RETURNING " +
                           set.substr(0, set.find(' ')),
                       {Param::str(id)}, 1);
  if (!r || !(*r)[0]) return std::nullopt;
  return std::stoll(*(*r)[0]);
}

// The replica making the request ("" for callers outside the lease protocol).
std::string owner_of(const Value& req, const char* op) {
  return str_or(req, "owner", {}, op);
}

// The SQL condition "the lease of this opening/ending row has expired": `lease_seconds` of the
// request (default 60) on the database's clock, bound as :p<param_index>.
std::string lease_expired(Backend b, int param_index) {
  return "last_activity_ms < " + now_ms(b) + " - :p" + std::to_string(param_index);
}
long long lease_ms(const Value& req, const char* op) {
  const Value* s = member(req, "lease_seconds");
  if (!s) return 60000;
  if (!s->IsNumber() || s->GetDouble() < 0)
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'lease_seconds' must be a number >= 0");
  return static_cast<long long>(s->GetDouble() * 1000.0);
}

// Makes `owner` the owner of episode `id` when it is in `state` (opening or ending) and its lease
// is older than `lease` ms; 1 when it did.
long long take_over_expired(Conn& c, const std::string& id, const char* state, const std::string& owner,
                            long long lease) {
  const Backend b = c.backend();
  return c.exec("UPDATE gateway_episodes SET owner = :p1, last_activity_ms = " + now_ms(b) +
                    " WHERE episode_id = :p0 AND state = :p3 AND " + lease_expired(b, 2),
                {Param::str(id), Param::str(owner), Param::num(lease), Param::str(state)});
}

std::string state_of(Conn& c, const std::string& id) {
  auto r = c.query_one("SELECT state FROM gateway_episodes WHERE episode_id = :p0", {Param::str(id)}, 1);
  return r && (*r)[0] ? *(*r)[0] : "missing";
}

}  // namespace

std::vector<std::string> gateway_episodes_schema(Backend b) {
  // Calls, feedback and resume state are opaque documents the host writes and reads back
  // whole: TEXT on both backends (nothing queries inside them; no JSONB parse per call).
  return {
      "CREATE TABLE gateway_episodes (episode_id TEXT PRIMARY KEY, state TEXT NOT NULL, session_id TEXT, "
      "learning_key TEXT, lane TEXT, playbook_block TEXT, resume_state TEXT, recorded INTEGER NOT NULL DEFAULT 1, "
      "calls INTEGER NOT NULL DEFAULT 0, model_calls BIGINT NOT NULL DEFAULT 0, tokens BIGINT NOT NULL DEFAULT 0, "
      "limit_note TEXT, ended_by TEXT, report TEXT, feedback_count INTEGER NOT NULL DEFAULT 0, "
      "opened_ms BIGINT NOT NULL, last_activity_ms BIGINT NOT NULL, ended_ms BIGINT, owner TEXT, end_outcome TEXT)",
      // What the idle reaper of every replica reads.
      "CREATE INDEX gateway_episodes_idle_idx ON gateway_episodes (last_activity_ms) WHERE state = 'open'",
      // Leases: each replica's heartbeat (by owner) and the reapers' search for expired ones.
      "CREATE INDEX gateway_episodes_owner_idx ON gateway_episodes (owner) WHERE state IN ('opening', 'ending')",
      std::string("CREATE INDEX gateway_episodes_lease_idx ON gateway_episodes (last_activity_ms) ") +
          "WHERE state IN ('opening', 'ending')",
      std::string("CREATE TABLE gateway_calls (episode_id TEXT NOT NULL REFERENCES gateway_episodes(episode_id) ON "
                  "DELETE CASCADE, seq INTEGER NOT NULL, call TEXT NOT NULL, created_ms BIGINT NOT NULL, ") +
          "PRIMARY KEY (episode_id, seq))",
      "CREATE TABLE gateway_feedback (episode_id TEXT NOT NULL REFERENCES gateway_episodes(episode_id) ON DELETE "
      "CASCADE, seq INTEGER NOT NULL, feedback TEXT NOT NULL, PRIMARY KEY (episode_id, seq))",
  };
}

// {"episode_id", "owner", "lease_seconds"?} -> {"claimed": bool, "took_over": bool, "episode":
// row}. Inserts the episode as `opening` owned by the caller unless it exists, or takes over an
// opening row whose lease expired; `claimed` = the caller must open the session
// (gateway_episode_opened).
std::string op_gateway_episode_claim(Pool& pool, const Value& req) {
  const char* op = "gateway_episode_claim";
  const std::string id = episode_id(req, op);
  const std::string owner = owner_of(req, op);
  const long long lease = lease_ms(req, op);
  return with_conn(pool, op, [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long inserted = c.exec(
        "INSERT INTO gateway_episodes (episode_id, state, opened_ms, last_activity_ms, owner) VALUES "
        "(:p0, 'opening', " +
            now_ms(b) + ", " + now_ms(b) + ", :p1) ON CONFLICT (episode_id) DO NOTHING",
        {Param::str(id), Param::str(owner)});
    long long took_over = 0;
    if (inserted == 0) took_over = take_over_expired(c, id, "opening", owner, lease);
    auto row = read_episode(c, id);
    tx.commit();
    return episode_answer(row, [&](Writer& w) {
      w.Key("claimed");
      w.Bool(inserted == 1 || took_over == 1);
      w.Key("took_over");
      w.Bool(took_over == 1);
    });
  });
}

// {"episode_id", "owner", "session_id", "learning_key", "lane", "playbook_block", "resume_state",
// "recorded"} -> {"updated": bool}: `opening` becomes `open` with what the session decided, when
// the caller still owns the row (its lease was not taken over).
std::string op_gateway_episode_opened(Pool& pool, const Value& req) {
  const char* op = "gateway_episode_opened";
  const std::string id = episode_id(req, op);
  const Value* recorded = member(req, "recorded");
  const bool is_recorded = !recorded || !recorded->IsBool() || recorded->GetBool();
  return with_conn(pool, op, [&](Conn& c) {
    long long n = c.exec(
        "UPDATE gateway_episodes SET state = 'open', session_id = :p1, learning_key = :p2, lane = :p3, "
        "playbook_block = :p4, resume_state = :p5, recorded = :p6, last_activity_ms = " +
            now_ms(c.backend()) +
            ", owner = NULL WHERE episode_id = :p0 AND state = 'opening' AND COALESCE(owner, '') = :p7",
        {Param::str(id), Param::str(str_or(req, "session_id", {}, op)), Param::str(str_or(req, "learning_key", {}, op)),
         Param::str(str_or(req, "lane", {}, op)), Param::str(str_or(req, "playbook_block", {}, op)),
         Param::str(str_or(req, "resume_state", {}, op)), Param::num(is_recorded ? 1 : 0),
         Param::str(owner_of(req, op))});
    return std::string("{\"updated\":") + (n == 1 ? "true" : "false") + "}";
  });
}

// {"episode_id"} -> {"episode": row or null}.
std::string op_gateway_episode_get(Pool& pool, const Value& req) {
  const std::string id = episode_id(req, "gateway_episode_get");
  return with_conn(pool, "gateway_episode_get", [&](Conn& c) {
    auto row = read_episode(c, id);
    return episode_answer(row, [](Writer&) {});
  });
}

// {"episode_id", "call": {...}, "model_calls": N, "tokens": N} -> {"appended": bool, "seq": N,
// "state"}. One transaction: the open episode's row is locked and its call counter bumped (the
// new value is the call's seq), then the call is inserted; an episode that is no longer open
// (ending, ended) takes no call. A seq already present (a row written outside this protocol)
// is retried past the highest stored one, so a call is never dropped.
std::string op_gateway_call_append(Pool& pool, const Value& req) {
  const char* op = "gateway_call_append";
  const std::string id = episode_id(req, op);
  const std::string call = dump(object_field(req, "call", op));
  const long long model_calls = std::max(0LL, int_or(req, "model_calls", 1, op));
  const long long tokens = std::max(0LL, int_or(req, "tokens", 0, op));
  return with_conn(pool, op, [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    auto seq =
        bump_open_episode(c, id,
                          "calls = calls + 1, model_calls = model_calls + " + std::to_string(model_calls) +
                              ", tokens = tokens + " + std::to_string(tokens) + ", last_activity_ms = " + now_ms(b));
    if (!seq) {
      std::string state = state_of(c, id);
      return "{\"appended\":false,\"state\":\"" + state + "\"}";
    }
    const std::string insert = "INSERT INTO gateway_calls (episode_id, seq, call, created_ms) VALUES (:p0, :p1, :p2, " +
                               now_ms(b) + ") ON CONFLICT (episode_id, seq) DO NOTHING";
    while (c.exec(insert, {Param::str(id), Param::num(*seq), Param::str(call)}) == 0) {
      auto top = c.query_one("SELECT MAX(seq) FROM gateway_calls WHERE episode_id = :p0", {Param::str(id)}, 1);
      seq = std::stoll((*top)[0].value_or("0")) + 1;
      c.exec("UPDATE gateway_episodes SET calls = :p1 WHERE episode_id = :p0", {Param::str(id), Param::num(*seq)});
    }
    tx.commit();
    return "{\"appended\":true,\"seq\":" + std::to_string(*seq) + ",\"state\":\"open\"}";
  });
}

// {"episode_id", "feedback": {...}} -> {"added": bool, "state"}: kept with the open episode
// (its end stores it with the session); not added once the episode is ending or ended.
std::string op_gateway_feedback_add(Pool& pool, const Value& req) {
  const char* op = "gateway_feedback_add";
  const std::string id = episode_id(req, op);
  const std::string feedback = dump(object_field(req, "feedback", op));
  return with_conn(pool, op, [&](Conn& c) {
    Tx tx(c);
    auto seq = bump_open_episode(c, id, "feedback_count = feedback_count + 1");
    if (!seq) return "{\"added\":false,\"state\":\"" + state_of(c, id) + "\"}";
    c.exec("INSERT INTO gateway_feedback (episode_id, seq, feedback) VALUES (:p0, :p1, :p2)",
           {Param::str(id), Param::num(*seq), Param::str(feedback)});
    tx.commit();
    return std::string("{\"added\":true,\"state\":\"open\"}");
  });
}

// {"episode_id", "reason"} -> {"noted": bool}: the first [limits] refusal of an open episode.
std::string op_gateway_episode_note_limit(Pool& pool, const Value& req) {
  const char* op = "gateway_episode_note_limit";
  const std::string id = episode_id(req, op);
  return with_conn(pool, op, [&](Conn& c) {
    long long n = c.exec(
        "UPDATE gateway_episodes SET limit_note = :p1 WHERE episode_id = :p0 AND state = 'open' AND limit_note IS NULL",
        {Param::str(id), Param::str(required_str(req, "reason", op))});
    return std::string("{\"noted\":") + (n == 1 ? "true" : "false") + "}";
  });
}

// {"episode_id", "owner", "ended_by", "outcome"?: {...}, "lease_seconds"?} -> {"claimed": bool,
// "took_over": bool, "episode": row, "calls": [...], "feedback": [...]}. `open` becomes `ending`
// (owned by the caller, with the outcome kept on the row) in one conditional UPDATE: exactly one
// caller of any replica claims the end and gets every stored call (by seq) and feedback document
// with it; the others get claimed=false and the row as it is. An `ending` row whose lease expired
// is taken over the same way (took_over = true), keeping the first claim's ended_by and outcome.
std::string op_gateway_episode_end(Pool& pool, const Value& req) {
  const char* op = "gateway_episode_end";
  const std::string id = episode_id(req, op);
  const Value* outcome = member(req, "outcome");
  if (outcome && !outcome->IsObject() && !outcome->IsNull())
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'outcome' must be an object");
  return with_conn(pool, op, [&](Conn& c) {
    const Backend b = c.backend();
    Tx tx(c);
    long long n = c.exec(
        "UPDATE gateway_episodes SET state = 'ending', ended_by = :p1, owner = :p2, end_outcome = :p3, "
        "last_activity_ms = " +
            now_ms(b) + " WHERE episode_id = :p0 AND state = 'open'",
        {Param::str(id), Param::str(str_or(req, "ended_by", {}, op)), Param::str(owner_of(req, op)),
         outcome && outcome->IsObject() ? Param::str(dump(*outcome)) : Param::null()});
    long long took_over = 0;
    if (n == 0) took_over = take_over_expired(c, id, "ending", owner_of(req, op), lease_ms(req, op));
    n += took_over;
    std::vector<Row> calls, feedback;
    if (n == 1) {
      calls = c.query("SELECT call FROM gateway_calls WHERE episode_id = :p0 ORDER BY seq", {Param::str(id)}, 1);
      feedback =
          c.query("SELECT feedback FROM gateway_feedback WHERE episode_id = :p0 ORDER BY seq", {Param::str(id)}, 1);
    }
    auto row = read_episode(c, id);
    tx.commit();
    return episode_answer(row, [&](Writer& w) {
      w.Key("claimed");
      w.Bool(n == 1);
      w.Key("took_over");
      w.Bool(took_over == 1);
      for (auto [key, rows] : {std::pair{"calls", &calls}, std::pair{"feedback", &feedback}}) {
        w.Key(key);
        w.StartArray();
        for (const Row& r : *rows) w.RawValue(r[0]->c_str(), r[0]->size(), rapidjson::kObjectType);
        w.EndArray();
      }
    });
  });
}

// {"episode_id", "owner", "session_id", "report": {...}} -> {"finished": bool}: `ending` becomes
// `ended` with the report when the caller still owns the end; the episode's calls and feedback
// (now in the stored session) are deleted.
std::string op_gateway_episode_finish(Pool& pool, const Value& req) {
  const char* op = "gateway_episode_finish";
  const std::string id = episode_id(req, op);
  const std::string report = dump(object_field(req, "report", op));
  return with_conn(pool, op, [&](Conn& c) {
    Tx tx(c);
    long long n = c.exec(
        "UPDATE gateway_episodes SET state = 'ended', session_id = COALESCE(NULLIF(:p1, ''), "
        "session_id), report = :p2, owner = NULL, ended_ms = " +
            now_ms(c.backend()) + " WHERE episode_id = :p0 AND state = 'ending' AND COALESCE(owner, '') = :p3",
        {Param::str(id), Param::str(str_or(req, "session_id", {}, op)), Param::str(report),
         Param::str(owner_of(req, op))});
    if (n == 1) {
      c.exec("DELETE FROM gateway_calls WHERE episode_id = :p0", {Param::str(id)});
      c.exec("DELETE FROM gateway_feedback WHERE episode_id = :p0", {Param::str(id)});
    }
    tx.commit();
    return std::string("{\"finished\":") + (n == 1 ? "true" : "false") + "}";
  });
}

// {"idle_seconds": S, "limit": N, "lease_seconds"?} -> {"episode_ids": [...],
// "stale_ending_ids": [...]}: open episodes whose last call is older than S, and ending episodes
// whose owner's lease expired, on the database's clock (every replica's reaper agrees on one
// clock).
std::string op_gateway_episodes_idle(Pool& pool, const Value& req) {
  const char* op = "gateway_episodes_idle";
  const Value* s = member(req, "idle_seconds");
  if (!s || !s->IsNumber() || s->GetDouble() < 0)
    throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'idle_seconds' (a number >= 0) is required");
  const auto idle_ms = static_cast<long long>(s->GetDouble() * 1000.0);
  const long long limit = std::clamp<long long>(int_or(req, "limit", 100, op), 1, 10000);
  return with_conn(pool, op, [&](Conn& c) {
    auto idle = c.query("SELECT episode_id FROM gateway_episodes WHERE state = 'open' AND last_activity_ms < " +
                            now_ms(c.backend()) + " - :p0 ORDER BY last_activity_ms LIMIT :p1",
                        {Param::num(idle_ms), Param::num(limit)}, 1);
    auto stale = c.query("SELECT episode_id FROM gateway_episodes WHERE state = 'ending' AND " +
                             lease_expired(c.backend(), 0) + " ORDER BY last_activity_ms LIMIT :p1",
                         {Param::num(lease_ms(req, op)), Param::num(limit)}, 1);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    for (auto [key, rows] : {std::pair{"episode_ids", &idle}, std::pair{"stale_ending_ids", &stale}}) {
      w.Key(key);
      w.StartArray();
      for (const Row& r : *rows) w.String(r[0]->c_str(), static_cast<rapidjson::SizeType>(r[0]->size()));
      w.EndArray();
    }
    w.EndObject();
    return done(sb);
  });
}

// {"owner"} -> {"renewed": N}: renews the lease of every opening/ending row the caller owns.
std::string op_gateway_episodes_heartbeat(Pool& pool, const Value& req) {
  const char* op = "gateway_episodes_heartbeat";
  const std::string owner = required_str(req, "owner", op);
  if (owner.empty()) throw Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": 'owner' must not be empty");
  return with_conn(pool, op, [&](Conn& c) {
    long long n = c.exec("UPDATE gateway_episodes SET last_activity_ms = " + now_ms(c.backend()) +
                             " WHERE owner = :p0 AND state IN ('opening', 'ending')",
                         {Param::str(owner)});
    return "{\"renewed\":" + std::to_string(n) + "}";
  });
}

}  // namespace atlas_soci
