// The database clock and integer-column writer shared by the operation files that keep leases and
// idle times (ops_queue.cpp, ops_gateway.cpp); request readers are in ops_json.hpp.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atlas/sdk.hpp>
#include <string>

#include "db.hpp"
#include "ops_json.hpp"

namespace atlas_soci {

// Milliseconds since the epoch on the database's clock: every worker (and gateway replica)
// compares leases and idle times against one clock, whatever the clocks of the machines it runs on say.
inline std::string now_ms(Backend b) {
  return b == Backend::kPostgres ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
                                 : "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
}

// An integer column: its number, or null for SQL NULL.
inline void put_int(Writer& w, const char* key, const Cell& c) {
  w.Key(key);
  if (c)
    w.Int64(std::stoll(*c));
  else
    w.Null();
}

}  // namespace atlas_soci
