#include <atlas/json_parse.hpp>
#include "scan/codegen.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

#include "common/json.hpp"
#include "scan/codegen_templates.hpp"
#include "scan/normalize.hpp"

namespace atlas::scan {
namespace {

namespace fs = std::filesystem;
using json::Value;

std::string header_comment(std::string_view what) {
  return std::string("// ") + kGeneratedMarker + "\n// " + std::string(what) + "\n";
}

// One line for a // comment: newlines folded, bounded length.
std::string comment_text(std::string_view s, size_t max = 110) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  while (out.find("  ") != std::string::npos) out.replace(out.find("  "), 2, " ");
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > max) out = out.substr(0, max - 3) + "...";
  return out;
}

const Value* member(const Value& v, const char* key) {
  if (!v.IsObject()) return nullptr;
  auto it = v.FindMember(key);
  return it == v.MemberEnd() ? nullptr : &it->value;
}

const Value* resolve_pointer(const Value& root, std::string_view ref) {
  if (ref == "#") return &root;
  if (ref.rfind("#/", 0) != 0) return nullptr;
  const Value* cur = &root;
  std::string_view rest = ref.substr(2);
  while (true) {
    size_t slash = rest.find('/');
    std::string token(rest.substr(0, slash));
    std::string key;
    for (size_t i = 0; i < token.size(); ++i) {
      if (token[i] == '~' && i + 1 < token.size()) {
        key += token[i + 1] == '1' ? '/' : '~';
        ++i;
      } else {
        key += token[i];
      }
    }
    const Value* next = member(*cur, key.c_str());
    if (!next) return nullptr;
    cur = next;
    if (slash == std::string_view::npos) return cur;
    rest = rest.substr(slash + 1);
  }
}

// Maps one tool's (lowered) schema onto C++ structs and emits their parsers.
class StructEmitter {
 public:
  explicit StructEmitter(const Value& root) : root_(root) {}

  std::string code() const { return code_; }

  // Emits the struct `name` for the object schema `s` (and its nested structs first).
  void emit_struct(const Value& s, const std::string& name) {
    struct Field {
      std::string json_name, ident, type, description;
      bool optional, nullable, required;
      const Value* schema;
    };
    std::vector<Field> fields;
    std::set<std::string> idents;
    std::set<std::string> required;
    if (const Value* req = member(s, "required"); req && req->IsArray())
      for (const auto& r : req->GetArray())
        if (r.IsString()) required.insert(r.GetString());
    if (const Value* props = member(s, "properties"); props && props->IsObject()) {
      for (auto m = props->MemberBegin(); m != props->MemberEnd(); ++m) {
        Field f;
        f.json_name = m->name.GetString();
        std::string base = to_identifier(f.json_name);
        f.ident = base;
        for (int n = 2; idents.count(f.ident); ++n) f.ident = base + "_" + std::to_string(n);
        idents.insert(f.ident);
        f.nullable = false;
        f.schema = deref(m->value);
        f.type = type_for(m->value, name + to_type_name(f.ident), f.nullable);
        f.required = required.count(f.json_name) > 0;
        f.optional = !f.required || f.nullable;
        if (const Value* d = f.schema ? member(*f.schema, "description") : nullptr; d && d->IsString())
          f.description = d->GetString();
        else if (const Value* d2 = member(m->value, "description"); d2 && d2->IsString())
          f.description = d2->GetString();
        fields.push_back(std::move(f));
      }
    }
    std::ostringstream o;
    if (const Value* d = member(s, "description"); d && d->IsString()) o << "// " << comment_text(d->GetString()) << "\n";
    o << "struct " << name << " {\n";
    for (const Field& f : fields) {
      if (!f.description.empty()) o << "  // " << comment_text(f.description) << "\n";
      if (f.optional) o << "  std::optional<" << f.type << "> " << f.ident << ";";
      else o << "  " << f.type << " " << f.ident << "{};";
      if (f.json_name != f.ident) o << "  // JSON \"" << comment_text(f.json_name, 60) << "\"";
      o << "\n";
    }
    o << "};\n\n";
    o << "inline bool read(const rapidjson::Value& v, const std::string& p, " << name
      << "& out, atlas_scan::Error& e) {\n";
    o << "  (void)out;\n";
    o << "  if (!v.IsObject()) return e.set(p, \"expected an object, found \" + atlas_scan::describe(v));\n";
    if (const Value* ap = member(s, "additionalProperties"); ap && ap->IsBool() && !ap->GetBool() &&
                                                             !member(s, "patternProperties")) {
      std::string allowed;
      o << "  for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {\n";
      o << "    const std::string k(m->name.GetString(), m->name.GetStringLength());\n";
      o << "    if (";
      if (fields.empty()) o << "true";
      for (size_t i = 0; i < fields.size(); ++i) {
        o << (i ? " && " : "") << "k != " << cpp_quote(fields[i].json_name);
        allowed += (i ? ", " : "") + fields[i].json_name;
      }
      o << ")\n      return e.set(atlas_scan::child(p, k), "
        << cpp_quote(fields.empty() ? "unknown property (this tool takes no arguments)"
                                    : "unknown property (allowed: " + allowed + ")")
        << ");\n  }\n";
    }
    for (const Field& f : fields) {
      o << "  {\n";
      o << "    const std::string q = atlas_scan::child(p, std::string(" << cpp_quote(f.json_name) << "));\n";
      o << "    auto it = v.FindMember(" << cpp_quote(f.json_name) << ");\n";
      std::string indent = "    ";
      if (f.required) {
        o << "    if (it == v.MemberEnd()) return e.set(q, \"is required\");\n";
      } else {
        o << "    if (it != v.MemberEnd()) {\n";
        indent = "      ";
      }
      if (f.optional) {
        o << indent << "if (!atlas_scan::read_optional(it->value, q, out." << f.ident << ", "
          << (f.nullable ? "true" : "false") << ", e)) return false;\n";
        std::string checks = checks_for(f.schema, f.type, "(*out." + f.ident + ")", "q", indent + "  ", 0);
        if (!checks.empty()) o << indent << "if (out." << f.ident << ") {\n" << checks << indent << "}\n";
      } else {
        o << indent << "if (!read(it->value, q, out." << f.ident << ", e)) return false;\n";
        o << checks_for(f.schema, f.type, "out." + f.ident, "q", indent, 0);
      }
      if (!f.required) o << "    }\n";
      o << "  }\n";
    }
    o << "  return true;\n}\n\n";
    code_ += o.str();
  }

 private:
  const Value* deref(const Value& s, int depth = 0) const {
    if (depth > 16) return nullptr;
    const Value* ref = member(s, "$ref");
    if (!ref) return &s;
    if (!ref->IsString()) return nullptr;
    const Value* target = resolve_pointer(root_, ref->GetString());
    if (!target) return nullptr;
    return deref(*target, depth + 1);
  }

  std::string type_for(const Value& raw, const std::string& hint, bool& nullable) {
    const Value* s = deref(raw);
    if (!s || !s->IsObject()) return "atlas_scan::Json";
    // anyOf [X, {"type":"null"}] (pydantic's Optional[X]) is a nullable X.
    if (const Value* any = member(*s, "anyOf"); any && any->IsArray() && any->Size() == 2) {
      for (rapidjson::SizeType i = 0; i < 2; ++i) {
        const Value* t = member((*any)[i], "type");
        if (t && t->IsString() && std::string_view(t->GetString()) == "null") {
          nullable = true;
          bool inner_nullable = false;
          return type_for((*any)[1 - i], hint, inner_nullable);
        }
      }
    }
    if (member(*s, "anyOf") || member(*s, "oneOf") || member(*s, "not")) return "atlas_scan::Json";
    std::vector<std::string> types;
    if (const Value* t = member(*s, "type")) {
      if (t->IsString()) types.emplace_back(t->GetString());
      if (t->IsArray())
        for (const auto& x : t->GetArray())
          if (x.IsString()) {
            if (std::string_view(x.GetString()) == "null") nullable = true;
            else types.emplace_back(x.GetString());
          }
    } else if (const Value* en = member(*s, "enum"); en && en->IsArray() && en->Size() > 0) {
      bool all_strings = true;
      for (const auto& x : en->GetArray()) all_strings = all_strings && x.IsString();
      if (all_strings) types.emplace_back("string");
    } else if (member(*s, "properties")) {
      types.emplace_back("object");
    } else if (member(*s, "items")) {
      types.emplace_back("array");
    }
    if (types.size() != 1) return "atlas_scan::Json";
    const std::string& t = types[0];
    if (t == "string") return "std::string";
    if (t == "integer") return "int64_t";
    if (t == "number") return "double";
    if (t == "boolean") return "bool";
    if (t == "array") {
      const Value* items = member(*s, "items");
      if (!items || !items->IsObject()) return "std::vector<atlas_scan::Json>";
      bool item_nullable = false;
      std::string inner = type_for(*items, hint + "Item", item_nullable);
      if (item_nullable) inner = "atlas_scan::Json";
      return "std::vector<" + inner + ">";
    }
    if (t == "object") {
      const Value* props = member(*s, "properties");
      if (!props || !props->IsObject() || props->MemberCount() == 0) return "atlas_scan::Json";
      std::string name = hint;
      for (int n = 2; struct_names_.count(name); ++n) name = hint + std::to_string(n);
      struct_names_.insert(name);
      emit_struct(*s, name);
      return name;
    }
    return "atlas_scan::Json";
  }

  static std::string number_text(const Value& v) { return json::dump(v); }

  // Constraint checks on an already-read value `expr` of C++ type `type`.
  std::string checks_for(const Value* raw, const std::string& type, const std::string& expr, const std::string& ptr,
                         const std::string& ind, int level) {
    if (!raw) return "";
    const Value* s = deref(*raw);
    if (!s || !s->IsObject()) return "";
    if (const Value* any = member(*s, "anyOf"); any && any->IsArray() && any->Size() == 2) {
      for (rapidjson::SizeType i = 0; i < 2; ++i) {
        const Value* t = member((*any)[i], "type");
        if (t && t->IsString() && std::string_view(t->GetString()) == "null")
          return checks_for(&(*any)[1 - i], type, expr, ptr, ind, level);
      }
    }
    std::ostringstream o;
    if (type == "std::string") {
      if (const Value* en = member(*s, "enum"); en && en->IsArray()) {
        std::string cond, list;
        bool all_strings = true;
        for (const auto& x : en->GetArray()) {
          if (!x.IsString()) {
            all_strings = false;
            continue;
          }
          cond += (cond.empty() ? "" : " && ") + expr + " != " + cpp_quote(x.GetString());
          list += (list.empty() ? "" : ", ") + json::dump(x);
        }
        if (all_strings && !cond.empty())
          o << ind << "if (" << cond << ") return e.set(" << ptr << ", " << cpp_quote("must be one of " + list + ", found \"")
            << " + " << expr << " + \"\\\"\");\n";
      }
      if (const Value* n = member(*s, "minLength"); n && n->IsUint())
        o << ind << "if (atlas_scan::utf8_length(" << expr << ") < " << n->GetUint() << "u) return e.set(" << ptr
          << ", \"must be at least " << n->GetUint() << " characters long\");\n";
      if (const Value* n = member(*s, "maxLength"); n && n->IsUint())
        o << ind << "if (atlas_scan::utf8_length(" << expr << ") > " << n->GetUint() << "u) return e.set(" << ptr
          << ", \"must be at most " << n->GetUint() << " characters long\");\n";
      if (const Value* pat = member(*s, "pattern"); pat && pat->IsString())
        o << ind << "if (!atlas_scan::matches(" << expr << ", " << cpp_quote(pat->GetString()) << ")) return e.set("
          << ptr << ", " << cpp_quote(std::string("must match the pattern ") + pat->GetString()) << ");\n";
    } else if (type == "int64_t" || type == "double") {
      if (const Value* en = member(*s, "enum"); en && en->IsArray()) {
        std::string cond, list;
        for (const auto& x : en->GetArray()) {
          if (!x.IsNumber()) continue;
          cond += (cond.empty() ? "" : " && ") + expr + " != " + number_text(x);
          list += (list.empty() ? "" : ", ") + number_text(x);
        }
        if (!cond.empty())
          o << ind << "if (" << cond << ") return e.set(" << ptr << ", " << cpp_quote("must be one of " + list) << ");\n";
      }
      bool excl_min = member(*s, "exclusiveMinimum") && member(*s, "exclusiveMinimum")->IsTrue();
      bool excl_max = member(*s, "exclusiveMaximum") && member(*s, "exclusiveMaximum")->IsTrue();
      if (const Value* n = member(*s, "minimum"); n && n->IsNumber())
        o << ind << "if (" << expr << (excl_min ? " <= " : " < ") << number_text(*n) << ") return e.set(" << ptr
          << ", \"must be " << (excl_min ? "greater than " : "at least ") << number_text(*n) << "\");\n";
      if (const Value* n = member(*s, "maximum"); n && n->IsNumber())
        o << ind << "if (" << expr << (excl_max ? " >= " : " > ") << number_text(*n) << ") return e.set(" << ptr
          << ", \"must be " << (excl_max ? "less than " : "at most ") << number_text(*n) << "\");\n";
    } else if (type.rfind("std::vector<", 0) == 0) {
      if (const Value* n = member(*s, "minItems"); n && n->IsUint())
        o << ind << "if (" << expr << ".size() < " << n->GetUint() << "u) return e.set(" << ptr
          << ", \"must have at least " << n->GetUint() << " items\");\n";
      if (const Value* n = member(*s, "maxItems"); n && n->IsUint())
        o << ind << "if (" << expr << ".size() > " << n->GetUint() << "u) return e.set(" << ptr
          << ", \"must have at most " << n->GetUint() << " items\");\n";
      std::string inner = type.substr(12, type.size() - 13);
      const Value* items = member(*s, "items");
      if (items && items->IsObject()) {
        std::string i = "i" + std::to_string(level), q = "q" + std::to_string(level);
        std::string body = checks_for(items, inner, expr + "[" + i + "]", q, ind + "  ", level + 1);
        if (!body.empty()) {
          o << ind << "for (size_t " << i << " = 0; " << i << " < " << expr << ".size(); ++" << i << ") {\n";
          o << ind << "  const std::string " << q << " = atlas_scan::child(" << ptr << ", " << i << ");\n";
          o << body << ind << "}\n";
        }
      }
    }
    return o.str();
  }

  const Value& root_;
  std::string code_;
  std::set<std::string> struct_names_;
};

std::string args_header(const Tool& t) {
  auto doc = json::parse(t.schema_json, "schema");
  std::ostringstream o;
  o << header_comment("Tool \"" + comment_text(t.name, 80) + "\" (" + t.source.format + ", " +
                      t.source.where.to_string() + "): typed arguments and their parser.");
  o << "#pragma once\n\n#include \"gen/atlas_scan_runtime.hpp\"\n\nnamespace gen {\n\n";
  if (doc.is_ok()) {
    StructEmitter emitter(doc.value());
    emitter.emit_struct(doc.value(), t.type_name + "Args");
    o << emitter.code();
  }
  o << "}  // namespace gen\n";
  return o.str();
}

std::string tools_header(const std::vector<Tool>& tools, const GenerateOptions& opt) {
  std::ostringstream o;
  o << header_comment("Declarations shared by the generated plugin and your code in src/.");
  o << "#pragma once\n\n#include <atlas/sdk.hpp>\n#include <rapidjson/document.h>\n\n#include <cstdint>\n"
       "#include <memory>\n#include <string>\n#include <string_view>\n#include <vector>\n\n"
       "#include \"gen/atlas_scan_runtime.hpp\"\n";
  for (const Tool& t : tools) o << "#include \"gen/" << t.ident << "_args.hpp\"\n";
  std::string description = "Adapter for " + std::to_string(tools.size()) + " tool" + (tools.size() == 1 ? "" : "s") +
                            " scanned from " + opt.source_summary;
  std::string config_schema =
      R"({"type":"object","properties":{"mcp_command":{"type":"array","items":{"type":"string"},"minItems":1,)"
      R"("description":"MCP server argv the tools are forwarded to"},"mcp_cwd":{"type":"string"},)"
      R"("timeout_ms":{"type":"integer","minimum":1},"max_turns":{"type":"integer","minimum":1},)"
      R"("model":{"type":"string","description":"model_ref passed to llm_complete"}},"additionalProperties":false})";
  o << "\nnamespace gen {\n\n";
  o << "inline constexpr const char* kPluginName = " << cpp_quote(opt.plugin_name) << ";\n";
  o << "inline constexpr const char* kPluginDescription = " << cpp_quote(comment_text(description, 200)) << ";\n";
  o << "inline constexpr const char* kConfigSchema =\n    " << cpp_quote(config_schema) << ";\n\n";
  o << R"(// The plugin's configuration ([plugins.<name>] in the host config).
struct PluginConfig {
  std::vector<std::string> mcp_command;  // MCP server the tools forward to (default: the scanned one)
  std::string mcp_cwd;
  int64_t timeout_ms = 60000;            // per MCP request
  int64_t max_turns = 8;                 // tool-loop bound of the default agent
  std::string model = "student";        // model_ref for llm_complete
};

class AgentContext;
class McpConnection;  // gen/mcp_stdio.hpp

// What a tool implementation gets besides its typed arguments.
class ToolContext {
 public:
  ToolContext(AgentContext& agent, std::string tool_name, std::string arguments_json)
      : agent_(agent), tool_name_(std::move(tool_name)), arguments_json_(std::move(arguments_json)) {}
  const std::string& tool_name() const { return tool_name_; }
  const std::string& arguments_json() const { return arguments_json_; }  // validated, compact JSON
  AgentContext& agent() { return agent_; }
  // Sends this call to the configured MCP server; returns its result object as JSON text.
  std::string forward_to_mcp();

 private:
  AgentContext& agent_;
  std::string tool_name_;
  std::string arguments_json_;
};

struct ToolInfo {
  const char* name;         // original name
  const char* openai_name;  // ^[a-zA-Z0-9_-]{1,64}$
  const char* gemini_name;
  const char* description;
  const char* schema_json;  // draft-04 (lowered) input schema
  const char* gemini_parameters_json;
  bool (*run)(ToolContext& ctx, const rapidjson::Value& arguments, std::string& result, atlas_scan::Error& error);
};

// By original, OpenAI or Gemini name; nullptr when unknown.
const ToolInfo* find_tool(std::string_view name);
// Throws atlas::sdk::Error(INVALID_ARGUMENT) naming the JSON pointer of the first bad value.
void check_schema(const ToolInfo& tool, const rapidjson::Value& arguments);

// State of one plugin instance, handed to the agent wiring (src/agent.cpp).
class AgentContext {
 public:
  // Out of line (gen/plugin.cpp), where McpConnection is complete.
  AgentContext(const atlas::sdk::Host& host, PluginConfig config);
  ~AgentContext();
  const PluginConfig& config() const { return config_; }
  void bind(atlas::sdk::Call* call) { call_ = call; }
  atlas::sdk::Call& call() {
    if (!call_) throw atlas::sdk::Error(ATLAS_FAILED_PRECONDITION, "no call in progress");
    return *call_;
  }
  bool llm_available() const { return host_.has_llm(); }
  std::string llm_complete(const std::string& request_json) { return call().llm_complete(request_json); }
  // Validates `arguments` and runs the tool; returns its result as JSON text.
  std::string call_tool(std::string_view name, const rapidjson::Value& arguments);
  // [{"name","description","parameters"}] for llm_complete (OpenAI-safe names).
  std::string tools_json() const;
  // The default behaviour described in src/agent.cpp.
  std::string default_agent(const rapidjson::Document& request);
  McpConnection* mcp();  // nullptr when no MCP server is configured

 private:
  const atlas::sdk::Host& host_;
  PluginConfig config_;
  atlas::sdk::Call* call_ = nullptr;
  std::unique_ptr<McpConnection> mcp_;
};

// Agent wiring, implemented in src/agent.cpp (yours).
std::string run_agent(AgentContext& ctx, const rapidjson::Document& request);

// Tool implementations, one per file in src/tools/ (yours).
)";
  for (const Tool& t : tools)
    o << "std::string run_" << t.ident << "(ToolContext& ctx, const " << t.type_name << "Args& args);\n";
  o << "\n}  // namespace gen\n";
  return o.str();
}

std::string plugin_source(const std::vector<Tool>& tools, const GenerateOptions& opt) {
  std::ostringstream o;
  o << header_comment("The adapter plugin: tool table, argument validation, ATLAS_PLUGIN export.");
  o << "#define RAPIDJSON_HAS_STDSTRING 1\n#include <rapidjson/schema.h>\n#include <rapidjson/stringbuffer.h>\n\n"
       "#include <chrono>\n#include <map>\n#include <memory>\n#include <mutex>\n#include <regex>\n\n#include \"gen/mcp_stdio.hpp\"\n"
       "#include \"gen/tools.hpp\"\n\nnamespace gen {\n\n";
  o << "namespace {\n\n// The MCP server the tools were scanned from (overridable with mcp_command).\n";
  o << "const char* const kDefaultMcpCommand[] = {";
  if (opt.mcp_command.empty()) o << "\"\"";
  for (size_t i = 0; i < opt.mcp_command.size(); ++i) o << (i ? ", " : "") << cpp_quote(opt.mcp_command[i]);
  o << "};\n\n";
  for (const Tool& t : tools)
    o << "bool run_tool_" << t.ident
      << "(ToolContext& ctx, const rapidjson::Value& arguments, std::string& result, atlas_scan::Error& error);\n";
  o << "\nconst ToolInfo kTools[] = {\n";
  for (const Tool& t : tools) {
    o << "    {" << cpp_quote(t.name) << ", " << cpp_quote(t.openai_name) << ", " << cpp_quote(t.gemini_name) << ",\n";
    o << "     " << cpp_quote(t.description) << ",\n";
    o << "     " << cpp_quote(t.schema_json) << ",\n";
    o << "     " << cpp_quote(t.gemini_parameters_json) << ",\n";
    o << "     &run_tool_" << t.ident << "},\n";
  }
  o << "};\n\n";
  for (size_t i = 0; i < tools.size(); ++i) {
    const Tool& t = tools[i];
    o << "bool run_tool_" << t.ident
      << "(ToolContext& ctx, const rapidjson::Value& arguments, std::string& result, atlas_scan::Error& error) {\n"
      << "  " << t.type_name << "Args args;\n"
      << "  if (!read(arguments, \"\", args, error)) return false;\n"
      << "  check_schema(kTools[" << i << "], arguments);\n"
      << "  result = run_" << t.ident << "(ctx, args);\n"
      << "  return true;\n}\n\n";
  }
  o << "}  // namespace\n";
  o << templates::kPluginSupport;
  return o.str();
}

std::string tool_stub(const Tool& t, bool mcp) {
  std::ostringstream o;
  o << "// Tool \"" << comment_text(t.name, 80) << "\": your implementation. atlas-host scan created this file once and\n"
    << "// never overwrites it. Arguments arrive validated against the tool's schema (gen/" << t.ident
    << "_args.hpp).\n// Return the result as JSON text; the MCP form {\"content\":[{\"type\":\"text\",\"text\":\"...\"}]}\n"
    << "// is shown to the model as its text.\n";
  o << "#include \"gen/tools.hpp\"\n\nnamespace gen {\n\n";
  o << "std::string run_" << t.ident << "(ToolContext& ctx, const " << t.type_name << "Args& args) {\n";
  o << "  (void)args;\n";
  if (mcp) {
    o << "  // Forwarded to the MCP server the tool came from; replace to run it in-process.\n";
    o << "  return ctx.forward_to_mcp();\n";
  } else {
    o << "  (void)ctx;\n";
    o << "  throw atlas::sdk::Error(ATLAS_UNIMPLEMENTED,\n"
      << "                          " << cpp_quote("tool \"" + t.name + "\" is not implemented yet: write it in src/tools/" +
                                                   t.ident + ".cpp")
      << ");\n";
  }
  o << "}\n\n}  // namespace gen\n";
  return o.str();
}

std::string cmake_lists(const std::vector<Tool>& tools, const GenerateOptions& opt) {
  std::ostringstream o;
  o << "# " << kGeneratedMarker << "\n";
  o << "# Adapter plugin \"" << opt.plugin_name << "\". Build against an installed SDK:\n"
    << "#   cmake -S . -B build -DCMAKE_PREFIX_PATH=<prefix of atlas-sdk-dev, e.g. /usr>\n"
    << "#   cmake --build build\n";
  o << "cmake_minimum_required(VERSION 3.20)\nproject(" << opt.plugin_name << "_adapter LANGUAGES CXX)\n\n";
  o << "set(CMAKE_CXX_STANDARD 17)\nset(CMAKE_CXX_STANDARD_REQUIRED ON)\n\n";
  o << "find_package(AtlasSDK 1 REQUIRED)\nfind_path(RAPIDJSON_INCLUDE_DIR rapidjson/document.h REQUIRED)\n\n";
  o << "atlas_add_plugin(" << opt.plugin_name << " SOURCES\n  gen/plugin.cpp\n  src/agent.cpp\n";
  for (const Tool& t : tools) o << "  src/tools/" << t.ident << ".cpp\n";
  o << ")\n";
  o << "target_include_directories(" << opt.plugin_name << " PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})\n";
  o << "target_include_directories(" << opt.plugin_name << " SYSTEM PRIVATE ${RAPIDJSON_INCLUDE_DIR})\n";
  o << "# std::regex for schema patterns: RapidJSON's own engine silently drops patterns like \\d.\n";
  o << "target_compile_definitions(" << opt.plugin_name << " PRIVATE RAPIDJSON_SCHEMA_USE_INTERNALREGEX=0)\n";
  o << "target_compile_options(" << opt.plugin_name << " PRIVATE -Wall -Wextra)\n";
  o << "install(TARGETS " << opt.plugin_name << " LIBRARY DESTINATION ${ATLAS_PLUGIN_INSTALL_DIR})\n";
  return o.str();
}

std::string tools_json(const std::vector<Tool>& tools) {
  json::Document doc;
  doc.SetObject();
  auto& a = doc.GetAllocator();
  json::set(doc, "comment", kGeneratedMarker, a);  // JSON has no comments; the marker is a member
  Value list(rapidjson::kArrayType);
  for (const Tool& t : tools) {
    Value e(rapidjson::kObjectType);
    json::set(e, "name", t.name, a);
    json::set(e, "openai_name", t.openai_name, a);
    json::set(e, "gemini_name", t.gemini_name, a);
    json::set(e, "identifier", t.ident, a);
    json::set(e, "description", t.description, a);
    json::set(e, "source", t.source.where.to_string(), a);
    json::set(e, "format", t.source.format, a);
    json::set(e, "forwards_to_mcp", t.source.from_mcp, a);
    json::Document schema, gem;
    atlas::sdk::parse_json(schema, t.schema_json);
    atlas::sdk::parse_json(gem, t.gemini_parameters_json);
    e.AddMember("input_schema", Value(schema, a), a);
    e.AddMember("gemini_parameters", Value(gem, a), a);
    Value notes(rapidjson::kArrayType);
    for (const Note& n : t.notes) {
      Value nv(rapidjson::kObjectType);
      json::set(nv, "severity", severity_name(n.severity), a);
      json::set(nv, "pointer", n.pointer, a);
      json::set(nv, "message", n.message, a);
      notes.PushBack(nv, a);
    }
    e.AddMember("notes", notes, a);
    list.PushBack(e, a);
  }
  doc.AddMember("tools", list, a);
  return json::dump_pretty(doc) + "\n";
}

std::string readme(const std::vector<Tool>& tools, const GenerateOptions& opt, bool mcp) {
  std::ostringstream o;
  o << "<!-- " << kGeneratedMarker << " -->\n";
  o << "# " << opt.plugin_name << " — adapter plugin generated by `atlas-host scan`\n\n";
  o << "Source: " << opt.source_summary << ".\n\n## Tools\n\n| tool | OpenAI name | source | notes |\n|---|---|---|---|\n";
  for (const Tool& t : tools) {
    size_t warnings = std::count_if(t.notes.begin(), t.notes.end(), [](const Note& n) { return n.severity != Severity::kInfo; });
    o << "| `" << t.name << "` | `" << t.openai_name << "` | " << t.source.where.to_string() << " | "
      << (warnings ? std::to_string(warnings) + " not enforced (see tools.json)" : std::string("")) << " |\n";
  }
  o << "\n## Files\n\n"
       "- Generated (overwritten by every scan; do not edit): `CMakeLists.txt`, `README.md`, `tools.json`, `gen/`,\n"
       "  `.atlas-scan/FILES`.\n"
       "- Yours (created once, never overwritten): `src/tools/<tool>.cpp` (tool implementations),\n"
       "  `src/agent.cpp` (agent wiring), `atlas.toml` (host config using this plugin).\n\n";
  o << "## Build and use\n\n```sh\ncmake -S . -B build -DCMAKE_PREFIX_PATH=/usr   # where atlas-sdk-dev is installed\n"
       "cmake --build build\nmkdir -p plugins && cp build/" << opt.plugin_name << ".so plugins/\n"
       "atlas-host plugins list --plugin-dir plugins\n```\n\n"
       "Needs `atlas-sdk-dev` and `rapidjson-dev`. Every call validates the arguments first (typed parser, then\n"
       "the draft-04 schema in `tools.json`); errors name the JSON pointer of the bad field.\n\n";
  o << "An adapter request with `metadata.tool_call = {\"name\": ..., \"arguments\": {...}}` runs that tool;\n"
       "otherwise the host's model is asked with these tools (see `src/agent.cpp`).\n";
  if (mcp)
    o << "\nMCP-sourced tools forward to the server in `mcp_command` (default: the scanned command line); "
         "nothing needs to be written by hand.\n";
  return o.str();
}

std::string config_toml(const GenerateOptions& opt) {
  std::ostringstream o;
  o << "# atlas-host config using the generated adapter \"" << opt.plugin_name << "\". Yours to edit:\n"
    << "# atlas-host scan created it once and never overwrites it.\n\n";
  o << "[agent]\nadapter = \"" << opt.plugin_name << "\"\n\n";
  o << "[plugins]\ndirs = [\"plugins\"]   # copy build/" << opt.plugin_name << ".so here\n\n";
  o << "[plugins." << opt.plugin_name << "]\n";
  if (!opt.mcp_command.empty()) {
    o << "mcp_command = [";
    for (size_t i = 0; i < opt.mcp_command.size(); ++i) o << (i ? ", " : "") << json::quote(opt.mcp_command[i]);
    o << "]\n";
  } else {
    o << "# mcp_command = [\"node\", \"server.js\"]   # forward tools to an MCP server\n";
  }
  o << "timeout_ms = 60000\nmax_turns = 8\nmodel = \"student\"\n\n";
  o << "# The model the adapter asks (model = \"student\" above); learning uses it too. Any OpenAI-compatible\n"
       "# server works: export OPENAI_API_KEY, or set api_base (or OPENAI_BASE_URL) to a local one.\n"
       "[student.llm]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"OPENAI_API_KEY\"\n\n";
  o << "# No teacher or judge model is needed to start: every task runs in the auto lane and is scored\n"
       "# without a model. Add [teacher.llm] and [rewards.small_model] to go further.\n"
       "[orchestration]\nforced_mode = \"auto\"\n\n"
       "[rewards]\nsession_judges = [{ plugin = \"verifiable\" }]\nstep_judges = []\n\n";
  o << "[storage]\ndatabase_url = \"sqlite://.atlas/atlas.db\"\n";
  return o.str();
}

bool is_generated_content(const std::string& text) { return text.find(kGeneratedMarker) != std::string::npos; }

std::optional<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_file(const fs::path& p, const std::string& content) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  if (ec) return internal_error("cannot create folder " + p.parent_path().string() + ": " + ec.message());
  fs::path tmp = p;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return internal_error("cannot write " + tmp.string());
    out << content;
    if (!out) return internal_error("write failed for " + tmp.string());
  }
  fs::rename(tmp, p, ec);  // atomic: a crash leaves the old file or the new one
  if (ec) return internal_error("cannot rename " + tmp.string() + " to " + p.string() + ": " + ec.message());
  return Status::ok();
}

}  // namespace

const char* file_action_name(FileAction a) {
  switch (a) {
    case FileAction::kCreated: return "created";
    case FileAction::kUpdated: return "updated";
    case FileAction::kUnchanged: return "unchanged";
    case FileAction::kKept: return "kept (user-owned)";
    case FileAction::kRemoved: return "removed (no longer generated)";
    case FileAction::kOrphaned: return "orphaned (tool no longer scanned; kept)";
  }
  return "?";
}

std::string sanitize_plugin_name(std::string_view name) {
  std::string out;
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (std::isalnum(u)) out += static_cast<char>(std::tolower(u));
    else if (c == '-' || c == '_') out += c;
    else if (!out.empty() && out.back() != '_') out += '_';
  }
  while (!out.empty() && out.back() == '_') out.pop_back();
  return out.empty() ? "scanned_tools" : out;
}

std::string cpp_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '?': out += "\\?"; break;  // no trigraphs, ever
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\%03o", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::vector<ProjectFile> render_project(const std::vector<Tool>& tools, const GenerateOptions& options) {
  bool mcp = std::any_of(tools.begin(), tools.end(), [](const Tool& t) { return t.source.from_mcp; });
  std::vector<ProjectFile> files;
  files.push_back({"CMakeLists.txt", cmake_lists(tools, options), false});
  files.push_back({"README.md", readme(tools, options, mcp), false});
  files.push_back({"tools.json", tools_json(tools), false});
  files.push_back({"gen/atlas_scan_runtime.hpp", templates::kRuntimeHeader, false});
  files.push_back({"gen/mcp_stdio.hpp", templates::kMcpHeader, false});
  files.push_back({"gen/tools.hpp", tools_header(tools, options), false});
  files.push_back({"gen/plugin.cpp", plugin_source(tools, options), false});
  for (const Tool& t : tools) {
    files.push_back({"gen/" + t.ident + "_args.hpp", args_header(t), false});
    files.push_back({"src/tools/" + t.ident + ".cpp", tool_stub(t, t.source.from_mcp), true});
  }
  files.push_back({"src/agent.cpp", templates::kAgentSource, true});
  files.push_back({"atlas.toml", config_toml(options), true});
  std::string manifest = std::string("# ") + kGeneratedMarker + "\n# Files atlas-host scan generated (rewritten on every scan).\n";
  std::vector<std::string> generated;
  for (const auto& f : files)
    if (!f.user_owned) generated.push_back(f.path);
  generated.push_back(kFilesManifest);
  std::sort(generated.begin(), generated.end());
  for (const auto& g : generated) manifest += g + "\n";
  files.push_back({kFilesManifest, manifest, false});
  std::sort(files.begin(), files.end(), [](const ProjectFile& a, const ProjectFile& b) { return a.path < b.path; });
  return files;
}

Result<std::vector<FileResult>> write_project(const std::vector<ProjectFile>& files, const fs::path& out_dir) {
  std::vector<FileResult> results;
  // Refuse before writing anything: a generated path occupied by a file we did not generate.
  for (const ProjectFile& f : files) {
    if (f.user_owned) continue;
    auto existing = read_file(out_dir / f.path);
    if (existing && !is_generated_content(*existing) && f.path != kFilesManifest)
      return failed_precondition((out_dir / f.path).string() +
                                 " exists and was not generated by atlas-host scan (no \"" + kGeneratedMarker +
                                 "\" marker); move it away or choose another --out folder");
  }
  std::set<std::string> now;
  for (const ProjectFile& f : files) now.insert(f.path);
  // Files an earlier scan generated that this one does not.
  if (auto previous = read_file(out_dir / kFilesManifest)) {
    std::istringstream in(*previous);
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty() || line[0] == '#' || now.count(line) || line.find("..") != std::string::npos) continue;
      fs::path p = out_dir / line;
      auto content = read_file(p);
      if (!content || !is_generated_content(*content)) continue;
      std::error_code ec;
      fs::remove(p, ec);
      if (ec) return internal_error("cannot remove stale " + p.string() + ": " + ec.message());
      results.push_back({line, FileAction::kRemoved, false});
    }
  }
  std::error_code ec;
  if (fs::is_directory(out_dir / "src/tools", ec)) {
    std::vector<std::string> orphans;
    for (const auto& entry : fs::directory_iterator(out_dir / "src/tools", ec)) {
      std::string rel = "src/tools/" + entry.path().filename().string();
      if (entry.path().extension() == ".cpp" && !now.count(rel)) orphans.push_back(rel);
    }
    std::sort(orphans.begin(), orphans.end());
    for (const auto& o : orphans) results.push_back({o, FileAction::kOrphaned, true});
  }
  for (const ProjectFile& f : files) {
    fs::path p = out_dir / f.path;
    auto existing = read_file(p);
    FileAction action;
    if (f.user_owned) {
      action = existing ? FileAction::kKept : FileAction::kCreated;
    } else if (!existing) {
      action = FileAction::kCreated;
    } else {
      action = *existing == f.content ? FileAction::kUnchanged : FileAction::kUpdated;
    }
    if (action == FileAction::kCreated || action == FileAction::kUpdated) ATLAS_RETURN_IF_ERROR(write_file(p, f.content));
    results.push_back({f.path, action, f.user_owned});
  }
  return results;
}

}  // namespace atlas::scan
