// openai / anthropic / gemini adapters end to end: plugin .so -> host llm_complete -> the
// host's provider client -> mock-llm on a real loopback socket, in each provider's format.
#include <gtest/gtest.h>

#include "adapter_fixture.hpp"
#include "mock_llm_services.hpp"

namespace atlas::testing {
namespace {

std::string route_of(const std::string& provider) {
  return provider == "openai" ? "openai.chat" : provider == "anthropic" ? "anthropic.messages" : "gemini.generate";
}

class LlmAdapterOverMock : public ::testing::TestWithParam<const char*> {};

TEST_P(LlmAdapterOverMock, ToolCallThenAnswerThroughTheProviderWireFormat) {
  MockLlm mock(R"({"rules": [{"match": {"has_tools": true}, "responses": [
      {"tool_calls": [{"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
       "usage": {"prompt_tokens": 11, "completion_tokens": 6}},
      {"text": "It is 18C in Paris.", "usage": {"prompt_tokens": 30, "completion_tokens": 8}}]}]})");
  ASSERT_TRUE(mock.ok());
  auto services = std::make_shared<MockLlmServices>(mock, GetParam());
  auto adapter = load_adapter(GetParam(), "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();

  std::string tools = R"("tools": [{"name": "get_weather", "description": "Weather for a city",
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}])";
  auto first = adapter->invoke({}, R"({"role": "executor", "messages": [{"role": "system", "content": "Be brief."},
      {"role": "user", "content": "Weather in Paris?"}], )" + tools + "}");
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto r1 = parse_or_fail(first.value());
  ASSERT_EQ(r1["tool_calls"].Size(), 1u) << first.value();
  EXPECT_EQ(json::get_string(r1["tool_calls"][0], "name"), "get_weather");
  EXPECT_EQ(json::get_string(r1["tool_calls"][0]["arguments"], "city"), "Paris");
  EXPECT_EQ(json::get_int(r1["usage"], "prompt_tokens"), 11);
  std::string call_id = json::get_string(r1["tool_calls"][0], "id");

  auto second = adapter->invoke({}, R"({"role": "executor", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
      {"role": "assistant", "content": "", "tool_calls": [{"id": ")" + call_id +
      R"(", "name": "get_weather", "arguments": {"city": "Paris"}}]},
      {"role": "tool", "tool_call_id": ")" + call_id + R"(", "name": "get_weather", "content": "18C, cloudy"}], )" +
      tools + "}");
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  auto r2 = parse_or_fail(second.value());
  EXPECT_EQ(json::get_string(r2, "content"), "It is 18C in Paris.");
  EXPECT_EQ(json::get_int(r2["usage"], "total_tokens"), 38);

  // Both calls went over the provider's own route, and the tool result reached the wire.
  auto reqs = mock.requests(route_of(GetParam()));
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[1].body.find("18C, cloudy"), std::string::npos) << reqs[1].body;
  EXPECT_NE(reqs[0].body.find("get_weather"), std::string::npos);
  // The host accounted both calls under the student role.
  auto records = services->records();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].role, "student");
  EXPECT_EQ(records[1].outcome, "ok");
}

TEST_P(LlmAdapterOverMock, RateLimitIsRetriedByTheHostAndServerErrorsSurface) {
  MockLlm mock(R"({"rules": [
      {"match": {"last_user_contains": "retry me"}, "responses": [
          {"fault": "rate_limit", "retry_after": 0}, {"text": "after the 429"}]},
      {"match": {"last_user_contains": "always fails"}, "responses": [{"fault": "server_error"}],
       "after": "repeat_last"}]})");
  ASSERT_TRUE(mock.ok());
  auto services = std::make_shared<MockLlmServices>(mock, GetParam());
  auto adapter = load_adapter(GetParam(), "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();

  auto ok = adapter->invoke({}, R"({"task": "retry me"})");
  ASSERT_TRUE(ok.is_ok()) << ok.status().to_string();
  EXPECT_EQ(json::get_string(parse_or_fail(ok.value()), "content"), "after the 429");
  EXPECT_EQ(services->records().back().retries, 1);

  auto bad = adapter->invoke({}, R"({"task": "always fails"})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_TRUE(bad.status().retryable()) << bad.status().to_string();
  EXPECT_NE(bad.status().message().find(std::string(GetParam()) + " adapter:"), std::string::npos)
      << bad.status().message();
  EXPECT_NE(bad.status().message().find("HTTP 5"), std::string::npos) << bad.status().message();
}

INSTANTIATE_TEST_SUITE_P(Providers, LlmAdapterOverMock, ::testing::Values("openai", "anthropic", "gemini"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace atlas::testing
