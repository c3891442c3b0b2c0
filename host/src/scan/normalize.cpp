#include "scan/normalize.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <map>
// GCC 12 at -O1 with sanitizers reports a false -Wmaybe-uninitialized inside libstdc++'s
// regex automaton (std::function moves); it would fail the -Werror ASan build.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <regex>
#pragma GCC diagnostic pop
#include <set>

namespace atlas::scan {
namespace {

using json::Allocator;
using json::Value;

std::string escape_pointer_token(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}
std::string child(const std::string& ptr, std::string_view key) { return ptr + "/" + escape_pointer_token(key); }
std::string child(const std::string& ptr, size_t index) { return ptr + "/" + std::to_string(index); }

void note(std::vector<Note>& notes, Severity s, const std::string& ptr, std::string msg) {
  notes.push_back({s, ptr, std::move(msg)});
}

bool has(const Value& v, const char* key) { return v.IsObject() && v.HasMember(key); }

void remove(Value& v, const char* key) {
  if (v.IsObject()) v.RemoveMember(key);
}

// Renames member `from` to `to`, keeping its position; merges into an existing `to`.
void rename(Value& obj, const char* from, const char* to, Allocator& a) {
  auto it = obj.FindMember(from);
  if (it == obj.MemberEnd()) return;
  auto existing = obj.FindMember(to);
  if (existing == obj.MemberEnd()) {
    it->name.SetString(to, a);
    return;
  }
  if (existing->value.IsObject() && it->value.IsObject()) {
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m) {
      if (!existing->value.HasMember(m->name))
        existing->value.AddMember(Value(m->name, a), Value(m->value, a), a);
    }
  }
  obj.RemoveMember(from);
}


bool regex_compiles(const std::string& pattern, std::string& why) {
  try {
    std::regex re(pattern, std::regex::ECMAScript);
    return true;
  } catch (const std::regex_error& e) {
    why = e.what();
    return false;
  }
}

constexpr const char* kSubschemaMaps[] = {"properties", "patternProperties", "definitions"};
constexpr const char* kSubschemaLists[] = {"allOf", "anyOf", "oneOf"};
constexpr const char* kSubschemaSingles[] = {"additionalProperties", "additionalItems", "not"};

void lower_node(Value& s, const std::string& ptr, Allocator& a, std::vector<Note>& notes);

void lower_children(Value& s, const std::string& ptr, Allocator& a, std::vector<Note>& notes) {
  for (const char* key : kSubschemaMaps) {
    auto it = s.FindMember(key);
    if (it == s.MemberEnd() || !it->value.IsObject()) continue;
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m)
      lower_node(m->value, child(child(ptr, key), m->name.GetString()), a, notes);
  }
  for (const char* key : kSubschemaLists) {
    auto it = s.FindMember(key);
    if (it == s.MemberEnd() || !it->value.IsArray()) continue;
    for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i)
      lower_node(it->value[i], child(child(ptr, key), i), a, notes);
  }
  for (const char* key : kSubschemaSingles) {
    auto it = s.FindMember(key);
    if (it != s.MemberEnd() && (it->value.IsObject() || it->value.IsBool())) {
      if (it->value.IsBool() && (std::string_view(key) != "not")) continue;  // boolean form is draft-04
      lower_node(it->value, child(ptr, key), a, notes);
    }
  }
  if (auto it = s.FindMember("items"); it != s.MemberEnd()) {
    if (it->value.IsArray()) {
      for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i)
        lower_node(it->value[i], child(child(ptr, "items"), i), a, notes);
    } else {
      lower_node(it->value, child(ptr, "items"), a, notes);
    }
  }
  if (auto it = s.FindMember("dependencies"); it != s.MemberEnd() && it->value.IsObject()) {
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m)
      if (m->value.IsObject() || m->value.IsBool())
        lower_node(m->value, child(child(ptr, "dependencies"), m->name.GetString()), a, notes);
  }
}

void lower_exclusive(Value& s, const char* excl, const char* bound, bool is_min, const std::string& ptr,
                     Allocator& a, std::vector<Note>& notes) {
  auto it = s.FindMember(excl);
  if (it == s.MemberEnd() || !it->value.IsNumber()) return;
  double e = it->value.GetDouble();
  Value evalue(it->value, a);
  auto b = s.FindMember(bound);
  bool bound_is_stricter = b != s.MemberEnd() && b->value.IsNumber() &&
                           (is_min ? b->value.GetDouble() > e : b->value.GetDouble() < e);
  s.RemoveMember(excl);
  if (bound_is_stricter) {
    note(notes, Severity::kInfo, child(ptr, excl),
         std::string("numeric ") + excl + " is implied by the stricter " + bound + "; removed");
    return;
  }
  s.RemoveMember(bound);
  s.AddMember(Value(bound, a), evalue, a);
  s.AddMember(Value(excl, a), Value(true), a);
  note(notes, Severity::kInfo, child(ptr, excl),
       std::string("numeric ") + excl + " lowered to draft-04 " + bound + " + " + excl + ": true");
}

// if/then/else == anyOf [ allOf[if, then], allOf[not if, else] ]: exact in draft-04.
void lower_if_then_else(Value& s, const std::string& ptr, Allocator& a, std::vector<Note>& notes) {
  auto cond = s.FindMember("if");
  if (cond == s.MemberEnd()) {
    if (has(s, "then") || has(s, "else")) {
      note(notes, Severity::kInfo, ptr, "then/else without if have no effect; removed");
      remove(s, "then");
      remove(s, "else");
    }
    return;
  }
  Value if_schema(cond->value, a);
  Value then_schema(rapidjson::kObjectType), else_schema(rapidjson::kObjectType);
  if (auto t = s.FindMember("then"); t != s.MemberEnd()) then_schema.CopyFrom(t->value, a);
  if (auto e = s.FindMember("else"); e != s.MemberEnd()) else_schema.CopyFrom(e->value, a);
  Value branch1(rapidjson::kArrayType), branch2(rapidjson::kArrayType);
  branch1.PushBack(Value(if_schema, a), a).PushBack(then_schema, a);
  Value not_if(rapidjson::kObjectType);
  not_if.AddMember("not", if_schema, a);
  branch2.PushBack(not_if, a).PushBack(else_schema, a);
  Value b1(rapidjson::kObjectType), b2(rapidjson::kObjectType);
  b1.AddMember("allOf", branch1, a);
  b2.AddMember("allOf", branch2, a);
  Value any(rapidjson::kArrayType);
  any.PushBack(b1, a).PushBack(b2, a);
  remove(s, "if");
  remove(s, "then");
  remove(s, "else");
  Value wrapper(rapidjson::kObjectType);
  wrapper.AddMember("anyOf", any, a);
  auto all = s.FindMember("allOf");
  if (all == s.MemberEnd()) {
    Value list(rapidjson::kArrayType);
    list.PushBack(wrapper, a);
    s.AddMember("allOf", list, a);
  } else if (all->value.IsArray()) {
    all->value.PushBack(wrapper, a);
  }
  note(notes, Severity::kInfo, child(ptr, "if"), "if/then/else lowered to an equivalent anyOf/allOf/not");
}

void lower_node(Value& s, const std::string& ptr, Allocator& a, std::vector<Note>& notes) {
  if (s.IsBool()) {
    bool accept = s.GetBool();
    s.SetObject();
    if (!accept) s.AddMember("not", Value(rapidjson::kObjectType), a);
    note(notes, Severity::kInfo, ptr, std::string("boolean schema ") + (accept ? "true -> {}" : "false -> {\"not\":{}}"));
    return;
  }
  if (!s.IsObject()) return;

  if (auto it = s.FindMember("$schema"); it != s.MemberEnd()) {
    std::string uri = it->value.IsString() ? it->value.GetString() : "";
    if (uri.find("draft-04") == std::string::npos)
      note(notes, Severity::kInfo, child(ptr, "$schema"), "\"" + uri + "\" lowered to draft-04; $schema removed");
    s.RemoveMember("$schema");
  }
  for (const char* k : {"$id", "$anchor", "$comment", "$vocabulary", "$dynamicAnchor"}) {
    if (has(s, k)) {
      if (std::string_view(k) != "$comment") note(notes, Severity::kInfo, child(ptr, k), std::string(k) + " removed");
      s.RemoveMember(k);
    }
  }
  if (has(s, "$defs")) {
    rename(s, "$defs", "definitions", a);
    note(notes, Severity::kInfo, child(ptr, "$defs"), "$defs renamed to definitions");
  }
  // OpenAPI 3.0 `nullable: true` -> type array with "null".
  if (auto nb = s.FindMember("nullable"); nb != s.MemberEnd()) {
    bool nullable = nb->value.IsBool() && nb->value.GetBool();
    s.RemoveMember("nullable");
    auto t = s.FindMember("type");
    if (nullable && t != s.MemberEnd() && t->value.IsString()) {
      Value types(rapidjson::kArrayType);
      types.PushBack(Value(t->value, a), a).PushBack(Value("null", a), a);
      t->value = types;
      note(notes, Severity::kInfo, child(ptr, "nullable"), "nullable: true lowered to a type array with \"null\"");
    }
  }
  if (auto it = s.FindMember("$ref"); it != s.MemberEnd()) {
    if (it->value.IsString()) {
      std::string ref = it->value.GetString();
      if (ref.rfind("#/$defs/", 0) == 0) {
        ref = "#/definitions/" + ref.substr(8);
        it->value.SetString(ref.c_str(), static_cast<rapidjson::SizeType>(ref.size()), a);
      }
      if (ref.empty() || ref[0] != '#') {
        note(notes, Severity::kError, child(ptr, "$ref"),
             "remote $ref \"" + ref + "\" cannot be resolved offline; removed (NOT ENFORCED)");
        s.RemoveMember("$ref");
      }
    }
    // In 2020-12 keywords beside $ref apply too; in draft-04 they are ignored. Keep them
    // enforced by moving the $ref into allOf.
    if (has(s, "$ref") && s.MemberCount() > 1) {
      bool only_annotations = true;
      for (auto m = s.MemberBegin(); m != s.MemberEnd(); ++m) {
        std::string_view k = m->name.GetString();
        if (k != "$ref" && k != "description" && k != "title" && k != "default" && k != "examples")
          only_annotations = false;
      }
      if (!only_annotations) {
        Value ref_schema(rapidjson::kObjectType);
        ref_schema.AddMember("$ref", Value(s["$ref"], a), a);
        s.RemoveMember("$ref");
        auto all = s.FindMember("allOf");
        if (all == s.MemberEnd()) {
          Value list(rapidjson::kArrayType);
          list.PushBack(ref_schema, a);
          s.AddMember("allOf", list, a);
        } else if (all->value.IsArray()) {
          all->value.PushBack(ref_schema, a);
        }
        note(notes, Severity::kInfo, child(ptr, "$ref"), "$ref with sibling keywords moved into allOf");
      }
    }
  }
  if (auto it = s.FindMember("const"); it != s.MemberEnd()) {
    Value values(rapidjson::kArrayType);
    values.PushBack(Value(it->value, a), a);
    s.RemoveMember("const");
    s.RemoveMember("enum");
    s.AddMember("enum", values, a);
    note(notes, Severity::kInfo, child(ptr, "const"), "const lowered to a one-element enum");
  }
  lower_exclusive(s, "exclusiveMinimum", "minimum", true, ptr, a, notes);
  lower_exclusive(s, "exclusiveMaximum", "maximum", false, ptr, a, notes);
  if (auto it = s.FindMember("prefixItems"); it != s.MemberEnd()) {
    Value prefix(it->value, a);
    s.RemoveMember("prefixItems");
    if (auto items = s.FindMember("items"); items != s.MemberEnd()) {
      Value rest(items->value, a);
      s.RemoveMember("items");
      s.RemoveMember("additionalItems");
      s.AddMember("additionalItems", rest, a);
    }
    s.AddMember("items", prefix, a);
    note(notes, Severity::kInfo, child(ptr, "prefixItems"), "prefixItems lowered to an items array (+ additionalItems)");
  }
  for (const char* key : {"dependentRequired", "dependentSchemas"}) {
    auto it = s.FindMember(key);
    if (it == s.MemberEnd()) continue;
    if (it->value.IsObject()) {
      if (!has(s, "dependencies")) s.AddMember("dependencies", Value(rapidjson::kObjectType), a);
      Value& deps = s["dependencies"];
      Value& src = s[key];
      for (auto m = src.MemberBegin(); m != src.MemberEnd(); ++m)
        if (!deps.HasMember(m->name)) deps.AddMember(Value(m->name, a), Value(m->value, a), a);
      note(notes, Severity::kInfo, child(ptr, key), std::string(key) + " lowered to draft-04 dependencies");
    }
    s.RemoveMember(key);
  }
  if (auto it = s.FindMember("format"); it != s.MemberEnd()) {
    std::string f = it->value.IsString() ? it->value.GetString() : "?";
    note(notes, Severity::kInfo, child(ptr, "format"),
         "format \"" + f + "\" is not checked by the validator (RapidJSON ignores format); removed");
    s.RemoveMember("format");
  }
  if (auto it = s.FindMember("contains"); it != s.MemberEnd()) {
    if (has(s, "minContains") || has(s, "maxContains")) {
      note(notes, Severity::kWarning, child(ptr, "contains"),
           "contains with minContains/maxContains cannot be expressed in draft-04; removed (NOT ENFORCED)");
    } else {
      // contains S == (not an array) or not(every item is not S).
      Value inner(rapidjson::kObjectType);
      inner.AddMember("not", Value(it->value, a), a);
      Value items(rapidjson::kObjectType);
      items.AddMember("items", inner, a);
      Value no_match(rapidjson::kObjectType);
      no_match.AddMember("not", items, a);
      Value not_array(rapidjson::kObjectType), arr(rapidjson::kObjectType);
      arr.AddMember("type", "array", a);
      not_array.AddMember("not", arr, a);
      Value any(rapidjson::kArrayType);
      any.PushBack(not_array, a).PushBack(no_match, a);
      Value wrapper(rapidjson::kObjectType);
      wrapper.AddMember("anyOf", any, a);
      if (!has(s, "allOf")) s.AddMember("allOf", Value(rapidjson::kArrayType), a);
      if (s["allOf"].IsArray()) s["allOf"].PushBack(wrapper, a);
      note(notes, Severity::kInfo, child(ptr, "contains"), "contains lowered to an equivalent anyOf/not/items");
    }
    s.RemoveMember("contains");
    s.RemoveMember("minContains");
    s.RemoveMember("maxContains");
  }
  lower_if_then_else(s, ptr, a, notes);
  if (auto it = s.FindMember("unevaluatedProperties"); it != s.MemberEnd()) {
    bool simple = it->value.IsBool() && !it->value.GetBool() && !has(s, "allOf") && !has(s, "anyOf") &&
                  !has(s, "oneOf") && !has(s, "$ref") && !has(s, "dependencies") && !has(s, "additionalProperties");
    if (simple) {
      s.AddMember("additionalProperties", Value(false), a);
      note(notes, Severity::kInfo, child(ptr, "unevaluatedProperties"),
           "unevaluatedProperties: false lowered to additionalProperties: false (no subschemas here)");
    } else {
      note(notes, Severity::kWarning, child(ptr, "unevaluatedProperties"),
           "unevaluatedProperties depends on subschema evaluation that draft-04 cannot express; removed (NOT ENFORCED)");
    }
    s.RemoveMember("unevaluatedProperties");
  }
  for (const char* k : {"unevaluatedItems", "propertyNames", "$dynamicRef", "$recursiveRef", "contentSchema"}) {
    if (!has(s, k)) continue;
    note(notes, Severity::kWarning, child(ptr, k),
         std::string(k) + " cannot be expressed in draft-04; removed (NOT ENFORCED)");
    s.RemoveMember(k);
  }
  for (const char* k : {"contentMediaType", "contentEncoding", "discriminator", "xml", "externalDocs", "example"}) {
    if (!has(s, k)) continue;
    note(notes, Severity::kInfo, child(ptr, k), std::string(k) + " is an annotation; removed");
    s.RemoveMember(k);
  }
  if (auto it = s.FindMember("pattern"); it != s.MemberEnd() && it->value.IsString()) {
    std::string why;
    if (!regex_compiles(it->value.GetString(), why)) {
      note(notes, Severity::kError, child(ptr, "pattern"),
           std::string("pattern \"") + it->value.GetString() + "\" is not an ECMAScript regex std::regex accepts (" +
               why + "); removed (NOT ENFORCED)");
      s.RemoveMember("pattern");
    }
  }
  lower_children(s, ptr, a, notes);
}

// ---- Gemini -------------------------------------------------------------------------

const Value* resolve_local_ref(const Value& root, std::string_view ref) {
  if (ref.rfind("#/", 0) != 0) return nullptr;
  const Value* cur = &root;
  size_t pos = 2;
  while (pos <= ref.size()) {
    size_t next = ref.find('/', pos);
    std::string token(ref.substr(pos, next == std::string_view::npos ? std::string_view::npos : next - pos));
    std::string unescaped;
    for (size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size()) {
        unescaped += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        unescaped += token[i];
      }
    }
    if (!cur->IsObject()) return nullptr;
    auto it = cur->FindMember(Value(unescaped.c_str(), static_cast<rapidjson::SizeType>(unescaped.size())));
    if (it == cur->MemberEnd()) return nullptr;
    cur = &it->value;
    if (next == std::string_view::npos) break;
    pos = next + 1;
  }
  return cur;
}

void gemini_node(Value& s, const Value& root, const std::string& ptr, Allocator& a, std::vector<Note>& notes,
                 int depth) {
  if (!s.IsObject()) return;
  if (auto it = s.FindMember("$ref"); it != s.MemberEnd() && it->value.IsString()) {
    std::string ref = it->value.GetString();
    const Value* target = resolve_local_ref(root, ref);
    if (!target || depth > 8) {
      note(notes, Severity::kWarning, child(ptr, "$ref"),
           "gemini: $ref \"" + ref + "\" " + (target ? "is recursive" : "does not resolve") +
               "; replaced by a plain object (NOT ENFORCED for Gemini)");
      s.SetObject();
      s.AddMember("type", "object", a);
      return;
    }
    Value copy(*target, a);
    s = copy;
    gemini_node(s, root, ptr, a, notes, depth + 1);
    return;
  }
  if (auto t = s.FindMember("type"); t != s.MemberEnd() && t->value.IsArray()) {
    std::vector<std::string> types;
    bool nullable = false;
    for (auto& v : t->value.GetArray()) {
      if (!v.IsString()) continue;
      if (std::string_view(v.GetString()) == "null") nullable = true;
      else types.emplace_back(v.GetString());
    }
    if (types.size() == 1) {
      t->value.SetString(types[0].c_str(), static_cast<rapidjson::SizeType>(types[0].size()), a);
    } else {
      s.RemoveMember("type");
      note(notes, Severity::kWarning, child(ptr, "type"), "gemini: a union of several types is not supported; type removed");
    }
    if (nullable) s.AddMember("nullable", Value(true), a);
  }
  if (has(s, "oneOf")) {
    rename(s, "oneOf", "anyOf", a);
    note(notes, Severity::kInfo, child(ptr, "oneOf"), "gemini: oneOf sent as anyOf");
  }
  for (const char* k : {"additionalProperties", "patternProperties", "dependencies", "not", "additionalItems",
                        "exclusiveMinimum", "exclusiveMaximum", "definitions", "allOf", "multipleOf",
                        "uniqueItems", "$schema"}) {
    if (!has(s, k)) continue;
    if (std::string_view(k) != "definitions")
      note(notes, Severity::kInfo, child(ptr, k), std::string("gemini: ") + k + " is not accepted; removed");
    s.RemoveMember(k);
  }
  if (auto it = s.FindMember("properties"); it != s.MemberEnd() && it->value.IsObject())
    for (auto m = it->value.MemberBegin(); m != it->value.MemberEnd(); ++m)
      gemini_node(m->value, root, child(child(ptr, "properties"), m->name.GetString()), a, notes, depth);
  if (auto it = s.FindMember("items"); it != s.MemberEnd()) {
    if (it->value.IsArray()) {
      Value first(rapidjson::kObjectType);
      if (it->value.Size() > 0) first.CopyFrom(it->value[0], a);
      it->value = first;
      note(notes, Severity::kInfo, child(ptr, "items"), "gemini: tuple items reduced to the first item schema");
    }
    gemini_node(s["items"], root, child(ptr, "items"), a, notes, depth);
  }
  if (auto it = s.FindMember("anyOf"); it != s.MemberEnd() && it->value.IsArray())
    for (rapidjson::SizeType i = 0; i < it->value.Size(); ++i)
      gemini_node(it->value[i], root, child(child(ptr, "anyOf"), i), a, notes, depth);
}

constexpr const char* kKeywords[] = {
    "alignas", "alignof", "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch",
    "char", "char8_t", "char16_t", "char32_t", "class", "compl", "concept", "const", "consteval", "constexpr",
    "constinit", "const_cast", "continue", "co_await", "co_return", "co_yield", "decltype", "default", "delete",
    "do", "double", "dynamic_cast", "else", "enum", "explicit", "export", "extern", "false", "float", "for",
    "friend", "goto", "if", "inline", "int", "long", "mutable", "namespace", "new", "noexcept", "not", "not_eq",
    "nullptr", "operator", "or", "or_eq", "private", "protected", "public", "register", "reinterpret_cast",
    "requires", "return", "short", "signed", "sizeof", "static", "static_assert", "static_cast", "struct",
    "switch", "template", "this", "thread_local", "throw", "true", "try", "typedef", "typeid", "typename",
    "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor", "xor_eq",
    // names the generated code itself uses
    "gen", "atlas", "rapidjson", "std", "ctx", "args", "out", "err", "value"};

uint32_t fnv1a(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string hash_suffix(std::string_view s) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", fnv1a(s));
  return buf;
}

std::string mangle(std::string_view name, bool (*allowed)(char, size_t), size_t max_len) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) out += allowed(name[i], i) ? name[i] : '_';
  if (out.empty() || !allowed(out[0], 0)) out.insert(out.begin(), '_');
  std::string suffix = "_" + hash_suffix(name);
  if (out.size() + suffix.size() > max_len) out.resize(max_len - suffix.size());
  return out + suffix;
}

bool openai_char(char c, size_t) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }
bool gemini_char(char c, size_t i) {
  if (i == 0) return std::isalpha(static_cast<unsigned char>(c)) || c == '_';
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == ':' || c == '-';
}

}  // namespace

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "?";
}

void lower_schema(Value& schema, Allocator& a, std::vector<Note>& notes) { lower_node(schema, "", a, notes); }

void to_gemini_schema(Value& schema, Allocator& a, std::vector<Note>& notes) {
  Value root(schema, a);  // $ref targets are resolved against the unmodified schema
  gemini_node(schema, root, "", a, notes, 0);
  remove(schema, "definitions");
}

bool is_valid_openai_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return openai_char(c, 1); });
}
bool is_valid_gemini_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (size_t i = 0; i < name.size(); ++i)
    if (!gemini_char(name[i], i)) return false;
  return true;
}
std::string openai_tool_name(std::string_view name) {
  return is_valid_openai_name(name) ? std::string(name) : mangle(name, openai_char, 64);
}
std::string gemini_tool_name(std::string_view name) {
  return is_valid_gemini_name(name) ? std::string(name) : mangle(name, gemini_char, 64);
}

bool is_cpp_keyword(std::string_view word) {
  return std::any_of(std::begin(kKeywords), std::end(kKeywords), [&](const char* k) { return word == k; });
}

std::string to_identifier(std::string_view name) {
  std::string out;
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (std::isupper(c)) {
      bool boundary = i > 0 && (std::islower(static_cast<unsigned char>(name[i - 1])) ||
                                std::isdigit(static_cast<unsigned char>(name[i - 1])) ||
                                (i + 1 < name.size() && std::islower(static_cast<unsigned char>(name[i + 1])) &&
                                 std::isupper(static_cast<unsigned char>(name[i - 1]))));
      if (boundary && !out.empty() && out.back() != '_') out += '_';
      out += static_cast<char>(std::tolower(c));
    } else if (std::isalnum(c)) {
      out += static_cast<char>(c);
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  if (out.empty()) out = "tool";
  if (std::isdigit(static_cast<unsigned char>(out[0]))) out = "t_" + out;
  if (is_cpp_keyword(out)) out += '_';
  return out;
}

std::string to_type_name(std::string_view ident) {
  std::string out;
  bool up = true;
  for (char c : ident) {
    if (c == '_') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "T" + out;
  return out;
}

std::vector<Tool> normalize_tools(const std::vector<FoundTool>& found, std::vector<Skipped>& skipped) {
  std::vector<Tool> tools;
  std::map<std::string, std::string> first_seen;  // name -> where
  std::set<std::string> idents, openai_names, gemini_names;
  for (const FoundTool& f : found) {
    if (auto it = first_seen.find(f.name); it != first_seen.end()) {
      skipped.push_back({f.where, "duplicate tool name \"" + f.name + "\" (first defined at " + it->second + ")"});
      continue;
    }
    auto parsed = json::parse(f.input_schema_json, "input schema of tool \"" + f.name + "\"");
    if (!parsed.is_ok()) {
      skipped.push_back({f.where, parsed.status().message()});
      continue;
    }
    json::Document doc = std::move(parsed).value();
    Tool t;
    t.source = f;
    t.name = f.name;
    t.description = f.description;
    if (doc.IsObject() && !doc.HasMember("type") && !doc.HasMember("$ref")) {
      doc.AddMember("type", "object", doc.GetAllocator());
      if (!doc.HasMember("properties")) doc.AddMember("properties", Value(rapidjson::kObjectType), doc.GetAllocator());
      t.notes.push_back({Severity::kInfo, "", "input schema has no type; \"type\": \"object\" added"});
    }
    const Value* type = json::find(doc, "type");
    if (!doc.IsObject() || !type || !type->IsString() || std::string_view(type->GetString()) != "object") {
      skipped.push_back({f.where, "tool \"" + f.name +
                                      "\": the input schema is not an object schema (tool arguments are a JSON "
                                      "object); wrap the value in an object property"});
      continue;
    }
    lower_schema(doc, doc.GetAllocator(), t.notes);
    t.schema_json = json::dump(doc);
    json::Document gem;
    gem.CopyFrom(doc, gem.GetAllocator());
    to_gemini_schema(gem, gem.GetAllocator(), t.notes);
    t.gemini_parameters_json = json::dump(gem);

    std::string base = to_identifier(f.name);
    std::string ident = base;
    for (int n = 2; idents.count(ident); ++n) ident = base + "_" + std::to_string(n);
    idents.insert(ident);
    t.ident = ident;
    t.type_name = to_type_name(ident);
    t.openai_name = openai_tool_name(f.name);
    t.gemini_name = gemini_tool_name(f.name);
    if (t.openai_name != f.name)
      t.notes.push_back({Severity::kInfo, "", "name sent to OpenAI as \"" + t.openai_name + "\" (mapped back on calls)"});
    if (t.gemini_name != f.name)
      t.notes.push_back({Severity::kInfo, "", "name sent to Gemini as \"" + t.gemini_name + "\" (mapped back on calls)"});
    if (!openai_names.insert(t.openai_name).second || !gemini_names.insert(t.gemini_name).second) {
      skipped.push_back({f.where, "tool \"" + f.name + "\": its provider-safe name collides with another tool's"});
      idents.erase(ident);
      continue;
    }
    first_seen[f.name] = f.where.to_string();
    tools.push_back(std::move(t));
  }
  return tools;
}

}  // namespace atlas::scan
