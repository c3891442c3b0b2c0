#include "common/json_schema.hpp"

// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (std::function in the NFA
// states) when optimising with sanitizers; the warning comes from the standard library's
// own code, instantiated for RapidJSON's std::regex-based "pattern" support.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <rapidjson/pointer.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>

#include <regex>
#include <set>

namespace atlas::json {

struct Schema::Impl {
  std::string source;
  Document doc;  // kept alive next to the compiled schema that was built from it
  std::unique_ptr<rapidjson::SchemaDocument> compiled;
};

namespace {

std::string pointer_string(const rapidjson::Pointer& p) {
  rapidjson::StringBuffer sb;
  p.Stringify(sb);
  return std::string(sb.GetString(), sb.GetSize());
}

std::string type_name(const Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType: return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType: return "boolean";
    case rapidjson::kObjectType: return "object";
    case rapidjson::kArrayType: return "array";
    case rapidjson::kStringType: return "string";
    case rapidjson::kNumberType: return v.IsInt64() || v.IsUint64() ? "integer" : "number";
  }
  return "value";
}

// "string \"abc\"", "number 5", "object" — short enough for one line.
std::string describe(const Value& v) {
  std::string t = type_name(v);
  if (v.IsObject() || v.IsArray()) return t;
  std::string text = dump(v);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return t + " " + text;
}

std::string display_pointer(const std::string& p) { return p.empty() ? "(top level)" : p; }

std::string schema_types(const Value& t) {
  if (t.IsString()) return t.GetString();
  std::string out;
  if (t.IsArray()) {
    for (const auto& e : t.GetArray()) {
      if (!e.IsString()) continue;
      if (!out.empty()) out += " or ";
      out += e.GetString();
    }
  }
  return out.empty() ? "a different type" : out;
}

bool property_known(const Value& schema, std::string_view name) {
  if (const Value* props = find(schema, "properties"); props && find(*props, name)) return true;
  if (const Value* pats = find(schema, "patternProperties"); pats && pats->IsObject()) {
    for (const auto& m : pats->GetObject()) {
      try {
        if (std::regex_search(std::string(name), std::regex(m.name.GetString(), std::regex::ECMAScript))) return true;
      } catch (const std::regex_error&) {
      }
    }
  }
  return false;
}

std::string allowed_properties(const Value& schema) {
  std::string out;
  if (const Value* props = find(schema, "properties"); props && props->IsObject()) {
    for (const auto& m : props->GetObject()) {
      if (!out.empty()) out += ", ";
      out += m.name.GetString();
    }
  }
  return out.empty() ? "none" : out;
}

// Fills expected/found/message from the schema node and the instance value.
void explain(SchemaError& e, const Value* schema, const Value* instance) {
  static const Value kNull;
  const Value& s = schema ? *schema : kNull;
  const Value& v = instance ? *instance : kNull;
  std::string where = display_pointer(e.instance_pointer);
  const std::string& k = e.keyword;
  auto number = [&](std::string_view key) {
    const Value* n = find(s, key);
    return n ? dump(*n) : std::string("?");
  };

  if (k == "type") {
    e.expected = schema_types(find(s, "type") ? *find(s, "type") : kNull);
    e.found = describe(v);
  } else if (k == "required") {
    e.expected = "property \"?\"";
    if (const Value* req = find(s, "required"); req && req->IsArray()) {
      for (const auto& r : req->GetArray()) {
        if (r.IsString() && !find(v, std::string_view(r.GetString(), r.GetStringLength()))) {
          e.expected = std::string("property \"") + r.GetString() + "\"";
          break;
        }
      }
    }
    e.found = "it is missing";
    e.message = where + ": missing required " + e.expected + " (JSON Schema keyword 'required'); add it";
    return;
  } else if (k == "additionalProperties") {
    std::string unknown;
    if (!v.IsObject() && !e.instance_pointer.empty()) {
      // RapidJSON points at the offending member itself; report it from its parent.
      size_t slash = e.instance_pointer.rfind('/');
      unknown = e.instance_pointer.substr(slash + 1);
      for (size_t at; (at = unknown.find("~1")) != std::string::npos;) unknown.replace(at, 2, "/");
      for (size_t at; (at = unknown.find("~0")) != std::string::npos;) unknown.replace(at, 2, "~");
      e.instance_pointer = e.instance_pointer.substr(0, slash);
      where = display_pointer(e.instance_pointer);
    } else if (v.IsObject()) {
      for (const auto& m : v.GetObject()) {
        if (!property_known(s, std::string_view(m.name.GetString(), m.name.GetStringLength()))) {
          unknown = m.name.GetString();
          break;
        }
      }
    }
    e.expected = "only the properties " + allowed_properties(s);
    e.found = unknown.empty() ? "an unexpected property" : "unknown property \"" + unknown + "\"";
    e.message = where + ": " + e.found + " (JSON Schema keyword 'additionalProperties'; allowed: " +
                allowed_properties(s) + "); remove it or fix its spelling";
    return;
  } else if (k == "enum") {
    e.expected = "one of " + (find(s, "enum") ? dump(*find(s, "enum")) : std::string("[]"));
    e.found = describe(v);
  } else if (k == "minimum") {
    e.expected = (get_bool(s, "exclusiveMinimum") ? "a number > " : "a number >= ") + number("minimum");
    e.found = describe(v);
  } else if (k == "maximum") {
    e.expected = (get_bool(s, "exclusiveMaximum") ? "a number < " : "a number <= ") + number("maximum");
    e.found = describe(v);
  } else if (k == "multipleOf") {
    e.expected = "a multiple of " + number("multipleOf");
    e.found = describe(v);
  } else if (k == "minLength" || k == "maxLength") {
    e.expected = std::string(k == "minLength" ? "at least " : "at most ") + number(k) + " characters";
    e.found = v.IsString() ? std::to_string(v.GetStringLength()) + " characters" : describe(v);
  } else if (k == "pattern") {
    e.expected = "a string matching " + number("pattern");
    e.found = describe(v);
  } else if (k == "minItems" || k == "maxItems") {
    e.expected = std::string(k == "minItems" ? "at least " : "at most ") + number(k) + " items";
    e.found = v.IsArray() ? std::to_string(v.Size()) + " items" : describe(v);
  } else if (k == "minProperties" || k == "maxProperties") {
    e.expected = std::string(k == "minProperties" ? "at least " : "at most ") + number(k) + " properties";
    e.found = v.IsObject() ? std::to_string(v.MemberCount()) + " properties" : describe(v);
  } else if (k == "uniqueItems") {
    e.expected = "items without duplicates";
    e.found = "a duplicate item";
  } else if (k == "additionalItems") {
    e.expected = "at most " + std::to_string(find(s, "items") && find(s, "items")->IsArray() ? find(s, "items")->Size() : 0) +
                 " items";
    e.found = v.IsArray() ? std::to_string(v.Size()) + " items" : describe(v);
  } else if (k == "anyOf" || k == "oneOf" || k == "allOf") {
    e.expected = k == "oneOf" ? "exactly one of the alternatives" : (k == "anyOf" ? "one of the alternatives" : "all of the sub-schemas");
    e.found = describe(v) + " that does not";
  } else if (k == "not") {
    e.expected = "a value NOT matching the 'not' sub-schema";
    e.found = describe(v);
  } else if (k == "dependencies") {
    e.expected = "the properties its 'dependencies' require";
    e.found = describe(v);
  } else {
    e.expected = "a value satisfying '" + k + "'";
    e.found = describe(v);
  }
  e.message = where + ": expected " + e.expected + ", found " + e.found + " (JSON Schema keyword '" + k + "' at " +
              e.schema_pointer + ")";
}

const std::set<std::string_view>& draft4_keywords() {
  static const std::set<std::string_view> k = {
      "$schema", "id", "$ref", "title", "description", "default", "type", "enum", "allOf", "anyOf", "oneOf",
      "not", "definitions", "properties", "patternProperties", "additionalProperties", "required",
      "dependencies", "minProperties", "maxProperties", "items", "additionalItems", "minItems", "maxItems",
      "uniqueItems", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength",
      "maxLength", "pattern",
      // annotations that validate nothing in any draft and are harmless to ignore
      "examples", "$comment", "readOnly", "writeOnly", "deprecated"};
  return k;
}

void lint(const Value& s, const std::string& at, std::vector<std::string>& out) {
  if (!s.IsObject()) return;
  for (const auto& m : s.GetObject()) {
    std::string_view key(m.name.GetString(), m.name.GetStringLength());
    std::string here = at + "/" + std::string(key);
    if (!draft4_keywords().count(key)) {
      out.push_back(here);
      continue;
    }
    if ((key == "exclusiveMinimum" || key == "exclusiveMaximum") && !m.value.IsBool()) out.push_back(here);
    if (key == "$ref" && m.value.IsString() && std::string_view(m.value.GetString()).rfind("#/$defs", 0) == 0)
      out.push_back(here);
    if (key == "pattern" && m.value.IsString()) {
      try {
        std::regex re(m.value.GetString(), std::regex::ECMAScript);
      } catch (const std::regex_error&) {
        out.push_back(here);
      }
    }
    if (key == "properties" || key == "patternProperties" || key == "definitions" || key == "dependencies") {
      if (m.value.IsObject())
        for (const auto& p : m.value.GetObject()) lint(p.value, here + "/" + p.name.GetString(), out);
    } else if (key == "items" || key == "allOf" || key == "anyOf" || key == "oneOf") {
      if (m.value.IsArray()) {
        for (rapidjson::SizeType i = 0; i < m.value.Size(); ++i) lint(m.value[i], here + "/" + std::to_string(i), out);
      } else {
        lint(m.value, here, out);
      }
    } else if (key == "additionalProperties" || key == "additionalItems" || key == "not") {
      lint(m.value, here, out);
    }
  }
}

}  // namespace

Result<Schema> Schema::compile(std::string_view schema_json, std::string_view what) {
  auto impl = std::make_shared<Impl>();
  impl->source = std::string(schema_json);
  ATLAS_ASSIGN_OR_RETURN(impl->doc, parse(impl->source, what));
  if (!impl->doc.IsObject()) {
    return invalid_argument(std::string(what) + ": a JSON Schema must be a JSON object, found " +
                            type_name(impl->doc));
  }
  impl->compiled = std::make_unique<rapidjson::SchemaDocument>(impl->doc);
  return Schema(std::move(impl));
}

std::optional<SchemaError> Schema::check(const Value& instance) const {
  rapidjson::SchemaValidator validator(*impl_->compiled);
  if (instance.Accept(validator)) return std::nullopt;
  SchemaError e;
  e.instance_pointer = pointer_string(validator.GetInvalidDocumentPointer());
  std::string sp = pointer_string(validator.GetInvalidSchemaPointer());
  e.schema_pointer = "#" + sp;
  e.keyword = validator.GetInvalidSchemaKeyword();
  const Value* schema_node = rapidjson::Pointer(sp.c_str()).Get(impl_->doc);
  if (sp.empty()) schema_node = &impl_->doc;
  const Value* instance_node =
      e.instance_pointer.empty() ? &instance : rapidjson::Pointer(e.instance_pointer.c_str()).Get(instance);
  explain(e, schema_node, instance_node);
  return e;
}

Status Schema::validate(const Value& instance, std::string_view what) const {
  auto err = check(instance);
  if (!err) return Status::ok();
  return invalid_argument(std::string(what) + ": " + err->message);
}

Status Schema::validate_text(std::string_view instance_json, std::string_view what) const {
  ATLAS_ASSIGN_OR_RETURN(Document doc, parse(instance_json, what));
  return validate(doc, what);
}

std::vector<std::string> Schema::unsupported_keywords() const {
  std::vector<std::string> out;
  lint(impl_->doc, "#", out);
  return out;
}

const std::string& Schema::source() const { return impl_->source; }

}  // namespace atlas::json
