// Depth limits of every JSON parse (docs/json-limits.md): hostile nesting fails the parse with a
// clear error instead of overflowing the stack.
#include <gtest/gtest.h>

#include <string>

#include "common/json.hpp"

namespace atlas::json {
namespace {

std::string nested_arrays(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }
std::string nested_objects(size_t depth) {
  std::string s;
  for (size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s += std::string(depth, '}');
  return s;
}

TEST(JsonDepth, AcceptsTheLimitAndRefusesOneLevelMore) {
  EXPECT_TRUE(parse(nested_arrays(kMaxDepth)).is_ok());
  EXPECT_TRUE(parse(nested_objects(kMaxDepth)).is_ok());
  auto deeper = parse(nested_arrays(kMaxDepth + 1), "reply");
  ASSERT_FALSE(deeper.is_ok());
  EXPECT_EQ(deeper.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(deeper.status().message(), "reply: line 1, column " + std::to_string(kMaxDepth + 1) +
                                           ": nested deeper than " + std::to_string(kMaxDepth) +
                                           " levels of arrays/objects");
  EXPECT_TRUE(parse(nested_arrays(kMaxInputDepth), "x", kMaxInputDepth).is_ok());
  EXPECT_FALSE(parse(nested_arrays(kMaxInputDepth + 1), "x", kMaxInputDepth).is_ok());
}

TEST(JsonDepth, HostileNestingFailsWithoutOverflowingTheStack) {
  for (const std::string& text : {nested_arrays(200000), nested_objects(200000), std::string(400000, '[')}) {
    auto parsed = parse(text, "model reply");
    ASSERT_FALSE(parsed.is_ok());
    EXPECT_NE(parsed.status().message().find("nested deeper than"), std::string::npos) << parsed.status().message();
    Status syntax = check_syntax(text, "model reply");
    EXPECT_EQ(syntax.message(), parsed.status().message());
  }
}

TEST(JsonDepth, BracketsInsideStringsDoNotCount) {
  std::string text = "[\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"]";
  auto parsed = parse(text);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_TRUE((*parsed)[0].IsString());
}

TEST(JsonDepth, SyntaxErrorsKeepTheirOwnMessage) {
  auto parsed = parse("[1 2]", "x");
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_EQ(parsed.status().message(), "x: line 1, column 4: Missing a comma or ']' after an array element.");
}

TEST(JsonDepth, LenientReplyParseRefusesDeepNestingWithAClearError) {
  for (const std::string& reply : {"Here you go: {\"verdict\": " + nested_arrays(200000) + "}",
                                   "```json\n" + nested_objects(200000) + "\n```"}) {
    auto parsed = parse_lenient_object(reply);
    ASSERT_FALSE(parsed.is_ok());
    EXPECT_NE(parsed.status().message().find("nested deeper than " + std::to_string(kMaxInputDepth)),
              std::string::npos)
        << parsed.status().message();
  }
  std::string ok = "prose " + nested_objects(kMaxInputDepth) + " more prose";
  EXPECT_TRUE(parse_lenient_object(ok).is_ok());
}

// 400 KB of unclosed braces: the rescan from each brace (10^11 steps) is cut by the scanner's
// work budget, so the call ends with "no JSON object" instead of hanging the session.
TEST(JsonDepth, LenientReplyParseOfUnbalancedBracesEnds) {
  for (const std::string& reply : {std::string(400000, '{'), std::string(400000, '{') + "{\"score\": 1}"}) {
    auto parsed = parse_lenient_object(reply);
    ASSERT_FALSE(parsed.is_ok());
    EXPECT_NE(parsed.status().message().find("no JSON object found"), std::string::npos);
  }
}

TEST(JsonDepth, LenientReplyParseStillSkipsProseAndBadCandidates) {
  auto parsed = parse_lenient_object("Use {x} here, he said \"{\". Result: {\"valid\": true, \"note\": \"a } b\",}");
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().message();
  EXPECT_TRUE(get_bool(*parsed, "valid"));
  EXPECT_EQ(get_string(*parsed, "note"), "a } b");
}

}  // namespace
}  // namespace atlas::json
