// text::normalise_json: what every storage write goes through (docs/storage.md, "Text").
#include "common/text.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

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

// Inputs assembled from pieces whose normalised form is known one by one (valid text stays,
// each NUL and each invalid byte or lone surrogate escape becomes one U+FFFD), in random order
// and lengths: the whole must normalise to the pieces' expected forms in the same order.
TEST(NormaliseJson, RandomMixturesOfValidAndBrokenPiecesNormaliseToTheirExpectedForm) {
  struct Piece {
    std::string in, out;
    size_t invalid = 0, nul = 0;
  };
  const std::string fffd = "\xEF\xBF\xBD";
  const std::vector<Piece> fixed = {
      {"\xC3\xA9", "\xC3\xA9"},                             // é
      {"\xE2\x82\xAC", "\xE2\x82\xAC"},                     // €
      {"\xF0\x9F\x98\x80", "\xF0\x9F\x98\x80"},             // 😀
      {"\\n", "\\n"},                                   // an escape
      {"\\\"", "\\\""},                                 // \"
      {"\\\\u0000", "\\\\u0000"},                       // an escaped backslash, then text
      {"\\u00e9", "\\u00e9"},                           // a valid \u escape
      {"\\ud83d\\ude00", "\\ud83d\\ude00"},             // a surrogate pair
      {"\\u0000", "\\ufffd", 0, 1},                     // an escaped NUL
      {"\\udc00", "\\ufffd", 1, 0},                     // a lone low surrogate
      {std::string(1, '\0'), fffd, 0, 1},               // a raw NUL
      {"\xFF", fffd, 1, 0},                              // never a UTF-8 byte
      {"\x80", fffd, 1, 0},                              // a continuation byte alone
      {"\xC0", fffd, 1, 0},                              // an overlong lead byte
  };
  std::mt19937 rng(20261207);
  for (int doc = 0; doc < 2000; ++doc) {
    std::string in, expected;
    Repairs want;
    const int pieces = static_cast<int>(rng() % 40);
    for (int k = 0; k < pieces; ++k) {
      if (rng() % 2 == 0) {  // a run of plain ASCII, up to 300 bytes
        std::string run;
        const size_t n = rng() % 301;
        for (size_t j = 0; j < n; ++j) {
          char c = static_cast<char>(' ' + rng() % 95);
          run += c == '\\' ? '/' : c;
        }
        in += run;
        expected += run;
      } else {
        const Piece& p = fixed[rng() % fixed.size()];
        in += p.in;
        expected += p.out;
        want.invalid_utf8 += p.invalid;
        want.nul += p.nul;
      }
    }
    Repairs got;
    ASSERT_EQ(normalise_json(in, &got), expected) << "document " << doc;
    EXPECT_EQ(got.invalid_utf8, want.invalid_utf8) << "document " << doc;
    EXPECT_EQ(got.nul, want.nul) << "document " << doc;
  }
}

}  // namespace
}  // namespace atlas::text
