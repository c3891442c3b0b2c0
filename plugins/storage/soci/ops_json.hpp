// Request readers and response writers shared by every storage operation file (ops.cpp,
// ops_queue.cpp, ops_review_ui.cpp, ops_playbook.cpp): one way to read a field of the request
// JSON (absent and null alike, the same error for a wrong type) and one way to write a nullable
// cell, stored JSON and the finished response, so the files cannot drift apart.
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <atlas/sdk.hpp>
#include <optional>
#include <string>

#include "db.hpp"

namespace atlas_soci {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

// ---- request readers ----------------------------------------------------------------------

// "op: " in front of a field's error when the caller names its operation.
inline std::string field_error_prefix(const char* op) {
  return op ? std::string(op) + ": " : std::string();
}

// Member `key` of a request object; nullptr when `v` is not an object or the member is absent
// or null (a JSON null means "not given" everywhere).
inline const rapidjson::Value* member(const rapidjson::Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  if (it == v.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

// A text field: its string (an integer is taken as its decimal text: ids may come as numbers),
// `fallback` when not given; anything else is INVALID_ARGUMENT "'key' must be a string".
inline std::string str_or(const rapidjson::Value& v, const char* key, const std::string& fallback = {},
                          const char* op = nullptr) {
  const rapidjson::Value* m = member(v, key);
  if (!m) return fallback;
  if (m->IsString()) return std::string(m->GetString(), m->GetStringLength());
  if (m->IsInt64()) return std::to_string(m->GetInt64());
  throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, field_error_prefix(op) + "'" + key + "' must be a string");
}

// A text field that must be given: "op: 'key' (a string) is required" when it is not.
inline std::string required_str(const rapidjson::Value& v, const char* key, const char* op) {
  if (!member(v, key))
    throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, field_error_prefix(op) + "'" + key + "' (a string) is required");
  return str_or(v, key, {}, op);
}

// A text field, or nullopt when not given.
inline std::optional<std::string> opt_str(const rapidjson::Value& v, const char* key, const char* op = nullptr) {
  if (!member(v, key)) return std::nullopt;
  return str_or(v, key, {}, op);
}

// An integer field: a JSON integer, a number (truncated) or a decimal string; `fallback` when
// not given; anything else is INVALID_ARGUMENT "'key' must be an integer".
inline long long int_or(const rapidjson::Value& v, const char* key, long long fallback, const char* op = nullptr) {
  const rapidjson::Value* m = member(v, key);
  if (!m) return fallback;
  if (m->IsInt64()) return m->GetInt64();
  if (m->IsNumber()) return static_cast<long long>(m->GetDouble());
  if (m->IsString()) {
    try {
      size_t used = 0;
      long long n = std::stoll(m->GetString(), &used);
      if (used == m->GetStringLength()) return n;
    } catch (...) {
    }
  }
  throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, field_error_prefix(op) + "'" + key + "' must be an integer");
}

// An integer field, or nullopt when not given.
inline std::optional<long long> opt_int(const rapidjson::Value& v, const char* key, const char* op = nullptr) {
  if (!member(v, key)) return std::nullopt;
  return int_or(v, key, 0, op);
}

// A boolean field: true only for JSON true.
inline bool flag(const rapidjson::Value& v, const char* key) {
  const rapidjson::Value* m = member(v, key);
  return m && m->IsBool() && m->GetBool();
}

// ---- response writers ---------------------------------------------------------------------

// Compact JSON text of a value (a request member stored as a JSON column).
inline std::string dump(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  Writer w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

inline void w_str(Writer& w, const char* key, const std::string& s) {
  w.Key(key);
  w.String(s.c_str(), static_cast<rapidjson::SizeType>(s.size()));
}

// A text column: its string, or null for SQL NULL.
inline void w_cell(Writer& w, const char* key, const Cell& c) {
  w.Key(key);
  if (c) {
    w.String(c->c_str(), static_cast<rapidjson::SizeType>(c->size()));
  } else {
    w.Null();
  }
}

// Whether `text` is one whole JSON value (valid UTF-8, nothing after it). JSON columns hold only
// what this plugin wrote on PostgreSQL (JSONB), but on SQLite they are TEXT that another program
// sharing the file may have filled with anything.
inline bool is_json_text(const std::string& text) {
  if (text.find('\0') != std::string::npos) return false;
  rapidjson::MemoryStream ms(text.data(), text.size());
  rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> in(ms);
  rapidjson::BaseReaderHandler<> ignore;
  rapidjson::Reader reader;
  return !reader.Parse<rapidjson::kParseValidateEncodingFlag>(in, ignore).IsError();
}

// A stored JSON cell as JSON; null when absent. A cell that is not JSON is written as a string
// of its text, so one bad row reads back as what it holds instead of breaking the whole reply.
inline void w_raw_json(Writer& w, const char* key, const Cell& c) {
  w.Key(key);
  if (!c || c->empty()) {
    w.Null();
  } else if (is_json_text(*c)) {
    w.RawValue(c->c_str(), c->size(), rapidjson::kObjectType);
  } else {
    w.String(c->c_str(), static_cast<rapidjson::SizeType>(c->size()));
  }
}

inline std::string done(rapidjson::StringBuffer& sb) {
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace atlas_soci
