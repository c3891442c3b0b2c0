// OpenAPI 3 documents (JSON): one tool per operation. Arguments are an object with one
// property per parameter (path, query, header, cookie) plus `body` for a JSON request body;
// component schemas referenced from them travel along as `definitions`.
#include <algorithm>
#include <cctype>
#include <set>

#include "common/json.hpp"
#include "scan/scanner.hpp"

namespace atlas::scan {
namespace {

using json::Value;

constexpr const char* kMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

const Value* resolve(const Value& root, const Value& v) {
  const Value* cur = &v;
  for (int i = 0; i < 8 && cur->IsObject(); ++i) {
    const Value* ref = json::find(*cur, "$ref");
    if (!ref || !ref->IsString()) return cur;
    std::string r = ref->GetString();
    if (r.rfind("#/", 0) != 0) return nullptr;
    const Value* next = &root;
    size_t pos = 2;
    while (next && pos <= r.size()) {
      size_t slash = r.find('/', pos);
      std::string key = r.substr(pos, slash == std::string::npos ? std::string::npos : slash - pos);
      next = json::find(*next, key);
      if (slash == std::string::npos) break;
      pos = slash + 1;
    }
    if (!next) return nullptr;
    cur = next;
  }
  return cur;
}

// Rewrites #/components/schemas/X refs to #/definitions/X, collecting the names used.
void rewrite_refs(Value& v, json::Allocator& a, std::set<std::string>& used) {
  if (v.IsObject()) {
    for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
      if (std::string_view(m->name.GetString()) == "$ref" && m->value.IsString()) {
        std::string r = m->value.GetString();
        const std::string prefix = "#/components/schemas/";
        if (r.rfind(prefix, 0) == 0) {
          used.insert(r.substr(prefix.size()));
          std::string nr = "#/definitions/" + r.substr(prefix.size());
          m->value.SetString(nr.c_str(), static_cast<rapidjson::SizeType>(nr.size()), a);
        }
      } else {
        rewrite_refs(m->value, a, used);
      }
    }
  } else if (v.IsArray()) {
    for (auto& e : v.GetArray()) rewrite_refs(e, a, used);
  }
}

std::string op_name(const std::string& method, const std::string& path) {
  std::string out = method;
  for (char c : path) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += c;
    else if (c != '{' && c != '}' && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out;
}

int locate(std::string_view text, const std::string& needle) {
  size_t pos = text.find(json::quote(needle));
  return pos == std::string_view::npos ? 0 : line_of(text, pos);
}

}  // namespace

Status scan_openapi_text(std::string_view text, const std::string& file, Found& out) {
  auto parsed = json::parse(text, file);
  if (!parsed.is_ok()) {
    bool yaml = file.size() > 5 && (file.ends_with(".yaml") || file.ends_with(".yml"));
    if (yaml)
      return invalid_argument(file + ": YAML OpenAPI documents are not read; convert it to JSON first (for example "
                                     "python3 -c 'import sys,yaml,json; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' "
                                     "< api.yaml > api.json)");
    return parsed.status();
  }
  const json::Document& doc = parsed.value();
  const Value* version = json::find(doc, "openapi");
  if (!version || !version->IsString() || std::string_view(version->GetString()).substr(0, 2) != "3.")
    return invalid_argument(file + ": not an OpenAPI 3 document (no \"openapi\": \"3.x\" member; Swagger 2.0 is not read)");
  const Value* paths = json::find(doc, "paths");
  if (!paths || !paths->IsObject()) return invalid_argument(file + ": OpenAPI document has no \"paths\" object");
  const Value* schemas = json::find(doc, "components");
  schemas = schemas ? json::find(*schemas, "schemas") : nullptr;

  for (auto p = paths->MemberBegin(); p != paths->MemberEnd(); ++p) {
    std::string path = p->name.GetString();
    const Value* item = resolve(doc, p->value);
    if (!item || !item->IsObject()) continue;
    for (const char* method : kMethods) {
      const Value* op = json::find(*item, method);
      if (!op || !op->IsObject()) continue;
      const Value* op_id = json::find(*op, "operationId");
      std::string name = op_id && op_id->IsString() ? op_id->GetString() : op_name(method, path);
      Location where{file, op_id && op_id->IsString() ? locate(text, name) : locate(text, path)};

      json::Document schema;
      schema.SetObject();
      auto& a = schema.GetAllocator();
      Value props(rapidjson::kObjectType), required(rapidjson::kArrayType);
      // Operation parameters override path-level ones with the same name and location.
      std::vector<const Value*> params;
      for (const Value* list : {json::find(*item, "parameters"), json::find(*op, "parameters")}) {
        if (!list || !list->IsArray()) continue;
        for (const auto& raw : list->GetArray()) {
          const Value* prm = resolve(doc, raw);
          if (!prm || !prm->IsObject()) {
            out.skipped.push_back({where, "operation " + name + ": a parameter $ref does not resolve; parameter not mapped"});
            continue;
          }
          std::string pname = json::get_string(*prm, "name"), pin = json::get_string(*prm, "in");
          std::erase_if(params, [&](const Value* q) {
            return json::get_string(*q, "name") == pname && json::get_string(*q, "in") == pin;
          });
          params.push_back(prm);
        }
      }
      std::set<std::string> names;
      for (const Value* prm : params) {
        std::string pname = json::get_string(*prm, "name"), pin = json::get_string(*prm, "in");
        if (pname.empty()) continue;
        std::string key = names.count(pname) ? pin + "_" + pname : pname;
        names.insert(key);
        Value ps(rapidjson::kObjectType);
        if (const Value* s = json::find(*prm, "schema"); s && s->IsObject()) ps.CopyFrom(*s, a);
        else if (json::find(*prm, "content"))
          out.skipped.push_back({where, "operation " + name + ": parameter " + pname +
                                            " uses `content` instead of `schema`; accepted as any value"});
        if (!ps.HasMember("description") && json::find(*prm, "description"))
          json::set(ps, "description", json::get_string(*prm, "description"), a);
        props.AddMember(json::str(key, a), ps, a);
        if (pin == "path" || json::get_bool(*prm, "required")) required.PushBack(json::str(key, a), a);
      }
      if (const Value* rb_raw = json::find(*op, "requestBody")) {
        const Value* rb = resolve(doc, *rb_raw);
        const Value* content = rb ? json::find(*rb, "content") : nullptr;
        const Value* media = nullptr;
        if (content && content->IsObject())
          for (auto m = content->MemberBegin(); m != content->MemberEnd(); ++m) {
            std::string_view type = m->name.GetString();
            if (type == "application/json" || (type.ends_with("+json") && !media)) media = &m->value;
          }
        const Value* body_schema = media ? json::find(*media, "schema") : nullptr;
        if (body_schema && body_schema->IsObject()) {
          Value bs(*body_schema, a);
          if (!bs.HasMember("description") && rb && json::find(*rb, "description"))
            json::set(bs, "description", json::get_string(*rb, "description"), a);
          props.AddMember("body", bs, a);
          if (rb && json::get_bool(*rb, "required")) required.PushBack("body", a);
        } else {
          out.skipped.push_back({where, "operation " + name +
                                            ": request body has no application/json schema; the body is not mapped"});
        }
      }
      schema.AddMember("type", "object", a);
      schema.AddMember("properties", props, a);
      if (!required.Empty()) schema.AddMember("required", required, a);
      schema.AddMember("additionalProperties", false, a);
      // Bring along the component schemas referenced (transitively).
      std::set<std::string> used, done;
      rewrite_refs(schema, a, used);
      Value defs(rapidjson::kObjectType);
      while (used.size() > done.size()) {
        for (const std::string& n : std::set<std::string>(used)) {
          if (done.count(n)) continue;
          done.insert(n);
          const Value* s = schemas ? json::find(*schemas, n) : nullptr;
          if (!s) {
            out.skipped.push_back({where, "operation " + name + ": #/components/schemas/" + n + " does not exist"});
            continue;
          }
          Value copy(*s, a);
          rewrite_refs(copy, a, used);
          defs.AddMember(json::str(n, a), copy, a);
        }
      }
      if (defs.MemberCount() > 0) schema.AddMember("definitions", defs, a);

      FoundTool t;
      t.name = name;
      std::string summary = json::get_string(*op, "summary"), desc = json::get_string(*op, "description");
      t.description = summary.empty() ? desc : summary;
      if (t.description.empty()) t.description = std::string(method) + " " + path;
      t.input_schema_json = json::dump(schema);
      t.format = std::string("openapi ") + method + " " + path;
      t.where = where;
      out.tools.push_back(std::move(t));
    }
  }
  return Status::ok();
}

}  // namespace atlas::scan
