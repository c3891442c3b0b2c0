#include <gtest/gtest.h>

#include "llm/llm_json.hpp"

namespace atlas::llm {
namespace {

TEST(LlmJson, RequestRoundTripKeepsToolCallsAsObjects) {
  auto r = request_from_json(R"({"role":"judge","messages":[{"role":"developer","content":"s"},
      {"role":"assistant","content":null,"tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{\"x\":1}"}}]},
      {"role":"tool","tool_call_id":"c","content":[{"type":"text","text":"ok"}]}],
      "tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}],
      "tool_choice":{"type":"function","function":{"name":"f"}},"max_tokens":9,"temperature":0.3})");
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->role, "judge");
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].tool_calls[0].arguments_json, R"({"x":1})");
  EXPECT_EQ(r->messages[2].content, "ok");
  EXPECT_EQ(r->tool_choice, "f");
  EXPECT_EQ(*r->max_output_tokens, 9);
  std::string out = request_to_json(*r);
  EXPECT_NE(out.find(R"("arguments":{"x":1})"), std::string::npos) << out;
  auto again = request_from_json(out);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->messages[1].tool_calls[0].arguments_json, R"({"x":1})");
}

TEST(LlmJson, ResponseRoundTrip) {
  Response r;
  r.content = "c";
  r.tool_calls.push_back({"id1", "f", R"({"a":[1,2]})"});
  r.usage = {1, 2, 3};
  r.finish_reason = "tool_calls";
  std::string text = response_to_json(r);
  EXPECT_NE(text.find(R"("arguments":{"a":[1,2]})"), std::string::npos);
  EXPECT_NE(text.find(R"("reasoning":null)"), std::string::npos);
  auto back = response_from_json(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->tool_calls[0].arguments_json, R"({"a":[1,2]})");
  EXPECT_EQ(back->usage.total_tokens, 3);
}

TEST(LlmJson, PreciseErrors) {
  auto a = request_from_json(R"({"messages":[]})");
  ASSERT_FALSE(a);
  EXPECT_NE(a.status().message().find("non-empty"), std::string::npos);
  auto b = request_from_json(R"({"messages":[{"role":"tool","content":"x"}]})");
  ASSERT_FALSE(b);
  EXPECT_NE(b.status().message().find("tool_call_id"), std::string::npos);
  auto c = request_from_json(R"({"messages":[{"role":"user","content":"x"}],"response_format":{"type":"yaml"}})");
  ASSERT_FALSE(c);
  EXPECT_NE(c.status().message().find("yaml"), std::string::npos);
  auto d = request_from_json(R"({"messages":[{"role":"assistant","tool_calls":[{"name":"f","arguments":"[1]"}]}]})");
  ASSERT_FALSE(d);
  EXPECT_NE(d.status().message().find("messages[0].tool_calls[0].arguments"), std::string::npos);
}

TEST(LlmJson, ModelBlockDefaultsFollowProvider) {
  json::Document d;
  d.Parse(R"({"provider":"anthropic","model":"claude","retry":{"attempts":5}})");
  auto m = model_config_from_json(d);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->api_key_env, "ANTHROPIC_API_KEY");
  EXPECT_EQ(m->retry.attempts, 5);
  d.Parse(R"({"provider":"openai","model":"x","retry":{"attempts":9}})");
  EXPECT_FALSE(model_config_from_json(d));
}

}  // namespace
}  // namespace atlas::llm
