// Request readers and the database clock shared by the operation files that take typed requests
// (ops_queue.cpp, ops_gateway.cpp): one way to read a field and to say which one was wrong.
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

// The member `key` of `v`; null when absent or JSON null.
inline const rapidjson::Value* field(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

inline std::string text(const rapidjson::Value& v, const char* key, const char* op, bool required = true) {
  const rapidjson::Value* f = field(v, key);
  if (f && f->IsString()) return std::string(f->GetString(), f->GetStringLength());
  if (!f && !required) return {};
  throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": '" + key + "' (a string) is required");
}

inline long long integer(const rapidjson::Value& v, const char* key, long long fallback, const char* op) {
  const rapidjson::Value* f = field(v, key);
  if (!f) return fallback;
  if (f->IsInt64()) return f->GetInt64();
  if (f->IsDouble()) return static_cast<long long>(f->GetDouble());
  throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, std::string(op) + ": '" + key + "' must be a number");
}

inline std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
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
