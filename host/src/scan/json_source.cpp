// JSON files: OpenAI (Chat Completions and Responses) function tools, legacy `functions`,
// Anthropic tools, MCP tool definitions and tools/list results, JSON Schema files.
#include <algorithm>
#include <cctype>

#include "common/json.hpp"
#include "scan/scanner.hpp"

namespace atlas::scan {
namespace {

using json::Value;

struct JsonScan {
  std::string_view text;
  const std::string& file;
  Found& out;
  size_t cursor = 0;  // tools are found in document order; line search starts here
  int found = 0;

  // Line of `"name": "<name>"` at or after the cursor (0 when not found).
  int locate(const std::string& name) {
    std::string quoted = json::quote(name);
    size_t pos = cursor;
    while ((pos = text.find(quoted, pos)) != std::string_view::npos) {
      size_t back = pos;
      while (back > 0 && (text[back - 1] == ' ' || text[back - 1] == '\t' || text[back - 1] == '\n' ||
                          text[back - 1] == '\r'))
        --back;
      if (back > 0 && text[back - 1] == ':') {
        size_t key_end = back - 1;
        while (key_end > 0 && std::isspace(static_cast<unsigned char>(text[key_end - 1]))) --key_end;
        if (key_end >= 6 && text.substr(key_end - 6, 6) == "\"name\"") {
          cursor = pos + quoted.size();
          return line_of(text, pos);
        }
      }
      pos += quoted.size();
    }
    return 0;
  }

  void add(const std::string& name, const Value* description, const Value& schema, const char* format) {
    FoundTool t;
    t.name = name;
    t.description = description && description->IsString() ? description->GetString() : "";
    t.input_schema_json = json::dump(schema);
    t.format = format;
    t.where = {file, locate(name)};
    out.tools.push_back(std::move(t));
    ++found;
  }

  static const Value* str_member(const Value& v, const char* key) {
    const Value* m = json::find(v, key);
    return m && m->IsString() ? m : nullptr;
  }
  static const Value* obj_member(const Value& v, const char* key) {
    const Value* m = json::find(v, key);
    return m && m->IsObject() ? m : nullptr;
  }

  // True when `v` itself is a tool definition (then it is not searched further).
  bool try_tool(const Value& v) {
    if (!v.IsObject()) return false;
    const Value* type = str_member(v, "type");
    bool function_type = type && std::string_view(type->GetString()) == "function";
    if (function_type) {
      if (const Value* fn = obj_member(v, "function")) {  // Chat Completions {"type":"function","function":{...}}
        const Value* name = str_member(*fn, "name");
        if (!name) return false;
        static const Value kEmpty(rapidjson::kObjectType);
        const Value* params = obj_member(*fn, "parameters");
        add(name->GetString(), str_member(*fn, "description"), params ? *params : kEmpty, "openai-function");
        return true;
      }
    }
    const Value* name = str_member(v, "name");
    if (!name) return false;
    if (const Value* schema = obj_member(v, "inputSchema")) {
      add(name->GetString(), str_member(v, "description"), *schema, "mcp-tool");
      return true;
    }
    if (const Value* schema = obj_member(v, "input_schema")) {
      add(name->GetString(), str_member(v, "description"), *schema, "anthropic-tool");
      return true;
    }
    if (const Value* schema = obj_member(v, "parameters")) {  // Responses API or legacy `functions`
      add(name->GetString(), str_member(v, "description"), *schema, function_type ? "openai-function" : "openai-function");
      return true;
    }
    return false;
  }

  void walk(const Value& v, int depth) {
    if (depth > 12 || try_tool(v)) return;
    if (v.IsArray()) {
      for (const auto& e : v.GetArray()) walk(e, depth + 1);
    } else if (v.IsObject()) {
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
        std::string_view key = m->name.GetString();
        if (key == "properties" || key == "definitions" || key == "$defs") continue;  // schema internals
        walk(m->value, depth + 1);
      }
    }
  }
};

bool looks_like_json_schema(const Value& v) {
  if (!v.IsObject()) return false;
  if (const Value* s = json::find(v, "$schema"); s && s->IsString() &&
                                                  std::string_view(s->GetString()).find("json-schema.org") != std::string_view::npos)
    return true;
  const Value* t = json::find(v, "type");
  return t && t->IsString() && std::string_view(t->GetString()) == "object" && json::find(v, "properties");
}

std::string stem_of(const std::string& file) {
  std::string base = file.substr(file.find_last_of('/') == std::string::npos ? 0 : file.find_last_of('/') + 1);
  for (const char* suffix : {".schema.json", ".json"}) {
    std::string s(suffix);
    if (base.size() > s.size() && base.compare(base.size() - s.size(), s.size(), s) == 0)
      return base.substr(0, base.size() - s.size());
  }
  return base;
}

}  // namespace

int line_of(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(offset), '\n'));
}

void scan_json_text(std::string_view text, const std::string& file, Found& out) {
  auto parsed = json::parse(text, file);
  if (!parsed.is_ok()) {
    out.skipped.push_back({{file, 0}, "not valid JSON (" + parsed.status().message() + ")"});
    return;
  }
  const json::Document& doc = parsed.value();
  if (doc.IsObject() && json::find(doc, "openapi") && json::find(doc, "paths")) {
    Status st = scan_openapi_text(text, file, out);
    if (!st.is_ok()) out.skipped.push_back({{file, 0}, st.message()});
    return;
  }
  JsonScan scan{text, file, out};
  scan.walk(doc, 0);
  if (scan.found > 0) return;
  if (looks_like_json_schema(doc)) {
    const Value* title = json::find(doc, "title");
    std::string name = title && title->IsString() ? title->GetString() : stem_of(file);
    FoundTool t;
    t.name = name;
    const Value* d = json::find(doc, "description");
    t.description = d && d->IsString() ? d->GetString() : "";
    t.input_schema_json = json::dump(doc);
    t.format = "json-schema";
    t.where = {file, 1};
    out.tools.push_back(std::move(t));
    return;
  }
  out.skipped.push_back({{file, 0}, "no tool definitions recognised (expected OpenAI/Anthropic/MCP tool objects, "
                                    "a JSON Schema with type object, or an OpenAPI document)"});
}

}  // namespace atlas::scan
