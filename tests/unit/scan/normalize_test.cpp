// Schema lowering: every rewrite must keep the 2020-12 meaning under RapidJSON's draft-04
// validator (checked by validating instances), and what cannot be kept must be reported.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "common/json_schema.hpp"
#include "scan/normalize.hpp"

using namespace atlas;
using namespace atlas::scan;

namespace {

struct Lowered {
  std::string schema;
  std::vector<Note> notes;
};

Lowered lower(const std::string& text) {
  auto doc = json::parse(text);
  EXPECT_TRUE(doc.is_ok());
  Lowered out;
  lower_schema(doc.value(), doc->GetAllocator(), out.notes);
  out.schema = json::dump(doc.value());
  return out;
}

// true when `instance` is valid against the lowered schema.
bool accepts(const Lowered& l, const std::string& instance) {
  auto schema = json::Schema::compile(l.schema);
  EXPECT_TRUE(schema.is_ok()) << schema.status().to_string();
  auto doc = json::parse(instance);
  EXPECT_TRUE(doc.is_ok());
  return !schema->check(doc.value()).has_value();
}

bool has_note(const Lowered& l, Severity s, const std::string& fragment) {
  for (const Note& n : l.notes)
    if (n.severity == s && (n.message.find(fragment) != std::string::npos || n.pointer.find(fragment) != std::string::npos))
      return true;
  return false;
}

TEST(Lowering, ConstBecomesEnumAndIsEnforced) {
  auto l = lower(R"({"type":"object","properties":{"v":{"const":"x"}}})");
  EXPECT_TRUE(accepts(l, R"({"v":"x"})"));
  EXPECT_FALSE(accepts(l, R"({"v":"y"})"));
}

TEST(Lowering, NumericExclusiveBoundsBecomeDraft04Form) {
  auto l = lower(R"({"type":"object","properties":{"n":{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":10}}})");
  EXPECT_FALSE(accepts(l, R"({"n":0})"));
  EXPECT_TRUE(accepts(l, R"({"n":0.5})"));
  EXPECT_FALSE(accepts(l, R"({"n":10})"));
  // A stricter inclusive bound wins and the exclusive one goes away.
  auto s = lower(R"({"type":"number","minimum":5,"exclusiveMinimum":1})");
  EXPECT_TRUE(accepts(s, "5"));
  EXPECT_FALSE(accepts(s, "4"));
}

TEST(Lowering, DefsRefsAreRewrittenAndResolve) {
  auto l = lower(R"({"type":"object","$defs":{"p":{"type":"integer"}},"properties":{"a":{"$ref":"#/$defs/p"}}})");
  EXPECT_NE(l.schema.find(R"("definitions")"), std::string::npos);
  EXPECT_NE(l.schema.find("#/definitions/p"), std::string::npos);
  EXPECT_FALSE(accepts(l, R"({"a":"text"})"));
  EXPECT_TRUE(accepts(l, R"({"a":3})"));
}

TEST(Lowering, RefWithSiblingsKeepsTheSiblingsEnforced) {
  auto l = lower(R"({"definitions":{"s":{"type":"string"}},"$ref":"#/definitions/s","maxLength":2})");
  EXPECT_TRUE(accepts(l, R"("ab")"));
  EXPECT_FALSE(accepts(l, R"("abc")"));
  EXPECT_FALSE(accepts(l, "5"));
}

TEST(Lowering, PrefixItemsBecomeTupleItems) {
  auto l = lower(R"({"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false})");
  EXPECT_TRUE(accepts(l, R"(["a",1])"));
  EXPECT_FALSE(accepts(l, R"([1,"a"])"));
  EXPECT_FALSE(accepts(l, R"(["a",1,2])"));
}

TEST(Lowering, IfThenElseIsExact) {
  auto l = lower(R"({"if":{"properties":{"k":{"const":"num"}}},"then":{"properties":{"v":{"type":"number"}}},
                     "else":{"properties":{"v":{"type":"string"}}}})");
  EXPECT_TRUE(accepts(l, R"({"k":"num","v":1})"));
  EXPECT_FALSE(accepts(l, R"({"k":"num","v":"x"})"));
  EXPECT_TRUE(accepts(l, R"({"k":"str","v":"x"})"));
  EXPECT_FALSE(accepts(l, R"({"k":"str","v":1})"));
}

TEST(Lowering, ContainsIsExact) {
  auto l = lower(R"({"type":"array","contains":{"const":"main"}})");
  EXPECT_TRUE(accepts(l, R"(["x","main"])"));
  EXPECT_FALSE(accepts(l, R"(["x"])"));
  EXPECT_FALSE(accepts(l, R"([])"));
}

TEST(Lowering, DependentRequiredBecomesDependencies) {
  auto l = lower(R"({"type":"object","dependentRequired":{"card":["cvv"]}})");
  EXPECT_TRUE(accepts(l, R"({})"));
  EXPECT_FALSE(accepts(l, R"({"card":"1"})"));
  EXPECT_TRUE(accepts(l, R"({"card":"1","cvv":"2"})"));
}

TEST(Lowering, NullableTypesAndBooleanSchemas) {
  auto l = lower(R"({"type":"object","properties":{"a":{"type":"string","nullable":true},"b":false}})");
  EXPECT_TRUE(accepts(l, R"({"a":null})"));
  EXPECT_FALSE(accepts(l, R"({"a":1})"));
  EXPECT_FALSE(accepts(l, R"({"b":1})"));
}

TEST(Lowering, WhatCannotBeLoweredIsReportedNotSilentlyDropped) {
  auto l = lower(R"({"type":"object","unevaluatedProperties":false,"allOf":[{"properties":{"a":{}}}],
                     "propertyNames":{"maxLength":3},"properties":{"r":{"$ref":"https://example.com/x.json"},
                     "p":{"type":"string","pattern":"(?<=a)b"},"d":{"type":"string","format":"date-time"}}})");
  EXPECT_TRUE(has_note(l, Severity::kWarning, "unevaluatedProperties"));
  EXPECT_TRUE(has_note(l, Severity::kWarning, "propertyNames"));
  EXPECT_TRUE(has_note(l, Severity::kError, "remote $ref"));
  EXPECT_TRUE(has_note(l, Severity::kError, "(?<=a)b"));
  EXPECT_TRUE(has_note(l, Severity::kInfo, "format \"date-time\""));
  // The remaining schema compiles (an uncompilable pattern would make RapidJSON drop it silently).
  EXPECT_TRUE(json::Schema::compile(l.schema).is_ok());
}

TEST(Lowering, UnevaluatedPropertiesWithoutSubschemasIsAdditionalProperties) {
  auto l = lower(R"({"type":"object","properties":{"a":{}},"unevaluatedProperties":false})");
  EXPECT_TRUE(accepts(l, R"({"a":1})"));
  EXPECT_FALSE(accepts(l, R"({"b":1})"));
}

TEST(Gemini, RefsInlinedAndNullableInsteadOfTypeArrays) {
  auto doc = json::parse(R"({"type":"object","definitions":{"p":{"type":["string","null"]}},
                             "properties":{"a":{"$ref":"#/definitions/p"}},"additionalProperties":false})");
  std::vector<Note> notes;
  to_gemini_schema(doc.value(), doc->GetAllocator(), notes);
  EXPECT_EQ(json::dump(doc.value()), R"({"type":"object","properties":{"a":{"type":"string","nullable":true}}})");
}

TEST(Names, OpenAiAndGeminiNamesAreValidAndReversibleThroughTheTable) {
  EXPECT_EQ(openai_tool_name("get_weather"), "get_weather");
  std::string dotted = openai_tool_name("files.read");
  EXPECT_TRUE(is_valid_openai_name(dotted));
  EXPECT_EQ(dotted.rfind("files_read_", 0), 0u);
  // Two names that sanitise alike still differ (the hash of the original is appended).
  EXPECT_NE(openai_tool_name("a.b"), openai_tool_name("a:b"));
  std::string long_name(100, 'x');
  EXPECT_EQ(openai_tool_name(long_name).size(), 64u);
  EXPECT_TRUE(is_valid_openai_name(openai_tool_name(long_name)));
  EXPECT_TRUE(is_valid_gemini_name(gemini_tool_name("9lives")));
  EXPECT_EQ(gemini_tool_name("files.read"), "files.read");  // dots are fine for Gemini

  std::vector<Skipped> skipped;
  auto tools = normalize_tools({{"files.read", "", R"({"type":"object"})", "mcp-tool", {"a.json", 1}, false},
                                {"files-read", "", R"({"type":"object"})", "mcp-tool", {"a.json", 2}, false},
                                {"files.read", "", R"({"type":"object"})", "mcp-tool", {"a.json", 3}, false},
                                {"delete", "", R"({"type":"string"})", "mcp-tool", {"a.json", 4}, false}},
                               skipped);
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].ident, "files_read");
  EXPECT_EQ(tools[1].ident, "files_read_2");
  EXPECT_EQ(tools[1].type_name, "FilesRead2");
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_NE(skipped[0].reason.find("duplicate tool name \"files.read\" (first defined at a.json:1)"), std::string::npos);
  EXPECT_NE(skipped[1].reason.find("not an object schema"), std::string::npos);
}

TEST(Names, IdentifiersAvoidKeywordsAndDigits) {
  EXPECT_EQ(to_identifier("getWeatherNow"), "get_weather_now");
  EXPECT_EQ(to_identifier("HTTPRequest"), "http_request");
  EXPECT_EQ(to_identifier("delete"), "delete_");
  EXPECT_EQ(to_identifier("3d-render"), "t_3d_render");
  EXPECT_EQ(to_identifier("---"), "tool");
  EXPECT_EQ(to_type_name("get_weather_now"), "GetWeatherNow");
}

}  // namespace
