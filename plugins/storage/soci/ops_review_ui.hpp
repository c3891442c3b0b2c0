// Storage operations of the review web UI (docs/review-ui.md): the session list with the UI's
// filters (lane, free text), sorting, cursor paging and counts, and the learning view. They live
// next to ops.cpp and reuse its filter builder; ops.cpp only registers them.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "db.hpp"

namespace atlas_soci {

// Defined in ops.cpp: the WHERE clause of query_sessions/count_sessions for `req`, and one
// bound parameter (":pN", appended to `params`), or a list of them (":pN, :pN+1, ...").
std::string session_filters_sql(Backend b, const rapidjson::Value& req, std::vector<Param>& params);
std::string bind_param(std::vector<Param>& params, Param v);
std::string bind_list(std::vector<Param>& params, const std::vector<Param>& values);
// The request's review filter as session_filters_sql compares it (lowercase; empty = none).
std::vector<std::string> review_status_filter(const rapidjson::Value& req);

// Migration 7: what keeps the list fast on large tables (docs/review-ui.md, "Speed"): an index
// on the exact reward-order expression, one on (LOWER(review_status), id), and a text index for
// the free-text search (SQLite: FTS5 trigram table sessions_text with its triggers;
// PostgreSQL: pg_trgm GIN indexes when the extension can be created).
std::vector<std::string> review_ui_list_schema(Backend b);
// Migration 9: (learning_key, execution_mode, LOWER(review_status), id), which serves the capped
// counts (and pages) of a lane and a learning key together.
std::vector<std::string> review_ui_counts_schema(Backend b);

// review_ui_sessions: query_sessions' filters plus "lane" (metadata.execution_mode) and "text"
// (case-insensitive substring of task or final answer); "sort" newest|oldest|reward_desc|
// reward_asc; "after" = the previous page's "next" cursor; "with_counts" adds review_ui_counts'
// fields; "ids_only" returns {"ids":[...]} (up to "limit", 1..5000) for bulk actions.
std::string op_review_ui_sessions(Pool& pool, const rapidjson::Value& req);
// review_ui_counts: the same filters -> {"count", "count_capped", "counts": {pending, approved,
// quarantined}, "counts_capped": {status: true}, "count_cap"}: "count" is this selection,
// "counts" per review status with the review filter left out; each counted up to "count_cap"
// (default 1000) rows, a capped one reported as the cap and flagged.
std::string op_review_ui_counts(Pool& pool, const rapidjson::Value& req);
// review_ui_learning_keys: every learning key with its session count, average reward, newest
// session time and a readable label (the task of its newest session).
std::string op_review_ui_learning_keys(Pool& pool, const rapidjson::Value& req);
// review_ui_learning: one key's sessions oldest first (id, created_at, reward, tokens, status,
// review_status, student_learning), up to "limit" (default 500), and its learning_registry row.
std::string op_review_ui_learning(Pool& pool, const rapidjson::Value& req);

}  // namespace atlas_soci
