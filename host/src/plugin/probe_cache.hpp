// The probe cache: what an isolated probe learnt about a plugin file (its plugins, or why it
// was refused), keyed by the file's identity, so a command does not fork a probe for every
// file every time it starts. A file whose identity changed (replaced, rebuilt, touched) is
// probed again.
//
// Location: $ATLAS_PLUGIN_CACHE if set ("off" disables the cache), else
// $XDG_CACHE_HOME/atlas-host/plugin-probes.json, else ~/.cache/atlas-host/plugin-probes.json.
// The file is written atomically with mode 0600 and ignored (re-probing everything) when it
// is unreadable, malformed, or writable by someone other than its owner.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include "common/status.hpp"
#include "plugin/isolated_probe.hpp"

namespace atlas::plugin {

// Device, inode, size, modification time and SHA-256 of a file's contents.
struct FileIdentity {
  uint64_t device = 0;
  uint64_t inode = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  std::string sha256;
  bool operator==(const FileIdentity& o) const {
    return device == o.device && inode == o.inode && size == o.size && mtime_ns == o.mtime_ns && sha256 == o.sha256;
  }
  bool operator!=(const FileIdentity& o) const { return !(*this == o); }
};
Result<FileIdentity> identify_file(const std::filesystem::path& file);

// The default cache file (see above); nullopt when caching is off or no folder is known.
std::optional<std::filesystem::path> default_probe_cache_path();

class ProbeCache {
 public:
  // Loads `path` (a missing file is an empty cache); nullopt path = no cache at all.
  explicit ProbeCache(std::optional<std::filesystem::path> path);

  // The cached report for `canonical` when its identity matches.
  std::optional<ProbeReport> find(const std::filesystem::path& canonical, const FileIdentity& id) const;
  void put(const std::filesystem::path& canonical, const FileIdentity& id, const ProbeReport& report);
  // Writes the cache back if anything was added. Failures are ignored: the cache only saves time.
  void save() const;

 private:
  struct Entry {
    FileIdentity id;
    ProbeReport report;
  };
  std::optional<std::filesystem::path> path_;
  std::map<std::string, Entry> entries_;
  bool dirty_ = false;
};

}  // namespace atlas::plugin
