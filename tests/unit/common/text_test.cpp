// text::normalise_json: what every storage write goes through (docs/storage.md, "Text").
#include "common/text.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace atlas::text {
namespace {

TEST(NormaliseJson, ValidTextIsUnchanged) {
  const std::string valid = R"({"t":"caf\u00e9 ü 😀 \ud83d\ude00 \\u0000 \"q\" \n"})";
  Repairs r;
  EXPECT_EQ(normalise_json(valid, &r), valid);
  EXPECT_FALSE(r.any());
}

TEST(NormaliseJson, EscapedNulBecomesTheReplacementCharacter) {
  Repairs r;
  EXPECT_EQ(normalise_json(R"({"t":"a\u0000b"})", &r), R"({"t":"a\ufffdb"})");
  EXPECT_EQ(r.nul, 1u);
  EXPECT_EQ(r.invalid_utf8, 0u);
}

TEST(NormaliseJson, AnEscapedBackslashBeforeU0000IsNotANul) {
  Repairs r;
  EXPECT_EQ(normalise_json(R"({"t":"\\u0000"})", &r), R"({"t":"\\u0000"})");
  EXPECT_FALSE(r.any());
}

TEST(NormaliseJson, InvalidUtf8BytesAreReplaced) {
  Repairs r;
  std::string in = "{\"t\":\"a\xff\xfe" "b\xc3\" ,\"u\":\"\xed\xa0\x80\xc0\xaf\"}";
  std::string out = normalise_json(in, &r);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(out, "{\"t\":\"a" + fffd + fffd + "b" + fffd + "\" ,\"u\":\"" + fffd + fffd + fffd + fffd + fffd + "\"}");
  EXPECT_EQ(r.invalid_utf8, 8u);
  EXPECT_TRUE(json::parse(out).is_ok());
}

TEST(NormaliseJson, LoneSurrogateEscapesAreReplaced) {
  Repairs r;
  EXPECT_EQ(normalise_json(R"(["\ud800x","\udc00","\ud83d\ude00"])", &r), R"(["\ufffdx","\ufffd","\ud83d\ude00"])");
  EXPECT_EQ(r.invalid_utf8, 2u);
}

TEST(NormaliseJson, RawNulBytesAreReplaced) {
  Repairs r;
  std::string in("[\"a\0b\"]", 7);
  EXPECT_EQ(normalise_json(in, &r), "[\"a\xEF\xBF\xBD" "b\"]");
  EXPECT_EQ(r.nul, 1u);
}

}  // namespace
}  // namespace atlas::text
