// Store: the host's typed facade over a storage plugin (docs/plugin-contracts.md, "storage").
//
// What it adds on top of the raw `execute(op, json)` call:
//  * batched event writes: append_event() only queues; a background thread sends one
//    `append_events` call per session and batch (size or age bound), flush() forces it;
//  * no data loss: retryable failures (UNAVAILABLE, ...) are retried with backoff; past the
//    bound the record goes to an append-only, fsync'd JSONL spool file and is replayed, in
//    order and exactly once (every record carries an idempotency key the plugin dedupes on),
//    as soon as the database answers again;
//  * sessions are addressed by a client-generated `session_key` as well as the database id,
//    so a session begun while the database was down still gets all its rows after replay.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "config/config.hpp"
#include "data/spool.hpp"
#include "plugin/handles.hpp"
#include "plugin/registry.hpp"

namespace atlas::data {

// What the Store talks to. Normally a storage plugin instance (handle_backend()); tests may
// wrap a plugin library directly.
class StorageBackend {
 public:
  virtual ~StorageBackend() = default;
  virtual Result<std::string> execute(std::string_view op, std::string_view request_json) = 0;
};

// Adapts a plugin handle (from plugin::Registry::create_storage) to StorageBackend.
std::shared_ptr<StorageBackend> handle_backend(plugin::StorageHandle handle);

struct StoreOptions {
  // Append-only JSONL file for records the database did not take. Created on first use.
  // With a database_url the actual file is spool_file_for(spool_path, database_url): one spool
  // per database, so a write spooled for one database is never replayed into another.
  std::filesystem::path spool_path = ".atlas/spool.jsonl";
  std::string database_url;
  // Replay the spool automatically (on open, in the background while the database is back,
  // and once more when the store closes). Only commands that write sessions (`run`) do;
  // read-only commands leave the spool alone and `db replay` calls replay_spool().
  bool replay_spool = true;
  // Background batching of trajectory events.
  size_t batch_max_events = 256;
  int batch_max_age_ms = 200;
  // The thread that sends those batches runs at the lowest priority (SCHED_IDLE; nice +10 where
  // refused): `serve` sets it, so capture writes never take a CPU from a call being relayed
  // (docs/serve.md, "Performance"). A flush() still runs on its caller's thread.
  bool idle_writer = false;
  // Retry bound for one write before it is spooled: attempts with exponential backoff
  // starting at retry_backoff_ms (doubled each time, capped at retry_max_backoff_ms).
  int retry_attempts = 4;
  int retry_backoff_ms = 50;
  int retry_max_backoff_ms = 2000;
  // Also stop retrying once this much time went by (0 = attempts only).
  int retry_budget_ms = 0;
  // Apply pending migrations when the store opens (Atlas apply_schema_on_connect).
  bool migrate_on_open = true;
  // Mark sessions left `running` by dead processes as `interrupted` when the store opens.
  bool recover_on_open = true;
};

// One row of the learning history (input of the probe's learning_history, docs/plugin-contracts.md), oldest first.
struct LearningRecord {
  std::string reward_json;  // the session's reward object, "null" if none
  std::string student_learning;
  std::string teacher_learning;
  std::string created_at;
  std::string completed_at;
};
struct LearningHistory {
  std::vector<LearningRecord> records;  // the window: the last `limit` rewarded sessions
  // Over every rewarded session of the key (the window's size when the plugin does not say).
  int64_t total_count = 0;
  std::optional<double> overall_average_score;
};

struct LearningState {
  bool found = false;
  std::string student_learning;
  std::string teacher_learning;
  std::string metadata_json = "{}";
  int64_t version = 0;  // 0 = no row yet
  std::string updated_at;
};

struct SpoolStatus {
  std::filesystem::path path;
  size_t pending_records = 0;
};

class Store {
 public:
  // Opens the store on a backend: migrates (if configured), replays a leftover spool and
  // recovers interrupted sessions. Fails when the backend cannot be reached at all and
  // nothing can be spooled.
  static Result<std::shared_ptr<Store>> open(std::shared_ptr<StorageBackend> backend, StoreOptions options);
  static Result<std::shared_ptr<Store>> open(plugin::StorageHandle handle, StoreOptions options);

  ~Store();  // flushes queued events (bounded by the retry policy) and stops the writer thread
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Creates a `running` session. Returns its id (decimal string). When the database is down
  // past the retry bound the begin is spooled and a provisional id "pending:<key>" is
  // returned; every other method accepts it and the rows land once the spool is replayed.
  Result<std::string> begin_session(std::string_view task, std::string_view metadata_json);

  // Queues one trajectory event (a JSON object) for the session. Never blocks on the database.
  void append_event(const std::string& session_id, std::string_view event_json);

  // Sends every queued event of the session (or of all sessions) now.
  Status flush(const std::string& session_id);
  Status flush_all();

  // Flushes the session's events, then writes the final rows in one transaction. The request
  // is the finish_session shape of docs/plugin-contracts.md ("session_id" required). Returns
  // OK also when the finish was spooled (it will be replayed).
  Status finish_session(std::string_view finish_json);
  // The same for a request already built as a document (the runtime's): it is not parsed again,
  // and serialised once.
  Status finish_session(json::Document finish);

  Result<LearningHistory> learning_history(std::string_view learning_key, int limit);
  Result<LearningState> learning_get(std::string_view learning_key);
  // Optimistic write: ABORTED when the stored version is not `expected_version` (0 = the row
  // must not exist yet). Returns the new version.
  // `session`, when given, also stores that session's own learning text (its student_learning /
  // teacher_learning columns) in the same transaction; a session still only in the spool is
  // matched by its key once it has been replayed, else left as it is.
  struct SessionLearning {
    std::string session_id;  // as returned by begin_session (a provisional id is fine)
    std::string student_learning;
    std::string teacher_learning;
  };
  Result<int64_t> learning_put(std::string_view learning_key, std::string_view student_learning,
                               std::string_view teacher_learning, std::string_view metadata_json,
                               int64_t expected_version, const SessionLearning* session = nullptr);
  // reward_stats objects (JSON text) of the newest `window` sessions with this key, newest
  // first, never including `exclude_session_id`.
  Result<std::vector<std::string>> reward_baseline(std::string_view learning_key, int window,
                                                   std::string_view exclude_session_id);
  // Marks `running` sessions whose owning process is gone as `interrupted`; returns their ids.
  Result<std::vector<std::string>> recover_interrupted();

  // Replays the spool now (also done automatically by the writer thread). Returns the number
  // of records the database accepted or set aside as refused; records that still fail stay
  // in the spool. Returns 0 without touching anything while another process replays it.
  Result<size_t> replay_spool();
  SpoolStatus spool_status() const;

  // Any other storage operation (review, query, read_session, status, migrate, ...).
  Result<std::string> execute(std::string_view op, std::string_view request_json);

  class Impl;

 private:
  explicit Store(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Reads the spool file without a database (for `db status` when the database is down).
SpoolStatus read_spool_status(const std::filesystem::path& spool_path);

}  // namespace atlas::data
