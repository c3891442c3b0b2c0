// Trust checks that run BEFORE any code of a plugin file is executed: file-system
// permissions and SHA-256 pins (plugins.lock).
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace atlas::plugin {

// Refuses (PERMISSION_DENIED) a file, or the folder holding it, that group or others may
// write to: anyone with that right could swap the code atlas-host is about to run. Checks
// the path as given and, when it is a symlink, the resolved target and its folder too.
// `display` is how the file is named in messages.
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

}  // namespace atlas::plugin
