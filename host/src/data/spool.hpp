// Append-only JSONL spool for storage writes the database did not take. One record per
// line: {"op": "...", "request": {...}, "spooled_at": "ISO"}. Every append is fsync'd
// before it returns, so an acknowledged write survives a crash of the host.
#pragma once

#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.hpp"

namespace atlas::data {

struct SpoolRecord {
  std::string op;
  std::string request_json;
};

class Spool {
 public:
  explicit Spool(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const { return path_; }

  Status append(const SpoolRecord& record);
  // Every complete record, in order. A torn last line (crash mid-write) is ignored.
  Result<std::vector<SpoolRecord>> read_all() const;
  // Atomically replaces the spool with `remaining` (temp file + fsync + rename).
  Status rewrite(const std::vector<SpoolRecord>& remaining);
  // Appends a record that the database refused for good (kept for a person to look at).
  Status reject(const SpoolRecord& record, const std::string& error);
  size_t count() const;

  std::mutex& mutex() { return mu_; }  // held by replays so appends wait for them

 private:
  std::filesystem::path path_;
  mutable std::mutex mu_;
};

}  // namespace atlas::data
