// Response writers shared by every storage operation file (ops.cpp, ops_queue.cpp,
// ops_review_ui.cpp, ops_playbook.cpp): one way to write a nullable cell, stored JSON and the
// finished response, so the files cannot drift apart in how NULL or JSON columns come out.
#pragma once

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

#include "db.hpp"

namespace atlas_soci {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

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

// Stored JSON text embedded as-is (it was validated when written); null when NULL or empty.
inline void w_raw_json(Writer& w, const char* key, const Cell& c) {
  w.Key(key);
  if (c && !c->empty()) {
    w.RawValue(c->c_str(), c->size(), rapidjson::kObjectType);
  } else {
    w.Null();
  }
}

inline std::string done(rapidjson::StringBuffer& sb) {
  return std::string(sb.GetString(), sb.GetSize());
}

}  // namespace atlas_soci
