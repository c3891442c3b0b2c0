// Playbook versions (migration 6): every learning_put that changes a key's playbook also keeps
// that version, with who wrote it and why, so `atlas-host playbook history|diff` can show
// them. Ops: learning_versions, learning_keys (docs/storage.md, "Playbook versions").
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "db.hpp"

namespace atlas_soci {

// Migration 6: the learning_versions table, filled with each key's current version.
std::vector<std::string> playbook_versions_schema(Backend b);

// Inside learning_put's transaction, after it wrote `version` of `key`: keeps that version with
// the request's "actor" (default "learning"), "action" (default "synthesis"), "note" and the
// id of the session whose synthesis it was.
void record_learning_version(Conn& c, const std::string& key, long long version, const rapidjson::Value& req,
                             const std::string& now);

// {"learning_key", "version"?: N, "from_version"?: N} -> {"learning_key", "versions": [{version,
// actor, action, note, session_id, created_at, student_learning, teacher_learning, metadata}]},
// oldest first.
std::string op_learning_versions(Pool& pool, const rapidjson::Value& req);

// {} -> {"keys": [{learning_key, version, updated_at, first_task}]}: every key with a playbook,
// with the task of its oldest session (what `report` labels it by).
std::string op_learning_keys(Pool& pool, const rapidjson::Value& req);

}  // namespace atlas_soci
