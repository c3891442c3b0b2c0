// A lexer for Python and JavaScript/TypeScript that is exact about what matters for a static
// scan: strings (all quote forms, prefixes, escapes, template literals), comments, regex
// literals, numbers, names and punctuation, each with its line. Plus a parser for *literal*
// values (dicts/objects, lists/arrays, strings, numbers, booleans, null) into JSON, which
// fails, naming the line, on anything that would need running the code.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"

namespace atlas::scan {

enum class Lang { kPython, kJavaScript };

struct Token {
  enum Kind { kName, kString, kNumber, kPunct, kRegex, kNewline, kEnd } kind = kEnd;
  std::string text;  // names/punct/numbers as written; strings decoded; regex: the pattern
  int line = 0;
  bool interpolated = false;  // f-string / template literal with ${...}
  bool starts_line = false;   // first token of a physical line (Python decorators)
};

// Python: kNewline marks logical line ends (not inside brackets). Unknown bytes are skipped.
std::vector<Token> tokenize(std::string_view text, Lang lang);

struct LiteralResult {
  bool ok = false;
  std::string error;  // "line 12: `handler` is a name, not a literal"
  size_t next = 0;    // index of the first token after the literal
};

// Parses the literal starting at tokens[i] into `out` (allocations from `a`).
LiteralResult parse_literal(const std::vector<Token>& tokens, size_t i, Lang lang, json::Value& out,
                            json::Allocator& a);

// Index just past the bracket that closes tokens[i] ("(", "[" or "{"); tokens.size() if none.
size_t skip_balanced(const std::vector<Token>& tokens, size_t i);

}  // namespace atlas::scan
