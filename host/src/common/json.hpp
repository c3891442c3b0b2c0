// Small helpers around RapidJSON shared by every component. The host's documents are
// RapidJSON DOMs; these functions only remove repetition (typed lookups with defaults,
// serialisation, parse errors with line:column).
#pragma once

#include <rapidjson/document.h>

#include <atlas/json_parse.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace atlas::json {

using Document = rapidjson::Document;
using Value = rapidjson::Value;
using Allocator = rapidjson::Document::AllocatorType;

// Nesting limits (docs/json-limits.md). Where a document enters the host from outside (model
// replies, provider bodies, task files, plugin replies and events, MCP messages) it may nest at
// most kMaxInputDepth arrays/objects; any other document (config, the host's own records, which
// wrap input in a few more levels) at most kMaxDepth. Parsing is iterative and refuses deeper
// text, so every DOM the host holds is shallow enough for the recursive code that writes and
// walks it (dump(), CopyFrom, schema validation).
inline constexpr unsigned kMaxInputDepth = sdk::kJsonMaxInputDepth;
inline constexpr unsigned kMaxDepth = sdk::kJsonMaxDepth;

// Strict parse. `what` names the document in errors ("mock scenario foo.json").
// Errors read: "<what>: line 3, column 14: Missing a comma or '}' after an object member."
// or "<what>: line 1, column 257: nested deeper than 256 levels of arrays/objects".
Result<Document> parse(std::string_view text, std::string_view what = "JSON", unsigned max_depth = kMaxDepth);

// Syntax check only (no DOM is built): OK, or the same error parse() would give.
Status check_syntax(std::string_view text, std::string_view what = "JSON", unsigned max_depth = kMaxDepth);

// Parse a model's reply that should contain one JSON object: accepts code fences
// (```json ... ```), prose before/after the object, and trailing commas. Fails with
// INVALID_ARGUMENT when no object can be recovered, or when the reply nests deeper than
// kMaxInputDepth (the error says so). Linear in the reply's size.
Result<Document> parse_lenient_object(std::string_view text);

// The JSON in `text` as a value allocated in `a`, or null when `text` is empty or not JSON
// (depth-limited like parse()). For embedding documents the host keeps as text (verdicts,
// rewards, stored rows) into another document.
Value parsed_or_null(std::string_view text, Allocator& a);

std::string dump(const Value& v);
std::string dump_pretty(const Value& v);

// nullptr when `v` is not an object or has no member `key`.
const Value* find(const Value& v, std::string_view key);
std::string get_string(const Value& v, std::string_view key, std::string fallback = {});
double get_double(const Value& v, std::string_view key, double fallback = 0.0);
int64_t get_int(const Value& v, std::string_view key, int64_t fallback = 0);
bool get_bool(const Value& v, std::string_view key, bool fallback = false);
std::optional<double> get_optional_double(const Value& v, std::string_view key);

// Value constructors that copy the string into `a`.
inline Value str(std::string_view s, Allocator& a) {
  return Value(s.data(), static_cast<rapidjson::SizeType>(s.size()), a);
}
// Adds or replaces member `key` (copied) on object `obj`.
void set(Value& obj, std::string_view key, Value value, Allocator& a);
inline void set(Value& obj, std::string_view key, std::string_view s, Allocator& a) {
  set(obj, key, str(s, a), a);
}
inline void set(Value& obj, std::string_view key, const char* s, Allocator& a) {
  set(obj, key, str(s, a), a);
}
inline void set(Value& obj, std::string_view key, const std::string& s, Allocator& a) {
  set(obj, key, str(s, a), a);
}
inline void set(Value& obj, std::string_view key, double d, Allocator& a) {
  set(obj, key, Value(d), a);
}
inline void set(Value& obj, std::string_view key, int64_t i, Allocator& a) {
  set(obj, key, Value(i), a);
}
inline void set(Value& obj, std::string_view key, int i, Allocator& a) {
  set(obj, key, Value(i), a);
}
inline void set(Value& obj, std::string_view key, bool b, Allocator& a) {
  set(obj, key, Value(b), a);
}

// Writes `s` as a JSON string through a RapidJSON Writer (an empty view may have a null data()).
template <typename Writer>
void write_string(Writer& w, std::string_view s) {
  w.String(s.empty() ? "" : s.data(), static_cast<rapidjson::SizeType>(s.size()));
}

// JSON string literal (with quotes) for `s`, escaped.
std::string quote(std::string_view s);

}  // namespace atlas::json
