// Export: streams stored sessions into training files (docs/export-formats.md).
//
// Filters run in the database, before --limit; sessions are read one page at a time
// (keyset pagination on the session id, oldest first) and written one line at a time, so
// memory stays flat whatever the number of sessions. `running` and `interrupted` sessions
// are never exported. The output appears atomically (written to FILE.partial, renamed).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/store.hpp"

namespace atlas::data {

enum class ExportFormat {
  kAtlasJsonl,
  kTrlSft,
  kTrlGrpo,
  kTrlDpo,
  kOpenAiFt,
  kTrlSftCorrections,
  kTrlKto,
  kTrlPrm,
  kTokensJsonl
};
Result<ExportFormat> parse_export_format(std::string_view name);  // INVALID_ARGUMENT lists the names
std::string_view export_format_name(ExportFormat f);

struct ExportFilters {
  // nullopt = every review status; else only these.
  std::optional<std::vector<ReviewStatus>> review_statuses = std::vector<ReviewStatus>{ReviewStatus::kApproved};
  // Session statuses; empty = succeeded only (failed ones only when asked: --include-failed or
  // --status failed). A failed session's trace is not a demonstration a trainer should learn from.
  std::vector<SessionStatus> statuses;
  std::optional<double> min_reward;
  std::string learning_key;
  std::string created_after;  // ISO 8601 date or timestamp
  std::vector<std::string> session_ids;
  std::optional<int64_t> limit;  // sessions, counted after the filters
};

// Review-status filter (docs/export-formats.md, "Selection"): [review] policy (with the ATLAS_REVIEW_* env
// overrides already applied to `review`, or read from the environment when `review` is
// null), plus --include-status values, or everything with include_all.
std::optional<std::vector<ReviewStatus>> resolve_review_filter(const config::ReviewConfig* review,
                                                               const std::vector<ReviewStatus>& include_statuses,
                                                               bool include_all);

struct ExportOptions {
  ExportFormat format = ExportFormat::kAtlasJsonl;
  std::filesystem::path output;  // "-" = standard output (streamed, no atomic rename)
  ExportFilters filters;
  int page_size = 100;
  double grpo_epsilon = 1e-4;  // advantage = (r - mean) / (std + epsilon)
  // trl-grpo: leave out groups whose session rewards are all equal (--drop-zero-variance).
  bool drop_zero_variance = false;
  // Teacher guidance a retry was sent with (--guidance): kept as the context the student saw
  // (the runtime appends it to the step's user message) or left out (docs/export-formats.md,
  // "Teacher guidance").
  enum class Guidance { kContext, kExclude };
  Guidance guidance = Guidance::kContext;
  // trl-sft and openai-ft: a session of several steps as one conversation (per-session, the
  // default) or one row per step (per-step); a session of one step exports as before either way
  // in per-session (docs/export-formats.md, "Multi-step conversations").
  enum class Conversation { kPerSession, kPerStep };
  Conversation conversation = Conversation::kPerSession;
  // trl-kto and trl-prm: a reward at or above this is desirable / a correct step (--label-threshold).
  double label_threshold = 0.5;
  // Remove the injected playbook from the student's system message (--strip-playbook). Off by
  // default: a row is the conversation the student saw, and its replies were conditioned on the
  // playbook (docs/export-formats.md, "What the student saw").
  bool strip_playbook = false;
  // Also validate every row against this JSON Schema (draft-04 text; --schema FILE), after the
  // format's own schema; `extra_schema_name` names it in errors.
  std::string extra_schema_json;
  std::string extra_schema_name = "--schema";
  // Called after every written session with (sessions done, sessions matching).
  std::function<void(uint64_t done, uint64_t total)> progress;
};

struct ExportSummary {
  uint64_t sessions = 0;  // sessions read and exported
  uint64_t records = 0;   // lines written
  uint64_t steps = 0;
  uint64_t bytes = 0;
  std::string sha256;           // of the output file
  uint64_t groups_dropped = 0;  // trl-grpo groups left out by --drop-zero-variance
  // What the exported sessions cost (docs/runtime.md, "Cost"): unknown (nullopt) when any
  // exported session's cost is unknown; per record = cost / records.
  std::optional<double> cost_usd;
  uint64_t sessions_cost_unknown = 0;
  std::optional<double> cost_per_record_usd() const {
    if (!cost_usd || records == 0) return std::nullopt;
    return *cost_usd / static_cast<double>(records);
  }
};

// Zero matching sessions returns OK with sessions == 0 and no output file.
Result<ExportSummary> export_sessions(Store& store, const ExportOptions& options);

// Row lineage (docs/export-formats.md, "Lineage"): atlas-jsonl keeps it in each record's
// session_metadata.lineage; every other format is read by a trainer with fixed columns, so it
// goes to a sidecar file next to the export, one line per row.
bool lineage_in_sidecar(ExportFormat format);
std::filesystem::path lineage_sidecar_path(const std::filesystem::path& output);  // FILE.lineage.jsonl

// Filter document for query_sessions/count_sessions.
std::string filters_json(const ExportFilters& filters);

}  // namespace atlas::data
