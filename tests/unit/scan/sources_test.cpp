// Static sources: what each recogniser finds, where, and what it skips with a reason.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "scan/lexer.hpp"
#include "scan/scanner.hpp"

using namespace atlas;
using namespace atlas::scan;

namespace {

const FoundTool* find(const Found& f, const std::string& name) {
  for (const auto& t : f.tools)
    if (t.name == name) return &t;
  return nullptr;
}

std::string schema_of(const Found& f, const std::string& name) {
  const FoundTool* t = find(f, name);
  return t ? t->input_schema_json : "<missing>";
}

TEST(Lexer, StringsCommentsAndRegexesDoNotConfuseTheScan) {
  auto toks = tokenize("a = '@tool' # @tool\nb = \"\"\"x\n@tool\"\"\"\n", Lang::kPython);
  int names = 0;
  for (const auto& t : toks) names += t.kind == Token::kName && t.text == "tool";
  EXPECT_EQ(names, 0);
  auto js = tokenize("const r = /inputSchema: {/g; // inputSchema:\nconst s = `x${a}y`;", Lang::kJavaScript);
  ASSERT_GE(js.size(), 4u);
  EXPECT_EQ(js[3].kind, Token::kRegex);
  EXPECT_EQ(js[3].text, "inputSchema: {");
  bool interpolated = false;
  for (const auto& t : js) interpolated = interpolated || (t.kind == Token::kString && t.interpolated);
  EXPECT_TRUE(interpolated);
}

// Found by fuzz_scan_typescript: `\u{...}` with something other than hex digits inside made
// std::stoul throw out of the lexer (and `scan` die). A code point escape is 1 to 6 hex digits up
// to U+10FFFF; anything else is kept as written.
TEST(Lexer, CodePointEscapesAreCheckedNotThrown) {
  auto good = tokenize(R"(const s = "a\u{1F600}b\u{41}";)", Lang::kJavaScript);
  std::string text;
  for (const auto& t : good)
    if (t.kind == Token::kString) text = t.text;
  EXPECT_EQ(text, "a\xF0\x9F\x98\x80" "bA");
  for (const char* source : {R"(const s = "\u{\\n}";)", R"(const s = "\u{}";)", R"(const s = "\u{110000}";)",
                             R"(const s = "\u{1234567}";)", R"(const s = "\u{zz}";)"}) {
    auto toks = tokenize(source, Lang::kJavaScript);
    bool has_string = false;
    for (const auto& t : toks) has_string = has_string || t.kind == Token::kString;
    EXPECT_TRUE(has_string) << source;
  }
}

TEST(Lexer, PythonLiteralsBecomeJson) {
  auto toks = tokenize("{'a': (1, -2.5, True, None), \"b\": 'x' 'y',}", Lang::kPython);
  json::Document doc;
  auto r = parse_literal(toks, 0, Lang::kPython, doc, doc.GetAllocator());
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(json::dump(doc), R"({"a":[1,-2.5,true,null],"b":"xy"})");
  auto bad = tokenize("{'a': compute(1)}", Lang::kPython);
  json::Document d2;
  auto r2 = parse_literal(bad, 0, Lang::kPython, d2, d2.GetAllocator());
  EXPECT_FALSE(r2.ok);
  EXPECT_EQ(r2.error, "line 1: `compute` is a name, not a literal");
}

TEST(Python, DecoratedFunctionsBecomeSchemasFromHintsDefaultsAndDocstrings) {
  Found f;
  scan_python_text(R"PY(
@tool
def search(query: str, limit: int = 10, tags: Optional[list[str]] = None, mode: Literal["a", "b"] = "a") -> str:
    """Search the index.

    Args:
        query: what to look for
        limit: how many results
    """

class Tools:
    @server.tool(name="files.read")
    async def read(self, path: Annotated[str, Field(description="File path", min_length=1)]): ...
)PY",
                   "agent.py", f);
  ASSERT_EQ(f.tools.size(), 2u);
  EXPECT_EQ(f.tools[0].where.to_string(), "agent.py:2");
  EXPECT_EQ(f.tools[0].description, "Search the index.");
  EXPECT_EQ(schema_of(f, "search"),
            R"({"type":"object","properties":{"query":{"type":"string","description":"what to look for"},)"
            R"("limit":{"type":"integer","default":10,"description":"how many results"},)"
            R"("tags":{"type":["array","null"],"items":{"type":"string"}},)"
            R"("mode":{"type":"string","enum":["a","b"],"default":"a"}},"required":["query"]})");
  EXPECT_EQ(schema_of(f, "files.read"),
            R"({"type":"object","properties":{"path":{"type":"string","description":"File path","minLength":1}},)"
            R"("required":["path"]})");
}

TEST(Python, ToolsListLiteralsAndNonLiterals) {
  Found f;
  scan_python_text("agent = Agent(tools=[{'name': 'x', 'input_schema': {'type': 'object'}}, make_tool()])\n", "a.py", f);
  ASSERT_EQ(f.tools.size(), 1u);
  EXPECT_EQ(f.tools[0].format, "anthropic-tool");
  ASSERT_EQ(f.skipped.size(), 1u);
  EXPECT_NE(f.skipped[0].reason.find("`make_tool` is a name, not a literal"), std::string::npos);
}

TEST(TypeScript, ZodShapesBecomeJsonSchema) {
  Found f;
  scan_typescript_text(R"TS(
server.tool("add", "Add numbers", { a: z.number().int().positive(), b: z.number().default(1),
  tags: z.array(z.string().min(2)).nonempty(), kind: z.enum(["x", "y"]).optional() }, async () => ({}));
server.tool("broken", { a: z.custom<Foo>() }, cb);
)TS",
                       "s.ts", f);
  ASSERT_EQ(f.tools.size(), 1u);
  EXPECT_EQ(f.tools[0].where.to_string(), "s.ts:2");
  EXPECT_EQ(schema_of(f, "add"),
            R"({"type":"object","properties":{"a":{"type":"integer","exclusiveMinimum":0},)"
            R"("b":{"type":"number","default":1},"tags":{"type":"array","items":{"type":"string","minLength":2},)"
            R"("minItems":1},"kind":{"type":"string","enum":["x","y"]}},"required":["a","tags"]})");
  ASSERT_EQ(f.skipped.size(), 1u);
  EXPECT_NE(f.skipped[0].reason.find("z.custom() is not mapped"), std::string::npos) << f.skipped[0].reason;
  EXPECT_EQ(f.skipped[0].where.line, 4);
}

TEST(TypeScript, ObjectLiteralsWithNameAndSchema) {
  Found f;
  scan_typescript_text(R"TS(
const defs = [{ name: 'lookup', description: "Find", parameters: { type: 'object', properties: { id: { type: 'string' } } } }];
const other = { parameters: { type: "object" } };  // no name: not a tool
)TS",
                       "t.ts", f);
  ASSERT_EQ(f.tools.size(), 1u);
  EXPECT_EQ(f.tools[0].description, "Find");
  EXPECT_EQ(schema_of(f, "lookup"), R"({"type":"object","properties":{"id":{"type":"string"}}})");
}

TEST(Json, FindsToolsWithLinesAndReportsOtherFiles) {
  Found f;
  scan_json_text("[\n {\"name\": \"a\", \"parameters\": {}},\n {\"type\": \"function\", \"function\": {\"name\": \"b\"}}\n]",
                 "t.json", f);
  ASSERT_EQ(f.tools.size(), 2u);
  EXPECT_EQ(f.tools[0].where.line, 2);
  EXPECT_EQ(f.tools[1].where.line, 3);
  Found g;
  scan_json_text("{\"a\": 1,}", "bad.json", g);
  ASSERT_EQ(g.skipped.size(), 1u);
  EXPECT_NE(g.skipped[0].reason.find("not valid JSON"), std::string::npos);
}

TEST(OpenApi, OperationsBecomeToolsWithParametersAndBody) {
  Found f;
  Status st = scan_openapi_text(R"({"openapi":"3.1.0","paths":{"/u/{id}":{"delete":{"parameters":[
      {"name":"id","in":"path","schema":{"type":"integer"}},{"name":"id","in":"query","schema":{"type":"string"}}],
      "requestBody":{"required":true,"content":{"application/json":{"schema":{"$ref":"#/components/schemas/R"}}}}}}},
      "components":{"schemas":{"R":{"type":"object","properties":{"why":{"type":"string"}}}}}})",
                                "api.json", f);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(f.tools.size(), 1u);
  EXPECT_EQ(f.tools[0].name, "delete_u_id");
  EXPECT_EQ(f.tools[0].input_schema_json,
            R"({"type":"object","properties":{"id":{"type":"integer"},"query_id":{"type":"string"},)"
            R"("body":{"$ref":"#/definitions/R"}},"required":["id","body"],"additionalProperties":false,)"
            R"("definitions":{"R":{"type":"object","properties":{"why":{"type":"string"}}}}})");
  Found g;
  EXPECT_FALSE(scan_openapi_text("openapi: 3.0.0\n", "api.yaml", g).is_ok());
}

TEST(Command, SplitsLikeAShell) {
  auto argv = split_command(R"(node "my server.js" --root '/tmp/a b' x\ y)");
  ASSERT_TRUE(argv.is_ok());
  EXPECT_EQ(argv.value(), (std::vector<std::string>{"node", "my server.js", "--root", "/tmp/a b", "x y"}));
  EXPECT_FALSE(split_command("node 'open").is_ok());
}

}  // namespace
