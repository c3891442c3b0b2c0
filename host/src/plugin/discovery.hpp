// Discovery: which files in which folders are plugin candidates. Pure file-system work;
// nothing is opened or loaded here.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "plugin/registry.hpp"

namespace atlas::plugin {

// ".so" on Linux (".dll"/".dylib" elsewhere); the only suffix a plugin file may have.
std::string_view plugin_file_suffix();

// Folder of the running executable (/proc/self/exe); empty when it cannot be determined.
std::filesystem::path executable_dir();

// Folders named by ATLAS_PLUGIN_PATH (colon-separated; empty entries ignored).
std::vector<std::filesystem::path> env_plugin_dirs();

// Regular files with the plugin suffix directly inside `dir` (no recursion), sorted by file
// name. Symlinks are followed (the entry must resolve to a regular file); dangling links
// are skipped. NOT_FOUND when `dir` does not exist, FAILED_PRECONDITION when it is not a
// folder or cannot be read.
Result<std::vector<std::filesystem::path>> list_plugin_files(const std::filesystem::path& dir);

// Canonical form of `p` (symlinks resolved); `p` made absolute when that fails.
std::filesystem::path canonical_or_absolute(const std::filesystem::path& p);

// The plugin files `options` names, in processing order: the files of each folder
// (explicit folders first, then the defaults; folders deduplicated by canonical path),
// then options.files. Files are deduplicated by canonical path (a symlink to a file already
// listed is dropped).
struct FileSet {
  std::vector<std::filesystem::path> files;
  std::vector<std::filesystem::path> dirs;  // folders actually scanned
  std::vector<Diagnostic> problems;         // unreadable folders (errors when explicit, else warnings)
  Status status;                            // first problem with an explicit folder
};
FileSet collect_plugin_files(const RegistryOptions& options);

}  // namespace atlas::plugin
