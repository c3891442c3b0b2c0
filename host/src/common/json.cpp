#include "common/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/prettywriter.h>
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

// Returns the first balanced {...} starting at or after `from`, honouring strings.
std::optional<std::string_view> balanced_object(std::string_view text, size_t from) {
  size_t start = text.find('{', from);
  while (start != std::string_view::npos) {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = start; i < text.size(); ++i) {
      char c = text[i];
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '{') ++depth;
      else if (c == '}' && --depth == 0) return text.substr(start, i - start + 1);
    }
    start = text.find('{', start + 1);
  }
  return std::nullopt;
}

Status parse_error(std::string_view text, std::string_view what, rapidjson::ParseErrorCode code, size_t offset) {
  auto [line, col] = line_column(text, offset);
  return invalid_argument(std::string(what) + ": line " + std::to_string(line) + ", column " + std::to_string(col) +
                          ": " + rapidjson::GetParseError_En(code));
}

}  // namespace

Result<Document> parse(std::string_view text, std::string_view what) {
  Document doc;
  doc.Parse(text.data(), text.size());
  if (doc.HasParseError()) return parse_error(text, what, doc.GetParseError(), doc.GetErrorOffset());
  return doc;
}

Status check_syntax(std::string_view text, std::string_view what) {
  rapidjson::Reader reader;
  rapidjson::BaseReaderHandler<> ignore;  // accepts every token: nothing is built
  rapidjson::MemoryStream stream(text.data(), text.size());
  rapidjson::ParseResult ok = reader.Parse(stream, ignore);
  if (!ok) return parse_error(text, what, ok.Code(), ok.Offset());
  return Status::ok();
}

Result<Document> parse_lenient_object(std::string_view text) {
  constexpr unsigned kFlags = rapidjson::kParseTrailingCommasFlag | rapidjson::kParseCommentsFlag |
                              rapidjson::kParseNanAndInfFlag;
  // Prefer the content of a ```json fence when there is one.
  std::string_view body = text;
  if (size_t fence = text.find("```"); fence != std::string_view::npos) {
    size_t nl = text.find('\n', fence);
    size_t close = nl == std::string_view::npos ? std::string_view::npos : text.find("```", nl);
    if (close != std::string_view::npos) body = text.substr(nl + 1, close - nl - 1);
  }
  for (std::string_view candidate_source : {body, text}) {
    size_t from = 0;
    while (auto candidate = balanced_object(candidate_source, from)) {
      Document doc;
      doc.Parse<kFlags>(candidate->data(), candidate->size());
      if (!doc.HasParseError() && doc.IsObject()) return doc;
      from = static_cast<size_t>(candidate->data() - candidate_source.data()) + 1;
    }
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
  if (m->IsNumber()) return static_cast<int64_t>(m->GetDouble());
  return fallback;
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
