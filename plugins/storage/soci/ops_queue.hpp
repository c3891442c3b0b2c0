// The work queue's storage operations (docs/scaling.md): enqueue, claim, heartbeat, release,
// fail, reclaim, status, retry, cancel, and the step of finish_session that marks a task done
// in the same transaction that stores its session. Table and indexes: migration 4.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "db.hpp"

namespace atlas_soci {

std::vector<std::string> work_queue_schema(Backend b);

std::string op_queue_enqueue(Pool& pool, const rapidjson::Value& req);
std::string op_queue_claim(Pool& pool, const rapidjson::Value& req);
std::string op_queue_heartbeat(Pool& pool, const rapidjson::Value& req);
std::string op_queue_release(Pool& pool, const rapidjson::Value& req);
std::string op_queue_fail(Pool& pool, const rapidjson::Value& req);
std::string op_queue_reclaim(Pool& pool, const rapidjson::Value& req);
std::string op_queue_status(Pool& pool, const rapidjson::Value& req);
std::string op_queue_retry(Pool& pool, const rapidjson::Value& req);
std::string op_queue_cancel(Pool& pool, const rapidjson::Value& req);
std::string op_queue_task(Pool& pool, const rapidjson::Value& req);

// Called by finish_session inside its transaction, after the session's rows are written. When
// the session's metadata names a queue task ("atlas_queue": {"task_id", "lease_token"}), settles
// that task under the same transaction:
//   succeeded -> the task is `done`, sessions.queue_task_id links this session (unique);
//   failed    -> a failed attempt: `pending` again (after a back-off) or `dead` past max_attempts;
//   interrupted -> the task is released to `pending` (the attempt does not count).
// All only while the lease is still this session's (same token, state `leased`). When it is
// not (the lease expired and another worker took the task, or it was cancelled), `status`
// becomes `interrupted` and `merged_metadata` gets "atlas_queue.outcome": "lease_lost", so the
// session never counts as the task's. Returns the outcome ("" = not a queue session): done, retry, dead, released,
// lease_lost.
std::string queue_settle_in_finish(Conn& c, long long session_id, std::string& status, std::string& merged_metadata);

}  // namespace atlas_soci
