// Learning playbook (docs/atlas-compatibility.md): the per-learning-key pamphlets and
// playbook entries. Pure functions: prompt blocks, entry ids, gates and rubric, and the merge
// of a synthesis into the stored state (used again after a version conflict, so concurrent
// sessions never lose each other's entries).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "config/config.hpp"

namespace atlas::runtime {

// ">>> Student Playbook >>>" ... ">>> End Student Playbook >>>" with an optional
// "Last updated: <ts> | Version: <v>" line; the text is trimmed to `budget` characters (bytes,
// cut on a UTF-8 boundary, "..." appended). "" when the text is empty.
std::string playbook_block(std::string_view role, std::string_view text, int64_t version,
                           std::string_view updated_at, size_t budget);

// "playbook-entry-" + first 12 hex of SHA-256("audience||cue.type||cue.pattern||imperative||handle||constraints").
std::string derive_entry_id(const json::Value& entry);

struct GateResult {
  bool actionability = true;
  bool cue = true;
  bool generality = true;
  std::vector<std::string> failure_reasons;
  double weighted_total = 0.0;
  std::string rubric_json;  // {gates, scores, weighted_total, failure_reasons, weights}
  bool blocking() const { return !actionability || !cue; }
};

// Atlas's gates and rubric for one normalised entry. `handles` = the runtime handles the
// agent has (tool names); with no handles and no prefixes a missing handle is allowed.
GateResult evaluate_entry(const json::Value& entry, const config::LearningConfig& cfg,
                          const std::vector<std::string>& handles);

// Normalises one candidate as Atlas does (aliases, defaults, bare strings) into `out`.
void normalise_entry(const json::Value& candidate, const config::LearningConfig& cfg, json::Value& out,
                     json::Allocator& a);

struct LearningSnapshot {
  std::string student_learning;
  std::string teacher_learning;
  std::string metadata_json = "{}";
};

struct MergeReport {
  int accepted = 0;
  int rejected = 0;
  std::vector<std::string> rejected_reasons;
};

// Applies a synthesis reply (parsed JSON: student_pamphlet, teacher_pamphlet,
// playbook_entries[]) to `base`. Unlike Atlas, a bad candidate rejects only itself, and
// entries other sessions added are kept. Pamphlets are replaced when the reply has them.
LearningSnapshot merge_synthesis(const LearningSnapshot& base, const json::Value& synthesis,
                                 const config::LearningConfig& cfg, const std::vector<std::string>& handles,
                                 std::string_view session_id, MergeReport* report = nullptr);

// Number of entries in a stored metadata object.
size_t playbook_entry_count(std::string_view metadata_json);

}  // namespace atlas::runtime
