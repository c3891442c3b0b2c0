#include "schema.hpp"

#include <algorithm>

#include "ops_gateway.hpp"
#include "ops_playbook.hpp"
#include "ops_queue.hpp"
#include "ops_review_ui.hpp"

namespace atlas_soci {

namespace {

// Migration 1: Atlas's tables, columns and indexes (docs/storage.md).
std::vector<std::string> atlas_schema(Backend b) {
  if (b == Backend::kPostgres) {
    return {
        "CREATE TABLE IF NOT EXISTS sessions (id SERIAL PRIMARY KEY, task TEXT NOT NULL, "
        "status TEXT NOT NULL DEFAULT 'running', metadata JSONB, final_answer TEXT, reward JSONB, "
        "reward_stats JSONB, reward_audit JSONB, student_learning TEXT, teacher_learning TEXT, "
        "review_status TEXT NOT NULL DEFAULT 'pending', review_notes TEXT, "
        "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(), completed_at TIMESTAMPTZ)",
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS review_status TEXT NOT NULL DEFAULT 'pending'",
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS review_notes TEXT",
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS reward_stats JSONB",
        "ALTER TABLE sessions ADD COLUMN IF NOT EXISTS reward_audit JSONB",
        "CREATE INDEX IF NOT EXISTS sessions_learning_key_idx ON sessions ((metadata->>'learning_key'))",
        // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement over two lines
        "CREATE INDEX IF NOT EXISTS sessions_reward_score_idx ON sessions "
        "(((reward_stats->>'score')::float)) WHERE reward_stats IS NOT NULL",
        "CREATE INDEX IF NOT EXISTS sessions_created_at_idx ON sessions (created_at DESC)",
        "CREATE INDEX IF NOT EXISTS sessions_metadata_gin_idx ON sessions USING GIN (metadata)",
        "CREATE TABLE IF NOT EXISTS plans (session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE, "
        "plan JSONB NOT NULL)",
        "CREATE TABLE IF NOT EXISTS step_results (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
        "step_id INTEGER NOT NULL, trace TEXT, output TEXT, evaluation JSONB, attempts INTEGER, metadata JSONB, "
        "PRIMARY KEY (session_id, step_id))",
        "CREATE TABLE IF NOT EXISTS step_attempts (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
        "step_id INTEGER NOT NULL, attempt INTEGER NOT NULL, evaluation JSONB, "
        "PRIMARY KEY (session_id, step_id, attempt))",
        "CREATE TABLE IF NOT EXISTS guidance_notes (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
        "step_id INTEGER NOT NULL, sequence INTEGER NOT NULL, note TEXT NOT NULL, "
        "PRIMARY KEY (session_id, step_id, sequence))",
        "CREATE TABLE IF NOT EXISTS trajectory_events (id SERIAL PRIMARY KEY, "
        "session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, event JSONB NOT NULL, "
        "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
        "CREATE TABLE IF NOT EXISTS discovery_runs (id SERIAL PRIMARY KEY, project_root TEXT NOT NULL, task TEXT, "
        "source TEXT NOT NULL DEFAULT 'discovery', payload JSONB NOT NULL, metadata JSONB, "
        "created_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
        "CREATE TABLE IF NOT EXISTS learning_registry (learning_key TEXT PRIMARY KEY, student_learning TEXT, "
        "teacher_learning TEXT, metadata JSONB, updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW())",
    };
  }
  // SQLite: same tables and columns; JSON is TEXT, timestamps are ISO-8601 UTC text.
  const std::string now = "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))";
  return {
      "CREATE TABLE IF NOT EXISTS sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, task TEXT NOT NULL, "
      "status TEXT NOT NULL DEFAULT 'running', metadata TEXT, final_answer TEXT, reward TEXT, "
      "reward_stats TEXT, reward_audit TEXT, student_learning TEXT, teacher_learning TEXT, "
      "review_status TEXT NOT NULL DEFAULT 'pending', review_notes TEXT, "
      "created_at TEXT NOT NULL DEFAULT " +
          now + ", completed_at TEXT)",
      "CREATE INDEX IF NOT EXISTS sessions_learning_key_idx ON sessions (json_extract(metadata, '$.learning_key'))",
      // NOLINTNEXTLINE(bugprone-suspicious-missing-comma): one statement over two lines
      "CREATE INDEX IF NOT EXISTS sessions_reward_score_idx ON sessions "
      "(CAST(json_extract(reward_stats, '$.score') AS REAL)) WHERE reward_stats IS NOT NULL",
      "CREATE INDEX IF NOT EXISTS sessions_created_at_idx ON sessions (created_at DESC)",
      "CREATE TABLE IF NOT EXISTS plans (session_id INTEGER PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE, "
      "plan TEXT NOT NULL)",
      "CREATE TABLE IF NOT EXISTS step_results (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
      "step_id INTEGER NOT NULL, trace TEXT, output TEXT, evaluation TEXT, attempts INTEGER, metadata TEXT, "
      "PRIMARY KEY (session_id, step_id))",
      "CREATE TABLE IF NOT EXISTS step_attempts (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
      "step_id INTEGER NOT NULL, attempt INTEGER NOT NULL, evaluation TEXT, "
      "PRIMARY KEY (session_id, step_id, attempt))",
      "CREATE TABLE IF NOT EXISTS guidance_notes (session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, "
      "step_id INTEGER NOT NULL, sequence INTEGER NOT NULL, note TEXT NOT NULL, "
      "PRIMARY KEY (session_id, step_id, sequence))",
      "CREATE TABLE IF NOT EXISTS trajectory_events (id INTEGER PRIMARY KEY AUTOINCREMENT, "
      "session_id INTEGER REFERENCES sessions(id) ON DELETE CASCADE, event TEXT NOT NULL, "
      "created_at TEXT NOT NULL DEFAULT " +
          now + ")",
      "CREATE TABLE IF NOT EXISTS discovery_runs (id INTEGER PRIMARY KEY AUTOINCREMENT, project_root TEXT NOT NULL, "
      "task TEXT, source TEXT NOT NULL DEFAULT 'discovery', payload TEXT NOT NULL, metadata TEXT, "
      "created_at TEXT NOT NULL DEFAULT " +
          now + ")",
      "CREATE TABLE IF NOT EXISTS learning_registry (learning_key TEXT PRIMARY KEY, student_learning TEXT, "
      "teacher_learning TEXT, metadata TEXT, updated_at TEXT NOT NULL DEFAULT " +
          now + ")",
  };
}

// Migration 2: ours — idempotency keys, learning versions, review audit, training runs.
std::vector<std::string> host_additions(Backend b) {
  const bool pg = b == Backend::kPostgres;
  const std::string id = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  const std::string json = pg ? "JSONB" : "TEXT";
  const std::string ts = pg ? "TIMESTAMPTZ" : "TEXT";
  const std::string now = pg ? "NOW()" : "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))";
  return {
      // Client-generated session key: a replayed begin_session finds its session again.
      "ALTER TABLE sessions ADD COLUMN session_key TEXT",
      "CREATE UNIQUE INDEX sessions_session_key_idx ON sessions (session_key)",
      "CREATE INDEX sessions_status_idx ON sessions (status)",
      // Per-event idempotency key: replayed batches insert nothing twice.
      "ALTER TABLE trajectory_events ADD COLUMN event_key TEXT",
      "CREATE UNIQUE INDEX trajectory_events_event_key_idx ON trajectory_events (session_id, event_key)",
      "CREATE INDEX trajectory_events_session_idx ON trajectory_events (session_id, id)",
      // Existing Atlas rows start at version 1.
      "ALTER TABLE learning_registry ADD COLUMN version BIGINT NOT NULL DEFAULT 1",
      "CREATE TABLE review_events (id " + id +
          ", session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE, "
          "action TEXT NOT NULL, previous_status TEXT, new_status TEXT, note TEXT, actor TEXT NOT NULL, reason TEXT, "
          "created_at " +
          ts + " NOT NULL DEFAULT " + now + ")",
      "CREATE INDEX review_events_session_idx ON review_events (session_id, id)",
      "CREATE TABLE training_runs (id " + id +
          ", export_path TEXT NOT NULL, export_format TEXT, export_sha256 TEXT, "
          "exported_sessions INTEGER, command TEXT NOT NULL, exit_status INTEGER, started_at " +
          ts +
          " NOT NULL, "
          "finished_at " +
          ts + ", metadata " + json + ")",
  };
}

// Migration 5: the review UI's list (docs/review-ui.md): its per-review-status counts and the
// lane filter read an index instead of every session row.
std::vector<std::string> review_ui_indexes(Backend b) {
  const std::string lane =
      b == Backend::kPostgres ? "((metadata->>'execution_mode'))" : "(json_extract(metadata, '$.execution_mode'))";
  return {
      "CREATE INDEX sessions_review_status_idx ON sessions (review_status)",
      "CREATE INDEX sessions_execution_mode_idx ON sessions " + lane,
  };
}

// Migration 10: the learning history every session reads at its start and end (op_learning_history,
// op_reward_baseline) costs the same however many sessions a learning key has. Before it, both
// read every session of the key to sort them (and SQLite parsed each row's metadata), so the cost
// per session grew with the record: quadratic over a key's life.
//  - The newest-first windows read a partial index on (key, created_at, id).
//  - The whole-record totals (count, average score) are kept per key in learning_reward_totals
//    by triggers on sessions, so every writer keeps them right, Atlas's SDK included; the
//    migration fills it from the rows already there.
std::vector<std::string> learning_history_schema(Backend b) {
  const std::string key = json_key_text(b, "metadata", "learning_key");
  std::vector<std::string> out = {
      "CREATE INDEX sessions_learning_history_idx ON sessions ((" + key +
          "), created_at DESC, id DESC) WHERE reward IS NOT NULL",
      "CREATE INDEX sessions_reward_baseline_idx ON sessions ((" + key +
          "), created_at DESC, id DESC) WHERE reward_stats IS NOT NULL",
      // scored = rows whose reward.score is a number (the average's denominator).
      "CREATE TABLE learning_reward_totals (learning_key TEXT PRIMARY KEY, rewarded BIGINT NOT NULL, "
      "scored BIGINT NOT NULL, score_sum DOUBLE PRECISION NOT NULL)",
  };
  if (b == Backend::kPostgres) {
    // One row's contribution: its key, 1 if its score is a number, and the score (else 0).
    auto key_of = [](const std::string& row) { return "(" + row + ".metadata->>'learning_key')"; };
    auto scored_of = [](const std::string& row) {
      return "(CASE WHEN jsonb_typeof(" + row + ".reward->'score') = 'number' THEN 1 ELSE 0 END)";
    };
    auto score_of = [](const std::string& row) {
      return "(CASE WHEN jsonb_typeof(" + row + ".reward->'score') = 'number' THEN CAST(" + row +
             ".reward->>'score' AS DOUBLE PRECISION) ELSE 0 END)";
    };
    out.push_back(
        "CREATE OR REPLACE FUNCTION atlas_learning_reward_totals() RETURNS trigger LANGUAGE plpgsql AS $fn$ BEGIN "
        "IF TG_OP <> 'INSERT' AND OLD.reward IS NOT NULL AND " +
        key_of("OLD") +
        " IS NOT NULL THEN "
        "UPDATE learning_reward_totals SET rewarded = rewarded - 1, scored = scored - " +
        scored_of("OLD") + ", score_sum = CASE WHEN scored - " + scored_of("OLD") + " = 0 THEN 0 ELSE score_sum - " +
        score_of("OLD") + " END WHERE learning_key = " + key_of("OLD") +
        "; END IF; "
        "IF TG_OP <> 'DELETE' AND NEW.reward IS NOT NULL AND " +
        key_of("NEW") +
        " IS NOT NULL THEN "
        "INSERT INTO learning_reward_totals AS t (learning_key, rewarded, scored, score_sum) VALUES (" +
        key_of("NEW") + ", 1, " + scored_of("NEW") + ", " + score_of("NEW") +
        ") ON CONFLICT (learning_key) DO UPDATE SET rewarded = t.rewarded + 1, scored = t.scored + EXCLUDED.scored, "
        "score_sum = t.score_sum + EXCLUDED.score_sum; END IF; RETURN NULL; END $fn$");
    out.push_back(
        "CREATE TRIGGER sessions_learning_reward_totals AFTER INSERT OR DELETE OR UPDATE OF reward, metadata "
        "ON sessions FOR EACH ROW EXECUTE FUNCTION atlas_learning_reward_totals()");
    out.push_back("INSERT INTO learning_reward_totals (learning_key, rewarded, scored, score_sum) SELECT " +
                  key_of("sessions") + ", COUNT(*), SUM(" + scored_of("sessions") + "), SUM(" + score_of("sessions") +
                  ") FROM sessions WHERE reward IS NOT NULL AND " + key_of("sessions") + " IS NOT NULL GROUP BY 1");
    return out;
  }
  // SQLite: malformed JSON in a row written by another program must not make its write fail, so
  // every json_* call is guarded by json_valid (CASE evaluates in order); a key counts only when
  // it is text, as the lookup by text compares.
  auto key_of = [](const std::string& row) {
    return "(CASE WHEN json_valid(" + row + ".metadata) THEN CASE WHEN json_type(" + row +
           ".metadata, '$.learning_key') = 'text' THEN json_extract(" + row + ".metadata, '$.learning_key') END END)";
  };
  auto number_score = [](const std::string& row, const std::string& then) {
    return "(CASE WHEN json_valid(" + row + ".reward) THEN CASE WHEN json_type(" + row +
           ".reward, '$.score') IN ('integer', 'real') THEN " + then + " ELSE 0 END ELSE 0 END)";
  };
  auto scored_of = [&](const std::string& row) { return number_score(row, "1"); };
  auto score_of = [&](const std::string& row) {
    return number_score(row, "CAST(json_extract(" + row + ".reward, '$.score') AS REAL)");
  };
  // `when` gates each statement inside the one update trigger.
  auto add_new = [&](const std::string& when) {
    return "INSERT INTO learning_reward_totals (learning_key, rewarded, scored, score_sum) SELECT k, 1, " +
           scored_of("NEW") + ", " + score_of("NEW") + " FROM (SELECT " + key_of("NEW") + " AS k) WHERE k IS NOT NULL" +
           when +
           " ON CONFLICT (learning_key) DO UPDATE SET rewarded = rewarded + 1, "
           "scored = scored + excluded.scored, score_sum = score_sum + excluded.score_sum;";
  };
  auto subtract_old = [&](const std::string& when) {
    return "UPDATE learning_reward_totals SET rewarded = rewarded - 1, scored = scored - " + scored_of("OLD") +
           ", score_sum = CASE WHEN scored - " + scored_of("OLD") + " = 0 THEN 0 ELSE score_sum - " + score_of("OLD") +
           " END WHERE learning_key = " + key_of("OLD") + when + ";";
  };
  out.push_back(
      "CREATE TRIGGER sessions_learning_totals_insert AFTER INSERT ON sessions WHEN NEW.reward IS NOT NULL "
      "BEGIN " +
      add_new("") + " END");
  out.push_back(
      "CREATE TRIGGER sessions_learning_totals_delete AFTER DELETE ON sessions WHEN OLD.reward IS NOT NULL "
      "BEGIN " +
      subtract_old("") + " END");
  // Unrewarded rows (every running session) skip it: no metadata is parsed for them.
  out.push_back(
      "CREATE TRIGGER sessions_learning_totals_update AFTER UPDATE OF reward, metadata ON sessions "
      "WHEN OLD.reward IS NOT NULL OR NEW.reward IS NOT NULL BEGIN " +
      subtract_old(" AND OLD.reward IS NOT NULL") + " " + add_new(" AND NEW.reward IS NOT NULL") + " END");
  out.push_back(
      "INSERT INTO learning_reward_totals (learning_key, rewarded, scored, score_sum) SELECT k, COUNT(*), "
      "SUM(s), TOTAL(v) FROM (SELECT " +
      key_of("sessions") + " AS k, " + scored_of("sessions") + " AS s, " + score_of("sessions") +
      " AS v FROM sessions WHERE reward IS NOT NULL) WHERE k IS NOT NULL GROUP BY k");
  return out;
}

std::vector<std::string> statements_for(int version, Backend b) {
  switch (version) {
    case 1:
      return atlas_schema(b);
    case 2:
      return host_additions(b);
    case 4:
      return work_queue_schema(b);  // the work queue (ops_queue.cpp, docs/scaling.md)
    case 5:
      return review_ui_indexes(b);
    case 6:
      return playbook_versions_schema(b);
    case 7:
      return review_ui_list_schema(b);  // ops_review_ui.cpp: indexes the list's queries read
    case 8:
      return gateway_episodes_schema(b);  // shared gateway episodes (ops_gateway.cpp, docs/serve.md)
    case 9:
      return review_ui_counts_schema(b);  // ops_review_ui.cpp: lane + learning key counts
    case 10:
      return learning_history_schema(b);
    default:
      return {};
  }
}

bool migrations_table_exists(Conn& c) {
  if (c.backend() == Backend::kPostgres) {
    auto r = c.query_one("SELECT CAST(to_regclass('schema_migrations') AS TEXT)", {}, 1);
    return r && (*r)[0].has_value();
  }
  auto r = c.query_one("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", {}, 1);
  return r.has_value();
}

}  // namespace

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "atlas schema (sessions, plans, steps, attempts, guidance, events, discovery, learning)"},
      {2, "host additions (session/event idempotency keys, learning versions, review_events, training_runs)"},
      {4, "work queue (queue_tasks, sessions.queue_task_id: one stored session per task)"},
      {5, "review UI indexes (review status, lane)"},
      {6, "playbook history (learning_versions: every playbook version with its actor)"},
      {7, "review UI list speed (reward-order and review-status indexes, text search index)"},
      {8, "shared gateway episodes (gateway_episodes, gateway_calls, gateway_feedback)"},
      {9, "review UI counts index (learning key, lane, review status)"},
      {10, "learning history speed (newest-first indexes per learning key, learning_reward_totals kept by triggers)"},
  };
  return list;
}

int latest_schema_version() {
  return migrations().back().version;
}

std::vector<int> applied_migrations(Conn& c) {
  std::vector<int> out;
  if (!migrations_table_exists(c)) return out;
  for (const Row& r : c.query("SELECT version FROM schema_migrations ORDER BY version", {}, 1)) {
    if (r[0]) out.push_back(std::stoi(*r[0]));
  }
  return out;
}

std::vector<int> migrate(Pool& pool) {
  return with_conn(pool, "migrate", [](Conn& c) {
    std::vector<int> applied_now;
    const std::string ts = c.backend() == Backend::kPostgres ? "TIMESTAMPTZ" : "TEXT";
    for (const Migration& m : migrations()) {
      Tx tx(c);
      if (c.backend() == Backend::kPostgres) {
        // Serialises concurrent migrators (several hosts starting at once).
        c.query("SELECT CAST(pg_advisory_xact_lock(7274432001) AS TEXT)", {}, 1);
      }
      c.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
          "applied_at " +
          ts + " NOT NULL)");
      auto done = c.query_one("SELECT version FROM schema_migrations WHERE version = :p0", {Param::num(m.version)}, 1);
      if (done) continue;  // Tx rolls back the no-op
      for (const std::string& sql : statements_for(m.version, c.backend())) c.exec(sql);
      c.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (:p0, :p1, " +
                 ts_in(c.backend(), ":p2") + ")",
             {Param::num(m.version), Param::str(m.name), Param::str(now_iso())});
      tx.commit();
      applied_now.push_back(m.version);
    }
    return applied_now;
  });
}

}  // namespace atlas_soci
