// Registry: finds plugin files, checks that they may be trusted, loads them and creates
// plugin instances. This is the one entry point the rest of the host uses for plugins.
//
// Typical use (runtime):
//
//   plugin::Registry registry;
//   plugin::RegistryOptions opts;
//   opts.dirs = config.plugins.dirs;            // extra folders; defaults are added too
//   ATLAS_RETURN_IF_ERROR(registry.discover(opts));
//   for (const auto& d : registry.diagnostics()) log::warn("plugin", d.message);
//   registry.set_services(my_services);          // before create_*; optional
//   ATLAS_ASSIGN_OR_RETURN(auto adapter, registry.create_adapter("openai", config_json));
//   auto reply = adapter.invoke(call_ctx, request_json);
//
// discover() runs no plugin code in this process: each file is trust-checked here, then
// loaded in a forked probe child (results cached by file identity, see probe_cache.hpp); a
// file that crashes, hangs or exits while loading is refused. A library is loaded into this
// process only when create_*() first needs one of its plugins.
//
// discover() never fails because one plugin file is bad: every refused file becomes a
// Diagnostic (file, what was expected, what was found, and the fix) and the plugins that
// are fine are registered. It returns a non-OK Status only when the request itself is
// unusable (an explicit --lock file that cannot be read, or a folder given explicitly that
// does not exist).
//
// Libraries stay loaded until the process exits (RTLD_NODELETE); handles keep their
// instance alive, so a handle may outlive the Registry.
//
// Thread safety: discover()/set_services() must not run concurrently with anything else.
// After discovery, find()/plugins()/create_*() may be called from several threads.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "plugin/handles.hpp"
#include "plugin/loader.hpp"

namespace atlas::plugin {

// Where a plugin's code runs once a command uses it.
enum class Isolation {
  kAuto,       // in-process for first-party plugins (see is_first_party), a worker process otherwise
  kInProcess,  // loaded into the host process: fastest, but a crash takes the host down
  kProcess,    // `atlas-host plugin-worker` child process per instance (worker_client.hpp)
};
std::string_view isolation_name(Isolation i);  // "auto", "in-process", "process"
// Parses "auto" | "in-process" | "process"; nullopt for anything else.
std::optional<Isolation> parse_isolation(std::string_view text);

struct RegistryOptions {
  // Folders to scan in addition to the defaults (non-recursive).
  std::vector<std::filesystem::path> dirs;
  // Single plugin files to load in addition to the folders (plugins inspect/verify).
  std::vector<std::filesystem::path> files;
  // Adds default_plugin_dirs(): <exe dir>/plugins, <exe dir>/../lib/atlas/plugins/abi1
  // and the folders of ATLAS_PLUGIN_PATH (colon-separated).
  bool use_default_dirs = true;
  // Skip the permission checks (development only).
  bool allow_unsafe = false;
  // A plugins.lock file that applies to every scanned file. Without it, a plugins.lock
  // inside a plugin folder applies to the files of that folder.
  std::optional<std::filesystem::path> lock_file;
  // How long the isolated probe of one file may take; 0 = $ATLAS_PLUGIN_PROBE_TIMEOUT
  // (seconds) or 20 s.
  std::chrono::milliseconds probe_timeout{0};
  // Where probe results are cached (probe_cache.hpp); unset = default_probe_cache_path(),
  // an empty path = no cache.
  std::optional<std::filesystem::path> probe_cache;
  // [plugins] isolation, and per plugin name ([plugins.<name>] isolation), which wins.
  Isolation isolation = Isolation::kAuto;
  std::map<std::string, Isolation, std::less<>> plugin_isolation;
  // The atlas-host executable that runs plugin workers; empty = worker_executable()'s search.
  std::filesystem::path worker_executable;
};

// True for a file inside the host's own plugin folders (next to the executable, the install
// tree's plugin folder, or this build's plugin folder): plugins shipped with atlas-host.
bool is_first_party(const std::filesystem::path& file);

enum class Severity { kInfo, kWarning, kError };
std::string_view severity_name(Severity s);  // "info", "warning", "error"

struct Diagnostic {
  std::filesystem::path path;  // the file (or folder) the message is about
  Severity severity = Severity::kError;
  std::string message;         // complete sentence(s), starts with the path
};

// <exe dir>/plugins, <exe dir>/../lib/atlas/plugins/abi1 (each only if it exists), then the
// entries of ATLAS_PLUGIN_PATH.
std::vector<std::filesystem::path> default_plugin_dirs();

class Library;  // a loaded plugin library (loader.hpp)

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Scans the folders and files of `options`, runs the trust checks, loads every
  // acceptable library and registers its plugins. May be called more than once; files
  // already loaded (same canonical path) are skipped.
  Status discover(const RegistryOptions& options);

  // Registered plugins, in discovery order (folders sorted, files sorted by name).
  const std::vector<PluginInfo>& plugins() const { return plugins_; }
  // Every refusal and warning from discover(), in order.
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }
  // Folders that were scanned (after defaults and dedupe), for display.
  const std::vector<std::filesystem::path>& scanned_dirs() const { return scanned_dirs_; }
  // How many files discover() probed in a child, and how many it took from the probe cache.
  struct ProbeCounts {
    size_t probed = 0;
    size_t cached = 0;
  };
  ProbeCounts probe_counts() const { return probe_counts_; }

  const PluginInfo* find(Kind kind, std::string_view name) const;

  // Services given to plugins created after this call. Default: a plain HostServices.
  void set_services(std::shared_ptr<HostServices> services);
  std::shared_ptr<HostServices> services() const;

  // Validates `config_json` against the plugin's schema. INVALID_ARGUMENT names the
  // plugin, the JSON pointer, the failing keyword, and the fix. NOT_FOUND for an unknown
  // plugin (the message lists the known ones of that kind).
  Status validate_config(Kind kind, std::string_view name, std::string_view config_json) const;

  // Where a plugin's instances run (after the options' rules and first-party detection).
  Isolation isolation_of(Kind kind, std::string_view name) const;

  // Validates the config, then calls the plugin's create() in this process or in a worker
  // process (isolation_of). An empty config_json means "{}".
  Result<AdapterHandle> create_adapter(std::string_view name, std::string_view config_json);
  Result<JudgeHandle> create_judge(std::string_view name, std::string_view config_json);
  Result<ProbeHandle> create_probe(std::string_view name, std::string_view config_json);
  Result<StorageHandle> create_storage(std::string_view name, std::string_view config_json);

 private:
  struct Entry;
  Result<std::shared_ptr<Instance>> create(Kind kind, std::string_view name, std::string_view config_json);
  Result<std::shared_ptr<const LoadedPlugin>> load(Entry& entry);
  Entry* find_entry(Kind kind, std::string_view name) const;
  void add_diagnostic(const std::filesystem::path& path, Severity severity, std::string message);

  Isolation default_isolation_ = Isolation::kAuto;
  std::map<std::string, Isolation, std::less<>> plugin_isolation_;
  std::filesystem::path worker_executable_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<PluginInfo> plugins_;
  std::vector<Diagnostic> diagnostics_;
  std::vector<std::filesystem::path> scanned_dirs_;
  std::vector<std::filesystem::path> loaded_files_;  // canonical paths
  ProbeCounts probe_counts_;
  mutable std::mutex services_mutex_;
  std::shared_ptr<HostServices> services_;
};

}  // namespace atlas::plugin
