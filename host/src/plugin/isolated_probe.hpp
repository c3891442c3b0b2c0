// Crash-isolated probing of plugin files: each file is loaded in a forked child process,
// which reports back through a pipe. A file that crashes, hangs or exits while loading is
// reported, not fatal. Every command discovers plugins this way (Registry::discover);
// plugin code runs in the host process only for the plugins a command uses.
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

// Marks this process as one that runs untrusted plugin code (a probe child, a plugin
// worker): a plugin may end it with exit() at any moment, with its own state and ours in
// flight, which is its failure to report, not a leak of atlas-host's. Sanitizer builds then
// skip the leak check at exit.
void mark_plugin_code_process();

// options.probe_timeout, else $ATLAS_PLUGIN_PROBE_TIMEOUT (seconds), else 20 s.
std::chrono::milliseconds effective_probe_timeout(const RegistryOptions& options);

// Trust-checks `file` (permissions and lock file of `options`; its folders are ignored),
// then probe_library(). Used by `plugins verify` and `plugins inspect <file>`: never cached.
ProbeReport probe_isolated(const std::filesystem::path& file, const RegistryOptions& options,
                           std::chrono::milliseconds timeout = std::chrono::seconds(20));

// Inspects and loads `file` in a forked child that reports the plugins it declares (or why
// it is refused). The child is killed after `timeout`. Runs no trust checks: the caller
// has done them.
ProbeReport probe_library(const std::filesystem::path& file, std::chrono::milliseconds timeout);

}  // namespace atlas::plugin
