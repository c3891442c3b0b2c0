#include "common/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace atlas::json {
namespace {

std::pair<size_t, size_t> line_column(std::string_view text, size_t offset) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

Status parse_error(std::string_view text, std::string_view what, const sdk::JsonParseStatus& st) {
  auto [line, col] = line_column(text, st.offset);
  return invalid_argument(std::string(what) + ": line " + std::to_string(line) + ", column " + std::to_string(col) +
                          ": " + st.message());
}

}  // namespace

Result<Document> parse(std::string_view text, std::string_view what, unsigned max_depth) {
  Document doc;
  sdk::JsonParseStatus st = sdk::parse_json(doc, text, max_depth);
  if (!st) return parse_error(text, what, st);
  return doc;
}

Status check_syntax(std::string_view text, std::string_view what, unsigned max_depth) {
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;  // accepts every token: nothing is built
  sdk::detail::DepthLimitedStream stream(text, max_depth);
  rapidjson::ParseResult ok = reader.Parse<rapidjson::kParseIterativeFlag>(stream, ignore);
  if (ok) return Status::ok();
  sdk::JsonParseStatus st;
  st.code = ok.Code();
  st.offset = stream.too_deep() ? stream.Tell() : ok.Offset();
  st.too_deep = stream.too_deep();
  st.max_depth = max_depth;
  return parse_error(text, what, st);
}

Result<Document> parse_lenient_object(std::string_view text) {
  constexpr unsigned kFlags =
      rapidjson::kParseTrailingCommasFlag | rapidjson::kParseCommentsFlag | rapidjson::kParseNanAndInfFlag;
  // Prefer the content of a ```json fence when there is one.
  std::string_view body = text;
  if (size_t fence = text.find("```"); fence != std::string_view::npos) {
    size_t nl = text.find('\n', fence);
    size_t close = nl == std::string_view::npos ? std::string_view::npos : text.find("```", nl);
    if (close != std::string_view::npos) body = text.substr(nl + 1, close - nl - 1);
  }
  for (std::string_view candidate_source : {body, text}) {
    sdk::ObjectScanner objects(candidate_source);
    for (std::string_view candidate; objects.next(candidate);) {
      Document doc;
      sdk::JsonParseStatus st = sdk::parse_json<kFlags>(doc, candidate, kMaxInputDepth);
      if (st.too_deep) return parse_error(candidate, "model reply", st);
      if (st && doc.IsObject()) return doc;
    }
    if (body.data() == text.data() && body.size() == text.size()) break;  // no fence: one source
  }
  std::string preview(text.substr(0, 200));
  return invalid_argument("no JSON object found in model reply: \"" + preview + (text.size() > 200 ? "...\"" : "\""));
}

std::string dump(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

std::string dump_pretty(const Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buf);
  w.SetIndent(' ', 2);
  v.Accept(w);
  return std::string(buf.GetString(), buf.GetSize());
}

const Value* find(const Value& v, std::string_view key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(Value(rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  return it == v.MemberEnd() ? nullptr : &it->value;
}

Value parsed_or_null(std::string_view text, Allocator& a) {
  if (text.empty()) return Value();
  Document d;
  if (!sdk::parse_json(d, text, kMaxDepth)) return Value();
  return Value(d, a);
}

std::string get_string(const Value& v, std::string_view key, std::string fallback) {
  const Value* m = find(v, key);
  return m && m->IsString() ? std::string(m->GetString(), m->GetStringLength()) : fallback;
}

double get_double(const Value& v, std::string_view key, double fallback) {
  const Value* m = find(v, key);
  return m && m->IsNumber() ? m->GetDouble() : fallback;
}

int64_t get_int(const Value& v, std::string_view key, int64_t fallback) {
  const Value* m = find(v, key);
  if (!m) return fallback;
  if (m->IsInt64()) return m->GetInt64();
  if (!m->IsNumber()) return fallback;
  // A number outside int64 (1e55 tokens in a hostile reply, 2^64-1, NaN) is no count: the
  // fallback, never an out-of-range conversion (undefined behaviour; found by fuzz_wire_anthropic).
  const double d = m->GetDouble();
  constexpr double kLimit = 9223372036854775808.0;  // 2^63
  if (!(d >= -kLimit && d < kLimit)) return fallback;
  return static_cast<int64_t>(d);
}

bool get_bool(const Value& v, std::string_view key, bool fallback) {
  const Value* m = find(v, key);
  return m && m->IsBool() ? m->GetBool() : fallback;
}

std::optional<double> get_optional_double(const Value& v, std::string_view key) {
  const Value* m = find(v, key);
  if (m && m->IsNumber()) return m->GetDouble();
  return std::nullopt;
}

void set(Value& obj, std::string_view key, Value value, Allocator& a) {
  if (!obj.IsObject()) obj.SetObject();
  if (Value* existing = const_cast<Value*>(find(obj, key))) {
    *existing = std::move(value);
    return;
  }
  obj.AddMember(str(key, a), value, a);
}

std::string quote(std::string_view s) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace atlas::json
