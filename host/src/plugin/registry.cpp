#include "plugin/registry.hpp"

#include <algorithm>
#include <system_error>

#include "plugin/discovery.hpp"
#include "plugin/instance.hpp"
#include "plugin/trust.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

struct Registry::Entry {
  std::shared_ptr<const LoadedPlugin> plugin;
};

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "error";
}

Registry::Registry() : services_(std::make_shared<HostServices>()) {}
Registry::~Registry() = default;

void Registry::add_diagnostic(const fs::path& path, Severity severity, std::string message) {
  diagnostics_.push_back(Diagnostic{path, severity, std::move(message)});
}

namespace {

// Per-run state of discover(): lock files and which folders had one.
struct LockSet {
  std::optional<LockFile> global;
  std::vector<std::pair<fs::path, Result<LockFile>>> per_folder;  // canonical folder -> lock (or its error)

  const Result<LockFile>* for_folder(const fs::path& folder) {
    fs::path key = canonical_or_absolute(folder);
    for (auto& [dir, lock] : per_folder) {
      if (dir == key) return &lock;
    }
    fs::path candidate = key / std::string(LockFile::kDefaultName);
    std::error_code ec;
    if (!fs::exists(candidate, ec)) return nullptr;
    per_folder.emplace_back(key, LockFile::load(candidate));
    return &per_folder.back().second;
  }
};

}  // namespace

Status Registry::discover(const RegistryOptions& options) {
  Status result;
  auto fail = [&](Status st) {
    if (result.is_ok()) result = std::move(st);
  };
  LockSet locks;
  if (options.lock_file) {
    auto lock = LockFile::load(*options.lock_file);
    if (!lock.is_ok()) {
      add_diagnostic(*options.lock_file, Severity::kError, lock.status().message());
      return lock.status();
    }
    if (!options.allow_unsafe) {
      Status st = check_permissions(*options.lock_file, *options.lock_file);
      if (!st.is_ok()) {
        add_diagnostic(*options.lock_file, Severity::kError, st.message());
        return st;
      }
    }
    locks.global = std::move(lock).value();
  }

  FileSet set = collect_plugin_files(options);
  for (auto& d : set.problems) diagnostics_.push_back(std::move(d));
  for (auto& d : set.dirs) scanned_dirs_.push_back(std::move(d));
  if (!set.status.is_ok()) fail(set.status);

  for (const auto& file : set.files) {
    fs::path canonical = canonical_or_absolute(file);
    if (std::find(loaded_files_.begin(), loaded_files_.end(), canonical) != loaded_files_.end()) continue;
    loaded_files_.push_back(canonical);
    auto stage = [&](Stage s) {
      if (options.on_stage) options.on_stage(file, s);
    };
    auto refuse = [&](const Status& st) { add_diagnostic(file, Severity::kError, st.message()); };

    stage(Stage::kTrust);
    std::error_code ec;
    if (!fs::is_regular_file(file, ec)) {
      refuse(not_found(file.string() + ": refused: no such plugin file, expected a " +
                       std::string(plugin_file_suffix()) + " file; check the path"));
      continue;
    }
    if (!options.allow_unsafe) {
      if (Status st = check_permissions(file, file); !st.is_ok()) {
        refuse(st);
        continue;
      }
    }
    const LockFile* lock = locks.global ? &*locks.global : nullptr;
    if (!lock) {
      if (const Result<LockFile>* folder_lock = locks.for_folder(fs::absolute(file).parent_path())) {
        if (!folder_lock->is_ok()) {
          refuse(Status(folder_lock->status().code(),
                        file.string() + ": refused: its folder's plugins.lock is unusable: " +
                            folder_lock->status().message()));
          continue;
        }
        lock = &folder_lock->value();
      }
    }
    if (lock) {
      if (Status st = lock->verify(file, file); !st.is_ok()) {
        refuse(st);
        continue;
      }
    }
    stage(Stage::kInspect);
    if (Status st = inspect_exports(file, file); !st.is_ok()) {
      refuse(st);
      continue;
    }
    auto loaded = load_library(file, file, stage);
    if (!loaded.is_ok()) {
      refuse(loaded.status());
      continue;
    }
    for (const auto& r : loaded->refusals) add_diagnostic(file, Severity::kError, r);
    for (const auto& w : loaded->warnings) add_diagnostic(file, Severity::kWarning, w);
    for (auto& p : loaded->plugins) {
      if (const Entry* other = find_entry(p->info.kind, p->info.name)) {
        add_diagnostic(file, Severity::kError,
                       file.string() + ": plugin '" + p->info.name + "' refused: " +
                           std::string(kind_name(p->info.kind)) + " '" + p->info.name + "' is already provided by " +
                           other->plugin->info.file.string() +
                           " (names are unique per kind); remove one of the two files from the plugin folders");
        continue;
      }
      plugins_.push_back(p->info);
      entries_.push_back(std::make_unique<Entry>(Entry{p}));
    }
  }
  return result;
}

const Registry::Entry* Registry::find_entry(Kind kind, std::string_view name) const {
  for (const auto& e : entries_) {
    if (e->plugin->info.kind == kind && e->plugin->info.name == name) return e.get();
  }
  return nullptr;
}

const PluginInfo* Registry::find(Kind kind, std::string_view name) const {
  const Entry* e = find_entry(kind, name);
  return e ? &e->plugin->info : nullptr;
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
  Status st = e->plugin->schema->validate_text(config_json.empty() ? std::string_view("{}") : config_json, what);
  if (st.is_ok()) return st;
  return invalid_argument(st.message() + "; fix [plugins." + std::string(name) +
                          "] (or the instance's config table) in your config file; the plugin's schema is shown by "
                          "`atlas-host plugins inspect " + std::string(name) + "`");
}

Result<std::shared_ptr<Instance>> Registry::create(Kind kind, std::string_view name, std::string_view config_json) {
  const Entry* e = find_entry(kind, name);
  if (!e) return unknown_plugin(plugins_, kind, name);
  ATLAS_RETURN_IF_ERROR(validate_config(kind, name, config_json));
  return Instance::create(e->plugin, services(), config_json.empty() ? std::string_view("{}") : config_json);
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
