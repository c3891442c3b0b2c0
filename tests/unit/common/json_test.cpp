#include <gtest/gtest.h>

#include "common/json.hpp"

namespace atlas::json {
namespace {

TEST(CheckSyntax, AcceptsWhatParseAccepts) {
  for (const char* text : {"{}", "[1,2,{\"a\":\"\\u00e9\"}]", "\"just a string\"", "  {\"k\": null}  "}) {
    EXPECT_TRUE(check_syntax(text).is_ok()) << text;
    EXPECT_TRUE(parse(text).is_ok()) << text;
  }
}

TEST(CheckSyntax, ReportsTheSameErrorAsParse) {
  for (const char* text : {"", "{", "{\"a\":1,}", "[1 2]", "{\"a\":1}\n{\"b\":2}", "{\n  \"a\": tru\n}"}) {
    Status syntax = check_syntax(text, "plugin output");
    auto parsed = parse(text, "plugin output");
    ASSERT_FALSE(syntax.is_ok()) << text;
    ASSERT_FALSE(parsed.is_ok()) << text;
    EXPECT_EQ(syntax.message(), parsed.status().message()) << text;
    EXPECT_EQ(syntax.code(), StatusCode::kInvalidArgument);
  }
  EXPECT_NE(check_syntax("{\n  \"a\": tru\n}", "x").message().find("x: line 2, column"), std::string::npos);
}

TEST(CheckSyntax, StopsAtTheViewsEnd) {
  std::string text = "{\"a\":1}garbage";
  EXPECT_TRUE(check_syntax(std::string_view(text).substr(0, 7)).is_ok());
  EXPECT_FALSE(check_syntax(text).is_ok());
}

// Found by fuzz_wire_anthropic: usage {"input_tokens": 1e55} was converted to int64 (undefined
// behaviour). Counts outside int64 read as the fallback; ordinary numbers still convert.
TEST(GetInt, NumbersOutsideInt64AreTheFallbackNotAConversion) {
  auto doc = parse(R"({"huge":1e55,"negative":-1e300,"unsigned":18446744073709551615,"edge":9223372036854775807,
                      "whole":12.0,"fraction":12.7,"text":"3"})");
  ASSERT_TRUE(doc.is_ok());
  EXPECT_EQ(get_int(*doc, "huge", -1), -1);
  EXPECT_EQ(get_int(*doc, "negative", -1), -1);
  EXPECT_EQ(get_int(*doc, "unsigned", -1), -1);
  EXPECT_EQ(get_int(*doc, "edge", -1), 9223372036854775807LL);
  EXPECT_EQ(get_int(*doc, "whole", -1), 12);
  EXPECT_EQ(get_int(*doc, "fraction", -1), 12);
  EXPECT_EQ(get_int(*doc, "text", -1), -1);
  EXPECT_EQ(get_int(*doc, "missing", 7), 7);
}

}  // namespace
}  // namespace atlas::json
