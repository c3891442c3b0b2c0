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

}  // namespace atlas::plugin
