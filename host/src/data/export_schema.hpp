// The JSON Schema (draft-04) every row of an export format must match. Each row is checked
// before it is written; a row that does not match stops the export and nothing is left behind
// (docs/export-formats.md, "Schemas", which also links the trainer documentation each schema
// follows).
#pragma once

#include <string>

#include "common/json_schema.hpp"
#include "common/status.hpp"
#include "data/export.hpp"

namespace atlas::data {

// The schema's JSON text (what `atlas-host export --print-schema --format F` prints).
std::string export_schema_text(ExportFormat format);

// The compiled schema; compiled once per process, shared between threads.
Result<const json::Schema*> export_schema(ExportFormat format);

}  // namespace atlas::data
