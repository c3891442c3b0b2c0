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

// Request fields are read with ops_json.hpp's str_or / int_or / flag.

long long limit_of(const Value& req, long long fallback, long long max) {
  return std::clamp<long long>(int_or(req, "limit", fallback), 1, max);
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

// Characters (UTF-8 code points) in `text`: the trigram index needs at least 3.
size_t code_points(const std::string& text) {
  size_t n = 0;
  for (unsigned char ch : text) n += (ch & 0xC0) != 0x80;
  return n;
}

// The rows a list request selects: FROM and WHERE. On SQLite a text search of 3 characters or
// more reads its candidates from the trigram index sessions_text (migration 7) and then applies
// the same LIKE as without it, so the index only narrows and the result is the LIKE's.
struct Selection {
  std::string from = "sessions";
  std::string where;
  // The candidates come from sessions_text joined in id order: "newest"/"oldest" pages follow
  // its rowid (no sort), and the cursor compares sessions.id.
  bool fts_join = false;
};

// query_sessions' filters (ops.cpp) plus the UI's own: lane and free text.
Selection ui_filters(Backend b, const Value& req, std::vector<Param>& p) {
  Selection sel;
  sel.where = session_filters_sql(b, req, p);
  std::string lane = str_or(req, "lane");
  if (!lane.empty())
    sel.where += " AND " + json_key_text(b, "metadata", "execution_mode") + " = " + bind_param(p, Param::str(lane));
  std::string text = str_or(req, "text");
  if (!text.empty()) {
    if (text.size() > 500) throw Error(ATLAS_INVALID_ARGUMENT, "'text' is longer than 500 characters");
    if (b == Backend::kSqlite && code_points(text) >= 3) {
      // A trigram phrase matches the text as a substring (case-folded); quotes are doubled.
      std::string phrase = "\"";
      for (char ch : text) phrase += ch == '"' ? std::string("\"\"") : std::string(1, ch);
      phrase += "\"";
      // CROSS JOIN: SQLite keeps the trigram index as the outer loop (its candidates in rowid
      // order) instead of probing it once per row of another index.
      sel.from = "sessions_text CROSS JOIN sessions ON sessions.id = sessions_text.rowid";
      sel.where += " AND sessions_text MATCH " + bind_param(p, Param::str(phrase));
      sel.fts_join = true;
    }
    // ILIKE on PostgreSQL (pg_trgm indexes when the extension is there, migration 7); LIKE
    // (ASCII case-insensitive) on SQLite. NULL final_answer never matches, as before.
    std::string like = b == Backend::kPostgres ? " ILIKE " : " LIKE ";
    std::string q = bind_param(p, Param::str(like_pattern(text)));
    sel.where += " AND (task" + like + q + " ESCAPE '\\' OR final_answer" + like + q + " ESCAPE '\\')";
  }
  return sel;
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

// The reward order: exactly the expression of sessions_reward_order_idx (migration 7), so a
// reward-sorted page walks that index instead of sorting every row.
std::string reward_order_expr(Backend b) {
  return "COALESCE(" + reward_score_expr(b) + ", -1)";
}

// The review statuses the list has tabs for (docs/review-ui.md).
constexpr const char* kReviewTabs[] = {"pending", "approved", "quarantined"};

constexpr long long kDefaultCountCap = 1000;

// "count" (this selection) and "counts" (per review status, the review filter left out), each
// counted up to `cap` rows: a value over the cap is written as the cap, and "count_capped" /
// "counts_capped" say which ones have more (the UI shows "1000+"). One statement; every count
// stops at cap + 1 rows, so its cost is bounded by the cap, not by the table.
void write_counts(Conn& c, const Value& req, long long cap, Writer& w) {
  const Backend b = c.backend();
  std::vector<Param> p;
  auto capped = [&](const Value& filters) {
    Selection sel = ui_filters(b, filters, p);
    return "(SELECT COUNT(*) FROM (SELECT 1 FROM " + sel.from + " WHERE " + sel.where + " LIMIT " +
           bind_param(p, Param::num(cap + 1)) + ") capped)";
  };
  std::string sql = "SELECT " + capped(req);
  rapidjson::Document other;
  other.CopyFrom(req, other.GetAllocator());
  other.RemoveMember("review_status");
  for (const char* status : kReviewTabs) {
    rapidjson::Value one(rapidjson::kArrayType);
    one.PushBack(rapidjson::StringRef(status), other.GetAllocator());
    other.RemoveMember("review_status");
    other.AddMember("review_status", one, other.GetAllocator());
    sql += ", " + capped(other);
  }
  auto row = c.query_one(sql, p, 1 + static_cast<int>(std::size(kReviewTabs)));
  auto value = [&](size_t i) { return row && (*row)[i] ? std::stoll(*(*row)[i]) : 0LL; };
  w.Key("count");
  w.Int64(std::min(value(0), cap));
  w.Key("count_capped");
  w.Bool(value(0) > cap);
  w.Key("counts");
  w.StartObject();
  for (size_t i = 0; i < std::size(kReviewTabs); ++i) {
    w.Key(kReviewTabs[i]);
    w.Int64(std::min(value(i + 1), cap));
  }
  w.EndObject();
  w.Key("counts_capped");
  w.StartObject();
  for (size_t i = 0; i < std::size(kReviewTabs); ++i) {
    if (value(i + 1) <= cap) continue;
    w.Key(kReviewTabs[i]);
    w.Bool(true);
  }
  w.EndObject();
  w.Key("count_cap");
  w.Int64(cap);
}

long long count_cap_of(const Value& req) {
  return std::clamp<long long>(int_or(req, "count_cap", kDefaultCountCap), 1, 1000000);
}

}  // namespace

std::vector<std::string> review_ui_list_schema(Backend b) {
  const std::string order = "CREATE INDEX sessions_reward_order_idx ON sessions ((" + reward_order_expr(b) + "), id)";
  // The review tabs and the review filter compare LOWER(review_status) (ops.cpp), with id order;
  // a tab's count with a learning key or a date range reads a range of one of the other two.
  const std::string review = "CREATE INDEX sessions_review_order_idx ON sessions (LOWER(review_status), id)";
  const std::string review_key = "CREATE INDEX sessions_key_review_idx ON sessions ((" +
                                 json_key_text(b, "metadata", "learning_key") + "), LOWER(review_status), id)";
  const std::string review_date =
      "CREATE INDEX sessions_review_created_idx ON sessions (LOWER(review_status), created_at)";
  if (b == Backend::kPostgres) {
    // Trigram indexes serve ILIKE '%text%'. pg_trgm ships in postgresql-contrib and is a
    // trusted extension (a database owner may create it); where it is missing or not allowed,
    // the migration goes on without it and text search scans (docs/review-ui.md, "Speed").
    return {order, review, review_key, review_date,
            "DO $$ BEGIN "
            "CREATE EXTENSION IF NOT EXISTS pg_trgm; "
            "CREATE INDEX sessions_task_trgm_idx ON sessions USING GIN (task gin_trgm_ops); "
            "CREATE INDEX sessions_final_answer_trgm_idx ON sessions USING GIN (final_answer gin_trgm_ops); "
            "EXCEPTION WHEN OTHERS THEN "
            "RAISE WARNING 'atlas migration 7: no pg_trgm (%), review UI text search will scan', SQLERRM; "
            "END $$"};
  }
  // SQLite: a contentless FTS5 trigram index of task (column t) and final_answer (column a) (Debian's libsqlite3 has
  // FTS5 and the trigram tokenizer, SQLite >= 3.34), kept by triggers; the list re-checks every
  // candidate with LIKE, so the index only narrows.
  const std::string ins = "INSERT INTO sessions_text (rowid, t, a) VALUES (new.id, new.task, new.final_answer);";
  const std::string del =
      "INSERT INTO sessions_text (sessions_text, rowid, t, a) "
      "VALUES ('delete', old.id, old.task, old.final_answer);";
  return {order,
          review,
          review_key,
          review_date,
          "CREATE VIRTUAL TABLE sessions_text USING fts5(t, a, content='', tokenize='trigram')",
          "INSERT INTO sessions_text (rowid, t, a) SELECT id, task, final_answer FROM sessions",
          "CREATE TRIGGER sessions_text_insert AFTER INSERT ON sessions BEGIN " + ins + " END",
          "CREATE TRIGGER sessions_text_delete AFTER DELETE ON sessions BEGIN " + del + " END",
          "CREATE TRIGGER sessions_text_update AFTER UPDATE OF task, final_answer ON sessions BEGIN " + del + " " +
              ins + " END"};
}

std::string op_review_ui_sessions(Pool& pool, const Value& req) {
  const Sort sort = parse_sort(str_or(req, "sort"));
  const bool ids_only = flag(req, "ids_only");
  const long long limit = limit_of(req, 50, ids_only ? 5000 : 500);
  const std::string after = str_or(req, "after");
  const long long cap = count_cap_of(req);
  return with_conn(pool, "review_ui_sessions", [&](Conn& c) {
    const Backend b = c.backend();
    const std::string score = reward_order_expr(b);
    std::vector<Param> p;
    Selection sel = ui_filters(b, req, p);
    std::string where = sel.where;
    const char* cmp = sort.asc ? ">" : "<";
    if (!after.empty()) {
      if (sort.by_reward) {
        // Cursor "score|id": rows strictly after it in (score, id) order (a row-value
        // comparison, which both databases turn into a range of the reward index).
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
        where += " AND (" + score + ", sessions.id) " + cmp + " (" + bind_param(p, Param::real_num(s)) + ", " +
                 bind_param(p, Param::num(id)) + ")";
      } else {
        where += std::string(" AND sessions.id ") + cmp + " " + bind_param(p, Param::num(parse_cursor_id(after)));
      }
    }
    const char* dir = sort.asc ? " ASC" : " DESC";
    // Id order follows the trigram index's rowid when the rows come from it (no sort).
    const std::string id_col = sel.fts_join && !sort.by_reward ? "sessions_text.rowid" : "sessions.id";
    std::string inner_order = sort.by_reward ? score + dir + ", sessions.id" + dir : id_col + dir;
    std::string outer_order = sort.by_reward ? score + dir + ", id" + dir : std::string("id") + dir;
    // The page's ids first, from the indexes alone where they cover the filters; then only
    // those rows are read (no sort of wide rows).
    std::string page_ids = "SELECT sessions.id FROM " + sel.from + " WHERE " + where + " ORDER BY " + inner_order +
                           " LIMIT " + bind_param(p, Param::num(limit + 1));
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    if (ids_only) {
      auto rows = c.query(page_ids, p, 1);
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
        total_tokens_expr(b) + ", " + score + " FROM sessions WHERE id IN (" + page_ids + ") ORDER BY " + outer_order;
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
    if (flag(req, "with_counts")) write_counts(c, req, cap, w);
    w.EndObject();
    return std::string(sb.GetString(), sb.GetSize());
  });
}

std::string op_review_ui_counts(Pool& pool, const Value& req) {
  const long long cap = count_cap_of(req);
  return with_conn(pool, "review_ui_counts", [&](Conn& c) {
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    write_counts(c, req, cap, w);
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
  const std::string key = str_or(req, "learning_key");
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
