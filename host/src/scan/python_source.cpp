// Python sources: functions decorated as tools (@tool, @tool("name"), @function_tool,
// @mcp.tool(), @server.tool(name=..., description=...)) become a schema from their type hints,
// defaults and docstring; `tools=[...]` / `tools = [...]` literals of OpenAI/Anthropic/MCP
// dicts are read as JSON. Nothing is imported or executed.
#include <map>
#include <set>

#include "common/json.hpp"
#include "scan/lexer.hpp"
#include "scan/scanner.hpp"

namespace atlas::scan {
namespace {

using json::Value;

bool is_punct(const Token& t, std::string_view p) { return t.kind == Token::kPunct && t.text == p; }
bool is_name(const Token& t, std::string_view n) { return t.kind == Token::kName && t.text == n; }

std::string trim(std::string s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  size_t e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// Docstring -> description (text before the sections) + per-argument descriptions (Google style).
void parse_docstring(const std::string& doc, std::string& description, std::map<std::string, std::string>& args) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= doc.size()) {
    size_t nl = doc.find('\n', start);
    lines.push_back(doc.substr(start, nl == std::string::npos ? std::string::npos : nl - start));
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  std::string section;
  std::string current_arg;
  std::string desc;
  for (const std::string& raw : lines) {
    std::string line = trim(raw);
    if (line == "Args:" || line == "Arguments:" || line == "Parameters:" || line == "Params:") {
      section = "args";
      continue;
    }
    if (line == "Returns:" || line == "Raises:" || line == "Yields:" || line == "Examples:" || line == "Example:" ||
        line == "Note:" || line == "Notes:") {
      section = "other";
      continue;
    }
    if (section.empty()) {
      if (line.empty() && !desc.empty() && desc.back() != '\n') desc += "\n";
      else if (!line.empty()) desc += (desc.empty() || desc.back() == '\n' ? "" : " ") + line;
      continue;
    }
    if (section != "args" || line.empty()) continue;
    size_t colon = line.find(':');
    std::string head = colon == std::string::npos ? "" : line.substr(0, colon);
    size_t paren = head.find(' ');
    std::string name = trim(paren == std::string::npos ? head : head.substr(0, paren));
    bool is_new_arg = !name.empty() && name.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_*") ==
                                           std::string::npos;
    if (is_new_arg) {
      current_arg = name;
      while (!current_arg.empty() && current_arg[0] == '*') current_arg.erase(0, 1);
      args[current_arg] = trim(line.substr(colon + 1));
    } else if (!current_arg.empty()) {
      args[current_arg] += " " + line;
    }
  }
  while (!desc.empty() && desc.back() == '\n') desc.pop_back();
  // Paragraphs are joined with a blank line.
  std::string out;
  for (char c : desc) {
    if (c == '\n') out += "\n\n";
    else out += c;
  }
  description = out;
}

class PythonScan {
 public:
  PythonScan(std::string_view text, const std::string& file, Found& out)
      : tokens_(tokenize(text, Lang::kPython)), file_(file), out_(out) {}

  void run() {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const Token& t = tokens_[i];
      if (is_punct(t, "@") && (i == 0 || tokens_[i - 1].kind == Token::kNewline || t.starts_line)) {
        i = decorated(i);
        continue;
      }
      if (is_name(t, "tools") && i + 2 < tokens_.size() && is_punct(tokens_[i + 1], "=") &&
          is_punct(tokens_[i + 2], "[")) {
        tools_list(i + 2);
      }
    }
  }

 private:
  // Schema for a type annotation starting at tokens_[i]; `end` = first token after it.
  json::Document* doc_ = nullptr;

  Value annotation(size_t i, size_t& end, std::string& problem, bool& optional) {
    auto& a = doc_->GetAllocator();
    Value s(rapidjson::kObjectType);
    // Union with `|`: parse terms.
    std::vector<Value> terms;
    bool has_none = false;
    size_t j = i;
    while (true) {
      Value term = annotation_term(j, j, problem, has_none);
      if (!term.IsNull()) terms.push_back(std::move(term));
      if (j < tokens_.size() && is_punct(tokens_[j], "|")) {
        ++j;
        continue;
      }
      break;
    }
    end = j;
    if (has_none) optional = true;
    if (terms.empty()) {
      s.AddMember("type", "null", a);
      return s;
    }
    if (terms.size() == 1) {
      s = std::move(terms[0]);
    } else {
      Value any(rapidjson::kArrayType);
      for (auto& t : terms) any.PushBack(t, a);
      s.AddMember("anyOf", any, a);
    }
    if (has_none) {
      if (s.HasMember("type") && s["type"].IsString()) {
        Value types(rapidjson::kArrayType);
        types.PushBack(Value(s["type"], a), a).PushBack("null", a);
        s["type"] = types;
      } else if (s.HasMember("anyOf")) {
        Value null_schema(rapidjson::kObjectType);
        null_schema.AddMember("type", "null", a);
        s["anyOf"].PushBack(null_schema, a);
      }
    }
    return s;
  }

  // One term; returns a null Value for `None` (sets has_none).
  Value annotation_term(size_t i, size_t& end, std::string& problem, bool& has_none) {
    auto& a = doc_->GetAllocator();
    Value s(rapidjson::kObjectType);
    const Token& t = tokens_[i];
    if (t.kind == Token::kString) {  // forward reference "Foo"
      end = i + 1;
      s.AddMember("type", "object", a);
      problem = "annotation \"" + t.text + "\" is a forward reference; mapped to an object (NOT ENFORCED)";
      return s;
    }
    if (t.kind != Token::kName) {
      end = i + 1;
      problem = "annotation `" + t.text + "` not understood; accepted as any value";
      return s;
    }
    std::string name = t.text;
    size_t j = i + 1;
    while (j + 1 < tokens_.size() && is_punct(tokens_[j], ".") && tokens_[j + 1].kind == Token::kName) {
      name = tokens_[j + 1].text;  // typing.List -> List
      j += 2;
    }
    std::vector<size_t> args;  // start indexes of the subscript arguments
    size_t after = j;
    if (j < tokens_.size() && is_punct(tokens_[j], "[")) {
      after = skip_balanced(tokens_, j);
      size_t k = j + 1;
      while (k < after - 1) {
        args.push_back(k);
        // advance to the next top-level comma
        int depth = 0;
        for (; k < after - 1; ++k) {
          if (is_punct(tokens_[k], "[") || is_punct(tokens_[k], "(")) ++depth;
          if (is_punct(tokens_[k], "]") || is_punct(tokens_[k], ")")) --depth;
          if (depth == 0 && is_punct(tokens_[k], ",")) {
            ++k;
            break;
          }
        }
      }
    }
    end = after;
    auto sub = [&](size_t idx, bool& opt) {
      size_t e;
      return annotation(args[idx], e, problem, opt);
    };
    if (name == "None") {
      has_none = true;
      return Value();
    }
    if (name == "str") s.AddMember("type", "string", a);
    else if (name == "int") s.AddMember("type", "integer", a);
    else if (name == "float") s.AddMember("type", "number", a);
    else if (name == "bool") s.AddMember("type", "boolean", a);
    else if (name == "Any" || name == "object") {
    } else if (name == "list" || name == "List" || name == "Sequence" || name == "Iterable" || name == "set" ||
               name == "Set" || name == "tuple" || name == "Tuple" || name == "frozenset") {
      s.AddMember("type", "array", a);
      if (!args.empty()) {
        bool opt = false;
        Value items = sub(0, opt);
        s.AddMember("items", items, a);
      }
    } else if (name == "dict" || name == "Dict" || name == "Mapping" || name == "MutableMapping") {
      s.AddMember("type", "object", a);
      if (args.size() == 2) {
        bool opt = false;
        Value values = sub(1, opt);
        s.AddMember("additionalProperties", values, a);
      }
    } else if (name == "Optional" && args.size() == 1) {
      bool opt = false;
      s = sub(0, opt);
      has_none = true;
    } else if (name == "Union") {
      Value any(rapidjson::kArrayType);
      for (size_t k = 0; k < args.size(); ++k) {
        bool opt = false;
        size_t e;
        bool none = false;
        Value term = annotation_term(args[k], e, problem, none);
        if (none) has_none = true;
        else any.PushBack(term, a);
        (void)opt;
      }
      if (any.Size() == 1) s.CopyFrom(any[0], a);
      else s.AddMember("anyOf", any, a);
    } else if (name == "Literal") {
      Value values(rapidjson::kArrayType);
      bool all_str = true, all_int = true;
      for (size_t idx : args) {
        Value v;
        LiteralResult r = parse_literal(tokens_, idx, Lang::kPython, v, a);
        if (!r.ok) {
          problem = "Literal[...] argument: " + r.error;
          continue;
        }
        all_str = all_str && v.IsString();
        all_int = all_int && v.IsInt64();
        values.PushBack(v, a);
      }
      if (all_str) s.AddMember("type", "string", a);
      else if (all_int) s.AddMember("type", "integer", a);
      s.AddMember("enum", values, a);
    } else if (name == "Annotated" && !args.empty()) {
      bool opt = false;
      s = sub(0, opt);
      if (opt) has_none = true;
      for (size_t k = 1; k < args.size(); ++k) annotated_metadata(args[k], s);
    } else {
      s.AddMember("type", "object", a);
      problem = "type `" + name + "` is not a builtin the scanner maps; accepted as an object (NOT ENFORCED)";
    }
    return s;
  }

  // Annotated[..., "description"] or Annotated[..., Field(description="...", ge=1)].
  void annotated_metadata(size_t i, Value& s) {
    auto& a = doc_->GetAllocator();
    if (tokens_[i].kind == Token::kString) {
      json::set(s, "description", tokens_[i].text, a);
      return;
    }
    if (tokens_[i].kind == Token::kName && i + 1 < tokens_.size() && is_punct(tokens_[i + 1], "(")) {
      size_t close = skip_balanced(tokens_, i + 1);
      static const std::map<std::string, std::string> kKeywords = {
          {"description", "description"}, {"ge", "minimum"},          {"le", "maximum"},
          {"min_length", "minLength"},    {"max_length", "maxLength"}, {"pattern", "pattern"},
          {"title", "title"}};
      for (size_t k = i + 2; k + 2 < close; ++k) {
        if (tokens_[k].kind != Token::kName || !is_punct(tokens_[k + 1], "=")) continue;
        auto kw = kKeywords.find(tokens_[k].text);
        if (kw == kKeywords.end()) continue;
        Value v;
        if (parse_literal(tokens_, k + 2, Lang::kPython, v, a).ok) json::set(s, kw->second, std::move(v), a);
      }
    }
  }

  size_t decorated(size_t i) {
    // Collect the decorators, then expect (async) def.
    struct Deco {
      std::string name;
      std::string tool_name, description;
      int line;
    };
    std::vector<Deco> decos;
    size_t j = i;
    while (j < tokens_.size() && is_punct(tokens_[j], "@")) {
      Deco d;
      d.line = tokens_[j].line;
      ++j;
      while (j < tokens_.size() && (tokens_[j].kind == Token::kName || is_punct(tokens_[j], "."))) d.name += tokens_[j++].text;
      if (j < tokens_.size() && is_punct(tokens_[j], "(")) {
        size_t close = skip_balanced(tokens_, j);
        if (j + 1 < close && tokens_[j + 1].kind == Token::kString) d.tool_name = tokens_[j + 1].text;
        for (size_t k = j + 1; k + 2 < close; ++k) {
          if (tokens_[k].kind == Token::kName && is_punct(tokens_[k + 1], "=") && tokens_[k + 2].kind == Token::kString) {
            if (tokens_[k].text == "name" || tokens_[k].text == "name_override") d.tool_name = tokens_[k + 2].text;
            if (tokens_[k].text == "description" || tokens_[k].text == "description_override")
              d.description = tokens_[k + 2].text;
          }
        }
        j = close;
      }
      decos.push_back(d);
      while (j < tokens_.size() && tokens_[j].kind == Token::kNewline) ++j;
    }
    const Deco* tool = nullptr;
    for (const Deco& d : decos) {
      std::string last = d.name.substr(d.name.find_last_of('.') == std::string::npos ? 0 : d.name.find_last_of('.') + 1);
      if (last == "tool" || last == "function_tool") tool = &d;
    }
    if (!tool) return j > i ? j - 1 : i;
    if (j < tokens_.size() && is_name(tokens_[j], "async")) ++j;
    if (j + 2 >= tokens_.size() || !is_name(tokens_[j], "def") || tokens_[j + 1].kind != Token::kName) {
      out_.skipped.push_back({{file_, tool->line}, "@" + tool->name + " decorates something that is not a function"});
      return j;
    }
    std::string fname = tokens_[j + 1].text;
    size_t open = j + 2;
    if (!is_punct(tokens_[open], "(")) return j;
    size_t close = skip_balanced(tokens_, open);
    json::Document doc;
    doc_ = &doc;
    auto& a = doc.GetAllocator();
    doc.SetObject();
    Value props(rapidjson::kObjectType), required(rapidjson::kArrayType);
    std::vector<std::string> order;
    size_t k = open + 1;
    bool first = true;
    while (k < close - 1) {
      // one parameter: [*|**]name [: annotation] [= default]
      size_t param_end = k;
      int depth = 0;
      for (; param_end < close - 1; ++param_end) {
        const Token& pt = tokens_[param_end];
        if (is_punct(pt, "(") || is_punct(pt, "[") || is_punct(pt, "{")) ++depth;
        if (is_punct(pt, ")") || is_punct(pt, "]") || is_punct(pt, "}")) --depth;
        if (depth == 0 && is_punct(pt, ",")) break;
      }
      bool star = is_punct(tokens_[k], "*") || is_punct(tokens_[k], "**") || is_punct(tokens_[k], "/");
      if (!star && tokens_[k].kind == Token::kName) {
        std::string pname = tokens_[k].text;
        bool is_self = first && (pname == "self" || pname == "cls");
        Value schema(rapidjson::kObjectType);
        bool optional = false, has_default = false;
        std::string problem;
        size_t m = k + 1;
        bool context_param = false;
        if (m < param_end && is_punct(tokens_[m], ":")) {
          size_t e;
          const Token& ann = tokens_[m + 1];
          context_param = ann.kind == Token::kName && (ann.text == "Context" || ann.text == "RunContextWrapper" ||
                                                       ann.text == "ToolContext" || ann.text == "InjectedToolArg");
          schema = annotation(m + 1, e, problem, optional);
          m = e;
        } else if (!is_self) {
          problem = "has no type hint; accepted as any value";
        }
        if (m < param_end && is_punct(tokens_[m], "=")) {
          has_default = true;
          Value def;
          if (parse_literal(tokens_, m + 1, Lang::kPython, def, a).ok && !def.IsNull())
            json::set(schema, "default", std::move(def), a);
        }
        if (!is_self && !context_param) {
          if (!problem.empty())
            out_.skipped.push_back({{file_, tokens_[k].line}, "tool " + fname + ", parameter " + pname + ": " + problem});
          order.push_back(pname);
          props.AddMember(json::str(pname, a), schema, a);
          if (!has_default && !optional) required.PushBack(json::str(pname, a), a);
        }
      }
      first = false;
      k = param_end + 1;
    }
    // Docstring: first statement of the body.
    size_t body = close;
    while (body < tokens_.size() && !is_punct(tokens_[body], ":")) ++body;  // skip "-> return type"
    ++body;
    while (body < tokens_.size() && tokens_[body].kind == Token::kNewline) ++body;
    std::string description = tool->description;
    std::map<std::string, std::string> arg_docs;
    if (body < tokens_.size() && tokens_[body].kind == Token::kString) {
      std::string doc_desc;
      parse_docstring(tokens_[body].text, doc_desc, arg_docs);
      if (description.empty()) description = doc_desc;
    }
    for (auto m = props.MemberBegin(); m != props.MemberEnd(); ++m) {
      auto d = arg_docs.find(m->name.GetString());
      if (d != arg_docs.end() && !m->value.HasMember("description")) json::set(m->value, "description", d->second, a);
    }
    doc.AddMember("type", "object", a);
    doc.AddMember("properties", props, a);
    if (!required.Empty()) doc.AddMember("required", required, a);
    FoundTool t;
    t.name = tool->tool_name.empty() ? fname : tool->tool_name;
    t.description = description;
    t.input_schema_json = json::dump(doc);
    t.format = "python @" + tool->name;
    t.where = {file_, tool->line};
    out_.tools.push_back(std::move(t));
    doc_ = nullptr;
    return close;
  }

  void tools_list(size_t open) {
    size_t close = skip_balanced(tokens_, open);
    size_t k = open + 1;
    while (k < close - 1) {
      int line = tokens_[k].line;
      json::Document item;
      LiteralResult r = parse_literal(tokens_, k, Lang::kPython, item, item.GetAllocator());
      size_t next;
      if (r.ok) {
        Found one;
        std::string text = json::dump(item);
        scan_json_text(text, file_, one);
        for (auto& t : one.tools) {
          t.where = {file_, line};
          out_.tools.push_back(std::move(t));
        }
        if (one.tools.empty())
          out_.skipped.push_back({{file_, line}, "tools=[...] element is not a tool definition dict"});
        next = r.next;
      } else {
        out_.skipped.push_back({{file_, line}, "tools=[...] element is not a literal (" + r.error +
                                                   "); decorate the function with @tool or write the definition as a dict"});
        // skip to the next top-level comma
        int depth = 0;
        for (next = k; next < close - 1; ++next) {
          if (is_punct(tokens_[next], "(") || is_punct(tokens_[next], "[") || is_punct(tokens_[next], "{")) ++depth;
          if (is_punct(tokens_[next], ")") || is_punct(tokens_[next], "]") || is_punct(tokens_[next], "}")) --depth;
          if (depth == 0 && is_punct(tokens_[next], ",")) break;
        }
      }
      k = next;
      if (k < close - 1 && is_punct(tokens_[k], ",")) ++k;
      else if (k < close - 1 && !r.ok) ++k;
      else if (k < close - 1) break;
    }
  }

  std::vector<Token> tokens_;
  const std::string& file_;
  Found& out_;
};

}  // namespace

void scan_python_text(std::string_view text, const std::string& file, Found& out) { PythonScan(text, file, out).run(); }

}  // namespace atlas::scan
