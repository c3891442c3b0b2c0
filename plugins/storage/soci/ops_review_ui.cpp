#include "ops_review_ui.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>

#include "ops_json.hpp"

namespace atlas_soci {

using atlas::sdk::Error;
using rapidjson::Value;

namespace {

std::string text_of(const Value& req, const char* key) {
  auto it = req.FindMember(key);
  if (it == req.MemberEnd() || it->value.IsNull()) return {};
  if (!it->value.IsString()) throw Error(ATLAS_INVALID_ARGUMENT, std::string("'") + key + "' must be a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

long long limit_of(const Value& req, long long fallback, long long max) {
  auto it = req.FindMember("limit");
  if (it == req.MemberEnd() || it->value.IsNull()) return fallback;
  if (!it->value.IsInt64()) throw Error(ATLAS_INVALID_ARGUMENT, "'limit' must be an integer");
  return std::clamp<long long>(it->value.GetInt64(), 1, max);
}

bool flag(const Value& req, const char* key) {
  auto it = req.FindMember(key);
  return it != req.MemberEnd() && it->value.IsBool() && it->value.GetBool();
}

void put_number(Writer& w, const char* key, const Cell& c) {
  w.Key(key);
  if (!c || c->empty()) {
    w.Null();
    return;
  }
  try {
    w.Double(std::stod(*c));
  } catch (...) {
    w.Null();
  }
}

// metadata.token_usage.total_tokens (the session's token ledger, docs/runtime.md).
std::string total_tokens_expr(Backend b) {
  return b == Backend::kPostgres ? "(metadata->'token_usage'->>'total_tokens')"
                                 : "json_extract(metadata, '$.token_usage.total_tokens')";
}

// LIKE pattern matching `text` anywhere, with \ escaping the wildcards.
std::string like_pattern(const std::string& text) {
  std::string p = "%";
  for (char ch : text) {
    if (ch == '%' || ch == '_' || ch == '\\') p += '\\';
    p += ch;
  }
  return p + "%";
}

// query_sessions' filters (ops.cpp) plus the UI's own: lane and free text.
std::string ui_filters(Backend b, const Value& req, std::vector<Param>& p) {
  std::string where = session_filters_sql(b, req, p);
  std::string lane = text_of(req, "lane");
  if (!lane.empty())
    where += " AND " + json_key_text(b, "metadata", "execution_mode") + " = " + bind_param(p, Param::str(lane));
  std::string text = text_of(req, "text");
  if (!text.empty()) {
    if (text.size() > 500) throw Error(ATLAS_INVALID_ARGUMENT, "'text' is longer than 500 characters");
    std::string like = b == Backend::kPostgres ? " ILIKE " : " LIKE ";
    std::string q = bind_param(p, Param::str(like_pattern(text)));
    where += " AND (task" + like + q + " ESCAPE '\\' OR COALESCE(final_answer, '')" + like + q + " ESCAPE '\\')";
  }
  return where;
}

struct Sort {
  bool by_reward = false;
  bool asc = false;
};

Sort parse_sort(const std::string& s) {
  if (s.empty() || s == "newest") return {false, false};
  if (s == "oldest") return {false, true};
  if (s == "reward_desc") return {true, false};
  if (s == "reward_asc") return {true, true};
  throw Error(ATLAS_INVALID_ARGUMENT, "'sort' must be newest, oldest, reward_desc or reward_asc, got \"" + s + "\"");
}

long long parse_cursor_id(const std::string& s) {
  if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos)
    throw Error(ATLAS_INVALID_ARGUMENT, "'after' is not a cursor from a previous page: \"" + s + "\"");
  return std::stoll(s);
}

}  // namespace

std::string op_review_ui_sessions(Pool& pool, const Value& req) {
  const Sort sort = parse_sort(text_of(req, "sort"));
  const bool ids_only = flag(req, "ids_only");
  const long long limit = limit_of(req, 50, ids_only ? 5000 : 500);
  const std::string after = text_of(req, "after");
  return with_conn(pool, "review_ui_sessions", [&](Conn& c) {
    const Backend b = c.backend();
    const std::string score = "COALESCE(" + reward_score_expr(b) + ", -1)";
    std::vector<Param> p;
    std::string where = ui_filters(b, req, p);
    const std::string base_where = where;
    const std::vector<Param> base_params = p;
    const char* cmp = sort.asc ? ">" : "<";
    if (!after.empty()) {
      if (sort.by_reward) {
        // Cursor "score|id": rows strictly after it in (score, id) order.
        size_t bar = after.find('|');
        if (bar == std::string::npos)
          throw Error(ATLAS_INVALID_ARGUMENT, "'after' is not a cursor of a reward-sorted page");
        double s = 0;
        try {
          s = std::stod(after.substr(0, bar));
        } catch (...) {
          throw Error(ATLAS_INVALID_ARGUMENT, "'after' is not a cursor of a reward-sorted page");
        }
        long long id = parse_cursor_id(after.substr(bar + 1));
        std::string ps = bind_param(p, Param::real_num(s));
        std::string ps2 = bind_param(p, Param::real_num(s));
        where += " AND (" + score + " " + cmp + " " + ps + " OR (" + score + " = " + ps2 + " AND id " + cmp + " " +
                 bind_param(p, Param::num(id)) + "))";
      } else {
        where += std::string(" AND id ") + cmp + " " + bind_param(p, Param::num(parse_cursor_id(after)));
      }
    }
    const char* dir = sort.asc ? " ASC" : " DESC";
    std::string order = sort.by_reward ? score + dir + ", id" + dir : std::string("id") + dir;
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    if (ids_only) {
      auto rows = c.query("SELECT id FROM sessions WHERE " + where + " ORDER BY " + order + " LIMIT " +
                              bind_param(p, Param::num(limit + 1)),
                          p, 1);
      w.Key("ids");
      w.StartArray();
      for (size_t i = 0; i < rows.size() && i < static_cast<size_t>(limit); ++i) {
        const std::string& id = rows[i][0].value();
        w.String(id.c_str(), static_cast<rapidjson::SizeType>(id.size()));
      }
      w.EndArray();
      w.Key("truncated");
      w.Bool(rows.size() > static_cast<size_t>(limit));
      w.EndObject();
      return std::string(sb.GetString(), sb.GetSize());
    }
    std::string sql =
        "SELECT id, substr(task, 1, 400), status, review_status, " + ts_out(b, "created_at") + ", " +
        ts_out(b, "completed_at") + ", " + reward_score_expr(b) + ", " + json_key_text(b, "metadata", "learning_key") +
        ", " + json_key_text(b, "metadata", "execution_mode") + ", substr(COALESCE(final_answer, ''), 1, 200), " +
        total_tokens_expr(b) + ", " + score + " FROM sessions WHERE " + where + " ORDER BY " + order + " LIMIT " +
        bind_param(p, Param::num(limit + 1));
    auto rows = c.query(sql, p, 12);
    bool more = rows.size() > static_cast<size_t>(limit);
    if (more) rows.resize(static_cast<size_t>(limit));
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
      put_number(w, "reward", r[6]);
      w_cell(w, "learning_key", r[7]);
      w_cell(w, "execution_mode", r[8]);
      w_cell(w, "final_answer", r[9]);
      put_number(w, "total_tokens", r[10]);
      w.EndObject();
    }
    w.EndArray();
    w.Key("next");
    if (more && !rows.empty()) {
      std::string cursor = sort.by_reward ? rows.back()[11].value_or("-1") + "|" + *rows.back()[0] : *rows.back()[0];
      w.String(cursor.c_str(), static_cast<rapidjson::SizeType>(cursor.size()));
    } else {
      w.Null();
    }
    if (flag(req, "with_counts")) {
      // Per review status over the other filters (the tabs), and the total of this selection.
      rapidjson::Document other;
      other.CopyFrom(req, other.GetAllocator());
      other.RemoveMember("review_status");
      std::vector<Param> cp;
      std::string cw = ui_filters(b, other, cp);
      auto counts =
          c.query("SELECT review_status, COUNT(*) FROM sessions WHERE " + cw + " GROUP BY review_status", cp, 2);
      auto total = c.query_one("SELECT COUNT(*) FROM sessions WHERE " + base_where, base_params, 1);
      w.Key("count");
      w.Int64(total && (*total)[0] ? std::stoll(*(*total)[0]) : 0);
      w.Key("counts");
      w.StartObject();
      for (const Row& r : counts) {
        std::string k = r[0].value_or("pending");
        w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
        w.Int64(r[1] ? std::stoll(*r[1]) : 0);
      }
      w.EndObject();
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

std::string op_review_ui_learning_keys(Pool& pool, const Value& req) {
  const long long limit = limit_of(req, 200, 1000);
  return with_conn(pool, "review_ui_learning_keys", [&](Conn& c) {
    const Backend b = c.backend();
    const std::string key = json_key_text(b, "metadata", "learning_key");
    std::vector<Param> p;
    auto rows = c.query(
        "SELECT k, n, avg_reward, last_at, (SELECT substr(task, 1, 120) FROM sessions WHERE id = last_id) "
        "FROM (SELECT " +
            key + " AS k, COUNT(*) AS n, AVG(" + reward_score_expr(b) + ") AS avg_reward, " +
            ts_out(b, "MAX(created_at)") +
            " AS last_at, MAX(id) AS last_id "
            "FROM sessions WHERE " +
            key + " IS NOT NULL GROUP BY " + key + ") g ORDER BY last_id DESC LIMIT " +
            bind_param(p, Param::num(limit)),
        p, 5);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("keys");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w_cell(w, "learning_key", r[0]);
      put_number(w, "sessions", r[1]);
      put_number(w, "average_reward", r[2]);
      w_cell(w, "last_at", r[3]);
      w_cell(w, "label", r[4]);
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

std::string op_review_ui_learning(Pool& pool, const Value& req) {
  const std::string key = text_of(req, "learning_key");
  if (key.empty()) throw Error(ATLAS_INVALID_ARGUMENT, "review_ui_learning: 'learning_key' is required");
  const long long limit = limit_of(req, 500, 5000);
  return with_conn(pool, "review_ui_learning", [&](Conn& c) {
    const Backend b = c.backend();
    std::vector<Param> p;
    std::string match = json_key_text(b, "metadata", "learning_key") + " = " + bind_param(p, Param::str(key));
    // The newest `limit` sessions, returned oldest first.
    auto rows = c.query("SELECT * FROM (SELECT id, " + ts_out(b, "created_at") + ", " + reward_score_expr(b) + ", " +
                            total_tokens_expr(b) + ", status, review_status, student_learning, " +
                            json_key_text(b, "metadata", "execution_mode") + " FROM sessions WHERE " + match +
                            " ORDER BY id DESC LIMIT " + bind_param(p, Param::num(limit)) + ") t ORDER BY id ASC",
                        p, 8);
    auto reg = c.query_one("SELECT student_learning, teacher_learning, " + json_out(b, "metadata") + ", version, " +
                               ts_out(b, "updated_at") + " FROM learning_registry WHERE learning_key = :p0",
                           {Param::str(key)}, 5);
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    w.Key("learning_key");
    w.String(key.c_str(), static_cast<rapidjson::SizeType>(key.size()));
    w.Key("sessions");
    w.StartArray();
    for (const Row& r : rows) {
      w.StartObject();
      w_cell(w, "session_id", r[0]);
      w_cell(w, "created_at", r[1]);
      put_number(w, "reward", r[2]);
      put_number(w, "total_tokens", r[3]);
      w_cell(w, "status", r[4]);
      w_cell(w, "review_status", r[5]);
      w_cell(w, "student_learning", r[6]);
      w_cell(w, "execution_mode", r[7]);
      w.EndObject();
    }
    w.EndArray();
    w.Key("registry");
    if (reg) {
      w.StartObject();
      w_cell(w, "student_learning", (*reg)[0]);
      w_cell(w, "teacher_learning", (*reg)[1]);
      w.Key("metadata");
      const Cell& m = (*reg)[2];
      if (m && !m->empty()) {
        w.RawValue(m->c_str(), m->size(), rapidjson::kObjectType);
      } else {
        w.Null();
      }
      put_number(w, "version", (*reg)[3]);
      w_cell(w, "updated_at", (*reg)[4]);
      w.EndObject();
    } else {
      w.Null();
    }
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

}  // namespace atlas_soci
