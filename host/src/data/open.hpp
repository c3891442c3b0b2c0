// Opening storage the way every data subcommand does: config file (optional), env overrides,
// plugin discovery, then the Store. Kept out of cli/ so the commands stay argument parsing only.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/store.hpp"

namespace atlas::data {

struct OpenRequest {
  std::optional<std::filesystem::path> config_path;  // nullopt: ./atlas.toml when it exists, else defaults
  std::string database_url;                          // overrides [storage] database_url when set
  std::vector<std::filesystem::path> plugin_dirs;    // in addition to the config's and the defaults
  bool migrate = true;                               // apply pending migrations on open
  bool recover = true;                               // mark interrupted sessions on open
  bool read_only = false;                            // never create the database (status, list, export...)
};

struct OpenedStore {
  config::Config config;
  bool config_loaded = false;
  std::shared_ptr<Store> store;
};

// Loads the configuration only (env overrides applied). Used by `train` and export policy.
Result<config::Config> load_effective_config(const OpenRequest& request, bool* loaded = nullptr);

Result<OpenedStore> open_store(const OpenRequest& request);

}  // namespace atlas::data
