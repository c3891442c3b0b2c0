#include <gtest/gtest.h>

#include "mock/scenario.hpp"

namespace atlas::mock {
namespace {

TEST(Scenario, ParsesRulesAndDefaults) {
  auto s = parse_scenario(R"({"default":"error","latency_ms":5,"rules":[
      {"name":"r","match":{"model":"gpt-*","last_user_regex":"^hi","has_tools":false,"role":"judge"},
       "responses":[{"text":"a"},{"tool_calls":[{"name":"f","arguments":"{\"x\":1}"}]}],"after":"cycle"},
      {"times":2,"response":{"fault":"rate_limit","retry_after":1.5}}]})");
  ASSERT_TRUE(s) << s.status().to_string();
  EXPECT_FALSE(s->default_echo);
  EXPECT_EQ(s->latency_ms, 5);
  ASSERT_EQ(s->rules.size(), 2u);
  EXPECT_EQ(s->rules[0].after, After::kCycle);
  EXPECT_EQ(s->rules[0].replies[1].tool_calls[0].arguments_json, R"({"x":1})");
  EXPECT_EQ(s->rules[1].times, 2);
  EXPECT_EQ(s->rules[1].replies[0].fault, Fault::kRateLimit);
  EXPECT_DOUBLE_EQ(s->rules[1].replies[0].retry_after_seconds, 1.5);
}

TEST(Scenario, ErrorsNameThePath) {
  auto typo = parse_scenario(R"({"rules":[{"response":{"txt":"a"}}]})", "s.json");
  ASSERT_FALSE(typo);
  EXPECT_NE(typo.status().message().find("s.json: rules[0].response: unknown key \"txt\""), std::string::npos)
      << typo.status().message();
  auto fault = parse_scenario(R"({"rules":[{"response":{"fault":"explode"}}]})");
  ASSERT_FALSE(fault);
  EXPECT_NE(fault.status().message().find("rules[0].response.fault"), std::string::npos);
  auto regex = parse_scenario(R"({"rules":[{"match":{"last_user_regex":"("},"response":{"text":"a"}}]})");
  ASSERT_FALSE(regex);
  EXPECT_NE(regex.status().message().find("invalid regex"), std::string::npos);
  auto both = parse_scenario(R"({"rules":[{"response":{"text":"a"},"responses":[]}]})");
  ASSERT_FALSE(both);
  auto http = parse_scenario(R"({"rules":[{"response":{"fault":"http_error"}}]})");
  ASSERT_FALSE(http);
  EXPECT_NE(http.status().message().find("status"), std::string::npos);
  auto syntax = parse_scenario("{\"rules\": [\n  {]}", "x.json");
  ASSERT_FALSE(syntax);
  EXPECT_NE(syntax.status().message().find("x.json: line 2"), std::string::npos) << syntax.status().message();
}

TEST(Scenario, MissingFileIsNotFound) {
  auto s = load_scenario_file("/nonexistent/dir/scenario.json");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace atlas::mock
