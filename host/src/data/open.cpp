#include "data/open.hpp"

#include "common/log.hpp"
#include "common/secrets.hpp"
#include "config/loader.hpp"
#include "plugin/registry.hpp"
#include "plugin/registry_options.hpp"

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
  config::apply_env_overrides(cfg);  // warns through log::warn
  return cfg;
}

Result<std::shared_ptr<Store>> open_storage(plugin::Registry& registry, const StorageOptions& options) {
  if (!registry.find(plugin::Kind::kStorage, options.plugin)) {
    std::string why;
    for (const auto& d : registry.diagnostics()) why += "\n  " + d.message;
    return not_found("storage plugin '" + options.plugin + "' was not found in the plugin folders" +
                     (why.empty() ? std::string() : ":" + why) +
                     "\n(build it, or add its folder with --plugin-dir / [plugins] dirs)");
  }
  auto handle = registry.create_storage(options.plugin, options.plugin_config_json);
  if (!handle) return handle.status().with_context("[storage] plugin \"" + options.plugin + "\"");
  auto store = Store::open(*handle, options.store);
  if (!store) return store.status().with_context("[storage] " + secrets::redact(options.database_url));
  return store;
}

Result<OpenedStore> open_store(const OpenRequest& request) {
  OpenedStore out;
  ATLAS_ASSIGN_OR_RETURN(out.config, load_effective_config(request, &out.config_loaded));
  ATLAS_ASSIGN_OR_RETURN(out.storage, storage_options(out.config, StorageCli{request.database_url, true, request.read_only}));
  out.storage.store.migrate_on_open = request.migrate && out.storage.store.migrate_on_open;
  out.storage.store.recover_on_open = request.recover;
  plugin::Registry registry;
  ATLAS_RETURN_IF_ERROR(registry.discover(plugin::registry_options(out.config, request.plugin_dirs)));
  ATLAS_ASSIGN_OR_RETURN(out.store, open_storage(registry, out.storage));
  return out;
}

}  // namespace atlas::data
