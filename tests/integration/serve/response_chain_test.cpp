// The gateway's memory of relayed Responses conversations: resolving a chain oldest first, the
// links it does not know, loops, and the byte bound.
#include "serve/response_chain.hpp"

#include <gtest/gtest.h>

namespace atlas::serve {
namespace {

llm::Response text_reply(const std::string& text) {
  llm::Response r;
  r.content = text;
  return r;
}

TEST(ResponseChain, ResolvesEveryEarlierTurnOldestFirstWithTheFirstEpisode) {
  ResponseChain chain;
  chain.remember("r1", "ep-1", "", R"([{"role":"user","content":"one"}])", text_reply("first"));
  llm::Response call;
  call.tool_calls.push_back({"c1", "get_weather", "{\"city\":\"Rome\"}"});
  chain.remember("r2", "ep-1", "r1", R"([{"role":"user","content":"two"}])", call);
  auto r = chain.resolve("r2");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->episode_id, "ep-1");
  EXPECT_EQ(
      r->items_json,
      R"([{"role":"user","content":"one"},{"role":"assistant","content":"first"},{"role":"user","content":"two"},)"
      R"({"type":"function_call","call_id":"c1","name":"get_weather","arguments":"{\"city\":\"Rome\"}"}])");
}

TEST(ResponseChain, AnUnknownLinkIsNamedAndALoopIsRefused) {
  ResponseChain chain;
  chain.remember("r2", "ep", "r1", "[]", text_reply("x"));
  auto missing = chain.resolve("r2");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("\"r1\""), std::string::npos) << missing.status().message();
  EXPECT_FALSE(chain.resolve("nope").is_ok());
  chain.remember("a", "ep", "b", "[]", text_reply("x"));  // an upstream that hands out ids in a circle
  chain.remember("b", "ep", "a", "[]", text_reply("y"));
  auto loop = chain.resolve("a");
  ASSERT_FALSE(loop.is_ok());
  EXPECT_NE(loop.status().message().find("loops"), std::string::npos);
}

TEST(ResponseChain, ForgetsTheOldestBeyondItsBound) {
  ResponseChain chain(4096);
  const std::string input = "[{\"role\":\"user\",\"content\":\"" + std::string(1000, 'x') + "\"}]";
  for (int i = 0; i < 20; ++i) chain.remember("r" + std::to_string(i), "ep", "", input, text_reply("ok"));
  EXPECT_LE(chain.bytes_for_testing(), 4096u);
  EXPECT_FALSE(chain.resolve("r0").is_ok());
  EXPECT_TRUE(chain.resolve("r19").is_ok());
  chain.remember("r19", "ep", "", "[]", text_reply("again"));  // a reused id replaces, never double-counts
  EXPECT_LE(chain.bytes_for_testing(), 4096u);
}

TEST(ResponseChain, InputItemsOfAStringInputAreOneUserMessage) {
  json::Document d;
  d.SetString("hello");
  EXPECT_EQ(responses_input_items(d), R"([{"role":"user","content":"hello"}])");
  EXPECT_EQ(responses_reply_id(R"({"id":"resp_1","object":"response"})", false), "resp_1");
  EXPECT_EQ(
      responses_reply_id(
          "event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_2\"}}\n\n", true),
      "resp_2");
  EXPECT_EQ(responses_reply_id("not json", false), "");
}

}  // namespace
}  // namespace atlas::serve
