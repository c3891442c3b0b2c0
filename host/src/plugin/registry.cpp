#include "plugin/registry.hpp"

#include <algorithm>
#include <system_error>

#include "common/build_info.hpp"
#include "common/json_schema.hpp"
#include "plugin/discovery.hpp"
#include "plugin/instance.hpp"
#include "plugin/isolated_probe.hpp"
#include "plugin/probe_cache.hpp"
#include "plugin/trust.hpp"
#include "plugin/worker_client.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

struct Registry::Entry {
  PluginInfo info;
  std::optional<json::Schema> schema;
  FileIdentity identity;  // of the file when it was probed
  std::mutex load_mutex;
  std::shared_ptr<const LoadedPlugin> loaded;  // set by the first create
};

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "error";
}

std::string_view isolation_name(Isolation i) {
  switch (i) {
    case Isolation::kAuto: return "auto";
    case Isolation::kInProcess: return "in-process";
    case Isolation::kProcess: return "process";
  }
  return "auto";
}

std::optional<Isolation> parse_isolation(std::string_view text) {
  for (Isolation i : {Isolation::kAuto, Isolation::kInProcess, Isolation::kProcess}) {
    if (text == isolation_name(i)) return i;
  }
  return std::nullopt;
}

bool is_first_party(const fs::path& file) {
  std::vector<fs::path> own;
  fs::path exe = executable_dir();
  if (!exe.empty()) {
    own.push_back(exe / "plugins");
    own.push_back(exe / ".." / build_info::kPluginInstallDir);
    own.push_back(exe / ".." / "lib" / "atlas" / "plugins" / "abi1");
  }
  own.push_back(fs::path(build_info::kInstallPrefix) / build_info::kPluginInstallDir);
  own.push_back(build_info::kBuildPluginDir);
  fs::path folder = canonical_or_absolute(fs::absolute(file).parent_path());
  for (const auto& d : own) {
    if (canonical_or_absolute(d) == folder) return true;
  }
  return false;
}

Registry::Registry() : services_(std::make_shared<HostServices>()) {}
Registry::~Registry() = default;

void Registry::add_diagnostic(const fs::path& path, Severity severity, std::string message) {
  diagnostics_.push_back(Diagnostic{path, severity, std::move(message)});
}


Status Registry::discover(const RegistryOptions& options) {
  Status result;
  auto fail = [&](Status st) {
    if (result.is_ok()) result = std::move(st);
  };
  auto policy = TrustPolicy::create(options.lock_file, options.allow_unsafe);
  if (!policy.is_ok()) {
    add_diagnostic(*options.lock_file, Severity::kError, policy.status().message());
    return policy.status();
  }
  default_isolation_ = options.isolation;
  plugin_isolation_ = options.plugin_isolation;
  worker_executable_ = options.worker_executable;
  ProbeCache cache(options.probe_cache ? (options.probe_cache->empty() ? std::nullopt : options.probe_cache)
                                       : default_probe_cache_path());
  const auto timeout = effective_probe_timeout(options);

  FileSet set = collect_plugin_files(options);
  for (auto& d : set.problems) diagnostics_.push_back(std::move(d));
  for (auto& d : set.dirs) scanned_dirs_.push_back(std::move(d));
  if (!set.status.is_ok()) fail(set.status);

  for (const auto& file : set.files) {
    fs::path canonical = canonical_or_absolute(file);
    if (std::find(loaded_files_.begin(), loaded_files_.end(), canonical) != loaded_files_.end()) continue;
    loaded_files_.push_back(canonical);
    if (Status st = policy->check(file); !st.is_ok()) {
      add_diagnostic(file, Severity::kError, st.message());
      continue;
    }
    auto identity = identify_file(file);
    if (!identity.is_ok()) {
      add_diagnostic(file, Severity::kError, file.string() + ": refused: " + identity.status().message());
      continue;
    }
    std::optional<ProbeReport> report = cache.find(canonical, *identity);
    if (report) {
      ++probe_counts_.cached;
    } else {
      report = probe_library(file, timeout);
      ++probe_counts_.probed;
      cache.put(canonical, *identity, *report);
    }
    for (const auto& d : report->diagnostics) diagnostics_.push_back(d);
    for (auto& info : report->plugins) {
      if (const Entry* other = find_entry(info.kind, info.name)) {
        add_diagnostic(file, Severity::kError,
                       file.string() + ": plugin '" + info.name + "' refused: " + std::string(kind_name(info.kind)) +
                           " '" + info.name + "' is already provided by " + other->info.file.string() +
                           " (names are unique per kind); remove one of the two files from the plugin folders");
        continue;
      }
      // The probe child compiled this schema already; it cannot fail here unless the cache lies.
      auto schema = json::Schema::compile(info.config_schema.empty() ? kNoConfigSchema : info.config_schema,
                                          "config_schema_json");
      if (!schema.is_ok()) {
        add_diagnostic(file, Severity::kError, file.string() + ": plugin '" + info.name + "' refused: " +
                                                   schema.status().message());
        continue;
      }
      auto entry = std::make_unique<Entry>();
      entry->info = info;
      entry->schema = std::move(schema).value();
      entry->identity = *identity;
      plugins_.push_back(info);
      entries_.push_back(std::move(entry));
    }
  }
  cache.save();
  return result;
}

Registry::Entry* Registry::find_entry(Kind kind, std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->info.kind == kind && e->info.name == name) return e.get();
  }
  return nullptr;
}

const PluginInfo* Registry::find(Kind kind, std::string_view name) const {
  const Entry* e = find_entry(kind, name);
  return e ? &e->info : nullptr;
}

void Registry::set_services(std::shared_ptr<HostServices> services) {
  std::lock_guard lock(services_mutex_);
  services_ = services ? std::move(services) : std::make_shared<HostServices>();
}

std::shared_ptr<HostServices> Registry::services() const {
  std::lock_guard lock(services_mutex_);
  return services_;
}

namespace {
Status unknown_plugin(const std::vector<PluginInfo>& plugins, Kind kind, std::string_view name) {
  std::string known;
  for (const auto& p : plugins) {
    if (p.kind != kind) continue;
    if (!known.empty()) known += ", ";
    known += p.name;
  }
  return not_found("no " + std::string(kind_name(kind)) + " plugin named '" + std::string(name) +
                   "' was found (available: " + (known.empty() ? "none" : known) +
                   "); check the name, or add its folder with --plugin-dir / [plugins] dirs and run "
                   "`atlas-host plugins list` to see what was refused");
}
}  // namespace

Status Registry::validate_config(Kind kind, std::string_view name, std::string_view config_json) const {
  const Entry* e = find_entry(kind, name);
  if (!e) return unknown_plugin(plugins_, kind, name);
  std::string what = "config of " + std::string(kind_name(kind)) + " '" + std::string(name) + "'";
  Status st = e->schema->validate_text(config_json.empty() ? std::string_view("{}") : config_json, what);
  if (st.is_ok()) return st;
  return invalid_argument(st.message() + "; fix [plugins." + std::string(name) +
                          "] (or the instance's config table) in your config file; the plugin's schema is shown by "
                          "`atlas-host plugins inspect " + std::string(name) + "`");
}

Result<std::shared_ptr<const LoadedPlugin>> Registry::load(Entry& entry) {
  std::lock_guard lock(entry.load_mutex);
  if (entry.loaded) return entry.loaded;
  const fs::path& file = entry.info.file;
  // What runs here must be what the probe ran: a file swapped since then is refused.
  auto now = identify_file(file);
  if (!now.is_ok()) return failed_precondition(file.string() + ": cannot be loaded: " + now.status().message());
  if (*now != entry.identity) {
    return failed_precondition(file.string() + ": refused: the file changed after it was checked at start-up; run the "
                               "command again (and `atlas-host plugins verify " + file.string() + "` if you did not "
                               "replace it yourself)");
  }
  ATLAS_ASSIGN_OR_RETURN(LoadOutcome outcome, load_library(file, file));
  for (auto& p : outcome.plugins) {
    if (p->info.kind == entry.info.kind && p->info.name == entry.info.name) {
      entry.loaded = p;
      return entry.loaded;
    }
  }
  return failed_precondition(file.string() + ": " + std::string(kind_name(entry.info.kind)) + " '" + entry.info.name +
                             "' is no longer declared by the library it was found in; run `atlas-host plugins verify " +
                             file.string() + "`");
}

Isolation Registry::isolation_of(Kind kind, std::string_view name) const {
  Isolation i = default_isolation_;
  if (auto it = plugin_isolation_.find(name); it != plugin_isolation_.end()) i = it->second;
  if (i != Isolation::kAuto) return i;
  const Entry* e = find_entry(kind, name);
  return e && is_first_party(e->info.file) ? Isolation::kInProcess : Isolation::kProcess;
}

Result<std::shared_ptr<Instance>> Registry::create(Kind kind, std::string_view name, std::string_view config_json) {
  Entry* e = find_entry(kind, name);
  if (!e) return unknown_plugin(plugins_, kind, name);
  ATLAS_RETURN_IF_ERROR(validate_config(kind, name, config_json));
  std::string_view config = config_json.empty() ? std::string_view("{}") : config_json;
  if (isolation_of(kind, name) == Isolation::kProcess) {
    WorkerSpec spec;
    spec.info = e->info;
    spec.config_json = std::string(config);
    spec.sha256 = e->identity.sha256;
    ATLAS_ASSIGN_OR_RETURN(spec.executable, worker_executable(worker_executable_));
    spec.services = services();
    ATLAS_ASSIGN_OR_RETURN(auto worker, WorkerInstance::create(std::move(spec)));
    return std::shared_ptr<Instance>(std::move(worker));
  }
  ATLAS_ASSIGN_OR_RETURN(auto loaded, load(*e));
  ATLAS_ASSIGN_OR_RETURN(auto inst, InProcessInstance::create(std::move(loaded), services(), config));
  return std::shared_ptr<Instance>(std::move(inst));
}

Result<AdapterHandle> Registry::create_adapter(std::string_view name, std::string_view config_json) {
  ATLAS_ASSIGN_OR_RETURN(auto inst, create(Kind::kAdapter, name, config_json));
  return AdapterHandle(std::move(inst));
}
Result<JudgeHandle> Registry::create_judge(std::string_view name, std::string_view config_json) {
  ATLAS_ASSIGN_OR_RETURN(auto inst, create(Kind::kJudge, name, config_json));
  return JudgeHandle(std::move(inst));
}
Result<ProbeHandle> Registry::create_probe(std::string_view name, std::string_view config_json) {
  ATLAS_ASSIGN_OR_RETURN(auto inst, create(Kind::kProbe, name, config_json));
  return ProbeHandle(std::move(inst));
}
Result<StorageHandle> Registry::create_storage(std::string_view name, std::string_view config_json) {
  ATLAS_ASSIGN_OR_RETURN(auto inst, create(Kind::kStorage, name, config_json));
  return StorageHandle(std::move(inst));
}

}  // namespace atlas::plugin
