#include "ops_playbook.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atlas/sdk.hpp>

#include "ops_json.hpp"

namespace atlas_soci {

using atlas::sdk::Error;
using rapidjson::Value;

// Request fields are read with ops_json.hpp's str_or / opt_str / opt_int.

std::vector<std::string> playbook_versions_schema(Backend b) {
  const bool pg = b == Backend::kPostgres;
  const std::string id = pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT";
  const std::string json = pg ? "JSONB" : "TEXT";
  const std::string ts = pg ? "TIMESTAMPTZ" : "TEXT";
  return {
      "CREATE TABLE learning_versions (id " + id +
          ", learning_key TEXT NOT NULL, version BIGINT NOT NULL, "
          "student_learning TEXT, teacher_learning TEXT, metadata " +
          json +
          ", actor TEXT NOT NULL, action TEXT NOT NULL, "
          "note TEXT, session_id TEXT, created_at " +
          ts + " NOT NULL)",
      "CREATE UNIQUE INDEX learning_versions_key_idx ON learning_versions (learning_key, version)",
      // What was there before: each key's current version (earlier ones were overwritten).
      "INSERT INTO learning_versions (learning_key, version, student_learning, teacher_learning, metadata, actor, "
      "action, note, created_at) SELECT learning_key, version, student_learning, teacher_learning, metadata, "
      "'migration', 'imported', 'the version stored when playbook history began (migration 6)', updated_at "
      "FROM learning_registry",
  };
}

void record_learning_version(Conn& c, const std::string& key, long long version, const Value& req,
                             const std::string& now) {
  const Backend b = c.backend();
  std::string session_id;
  if (const Value* session = member(req, "session"); session && session->IsObject())
    session_id = str_or(*session, "session_id");
  std::string actor = str_or(req, "actor", "learning");
  if (actor.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "learning_put: 'actor' must not be empty");
  std::optional<std::string> meta;
  if (const Value* m = member(req, "metadata")) meta = dump(*m);
  std::string note = str_or(req, "note");
  c.exec(
      "INSERT INTO learning_versions (learning_key, version, student_learning, teacher_learning, metadata, actor, "
      "action, note, session_id, created_at) VALUES (:p0, :p1, :p2, :p3, " +
          json_in(b, ":p4") + ", :p5, :p6, :p7, :p8, " + ts_in(b, ":p9") + ")",
      {Param::str(key), Param::num(version), Param::opt_str(opt_str(req, "student_learning")),
       Param::opt_str(opt_str(req, "teacher_learning")), Param::opt_str(meta), Param::str(actor),
       Param::str(str_or(req, "action", "synthesis")), note.empty() ? Param::null() : Param::str(note),
       session_id.empty() ? Param::null() : Param::str(session_id), Param::str(now)});
}

std::string op_learning_versions(Pool& pool, const Value& req) {
  std::string key = str_or(req, "learning_key");
  if (key.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "learning_versions: 'learning_key' is required");
  std::optional<long long> only = opt_int(req, "version", "learning_versions");
  return with_conn(pool, "learning_versions", [&](Conn& c) {
    const Backend b = c.backend();
    std::vector<Param> p = {Param::str(key)};
    std::string sql = "SELECT version, actor, action, note, session_id, " + ts_out(b, "created_at") +
                      ", student_learning, teacher_learning, " + json_out(b, "metadata") +
                      " FROM learning_versions WHERE learning_key = :p0";
    if (only) {
      sql += " AND version = :p1";
      p.push_back(Param::num(*only));
    }
    sql += " ORDER BY version";
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("learning_key");
    w.String(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    w.Key("versions");
    w.StartArray();
    for (const Row& r : c.query(sql, p, 9)) {
      w.StartObject();
      w.Key("version");
      w.Int64(std::stoll(r[0].value_or("0")));
      w_cell(w, "actor", r[1]);
      w_cell(w, "action", r[2]);
      w_cell(w, "note", r[3]);
      w_cell(w, "session_id", r[4]);
      w_cell(w, "created_at", r[5]);
      w_cell(w, "student_learning", r[6]);
      w_cell(w, "teacher_learning", r[7]);
      w_raw_json(w, "metadata", r[8]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

std::string op_learning_keys(Pool& pool, const Value&) {
  return with_conn(pool, "learning_keys", [&](Conn& c) {
    const Backend b = c.backend();
    const std::string key_expr = json_key_text(b, "s.metadata", "learning_key");
    std::string sql = "SELECT r.learning_key, r.version, " + ts_out(b, "r.updated_at") +
                      ", (SELECT s.task FROM sessions s WHERE " + key_expr +
                      " = r.learning_key ORDER BY s.id LIMIT 1) FROM learning_registry r ORDER BY r.learning_key";
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("keys");
    w.StartArray();
    for (const Row& r : c.query(sql, {}, 4)) {
      w.StartObject();
      w_cell(w, "learning_key", r[0]);
      w.Key("version");
      w.Int64(std::stoll(r[1].value_or("0")));
      w_cell(w, "updated_at", r[2]);
      w_cell(w, "first_task", r[3]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

}  // namespace atlas_soci
