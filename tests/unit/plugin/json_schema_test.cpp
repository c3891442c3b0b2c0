// json::Schema: the draft-04 validator every component uses for plugin configs. Checks the
// messages a user gets for each common mistake, and the fail-open keywords it reports.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json_schema.hpp"

namespace atlas::json {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Schema compile(const char* text) {
  auto s = Schema::compile(text, "test schema");
  EXPECT_TRUE(s.is_ok()) << s.status().to_string();
  return std::move(s).value();
}

std::optional<SchemaError> check(const Schema& s, const char* instance) {
  auto doc = parse(instance);
  EXPECT_TRUE(doc.is_ok());
  return s.check(*doc);
}

const char* kConfig = R"({
  "type": "object",
  "properties": {
    "model": {"type": "string", "minLength": 1},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2},
    "retries": {"type": "integer", "minimum": 0, "exclusiveMaximum": true, "maximum": 10},
    "mode": {"enum": ["fast", "careful"]},
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "id": {"type": "string", "pattern": "^\\d+$"},
    "nested": {"type": "object", "properties": {"a/b": {"type": "boolean"}}, "additionalProperties": false}
  },
  "required": ["model"],
  "additionalProperties": false
})";

TEST(JsonSchema, ValidInstancePasses) {
  Schema s = compile(kConfig);
  EXPECT_FALSE(check(s, R"({"model":"m","temperature":0.5,"mode":"fast","tags":["a"],"id":"42"})"));
}

TEST(JsonSchema, TypeMismatch) {
  auto e = check(compile(kConfig), R"({"model":"m","temperature":"hot"})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->instance_pointer, "/temperature");
  EXPECT_EQ(e->keyword, "type");
  EXPECT_EQ(e->schema_pointer, "#/properties/temperature");
  EXPECT_EQ(e->expected, "number");
  EXPECT_EQ(e->found, "string \"hot\"");
  EXPECT_EQ(e->message, "/temperature: expected number, found string \"hot\" (JSON Schema keyword 'type' at "
                        "#/properties/temperature)");
}

TEST(JsonSchema, RequiredNamesTheMissingProperty) {
  auto e = check(compile(kConfig), R"({"temperature":1})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->keyword, "required");
  EXPECT_THAT(e->message, AllOf(HasSubstr("(top level)"), HasSubstr("missing required property \"model\"")));
}

TEST(JsonSchema, AdditionalPropertyIsNamedWithItsParent) {
  auto e = check(compile(kConfig), R"({"model":"m","nested":{"a/b":true,"c":1}})");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->keyword, "additionalProperties");
  EXPECT_EQ(e->instance_pointer, "/nested");
  EXPECT_THAT(e->message, AllOf(HasSubstr("/nested: unknown property \"c\""), HasSubstr("allowed: a/b")));
}

TEST(JsonSchema, RangesEnumsLengthsAndItems) {
  Schema s = compile(kConfig);
  EXPECT_THAT(check(s, R"({"model":"m","temperature":3})")->message, HasSubstr("expected a number <= 2, found integer 3"));
  EXPECT_THAT(check(s, R"({"model":"m","retries":10})")->message, HasSubstr("expected a number < 10"));
  EXPECT_THAT(check(s, R"({"model":"m","mode":"slow"})")->message, HasSubstr("one of [\"fast\",\"careful\"]"));
  EXPECT_THAT(check(s, R"({"model":""})")->message, HasSubstr("expected at least 1 characters, found 0 characters"));
  EXPECT_THAT(check(s, R"({"model":"m","tags":["a","b","c"]})")->message, HasSubstr("at most 2 items, found 3 items"));
  EXPECT_EQ(check(s, R"({"model":"m","tags":["a",1]})")->instance_pointer, "/tags/1");
}

TEST(JsonSchema, PatternsUseEcmaScriptRegexSoDigitClassesWork) {
  Schema s = compile(kConfig);
  EXPECT_FALSE(check(s, R"({"model":"m","id":"123"})"));
  auto e = check(s, R"({"model":"m","id":"12a"})");
  ASSERT_TRUE(e) << "\\d must be enforced, not silently dropped";
  EXPECT_EQ(e->keyword, "pattern");
}

TEST(JsonSchema, ValidateAddsWhatAndParsesText) {
  Schema s = compile(kConfig);
  Status st = s.validate_text(R"({"model":1})", "config of adapter 'x'");
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.message(), HasSubstr("config of adapter 'x': /model: expected string"));
  Status bad = s.validate_text("{\"model\":", "config of adapter 'x'");
  EXPECT_THAT(bad.message(), AllOf(HasSubstr("config of adapter 'x'"), HasSubstr("line 1, column")));
  EXPECT_TRUE(s.validate_text(R"({"model":"m"})", "cfg").is_ok());
}

TEST(JsonSchema, CompileErrors) {
  auto not_json = Schema::compile("{type:", "plugin 'p' schema");
  ASSERT_FALSE(not_json.is_ok());
  EXPECT_THAT(not_json.status().message(), HasSubstr("plugin 'p' schema: line 1"));
  auto not_object = Schema::compile("[1]", "plugin 'p' schema");
  ASSERT_FALSE(not_object.is_ok());
  EXPECT_THAT(not_object.status().message(), HasSubstr("must be a JSON object, found array"));
}

TEST(JsonSchema, KeywordsTheValidatorIgnoresAreReported) {
  Schema s = compile(R"({"type":"object","$defs":{"x":{}},"properties":{
      "a":{"const":1},"b":{"type":"number","exclusiveMinimum":0},"c":{"type":"string","format":"date-time"},
      "d":{"type":"string","pattern":"(unclosed"},"e":{"$ref":"#/$defs/x"},"f":{"type":"string","examples":["x"]}}})");
  EXPECT_THAT(s.unsupported_keywords(),
              ElementsAre("#/$defs", "#/properties/a/const", "#/properties/b/exclusiveMinimum",
                          "#/properties/c/format", "#/properties/d/pattern", "#/properties/e/$ref"));
  EXPECT_TRUE(compile(kConfig).unsupported_keywords().empty());
}

TEST(JsonSchema, CompiledSchemaIsSharedSafelyAcrossCopies) {
  Schema a = compile(kConfig);
  Schema b = a;  // shares the compiled document
  EXPECT_EQ(a.source(), b.source());
  EXPECT_TRUE(check(b, R"({})"));
}

}  // namespace
}  // namespace atlas::json
