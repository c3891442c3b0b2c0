// Every provider client x non-streaming / streaming / tool calls / JSON mode, over real
// sockets against the in-process mock-llm.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "llm/llm.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

struct Case {
  std::string provider;
  bool stream;
};

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  return info.param.provider + (info.param.stream ? "_stream" : "_plain");
}

class ProviderTest : public ::testing::TestWithParam<Case> {
 protected:
  Request base_request(std::string user) const {
    Request r;
    r.role = "student";
    r.stream = GetParam().stream;
    r.messages.push_back({"system", "You are terse.", {}, "", ""});
    r.messages.push_back({"user", std::move(user), {}, "", ""});
    return r;
  }
  std::string route() const {
    const auto& p = GetParam().provider;
    if (p == "openai") return "openai.chat";
    if (p == "anthropic") return "anthropic.messages";
    return GetParam().stream ? "gemini.stream" : "gemini.generate";
  }
  std::shared_ptr<Client> client_ = make_client();
};

TEST_P(ProviderTest, TextReplyWithUsage) {
  testing::MockLlm mock(R"({"rules":[{"match":{"last_user_contains":"Paris"},
      "response":{"text":"It is sunny in Paris today, 21 degrees.","usage":{"prompt_tokens":82,"completion_tokens":17}}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = client_->complete(mock.model(GetParam().provider), base_request("Weather in Paris?"), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "It is sunny in Paris today, 21 degrees.");
  EXPECT_EQ(res->finish_reason, "stop");
  EXPECT_EQ(res->usage.prompt_tokens, 82);
  EXPECT_EQ(res->usage.completion_tokens, 17);
  EXPECT_EQ(res->usage.total_tokens, 99);
  EXPECT_EQ(rec.outcome, "ok");
  EXPECT_EQ(rec.retries, 0);
  EXPECT_EQ(rec.role, "student");
  EXPECT_EQ(rec.usage.total_tokens, 99);
  EXPECT_GT(rec.latency_seconds, 0.0);
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].route, route());
  EXPECT_EQ(reqs[0].stream, GetParam().stream);
  EXPECT_EQ(reqs[0].model, "mock-model");
  EXPECT_EQ(reqs[0].headers.count("authorization") + reqs[0].headers.count("x-api-key") +
                reqs[0].headers.count("x-goog-api-key"),
            0u)
      << "no key variable set and api_base given: no auth header";
  EXPECT_EQ(reqs[0].headers["x-atlas-role"], "student");
  if (GetParam().provider == "anthropic") {
    EXPECT_EQ(reqs[0].headers["anthropic-version"], "2023-06-01");
  }
}

TEST_P(ProviderTest, ToolCallRoundTrip) {
  testing::MockLlm mock(R"({"rules":[
      {"match":{"last_message_contains":"18C"},"response":{"text":"Paris: 18C and cloudy."}},
      {"match":{"has_tools":true},"response":{"tool_calls":[{"name":"get_weather","arguments":{"city":"Paris","days":[1,2]}}]}}]})");
  ASSERT_TRUE(mock.ok());
  Request r = base_request("Weather in Paris?");
  r.tools.push_back({"get_weather", "Current weather",
                     R"({"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false})"});
  r.tool_choice = "auto";
  auto first = client_->complete(mock.model(GetParam().provider), r);
  ASSERT_TRUE(first) << first.status().to_string();
  ASSERT_EQ(first->tool_calls.size(), 1u);
  EXPECT_EQ(first->finish_reason, "tool_calls");
  EXPECT_EQ(first->tool_calls[0].name, "get_weather");
  auto args = json::parse(first->tool_calls[0].arguments_json);
  ASSERT_TRUE(args);
  EXPECT_EQ(json::get_string(*args, "city"), "Paris");
  EXPECT_EQ((*args)["days"].Size(), 2u);
  EXPECT_FALSE(first->tool_calls[0].id.empty());

  // Second turn: the assistant's call and the tool's result go back to the provider.
  Message assistant{"assistant", "", first->tool_calls, "", ""};
  r.messages.push_back(assistant);
  r.messages.push_back({"tool", "18C, cloudy", {}, first->tool_calls[0].id, "get_weather"});
  auto second = client_->complete(mock.model(GetParam().provider), r);
  ASSERT_TRUE(second) << second.status().to_string();
  EXPECT_EQ(second->content, "Paris: 18C and cloudy.");
  EXPECT_TRUE(second->tool_calls.empty());

  // The wire shape of the second request carries the call and its result.
  auto body = mock.body(1);
  std::string dumped = json::dump(body);
  EXPECT_NE(dumped.find("get_weather"), std::string::npos);
  EXPECT_NE(dumped.find("18C, cloudy"), std::string::npos);
  if (GetParam().provider == "openai") {
    const auto& msgs = body["messages"];
    ASSERT_EQ(msgs.Size(), 4u);
    EXPECT_STREQ(msgs[2]["tool_calls"][0]["function"]["arguments"].GetString(), first->tool_calls[0].arguments_json.c_str());
    EXPECT_STREQ(msgs[3]["role"].GetString(), "tool");
    EXPECT_STREQ(msgs[3]["tool_call_id"].GetString(), first->tool_calls[0].id.c_str());
  } else if (GetParam().provider == "anthropic") {
    const auto& msgs = body["messages"];
    ASSERT_EQ(msgs.Size(), 3u);
    EXPECT_STREQ(msgs[1]["content"][0]["type"].GetString(), "tool_use");
    EXPECT_TRUE(msgs[1]["content"][0]["input"].IsObject());
    EXPECT_STREQ(msgs[2]["content"][0]["type"].GetString(), "tool_result");
    EXPECT_STREQ(body["system"].GetString(), "You are terse.");
  } else {
    const auto& contents = body["contents"];
    ASSERT_EQ(contents.Size(), 3u);
    EXPECT_STREQ(contents[1]["role"].GetString(), "model");
    EXPECT_TRUE(contents[1]["parts"][0]["functionCall"]["args"].IsObject());
    EXPECT_STREQ(contents[2]["parts"][0]["functionResponse"]["name"].GetString(), "get_weather");
    EXPECT_FALSE(body["tools"][0]["functionDeclarations"][0]["parameters"].HasMember("additionalProperties"));
  }
}

TEST_P(ProviderTest, JsonModeReply) {
  testing::MockLlm mock(R"({"rules":[{"response":{"json":{"score":0.8,"reason":"solid"}}}]})");
  ASSERT_TRUE(mock.ok());
  Request r = base_request("Grade this.");
  r.response_format_json =
      R"({"type":"json_schema","json_schema":{"name":"verdict","strict":true,"schema":{"type":"object","properties":{"score":{"type":"number"},"reason":{"type":"string"}},"required":["score","reason"],"additionalProperties":false}}})";
  auto res = client_->complete(mock.model(GetParam().provider), r);
  ASSERT_TRUE(res) << res.status().to_string();
  auto doc = json::parse(res->content);
  ASSERT_TRUE(doc) << res->content;
  EXPECT_DOUBLE_EQ(json::get_double(*doc, "score"), 0.8);
  auto body = mock.body(0);
  if (GetParam().provider == "openai") {
    EXPECT_STREQ(body["response_format"]["type"].GetString(), "json_schema");
  } else if (GetParam().provider == "anthropic") {
    EXPECT_TRUE(body["output_config"]["format"]["schema"].IsObject());
  } else {
    EXPECT_STREQ(body["generationConfig"]["responseMimeType"].GetString(), "application/json");
    EXPECT_TRUE(body["generationConfig"]["responseJsonSchema"].IsObject());
  }
}

TEST_P(ProviderTest, EchoFallbackAndOrderedReplies) {
  testing::MockLlm mock(R"({"rules":[{"responses":[{"text":"first"},{"text":"second"}]}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model(GetParam().provider);
  std::vector<std::string> got;
  for (int i = 0; i < 3; ++i) {
    auto res = client_->complete(model, base_request("ping " + std::to_string(i)));
    ASSERT_TRUE(res) << res.status().to_string();
    got.push_back(res->content);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"first", "second", "echo: ping 2"}));
}

// The client names the caller's role in X-Atlas-Role; scenario rules can match on it.
TEST_P(ProviderTest, RulesMatchTheCallersRole) {
  testing::MockLlm mock(R"({"rules":[{"match":{"role":"judge"},"response":{"text":"as judge"}},
                                     {"match":{"role":"student"},"response":{"text":"as student"}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model(GetParam().provider);
  for (const char* role : {"student", "judge"}) {
    Request r = base_request("who am I?");
    r.role = role;
    auto res = client_->complete(model, r);
    ASSERT_TRUE(res) << res.status().to_string();
    EXPECT_EQ(res->content, std::string("as ") + role);
  }
}

INSTANTIATE_TEST_SUITE_P(AllProviders, ProviderTest,
                         ::testing::Values(Case{"openai", false}, Case{"openai", true}, Case{"anthropic", false},
                                           Case{"anthropic", true}, Case{"gemini", false}, Case{"gemini", true}),
                         case_name);

}  // namespace
}  // namespace atlas::llm
