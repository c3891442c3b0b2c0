#include "data/storage_options.hpp"

#include <algorithm>

#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::data {
namespace {

// The [storage] keys the storage plugin also receives; only [storage] may set them.
constexpr const char* kStorageOwnedKeys[] = {"database_url", "min_connections", "max_connections",
                                             "statement_timeout_seconds", "apply_schema_on_connect"};

Status check_plugin_table(const config::Config& config) {
  const std::string& plugin = config.storage.plugin;
  auto it = config.plugins.configs.find(plugin);
  if (it == config.plugins.configs.end()) return Status::ok();
  auto table = json::parse(it->second, "[plugins." + plugin + "]");
  if (!table || !table->IsObject()) return Status::ok();
  for (const char* key : kStorageOwnedKeys) {
    if (!json::find(*table, key)) continue;
    std::string where = config::locate_plugin_config(config, "", plugin, std::string("/") + key);
    return invalid_argument((where.empty() ? std::string() : where + ": ") + "[plugins." + plugin + "] sets " + key +
                            ", which is a [storage] setting; move it to [storage] (every command opens the "
                            "database [storage] names, with --database-url on top). [plugins." +
                            plugin + "] may only add keys of the plugin's own, such as busy_timeout_seconds.");
  }
  return Status::ok();
}

}  // namespace

Result<StorageOptions> storage_options(const config::Config& config, const StorageCli& cli) {
  const config::StorageConfig& s = config.storage;
  StorageOptions out;
  out.plugin = s.plugin;
  out.database_url = cli.database_url.empty() ? s.database_url : cli.database_url;
  if (cli.database_url.empty() && !s.active()) {
    return failed_precondition(
        "storage is disabled in the configuration ([storage] enabled = false or database_url = \"\"); "
        "set [storage] database_url or pass --database-url URL");
  }
  ATLAS_RETURN_IF_ERROR(check_plugin_table(config));

  json::Document instance(rapidjson::kObjectType);
  auto& a = instance.GetAllocator();
  json::set(instance, "database_url", out.database_url, a);
  json::set(instance, "create_if_missing", !cli.read_only, a);
  json::set(instance, "min_connections", s.min_connections, a);
  json::set(instance, "max_connections", s.max_connections, a);
  json::set(instance, "statement_timeout_seconds", s.statement_timeout_seconds, a);
  json::set(instance, "apply_schema_on_connect", s.apply_schema_on_connect, a);
  out.plugin_config_json = config::merged_plugin_config(config, s.plugin, json::dump(instance));

  StoreOptions& o = out.store;
  o.spool_path = s.spool_path;
  o.database_url = out.database_url;  // one spool per database (spool_file_for)
  o.replay_spool = !cli.interactive;
  o.migrate_on_open = s.apply_schema_on_connect;
  o.retry_attempts = 1000;  // bounded by the time budget below
  o.retry_budget_ms = static_cast<int>(s.write_retry_seconds * 1000.0);
  if (cli.interactive) o.retry_budget_ms = std::min(o.retry_budget_ms, 3000);
  if (o.retry_budget_ms <= 0) o.retry_attempts = 1;
  return out;
}

}  // namespace atlas::data
