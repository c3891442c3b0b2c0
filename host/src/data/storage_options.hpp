// The one place the storage a command opens is decided: [storage] (after the environment
// overrides) with the command line's flags on top. `run`, `quickstart`, `db`, `review`,
// `export`, `report` and `train` all open storage with these options, so they reach the same
// database with the same write-retry budget and spool.
//
// [storage] owns database_url, min_connections, max_connections, statement_timeout_seconds and
// apply_schema_on_connect. The storage plugin's own table ([plugins.soci]) may add keys the
// plugin understands (busy_timeout_seconds, connect_timeout_seconds, lease_timeout_seconds...)
// but naming a [storage] key there is refused: two places for the database URL is how two
// commands end up writing to two databases.
#pragma once

#include <string>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/store.hpp"

namespace atlas::data {

// What the command line says about storage.
struct StorageCli {
  std::string database_url;  // --database-url / --db; "" = the config's. Turns storage on.
  // A command a person waits on (db, review, export, report, train): a failing write is retried
  // for at most 3 s, not the runtime's [storage] write_retry_seconds, before it is spooled.
  // Also: the spool is not replayed automatically (only `run` and `db replay` replay it).
  bool interactive = false;
  // Never create the database (status, list, export...): a missing SQLite file is an error.
  bool read_only = false;
};

struct StorageOptions {
  std::string plugin;              // [storage] plugin
  std::string database_url;        // the database opened (flag > [storage] > default)
  std::string plugin_config_json;  // the storage plugin instance's config
  StoreOptions store;              // spool, write retries, migrations on open
};

// FAILED_PRECONDITION when storage is off (and no URL was given on the command line);
// INVALID_ARGUMENT when the storage plugin's [plugins.<name>] table names a [storage] key.
Result<StorageOptions> storage_options(const config::Config& config, const StorageCli& cli = {});

}  // namespace atlas::data
