// TypeScript/JavaScript sources: MCP SDK registrations (server.tool(name, [description,] shape,
// ...), server.registerTool(name, {description, inputSchema}, ...)) with zod shapes or JSON
// Schema literals, and object literals carrying `name` plus `inputSchema` / `parameters` /
// `input_schema`. Zod chains are mapped to JSON Schema token by token; nothing is evaluated.
#include <set>

#include "common/json.hpp"
#include "scan/lexer.hpp"
#include "scan/scanner.hpp"

namespace atlas::scan {
namespace {

using json::Value;

bool is_punct(const Token& t, std::string_view p) { return t.kind == Token::kPunct && t.text == p; }

class TsScan {
 public:
  TsScan(std::string_view text, const std::string& file, Found& out)
      : tokens_(tokenize(text, Lang::kJavaScript)), file_(file), out_(out) {}

  void run() {
    for (size_t i = 0; i + 2 < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (t.kind == Token::kName && (t.text == "tool" || t.text == "registerTool") && i > 0 &&
          is_punct(tokens_[i - 1], ".") && is_punct(tokens_[i + 1], "(") && tokens_[i + 2].kind == Token::kString) {
        registration(i);
        continue;
      }
      if (t.kind == Token::kName && (t.text == "inputSchema" || t.text == "parameters" || t.text == "input_schema") &&
          is_punct(tokens_[i + 1], ":")) {
        object_with_schema(i);
      }
    }
  }

 private:
  // ---- zod ------------------------------------------------------------------------------
  struct Zod {
    bool ok = true;
    bool optional = false;
    std::string error;
  };

  Value zod(size_t i, size_t& end, Zod& z, json::Allocator& a) {
    Value s(rapidjson::kObjectType);
    if (!(tokens_[i].kind == Token::kName && i + 2 < tokens_.size() && is_punct(tokens_[i + 1], "."))) {
      z.ok = false;
      z.error = "line " + std::to_string(tokens_[i].line) + ": `" + tokens_[i].text + "` is not a zod schema";
      end = i + 1;
      return s;
    }
    size_t j = i + 2;
    bool first = true;
    while (j + 1 < tokens_.size() && tokens_[j].kind == Token::kName &&
           (is_punct(tokens_[j + 1], "(") || is_punct(tokens_[j + 1], "<"))) {
      const std::string m = tokens_[j].text;
      size_t open = j + 1;
      if (is_punct(tokens_[open], "<")) {  // TypeScript type arguments: z.custom<Foo>(...)
        int angle = 0;
        for (; open < tokens_.size(); ++open) {
          if (is_punct(tokens_[open], "<")) ++angle;
          if (is_punct(tokens_[open], ">") && --angle == 0) break;
        }
        ++open;
        if (open >= tokens_.size() || !is_punct(tokens_[open], "(")) break;
      }
      size_t close = skip_balanced(tokens_, open);
      size_t arg = open + 1;
      bool has_arg = arg < close - 1;
      auto literal_arg = [&](Value& v) { return has_arg && parse_literal(tokens_, arg, Lang::kJavaScript, v, a).ok; };
      auto set_num = [&](const char* key) {
        Value v;
        if (literal_arg(v) && v.IsNumber()) json::set(s, key, std::move(v), a);
      };
      std::string type = s.HasMember("type") && s["type"].IsString() ? s["type"].GetString() : "";
      if (first) {
        if (m == "string") s.AddMember("type", "string", a);
        else if (m == "number") s.AddMember("type", "number", a);
        else if (m == "bigint") s.AddMember("type", "integer", a);
        else if (m == "boolean") s.AddMember("type", "boolean", a);
        else if (m == "null") s.AddMember("type", "null", a);
        else if (m == "date") s.AddMember("type", "string", a);
        else if (m == "any" || m == "unknown") {
        } else if (m == "array" && has_arg) {
          size_t e;
          Zod inner;
          Value items = zod(arg, e, inner, a);
          if (!inner.ok) { z = inner; end = close; return s; }
          s.AddMember("type", "array", a);
          s.AddMember("items", items, a);
        } else if ((m == "enum" || m == "literal") && has_arg) {
          Value v;
          if (!literal_arg(v)) return fail(z, j, "z." + m + "() argument is not a literal", close, end, s);
          Value values(rapidjson::kArrayType);
          if (v.IsArray()) values.CopyFrom(v, a);
          else values.PushBack(v, a);
          bool all_str = true;
          for (auto& x : values.GetArray()) all_str = all_str && x.IsString();
          if (all_str) s.AddMember("type", "string", a);
          s.AddMember("enum", values, a);
        } else if (m == "object" && has_arg && is_punct(tokens_[arg], "{")) {
          size_t e;
          std::string err;
          if (!shape(arg, e, s, a, err)) return fail(z, j, err, close, end, s);
        } else if (m == "record" && has_arg) {
          // z.record(V) or z.record(K, V): the value schema is the last argument.
          size_t last = arg;
          for (size_t k = arg, depth = 0; k < close - 1; ++k) {
            if (is_punct(tokens_[k], "(") || is_punct(tokens_[k], "[") || is_punct(tokens_[k], "{")) ++depth;
            if (is_punct(tokens_[k], ")") || is_punct(tokens_[k], "]") || is_punct(tokens_[k], "}")) --depth;
            if (depth == 0 && is_punct(tokens_[k], ",")) last = k + 1;
          }
          size_t e;
          Zod inner;
          Value values = zod(last, e, inner, a);
          if (!inner.ok) { z = inner; end = close; return s; }
          s.AddMember("type", "object", a);
          s.AddMember("additionalProperties", values, a);
        } else if (m == "union" && has_arg && is_punct(tokens_[arg], "[")) {
          Value any(rapidjson::kArrayType);
          size_t k = arg + 1, stop = skip_balanced(tokens_, arg) - 1;
          while (k < stop) {
            size_t e;
            Zod inner;
            Value option = zod(k, e, inner, a);
            if (!inner.ok) { z = inner; end = close; return s; }
            any.PushBack(option, a);
            k = e;
            if (k < stop && is_punct(tokens_[k], ",")) ++k;
          }
          s.AddMember("anyOf", any, a);
        } else {
          return fail(z, j, "z." + m + "() is not mapped by the scanner", close, end, s);
        }
        first = false;
      } else if (m == "optional") {
        z.optional = true;
      } else if (m == "nullable" || m == "nullish") {
        if (m == "nullish") z.optional = true;
        if (s.HasMember("type") && s["type"].IsString()) {
          Value types(rapidjson::kArrayType);
          types.PushBack(Value(s["type"], a), a).PushBack("null", a);
          s["type"] = types;
        }
      } else if (m == "default") {
        z.optional = true;
        Value v;
        if (literal_arg(v)) json::set(s, "default", std::move(v), a);
      } else if (m == "describe") {
        Value v;
        if (literal_arg(v) && v.IsString()) json::set(s, "description", std::move(v), a);
      } else if (m == "int") {
        json::set(s, "type", "integer", a);
      } else if (m == "min" || m == "gte") {
        set_num(type == "string" ? "minLength" : type == "array" ? "minItems" : "minimum");
      } else if (m == "max" || m == "lte") {
        set_num(type == "string" ? "maxLength" : type == "array" ? "maxItems" : "maximum");
      } else if (m == "length") {
        set_num(type == "array" ? "minItems" : "minLength");
        set_num(type == "array" ? "maxItems" : "maxLength");
      } else if (m == "gt" || m == "lt") {
        set_num(m == "gt" ? "exclusiveMinimum" : "exclusiveMaximum");
      } else if (m == "positive") {
        json::set(s, "exclusiveMinimum", 0, a);
      } else if (m == "nonnegative") {
        json::set(s, "minimum", 0, a);
      } else if (m == "negative") {
        json::set(s, "exclusiveMaximum", 0, a);
      } else if (m == "nonempty") {
        json::set(s, type == "array" ? "minItems" : "minLength", 1, a);
      } else if (m == "email" || m == "url" || m == "uuid" || m == "datetime") {
        json::set(s, "format", m == "url" ? "uri" : m == "datetime" ? "date-time" : m, a);
      } else if (m == "regex" && has_arg && tokens_[arg].kind == Token::kRegex) {
        json::set(s, "pattern", tokens_[arg].text, a);
      } else if (m == "strict") {
        json::set(s, "additionalProperties", false, a);
      } else if (m == "passthrough" || m == "trim" || m == "toLowerCase" || m == "toUpperCase" || m == "finite") {
      } else {
        return fail(z, j, "zod method ." + m + "() is not mapped by the scanner", close, end, s);
      }
      j = close;
      if (j + 1 < tokens_.size() && is_punct(tokens_[j], ".") && tokens_[j + 1].kind == Token::kName) {
        ++j;
        continue;
      }
      break;
    }
    end = j;
    if (first) return fail(z, i, "`" + tokens_[i].text + "." + tokens_[i + 2].text + "` is not a zod call", j, end, s);
    return s;
  }

  Value fail(Zod& z, size_t at, const std::string& why, size_t close, size_t& end, Value& s) {
    z.ok = false;
    z.error = why.rfind("line ", 0) == 0 ? why : "line " + std::to_string(tokens_[at].line) + ": " + why;
    end = close;
    return std::move(s);
  }

  // A zod shape `{ key: z..., ... }` at tokens_[open] into an object schema.
  bool shape(size_t open, size_t& end, Value& out, json::Allocator& a, std::string& err) {
    size_t close = skip_balanced(tokens_, open);
    end = close;
    Value props(rapidjson::kObjectType), required(rapidjson::kArrayType);
    size_t k = open + 1;
    while (k < close - 1) {
      const Token& key = tokens_[k];
      if (!((key.kind == Token::kName || key.kind == Token::kString) && is_punct(tokens_[k + 1], ":"))) {
        err = "line " + std::to_string(key.line) + ": `" + key.text + "` in a zod shape is not `key: schema`";
        return false;
      }
      size_t e;
      Zod z;
      Value s = zod(k + 2, e, z, a);
      if (!z.ok) {
        err = z.error;
        return false;
      }
      props.AddMember(json::str(key.text, a), s, a);
      if (!z.optional) required.PushBack(json::str(key.text, a), a);
      k = e;
      if (k < close - 1 && is_punct(tokens_[k], ",")) ++k;
    }
    if (!out.HasMember("type")) out.AddMember("type", "object", a);
    out.AddMember("properties", props, a);
    if (!required.Empty()) out.AddMember("required", required, a);
    return true;
  }

  // The value at tokens_[i] as a schema: a zod shape/expression or a JSON Schema literal.
  bool schema_value(size_t i, json::Document& doc, std::string& err, size_t& end) {
    auto& a = doc.GetAllocator();
    doc.SetObject();
    if (is_punct(tokens_[i], "{")) {
      bool zod_shape = i + 3 < tokens_.size() && is_punct(tokens_[i + 2], ":") && tokens_[i + 3].kind == Token::kName &&
                       tokens_[i + 3].text == "z";
      bool empty = is_punct(tokens_[i + 1], "}");
      if (zod_shape || empty) return shape(i, end, doc, a, err);
      LiteralResult r = parse_literal(tokens_, i, Lang::kJavaScript, doc, a);
      end = r.next;
      if (!r.ok) err = r.error;
      return r.ok;
    }
    if (tokens_[i].kind == Token::kName && tokens_[i].text == "z") {
      Zod z;
      Value s = zod(i, end, z, a);
      if (!z.ok) {
        err = z.error;
        return false;
      }
      doc.CopyFrom(s, a);
      return true;
    }
    err = "line " + std::to_string(tokens_[i].line) + ": the schema `" + tokens_[i].text +
          "...` is computed (not a literal or a zod expression); inline it or export it as JSON";
    end = i + 1;
    return false;
  }

  // server.tool("name", ["description",] shape|schema, ...) / server.registerTool("name", {...}, cb)
  void registration(size_t i) {
    size_t open = i + 1, close = skip_balanced(tokens_, open);
    int line = tokens_[i].line;
    std::string name = tokens_[i + 2].text;
    std::string description;
    size_t k = i + 3;
    if (is_punct(tokens_[k], ",")) ++k;
    json::Document schema;
    std::string err;
    size_t end = k;
    if (tokens_[i].text == "registerTool") {
      if (!is_punct(tokens_[k], "{")) {
        out_.skipped.push_back({{file_, line}, "registerTool(\"" + name + "\", ...): the config is not an object literal"});
        return;
      }
      size_t cfg_close = skip_balanced(tokens_, k);
      handled_.insert(k);
      bool found_schema = false;
      for (size_t m = k + 1; m + 1 < cfg_close; ++m) {
        if (tokens_[m].kind != Token::kName || !is_punct(tokens_[m + 1], ":") || depth_in(k, m) != 1) continue;
        if (tokens_[m].text == "description" && tokens_[m + 2].kind == Token::kString) description = tokens_[m + 2].text;
        if (tokens_[m].text == "inputSchema") {
          found_schema = true;
          if (!schema_value(m + 2, schema, err, end)) {
            out_.skipped.push_back({{file_, line}, "tool \"" + name + "\": " + err});
            return;
          }
        }
      }
      if (!found_schema) schema.Parse(R"({"type":"object","properties":{}})");
    } else {
      if (tokens_[k].kind == Token::kString) {
        description = tokens_[k].text;
        ++k;
        if (is_punct(tokens_[k], ",")) ++k;
      }
      if (is_punct(tokens_[k], "{")) {
        handled_.insert(k);
        if (!schema_value(k, schema, err, end)) {
          out_.skipped.push_back({{file_, line}, "tool \"" + name + "\": " + err});
          return;
        }
      } else {
        schema.Parse(R"({"type":"object","properties":{}})");  // server.tool(name, [desc,] callback)
      }
    }
    (void)close;
    FoundTool t;
    t.name = name;
    t.description = description;
    t.input_schema_json = json::dump(schema);
    t.format = "typescript ." + tokens_[i].text + "()";
    t.where = {file_, line};
    out_.tools.push_back(std::move(t));
  }

  int depth_in(size_t open, size_t at) const {
    int depth = 0;
    for (size_t k = open; k < at; ++k) {
      if (is_punct(tokens_[k], "(") || is_punct(tokens_[k], "[") || is_punct(tokens_[k], "{")) ++depth;
      if (is_punct(tokens_[k], ")") || is_punct(tokens_[k], "]") || is_punct(tokens_[k], "}")) --depth;
    }
    return depth;
  }

  // `{ name: "x", description: "...", inputSchema: {...} }` anywhere.
  void object_with_schema(size_t key) {
    // Find the enclosing '{'.
    int depth = 0;
    size_t open = key;
    bool found = false;
    while (open > 0) {
      --open;
      const Token& t = tokens_[open];
      if (is_punct(t, "}") || is_punct(t, ")") || is_punct(t, "]")) ++depth;
      if (is_punct(t, "{") || is_punct(t, "(") || is_punct(t, "[")) {
        if (depth == 0) {
          found = is_punct(t, "{");
          break;
        }
        --depth;
      }
    }
    if (!found || handled_.count(open)) return;
    size_t close = skip_balanced(tokens_, open);
    std::string name, description;
    for (size_t m = open + 1; m + 2 < close; ++m) {
      if (tokens_[m].kind != Token::kName || !is_punct(tokens_[m + 1], ":") || depth_in(open, m) != 1) continue;
      if (tokens_[m].text == "name" && tokens_[m + 2].kind == Token::kString) name = tokens_[m + 2].text;
      if (tokens_[m].text == "description" && tokens_[m + 2].kind == Token::kString) description = tokens_[m + 2].text;
    }
    if (name.empty()) return;  // a schema property called `parameters`, not a tool
    handled_.insert(open);
    json::Document schema;
    std::string err;
    size_t end;
    if (!schema_value(key + 2, schema, err, end)) {
      out_.skipped.push_back({{file_, tokens_[key].line}, "tool \"" + name + "\": " + err});
      return;
    }
    FoundTool t;
    t.name = name;
    t.description = description;
    t.input_schema_json = json::dump(schema);
    t.format = "typescript {name, " + tokens_[key].text + "}";
    t.where = {file_, tokens_[open].line};
    out_.tools.push_back(std::move(t));
  }

  std::vector<Token> tokens_;
  const std::string& file_;
  Found& out_;
  std::set<size_t> handled_;
};

}  // namespace

void scan_typescript_text(std::string_view text, const std::string& file, Found& out) { TsScan(text, file, out).run(); }

}  // namespace atlas::scan
