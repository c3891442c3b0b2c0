// What `atlas-host playbook show|history|diff|edit|reset|rejected` does (docs/runtime.md,
// "Playbook commands"): find a key by its label or a prefix, read its stored versions
// (storage op learning_versions, migration 6), write a new version with its actor, render a
// version as an editable document, diff two versions, list the candidates the gates refused.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "data/store.hpp"

namespace atlas::runtime {

struct PlaybookKey {
  std::string learning_key;
  std::string label;  // as `report` shows it (data::assign_report_labels)
  std::string first_task;
  int64_t version = 0;
  std::string updated_at;
};

// Every key with a stored playbook, labelled.
Result<std::vector<PlaybookKey>> list_playbook_keys(data::Store& store);

// `query` is a learning key, a label, or a unique prefix of either (case-insensitive for
// labels). NOT_FOUND lists the known labels; INVALID_ARGUMENT names the keys an ambiguous
// prefix matches.
Result<PlaybookKey> resolve_playbook_key(data::Store& store, std::string_view query);

struct PlaybookVersion {
  int64_t version = 0;
  std::string actor, action, note, session_id, created_at;
  std::string student_learning, teacher_learning;
  std::string metadata_json = "{}";
};

// Oldest first; `only` = that version alone (NOT_FOUND when it is not stored).
Result<std::vector<PlaybookVersion>> playbook_versions(data::Store& store, std::string_view learning_key,
                                                       std::optional<int64_t> only = std::nullopt);

// A version as JSON ({version, actor, action, note, session_id, created_at} and, with
// `with_content`, {student_learning, teacher_learning, metadata}): `playbook history|show
// --json` and the review UI's learning page print the same.
json::Value playbook_version_json(const PlaybookVersion& v, bool with_content, json::Allocator& a);

// The editable text form of a version: two pamphlet sections and the entries as JSON.
//   # comment lines
//   === student_learning ===
//   ...
//   === teacher_learning ===
//   ...
//   === playbook_entries (JSON array) ===
//   [...]
std::string playbook_document(std::string_view learning_key, const PlaybookVersion& v);

struct PlaybookContent {
  std::string student_learning;
  std::string teacher_learning;
  std::string entries_json = "[]";  // a JSON array of entry objects
};
// Parses playbook_document's form; INVALID_ARGUMENT names the line and what is wrong.
Result<PlaybookContent> parse_playbook_document(std::string_view text);

// Writes `content` as the key's next version (optimistic: ABORTED when the stored version is no
// longer `expected_version`), keeping the rest of the metadata of `base`. Entries without an
// "id" get one (derive_entry_id). Returns the new version.
Result<int64_t> write_playbook(data::Store& store, std::string_view learning_key, const PlaybookContent& content,
                               const PlaybookVersion& base, int64_t expected_version, std::string_view actor,
                               std::string_view action, std::string_view note);

// Unified diff (GNU diff -u shape, `context` lines around each change) of two texts; "" when equal.
std::string unified_diff(std::string_view a, std::string_view b, std::string_view a_name, std::string_view b_name,
                         int context = 3);

struct RejectedCandidate {
  int64_t version = 0;  // the version whose synthesis refused it
  std::string session_id;
  std::string evaluated_at;
  std::string entry_id;
  std::string entry_json;  // the normalised candidate ("" for versions written before it was kept)
  std::vector<std::string> reasons;
};
// The candidates the gates refused, oldest first, once per synthesis (metadata.last_evaluation
// of each version).
std::vector<RejectedCandidate> rejected_candidates(const std::vector<PlaybookVersion>& versions);

// {version, session_id, evaluated_at, entry_id, entry (object or null), reasons: [...]}: what
// `playbook rejected --json` prints per candidate and the review UI shows.
json::Value rejected_candidate_json(const RejectedCandidate& r, json::Allocator& a);

}  // namespace atlas::runtime
