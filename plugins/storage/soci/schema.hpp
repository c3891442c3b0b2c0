// Numbered schema migrations. Migration 1 is Atlas's schema exactly (docs/storage.md, written
// with IF NOT EXISTS so an existing Atlas database is adopted unchanged); later ones add our
// tables and columns. Each migration runs in its own transaction and is recorded in
// schema_migrations.
#pragma once

#include <string>
#include <vector>

#include "db.hpp"

namespace atlas_soci {

struct Migration {
  int version;
  const char* name;
};

const std::vector<Migration>& migrations();
int latest_schema_version();

// Applied versions, ascending (empty when schema_migrations does not exist yet).
std::vector<int> applied_migrations(Conn& conn);
// Applies every pending migration; returns the versions applied now.
std::vector<int> migrate(Pool& pool);

}  // namespace atlas_soci
