// Trust checks that run BEFORE any code of a plugin file is executed: file-system
// permissions and SHA-256 pins (plugins.lock).
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace atlas::plugin {

// Refuses (PERMISSION_DENIED) a file that someone other than you or root could replace: the
// file and every folder above it up to `/` must be owned by root or by the running user, and
// must not be writable by group or others (as sudo and OpenSSH StrictModes check). One
// exception: a folder owned by root with the sticky bit (like /tmp) may be world-writable,
// since nobody else can rename or delete what you own inside it. The path as given and,
// when symlinks are involved, the resolved path are both checked. `display` is how the file
// is named in messages.
Status check_permissions(const std::filesystem::path& file, const std::filesystem::path& display);

// Lower-case hex SHA-256 of the file's contents (OpenSSL EVP).
Result<std::string> sha256_file(const std::filesystem::path& file);

// A plugins.lock: one pin per line, `<sha256-hex>  <file name>` (the output format of
// `sha256sum`, so `sha256sum *.so > plugins.lock` writes one). Blank lines and lines
// starting with '#' are ignored. Names are file names, not paths.
class LockFile {
 public:
  static constexpr std::string_view kDefaultName = "plugins.lock";

  // Parses the file. INVALID_ARGUMENT names the line that is malformed.
  static Result<LockFile> load(const std::filesystem::path& path);

  // OK when `file` is pinned and its digest matches; PERMISSION_DENIED otherwise, with the
  // pinned and the actual digest and the command that fixes it.
  Status verify(const std::filesystem::path& file, const std::filesystem::path& display) const;

  const std::filesystem::path& path() const { return path_; }
  size_t size() const { return pins_.size(); }

 private:
  struct Pin {
    std::string sha256;
    int line = 0;
  };
  std::filesystem::path path_;
  std::map<std::string, Pin, std::less<>> pins_;
};

// The trust checks of one discovery run, in the order they apply to a plugin file: a
// regular file, permissions (unless allow_unsafe), then the SHA-256 pin of the lock file
// that applies (the global one, else a plugins.lock in the file's folder).
class TrustPolicy {
 public:
  // Reads and checks the global lock file, if any. The error is the lock file's own problem.
  static Result<TrustPolicy> create(const std::optional<std::filesystem::path>& lock_file, bool allow_unsafe);

  // OK when the file may be loaded; otherwise the refusal, naming the file and the fix.
  Status check(const std::filesystem::path& file);

 private:
  const Result<LockFile>* folder_lock(const std::filesystem::path& folder);

  bool allow_unsafe_ = false;
  std::optional<LockFile> global_;
  std::vector<std::pair<std::filesystem::path, Result<LockFile>>> per_folder_;  // canonical folder -> lock
};

}  // namespace atlas::plugin
