// Append-only JSONL spool for storage writes the database did not take. One record per
// line: {"op": "...", "request": {...}, "spooled_at": "ISO"}. Every append is fsync'd
// before it returns, so an acknowledged write survives a crash of the host.
//
// A spool belongs to one database: its file name carries a digest of the database's identity
// (spool_file_for) and its first line names the database ({"spool_for": URL without password,
// "identity": digest}); replay refuses a spool made for another database.
//
// Several processes may share a spool (concurrent `run`s, `db replay`):
//  * appends and the removal of replayed records hold an exclusive flock on "<file>.lock",
//    so a replay never drops a record appended while it ran;
//  * one process at a time replays: it holds an exclusive flock on "<file>.replay.lock" for the
//    whole replay (try_replay_lock); others skip and leave the records to it.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace atlas::data {

struct SpoolRecord {
  std::string op;
  std::string request_json;
};

// The spool file for `database_url` next to `configured` (the [storage] spool_path):
// "<stem>-<16 hex digits of SHA-256 of the identity><ext>". The identity is the absolute
// path of a SQLite file, or the PostgreSQL URL without its password. An empty URL returns
// `configured` unchanged (stores built without a URL, e.g. in tests).
std::filesystem::path spool_file_for(const std::filesystem::path& configured, const std::string& database_url);

// An flock held until destruction.
class FileLock {
 public:
  FileLock() = default;
  explicit FileLock(int fd) : fd_(fd) {}
  FileLock(FileLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  FileLock& operator=(FileLock&& o) noexcept;
  ~FileLock();
  bool held() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

class Spool {
 public:
  // `database_url` (may be empty) is written, without password, into the spool's first line.
  explicit Spool(std::filesystem::path path, std::string database_url = {});
  const std::filesystem::path& path() const { return path_; }

  Status append(const SpoolRecord& record);
  // Every complete record, in order. A torn line (crash mid-write) is ignored. Fails when the
  // spool was written for another database.
  Result<std::vector<SpoolRecord>> read_all() const;
  // Removes the first `count` records (the ones a replay stored), keeping everything appended
  // since, atomically (temp file + fsync + rename, under the append lock).
  Status remove_replayed(size_t count);
  // Appends a record that the database refused for good (kept for a person to look at).
  Status reject(const SpoolRecord& record, const std::string& error);
  size_t count() const;

  // The cross-process replay lock, or an unheld lock when another process is replaying.
  Result<FileLock> try_replay_lock() const;

  std::mutex& mutex() { return mu_; }  // held by replays so this process's appends wait for them

 private:
  Result<FileLock> lock_appends() const;
  Result<std::vector<std::string>> read_lines() const;
  std::string header() const;

  std::filesystem::path path_;
  std::string database_url_;  // without password
  std::string identity_;      // digest of the database identity ("" = unbound)
  mutable std::mutex mu_;
};

}  // namespace atlas::data
