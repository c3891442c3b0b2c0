// Crash-isolated probing of plugin files (`atlas-host plugins verify` / `inspect <file>`):
// each file is trust-checked and loaded in a forked child process, which reports back
// through a pipe. A file that crashes or hangs while loading is reported, not fatal.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "plugin/registry.hpp"

namespace atlas::plugin {

struct ProbeReport {
  std::filesystem::path file;
  std::vector<PluginInfo> plugins;
  std::vector<Diagnostic> diagnostics;  // includes the crash, if any
  bool crashed = false;                 // the child died or timed out
  int signal = 0;                       // the signal that killed it, 0 if none
  // OK = no crash, no error diagnostic, at least one plugin.
  bool ok() const;
};

// Runs the registry pipeline for `file` alone in a child. `options` supplies
// allow_unsafe and lock_file; its folders and defaults are ignored. The child is killed
// after `timeout`.
ProbeReport probe_isolated(const std::filesystem::path& file, const RegistryOptions& options,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

// The crash-proof equivalent of Registry::discover for listing: every file of
// collect_plugin_files(options) is probed in its own child; plugins are merged with the
// registry's rule (a kind+name already provided by an earlier file is refused).
struct ScanResult {
  std::vector<ProbeReport> reports;       // one per file, in order
  std::vector<PluginInfo> plugins;        // usable plugins
  std::vector<Diagnostic> diagnostics;    // folder problems, refusals, warnings, duplicates
  std::vector<std::filesystem::path> dirs;
  Status status;                          // non-OK when an explicit folder is unusable
};
ScanResult scan_isolated(const RegistryOptions& options,
                         std::chrono::milliseconds timeout_per_file = std::chrono::seconds(20));

}  // namespace atlas::plugin
