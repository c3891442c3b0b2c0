// Opening storage the way every command does: config file (optional), env overrides, the
// command line's flags (data/storage_options.hpp), plugin discovery
// (plugin/registry_options.hpp), then the Store. Kept out of cli/ so the commands stay argument
// parsing only.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/storage_options.hpp"
#include "data/store.hpp"

namespace atlas::plugin {
class Registry;
}

namespace atlas::data {

struct OpenRequest {
  std::optional<std::filesystem::path> config_path;  // nullopt: ./atlas.toml when it exists, else defaults
  std::string database_url;                          // --database-url: wins over [storage] database_url
  std::vector<std::filesystem::path> plugin_dirs;    // in addition to the config's and the defaults
  bool migrate = true;                               // apply pending migrations on open
  bool recover = true;                               // mark interrupted sessions on open
  bool read_only = false;                            // never create the database (status, list, export...)
};

struct OpenedStore {
  config::Config config;  // file (or defaults) with the environment overrides applied
  bool config_loaded = false;
  StorageOptions storage;  // what was opened (database_url is the one actually used)
  std::shared_ptr<Store> store;
};

// Loads the configuration: the file (./atlas.toml when none is named and it exists, else the
// defaults), then the environment overrides. Command-line flags are applied on top by each
// component's options function (data::storage_options, plugin::registry_options).
Result<config::Config> load_effective_config(const OpenRequest& request, bool* loaded = nullptr);

// Opens the storage `options` describe through `registry` (after discover()).
Result<std::shared_ptr<Store>> open_storage(plugin::Registry& registry, const StorageOptions& options);

// load_effective_config, then the storage with StorageCli{request.database_url, interactive}.
Result<OpenedStore> open_store(const OpenRequest& request);

}  // namespace atlas::data
