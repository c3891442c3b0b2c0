#include <gtest/gtest.h>

#include "runtime/learning_key.hpp"

namespace atlas::runtime {
namespace {

json::Document parse(const char* text) {
  json::Document d;
  d.Parse(text);
  return d;
}

TEST(LearningKey, MatchesAtlasTestVector) {
  // Atlas's test vector (docs/atlas-compatibility.md)
  json::Document md = parse("{}");
  EXPECT_EQ(derive_learning_key("example-openai-agent", "Summarize the incident", &md),
            "c80ca2f10300a66f1c9e56e4ab8a23687d1a9d0d819fb5f43ca791a971c2dd59");
  EXPECT_EQ(derive_learning_key("example-openai-agent", "Summarize the incident", nullptr),
            "c80ca2f10300a66f1c9e56e4ab8a23687d1a9d0d819fb5f43ca791a971c2dd59");
}

TEST(LearningKey, OverrideWinsAndIsStripped) {
  json::Document md = parse(R"({"learning_key_override":"  shared-key \n","learning_key":"other"})");
  EXPECT_EQ(derive_learning_key("a", "task", &md), "shared-key");
  json::Document md2 = parse(R"({"learning_key_override":"   ","learning_key":"existing"})");
  EXPECT_EQ(derive_learning_key("a", "task", &md2), "existing");
}

TEST(LearningKey, OnlyTheFirst64CharactersOfTheStrippedTaskCount) {
  std::string base(64, 'x');
  EXPECT_EQ(derive_learning_key("a", "  " + base + "tail one", nullptr), derive_learning_key("a", base + "other tail", nullptr));
  EXPECT_NE(derive_learning_key("a", base, nullptr), derive_learning_key("b", base, nullptr));
}

TEST(LearningKey, TagsAreSortedAndTenantDefaults) {
  json::Document a = parse(R"({"tags":["beta"," alpha ",""],"tenant":""})");
  json::Document b = parse(R"({"tags":["alpha","beta"],"tenant_id":"default"})");
  EXPECT_EQ(derive_learning_key("agent", "task", &a), derive_learning_key("agent", "task", &b));
  json::Document c = parse(R"({"tenant":"acme"})");
  EXPECT_NE(derive_learning_key("agent", "task", &c), derive_learning_key("agent", "task", nullptr));
}

TEST(LearningKey, PythonJsonEscapingAndCodePoints) {
  EXPECT_EQ(python_json_string("é\"\n"), "\"\\u00e9\\\"\\n\"");
  EXPECT_EQ(python_json_string("\xF0\x9F\x98\x80"), "\"\\ud83d\\ude00\"");
  EXPECT_EQ(python_prefix("ééé", 2), "éé");
  EXPECT_EQ(python_strip("\xC2\xA0 hi \t"), "hi");
  // 64 code points, not bytes: a task of 70 accented letters keys on its first 64.
  std::string acc;
  for (int i = 0; i < 70; ++i) acc += "é";
  EXPECT_EQ(derive_learning_key("a", acc, nullptr), derive_learning_key("a", acc.substr(0, 128) + "zzz", nullptr));
}

TEST(LearningKey, Sha256) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace atlas::runtime
