#include "sqlite_checkpoints.hpp"

#include <chrono>

namespace atlas_soci {

namespace sq = sqlite_api;

void WalCheckpoints::install(sq::sqlite3* db) {
  sq::sqlite3_wal_hook(db, &WalCheckpoints::on_commit, this);
}

WalCheckpoints::Action WalCheckpoints::after_commit(int frames, int64_t now_ms) {
  if (frames < pages_) return Action::kNone;
  int64_t last = last_ms_.load(std::memory_order_relaxed);
  if (now_ms - last < interval_ms_) return Action::kNone;
  if (!last_ms_.compare_exchange_strong(last, now_ms, std::memory_order_relaxed)) return Action::kNone;
  return frames >= pages_ * kRestartFactor ? Action::kRestart : Action::kPassive;
}

int WalCheckpoints::on_commit(void* self, sq::sqlite3* db, const char* schema, int frames) {
  auto* policy = static_cast<WalCheckpoints*>(self);
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
          .count();
  switch (policy->after_commit(frames, now_ms)) {
    case Action::kNone:
      break;
    case Action::kPassive:
      // Copies what no reader still needs; never waits. A failure (another checkpoint running)
      // leaves the frames for the next one, as SQLite's autocheckpoint does.
      (void)sq::sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      break;
    case Action::kRestart:
      // RESTART waits (through the busy handler) until every reader has left the WAL, which a
      // long export could make last the whole busy timeout: tried without waiting instead, it
      // copies all it can and restarts the log only when nobody is in it.
      sq::sqlite3_busy_timeout(db, 0);
      (void)sq::sqlite3_wal_checkpoint_v2(db, schema, SQLITE_CHECKPOINT_RESTART, nullptr, nullptr);
      sq::sqlite3_busy_timeout(db, static_cast<int>(policy->busy_timeout_ms_));
      break;
  }
  return SQLITE_OK;  // the commit itself is done; a checkpoint that did not run is not its error
}

}  // namespace atlas_soci
