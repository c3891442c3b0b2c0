// When the plugin's SQLite connections checkpoint the write-ahead log (copy the pages committed
// there back into the database file and sync both).
//
// SQLite's own rule (wal_autocheckpoint) checkpoints after every commit that leaves 1,000 or more
// frames in the WAL. Under a steady stream of writes from several pooled connections the WAL is
// seldom found fully copied with no reader in it, so it seldom restarts from its beginning; it
// stays above 1,000 frames and nearly every commit ran a checkpoint of its own: two fdatasyncs and
// the new frames read back and copied, ~10 % of the gateway's CPU and 1.4 syncs per episode in the
// gateway bench (docs/storage.md, "Checkpoints"). Here the same threshold starts a checkpoint at
// most once per interval (250 ms) across the pool, so a page written again and again (an index's
// last leaf) is copied once per interval instead of once per commit; a WAL past kRestartFactor
// times the threshold also tries to restart the log, without waiting for readers.
#pragma once

#include <soci/sqlite3/soci-sqlite3.h>

#include <atomic>
#include <cstdint>

namespace atlas_soci {

class WalCheckpoints {
 public:
  static constexpr int kRestartFactor = 4;
  enum class Action { kNone, kPassive, kRestart };

  // `pages`: the WAL size (in frames) from which a commit checkpoints (SQLite's default 1000);
  // `interval_ms`: the least time between two checkpoints started by commits;
  // `busy_timeout_ms`: the connections' busy timeout, restored after a restart attempt.
  WalCheckpoints(int pages, int64_t interval_ms, long busy_timeout_ms)
      : pages_(pages), interval_ms_(interval_ms), busy_timeout_ms_(busy_timeout_ms) {}
  WalCheckpoints(const WalCheckpoints&) = delete;
  WalCheckpoints& operator=(const WalCheckpoints&) = delete;

  // Replaces SQLite's autocheckpoint on `db` with this policy (for the connection's lifetime).
  void install(sqlite_api::sqlite3* db);

  // What a commit that left `frames` frames in the WAL does at `now_ms` (a steady clock). At most
  // one caller per interval gets an action other than kNone.
  Action after_commit(int frames, int64_t now_ms);

 private:
  static int on_commit(void* self, sqlite_api::sqlite3* db, const char* schema, int frames);

  const int pages_;
  const int64_t interval_ms_;
  const long busy_timeout_ms_;
  std::atomic<int64_t> last_ms_{INT64_MIN / 2};  // when the last checkpoint was started
};

}  // namespace atlas_soci
