#include "ops_review_ui.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cctype>
#include <optional>

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

// Whether a trigram index can serve a search for `text`: it needs 3 characters (UTF-8 code
// points) or more.
bool trigram_searchable(const std::string& text) {
  size_t n = 0;
  for (unsigned char ch : text) n += (ch & 0xC0) != 0x80;
  return n >= 3;
}

// The trigram index takes the search text as one FTS5 phrase, which matches it as a substring
// (case-folded); quotes are doubled.
std::string trigram_phrase(const std::string& text) {
  std::string phrase = "\"";
  for (char ch : text) phrase += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return phrase + "\"";
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

// kSkip: the LIKE alone tests each row (the reward-order walk of walk_reward_order).
enum class TextIndex { kUse, kSkip };

// query_sessions' filters (ops.cpp) plus the UI's own: lane and free text.
Selection ui_filters(Backend b, const Value& req, std::vector<Param>& p, TextIndex text_index = TextIndex::kUse) {
  Selection sel;
  sel.where = session_filters_sql(b, req, p);
  std::string lane = str_or(req, "lane");
  if (!lane.empty())
    sel.where += " AND " + json_key_text(b, "metadata", "execution_mode") + " = " + bind_param(p, Param::str(lane));
  std::string text = str_or(req, "text");
  if (!text.empty()) {
    if (text.size() > 500) throw Error(ATLAS_INVALID_ARGUMENT, "'text' is longer than 500 characters");
    if (b == Backend::kSqlite && trigram_searchable(text) && text_index == TextIndex::kUse) {
      // CROSS JOIN: SQLite keeps the trigram index as the outer loop (its candidates in rowid
      // order) instead of probing it once per row of another index.
      sel.from = "sessions_text CROSS JOIN sessions ON sessions.id = sessions_text.rowid";
      sel.where += " AND sessions_text MATCH " + bind_param(p, Param::str(trigram_phrase(text)));
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

// The reward order as the text of a cursor: every digit, so that the next page starts exactly
// after the row (SQLite renders a real with 15 digits, PostgreSQL with as many as it takes).
std::string reward_cursor_expr(Backend b) {
  return b == Backend::kSqlite ? "printf('%!.17g', " + reward_order_expr(b) + ")" : reward_order_expr(b);
}

// Where the previous page ended: its last row ("score|id" for a reward sort, "id" otherwise).
struct Cursor {
  bool set = false;
  double score = 0;
  long long id = 0;
};

Cursor parse_cursor(const std::string& after, const Sort& sort) {
  Cursor at;
  if (after.empty()) return at;
  at.set = true;
  if (!sort.by_reward) {
    at.id = parse_cursor_id(after);
    return at;
  }
  size_t bar = after.find('|');
  if (bar == std::string::npos) throw Error(ATLAS_INVALID_ARGUMENT, "'after' is not a cursor of a reward-sorted page");
  try {
    at.score = std::stod(after.substr(0, bar));
  } catch (...) {
    throw Error(ATLAS_INVALID_ARGUMENT, "'after' is not a cursor of a reward-sorted page");
  }
  at.id = parse_cursor_id(after.substr(bar + 1));
  return at;
}

// " AND" the rows of the reward order of `sort` strictly after (score, id), or with `through`
// the rows up to and including it. A row-value comparison, plus the same bound on the score
// alone: SQLite reads a range of sessions_reward_order_idx only for the latter (it scans the
// whole index for a row value on an expression).
std::string reward_bound(Backend b, const Sort& sort, double score, long long id, bool through, std::vector<Param>& p) {
  const std::string expr = reward_order_expr(b);
  const bool greater = sort.asc != through;
  const char* row_cmp = through ? (greater ? " >= " : " <= ") : (greater ? " > " : " < ");
  std::string sql = " AND " + expr + (greater ? " >= " : " <= ") + bind_param(p, Param::real_num(score));
  return sql + " AND (" + expr + ", sessions.id)" + row_cmp + "(" + bind_param(p, Param::real_num(score)) + ", " +
         bind_param(p, Param::num(id)) + ")";
}

// " AND" the rows after the cursor in the page order ("" on the first page).
std::string after_cursor(Backend b, const Sort& sort, const Cursor& at, std::vector<Param>& p) {
  if (!at.set) return "";
  if (sort.by_reward) return reward_bound(b, sort, at.score, at.id, false, p);
  return std::string(" AND sessions.id ") + (sort.asc ? ">" : "<") + " " + bind_param(p, Param::num(at.id));
}

std::string order_by(Backend b, const Sort& sort, const std::string& id_col) {
  const char* dir = sort.asc ? " ASC" : " DESC";
  return sort.by_reward ? reward_order_expr(b) + dir + ", " + id_col + dir : id_col + dir;
}

// How many rows a reward-sorted text search may walk per row of its page before it reads the
// trigram candidates instead: the walk pays while at least one row in 40 matches.
constexpr long long kWalkRowsPerPageRow = 40;

// The page of a reward-sorted text search on SQLite, which has two ways to it:
//  - candidates: read every trigram candidate, re-check it with LIKE and sort by reward; the cost
//    follows the candidates (a term in 20 % of 100k sessions: 20,000 rows read);
//  - walk: read sessions_reward_order_idx in page order and test each row until the page is
//    full; the cost follows page rows / share of rows that match.
// The trigram index counts the candidates up to budget = kWalkRowsPerPageRow x page rows (index
// only, no row read). Fewer than the budget: the candidates are the cheaper way (nullopt).
// Otherwise the walk goes at most `budget` rows, up to the budget-th row after the cursor
// (index only); when that does not fill the page (other filters leave few matches), nullopt:
// the candidates after all. The wasted walk is at most the budget, itself at most the
// candidates, so a page never costs more than twice the candidates' way, and a common term
// costs about page / share rows. Returns the page's ids (up to limit + 1) otherwise.
std::optional<std::vector<Param>> walk_reward_order(Conn& c, const Value& req, const Sort& sort, const Cursor& at,
                                                    long long limit) {
  const Backend b = c.backend();
  const long long budget = kWalkRowsPerPageRow * (limit + 1);
  std::vector<Param> probe;
  std::string probe_sql = "SELECT COUNT(*) FROM (SELECT 1 FROM sessions_text WHERE sessions_text MATCH " +
                          bind_param(probe, Param::str(trigram_phrase(str_or(req, "text")))) + " LIMIT " +
                          bind_param(probe, Param::num(budget)) + ") candidates";
  auto candidates = c.query_one(probe_sql, probe, 1);
  if (!candidates || !(*candidates)[0] || std::stoll(*(*candidates)[0]) < budget) return std::nullopt;

  const std::string order = order_by(b, sort, "sessions.id");
  std::vector<Param> end_p;
  auto end = c.query_one("SELECT " + reward_cursor_expr(b) + ", sessions.id FROM sessions WHERE 1 = 1" +
                             after_cursor(b, sort, at, end_p) + " ORDER BY " + order + " LIMIT 1 OFFSET " +
                             bind_param(end_p, Param::num(budget - 1)),
                         end_p, 2);
  std::vector<Param> p;
  Selection sel = ui_filters(b, req, p, TextIndex::kSkip);
  std::string where = sel.where + after_cursor(b, sort, at, p);
  if (end) where += reward_bound(b, sort, std::stod(*(*end)[0]), std::stoll(*(*end)[1]), true, p);
  auto rows = c.query("SELECT sessions.id FROM sessions WHERE " + where + " ORDER BY " + order + " LIMIT " +
                          bind_param(p, Param::num(limit + 1)),
                      p, 1);
  // Without an end row the walk went through every row after the cursor: its page is complete.
  if (end && rows.size() <= static_cast<size_t>(limit)) return std::nullopt;
  std::vector<Param> ids;
  ids.reserve(rows.size());
  for (const Row& r : rows) ids.push_back(Param::num(std::stoll(r[0].value())));
  return ids;
}

// The review statuses the list has tabs for (docs/review-ui.md).
constexpr const char* kReviewTabs[] = {"pending", "approved", "quarantined"};

constexpr long long kDefaultCountCap = 1000;

// "count" (this selection) and "counts" (per review status, the review filter left out), each
// counted up to `cap` rows: a value over the cap is written as the cap, and "count_capped" /
// "counts_capped" say which ones have more (the UI shows "1000+"). Every count stops at cap + 1
// rows, so its cost is bounded by the cap, not by the table. The tabs are counted first (one
// statement); "count" then often follows from them without a scan of its own (the costliest
// one for a common search term): a tab the selection's review filter takes in (every tab
// without a filter) is a subset of the selection, so one over the cap puts "count" over it,
// and a filter of exactly one tab selects that tab's rows.
// PostgreSQL, text search: the planner takes a scan that tests ILIKE on row after row (it prices
// ILIKE on a long text like an integer comparison, ~15 us a row in fact) over the pg_trgm
// bitmap (~1 us per match of the term), 400 ms against 100 ms for a term in 20 % of 100k
// sessions; SET LOCAL enable_seqscan = off (this transaction only) steers it to the index.
void write_counts(Conn& c, const Value& req, long long cap, Writer& w) {
  const Backend b = c.backend();
  std::optional<Tx> steer;
  if (b == Backend::kPostgres && trigram_searchable(str_or(req, "text"))) {
    steer.emplace(c);
    c.exec("SET LOCAL enable_seqscan = off");
  }
  std::vector<Param> p;
  auto capped = [&](const Value& filters) {
    Selection sel = ui_filters(b, filters, p);
    return "(SELECT COUNT(*) FROM (SELECT 1 FROM " + sel.from + " WHERE " + sel.where + " LIMIT " +
           bind_param(p, Param::num(cap + 1)) + ") capped)";
  };
  std::string sql = "SELECT ";
  rapidjson::Document other;
  other.CopyFrom(req, other.GetAllocator());
  for (size_t i = 0; i < std::size(kReviewTabs); ++i) {
    rapidjson::Value one(rapidjson::kArrayType);
    one.PushBack(rapidjson::StringRef(kReviewTabs[i]), other.GetAllocator());
    other.RemoveMember("review_status");
    other.AddMember("review_status", one, other.GetAllocator());
    sql += (i == 0 ? "" : ", ") + capped(other);
  }
  auto row = c.query_one(sql, p, std::size(kReviewTabs));
  std::vector<long long> tabs;
  for (size_t i = 0; i < std::size(kReviewTabs); ++i) tabs.push_back(row && (*row)[i] ? std::stoll(*(*row)[i]) : 0LL);

  const std::vector<std::string> review = review_status_filter(req);
  std::optional<long long> count;
  for (size_t i = 0; i < std::size(kReviewTabs) && !count; ++i) {
    const bool in_selection = review.empty() || std::count(review.begin(), review.end(), kReviewTabs[i]) > 0;
    const bool only_this_tab = review.size() == 1 && review[0] == kReviewTabs[i];
    if (only_this_tab || (in_selection && tabs[i] > cap)) count = tabs[i];
  }
  if (!count) {
    p.clear();
    auto own = c.query_one("SELECT " + capped(req), p, 1);
    count = own && (*own)[0] ? std::stoll(*(*own)[0]) : 0LL;
  }
  if (steer) steer->commit();
  auto value = [&](size_t i) { return i == 0 ? *count : tabs[i - 1]; };
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

std::vector<std::string> review_ui_counts_schema(Backend b) {
  // A lane and a learning key together: without it SQLite reads one of the two single-column
  // indexes (it guessed the lane's, a quarter of the rows) and every row of it to test the other.
  return {"CREATE INDEX sessions_key_lane_review_idx ON sessions ((" + json_key_text(b, "metadata", "learning_key") +
          "), (" + json_key_text(b, "metadata", "execution_mode") + "), LOWER(review_status), id)"};
}

std::string op_review_ui_sessions(Pool& pool, const Value& req) {
  const Sort sort = parse_sort(str_or(req, "sort"));
  const bool ids_only = flag(req, "ids_only");
  const long long limit = limit_of(req, 50, ids_only ? 5000 : 500);
  const Cursor at = parse_cursor(str_or(req, "after"), sort);
  const long long cap = count_cap_of(req);
  return with_conn(pool, "review_ui_sessions", [&](Conn& c) {
    const Backend b = c.backend();
    std::vector<Param> p;
    Selection sel = ui_filters(b, req, p);
    // The page's ids first, from the indexes alone where they cover the filters; then only
    // those rows are read (no sort of wide rows).
    std::string page_ids;
    std::optional<std::vector<Param>> walked;
    if (sort.by_reward && sel.fts_join) walked = walk_reward_order(c, req, sort, at, limit);
    if (walked) {
      p.clear();
      page_ids = walked->empty() ? "NULL" : bind_list(p, *walked);
    } else {
      // Id order follows the trigram index's rowid when the rows come from it (no sort).
      const std::string id_col = sel.fts_join && !sort.by_reward ? "sessions_text.rowid" : "sessions.id";
      page_ids = "SELECT sessions.id FROM " + sel.from + " WHERE " + sel.where + after_cursor(b, sort, at, p) +
                 " ORDER BY " + order_by(b, sort, id_col) + " LIMIT " + bind_param(p, Param::num(limit + 1));
    }
    const std::string outer_order = order_by(b, sort, "id");
    rapidjson::StringBuffer sb;
    Writer w(sb);
    w.StartObject();
    if (ids_only) {
      // In page order: the walk's ids as they are, otherwise the rows the page_ids query returns.
      auto rows = c.query("SELECT id FROM sessions WHERE id IN (" + page_ids + ") ORDER BY " + outer_order, p, 1);
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
    std::string sql = "SELECT id, substr(task, 1, 400), status, review_status, " + ts_out(b, "created_at") + ", " +
                      ts_out(b, "completed_at") + ", " + reward_score_expr(b) + ", " +
                      json_key_text(b, "metadata", "learning_key") + ", " +
                      json_key_text(b, "metadata", "execution_mode") +
                      ", substr(COALESCE(final_answer, ''), 1, 200), " + total_tokens_expr(b) + ", " +
                      reward_cursor_expr(b) + " FROM sessions WHERE id IN (" + page_ids + ") ORDER BY " + outer_order;
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
