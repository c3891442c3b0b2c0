// atlas/json_parse.hpp — depth-limited RapidJSON parsing for the host and for plugins.
//
// Optional: include it only when the plugin already uses RapidJSON (it needs rapidjson/ on the
// include path). A document nested deeper than `max_depth` arrays/objects is refused with a
// parse error instead of being built: RapidJSON's default parser, its Writer and most code that
// walks a DOM recurse once per level, so a reply of 200,000 nested `[` overflows the stack and
// kills the process. Parsing here is iterative (kParseIterativeFlag) and stops at the limit, so
// every DOM it builds is shallow enough for recursive code. See docs/json-limits.md.
//
//   rapidjson::Document doc;
//   atlas::sdk::JsonParseStatus st = atlas::sdk::parse_json(doc, text);
//   if (!st) throw atlas::sdk::Error(ATLAS_INVALID_ARGUMENT, "request: " + st.message());
#pragma once

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace atlas {
namespace sdk {

// Deepest nesting the host accepts in a document that comes from outside it (model replies,
// task files, plugin replies, MCP messages, config).
inline constexpr unsigned kJsonMaxInputDepth = 128;
// Deepest nesting of any document: the host's own records wrap input in a few levels (spool
// lines, storage requests and rows, plugin requests), so readers of those allow twice as much.
inline constexpr unsigned kJsonMaxDepth = 2 * kJsonMaxInputDepth;

struct JsonParseStatus {
  rapidjson::ParseErrorCode code = rapidjson::kParseErrorNone;
  size_t offset = 0;      // byte offset of the error
  bool too_deep = false;  // refused because of the nesting limit
  unsigned max_depth = 0;

  explicit operator bool() const { return code == rapidjson::kParseErrorNone; }
  // "nested deeper than 128 levels (arrays/objects)" or RapidJSON's English message.
  std::string message() const {
    if (too_deep) return "nested deeper than " + std::to_string(max_depth) + " levels of arrays/objects";
    return rapidjson::GetParseError_En(code);
  }
};

namespace detail {

// A memory stream that tracks the nesting of the text it hands to the parser and reports end of
// input one byte after the limit is crossed, so the parse fails there.
class DepthLimitedStream {
 public:
  typedef char Ch;
  DepthLimitedStream(std::string_view text, unsigned max_depth)
      : begin_(text.data()), cur_(text.data()), end_(text.data() + text.size()), max_depth_(max_depth) {}

  // NOLINTBEGIN(readability-identifier-naming): RapidJSON's Stream concept names these members
  Ch Peek() const { return cur_ == end_ || too_deep_ ? '\0' : *cur_; }
  Ch Take() {
    if (cur_ == end_ || too_deep_) return '\0';
    Ch c = *cur_;
    track(c);
    if (!too_deep_) ++cur_;
    return c;
  }
  size_t Tell() const { return static_cast<size_t>(cur_ - begin_); }
  bool too_deep() const { return too_deep_; }

  Ch* PutBegin() { return nullptr; }
  void Put(Ch) {}
  void Flush() {}
  size_t PutEnd(Ch*) { return 0; }
  // NOLINTEND(readability-identifier-naming)

 private:
  void track(Ch c) {
    if (in_string_) {
      if (escaped_)
        escaped_ = false;
      else if (c == '\\')
        escaped_ = true;
      else if (c == '"')
        in_string_ = false;
      return;
    }
    if (c == '"')
      in_string_ = true;
    else if (c == '[' || c == '{')
      too_deep_ = ++depth_ > max_depth_;
    else if ((c == ']' || c == '}') && depth_ > 0)
      --depth_;
  }

  const Ch* begin_;
  const Ch* cur_;
  const Ch* end_;
  unsigned max_depth_;
  unsigned depth_ = 0;
  bool in_string_ = false, escaped_ = false, too_deep_ = false;
};

}  // namespace detail

// Parses `text` into `doc` (replacing its content). Flags are RapidJSON parse flags (iterative
// parsing is always added). On failure doc.HasParseError() is true as with Document::Parse, and
// the returned status says why (too_deep for the nesting limit).
template <unsigned Flags = rapidjson::kParseDefaultFlags>
JsonParseStatus parse_json(rapidjson::Document& doc, std::string_view text, unsigned max_depth = kJsonMaxDepth) {
  detail::DepthLimitedStream stream(text, max_depth);
  doc.ParseStream<Flags | rapidjson::kParseIterativeFlag, rapidjson::UTF8<>>(stream);
  JsonParseStatus st;
  st.max_depth = max_depth;
  if (stream.too_deep()) {
    st.code = rapidjson::kParseErrorTermination;
    st.offset = stream.Tell();
    st.too_deep = true;
  } else if (doc.HasParseError()) {
    st.code = doc.GetParseError();
    st.offset = doc.GetErrorOffset();
  }
  return st;
}

// The balanced {...} objects of a model reply that wraps its JSON in prose or code fences, one
// at a time in order of their opening brace; braces inside strings are skipped. Each opening
// brace is scanned afresh (prose may hold stray quotes and braces), within a work budget of a
// few passes over the text, so a hostile reply of 400 KB of `{` costs milliseconds.
class ObjectScanner {
 public:
  explicit ObjectScanner(std::string_view text) : text_(text), budget_(16 * text.size() + (size_t{1} << 20)) {}

  // The next balanced object; false at the end of the text or when the budget is spent.
  bool next(std::string_view& object) {
    for (size_t start = text_.find('{', from_); start != std::string_view::npos; start = text_.find('{', start + 1)) {
      int depth = 0;
      bool in_string = false, escaped = false;
      for (size_t i = start; i < text_.size(); ++i) {
        if (budget_ == 0) return false;
        --budget_;
        const char c = text_[i];
        if (in_string) {
          if (escaped)
            escaped = false;
          else if (c == '\\')
            escaped = true;
          else if (c == '"')
            in_string = false;
          continue;
        }
        if (c == '"') {
          in_string = true;
        } else if (c == '{') {
          ++depth;
        } else if (c == '}' && --depth == 0) {
          from_ = start + 1;
          object = text_.substr(start, i - start + 1);
          return true;
        }
      }
    }
    from_ = text_.size();
    return false;
  }

 private:
  std::string_view text_;
  size_t from_ = 0;
  size_t budget_;
};

}  // namespace sdk
}  // namespace atlas
