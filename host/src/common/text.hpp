// Text every storage backend can take, identically: valid UTF-8 without NUL characters.
// PostgreSQL refuses NUL in text and `\u0000` in jsonb and refuses invalid UTF-8 outright;
// SQLite stores either and hands it back to exports. The host therefore normalises every
// JSON request at the storage boundary (data::Store) the same way for both.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace atlas::text {

struct Repairs {
  size_t invalid_utf8 = 0;  // byte sequences that were not UTF-8 (and lone surrogate escapes)
  size_t nul = 0;           // NUL characters (raw or escaped as \u0000)
  bool any() const { return invalid_utf8 > 0 || nul > 0; }
};

// Returns `json_text` with every invalid UTF-8 sequence, every lone surrogate escape and every
// NUL (raw byte or `\u0000` escape) replaced by U+FFFD (the escape `\ufffd` inside escapes,
// the raw bytes EF BF BD elsewhere). Valid text is returned unchanged. `repairs` (optional)
// counts what was replaced.
std::string normalise_json(std::string_view json_text, Repairs* repairs = nullptr);

}  // namespace atlas::text
