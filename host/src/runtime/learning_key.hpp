// learning_key: the key that groups sessions for learning, history, routing and drift.
// Derived exactly as the Atlas SDK does (docs/atlas-compatibility.md) so both systems
// file the same work under the same key.
#pragma once

#include <string>
#include <string_view>

#include "common/digest.hpp"  // sha256_hex, used by the key derivation and its callers
#include "common/json.hpp"

namespace atlas::runtime {

// Python `json.dumps(s)` of one string (ensure_ascii=True: non-ASCII as \uXXXX escapes,
// surrogate pairs above the BMP). Exposed for tests.
std::string python_json_string(std::string_view utf8);

// Python `str.strip()` for UTF-8 text (Unicode white space), and `s[:n]` counted in code points.
std::string python_strip(std::string_view utf8);
std::string python_prefix(std::string_view utf8, size_t code_points);

// Priority: session_metadata.learning_key_override (stripped, non-empty) >
// session_metadata.learning_key (non-empty string) > SHA-256 of
// {"agent", "tags", "task_prefix", "tenant"} serialised like Python's json.dumps(sort_keys=True).
// `session_metadata` may be null or a non-object (treated as {}).
std::string derive_learning_key(std::string_view agent_name, std::string_view task,
                                const json::Value* session_metadata);

}  // namespace atlas::runtime
