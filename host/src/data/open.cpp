#include "data/open.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "config/loader.hpp"
#include "plugin/isolation_config.hpp"
#include "plugin/registry.hpp"

namespace atlas::data {

Result<config::Config> load_effective_config(const OpenRequest& request, bool* loaded) {
  config::Config cfg;
  std::optional<std::filesystem::path> path = request.config_path;
  std::error_code ec;
  if (!path && std::filesystem::exists("atlas.toml", ec)) path = "atlas.toml";
  if (path) {
    ATLAS_ASSIGN_OR_RETURN(cfg, config::load_config(*path));
    if (loaded) *loaded = true;
  } else if (loaded) {
    *loaded = false;
  }
  for (const auto& warning : config::apply_env_overrides(cfg)) log::warn("config", warning);
  if (!request.database_url.empty()) {
    cfg.storage.database_url = request.database_url;
    cfg.storage.enabled = true;
  }
  return cfg;
}

Result<OpenedStore> open_store(const OpenRequest& request) {
  OpenedStore out;
  ATLAS_ASSIGN_OR_RETURN(out.config, load_effective_config(request, &out.config_loaded));
  if (!out.config.storage.active()) {
    return failed_precondition(
        "storage is disabled in the configuration ([storage] enabled = false or database_url = \"\"); "
        "set [storage] database_url or pass --database-url URL");
  }
  plugin::Registry registry;
  plugin::RegistryOptions ro;
  for (const auto& d : out.config.plugins.dirs) ro.dirs.emplace_back(d);
  for (const auto& d : request.plugin_dirs) ro.dirs.push_back(d);
  ro.allow_unsafe = out.config.plugins.allow_unsafe;
  if (!out.config.plugins.lock_file.empty()) ro.lock_file = out.config.plugins.lock_file;
  plugin::apply_isolation_config(out.config.plugins, ro);
  ATLAS_RETURN_IF_ERROR(registry.discover(ro));
  if (!registry.find(plugin::Kind::kStorage, out.config.storage.plugin)) {
    std::string why;
    for (const auto& d : registry.diagnostics()) why += "\n  " + d.message;
    return not_found("storage plugin '" + out.config.storage.plugin + "' was not found in the plugin folders" +
                     (why.empty() ? std::string() : ":" + why) +
                     "\n(build it, or add its folder with --plugin-dir / [plugins] dirs)");
  }
  auto handle = registry.create_storage(out.config.storage.plugin,
                                        storage_plugin_config(out.config, !request.read_only));
  if (!handle.is_ok()) return handle.status();
  StoreOptions options = Store::options_from_config(out.config);
  options.migrate_on_open = request.migrate && out.config.storage.apply_schema_on_connect;
  options.recover_on_open = request.recover;
  options.replay_spool = false;  // only `run` and `db replay` replay the spool
  // Interactive commands should not hang for the runtime's long write-retry budget.
  options.retry_budget_ms = std::min(options.retry_budget_ms, 3000);
  if (options.retry_budget_ms <= 0) options.retry_attempts = 1;
  ATLAS_ASSIGN_OR_RETURN(out.store, Store::open(*handle, options));
  return out;
}

}  // namespace atlas::data
