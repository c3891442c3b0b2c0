// Pure wire-format functions: SSE splitting, error bodies, request mapping details.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "llm/wire.hpp"

namespace atlas::llm {
namespace {

TEST(SplitSse, HandlesCrLfCommentsMultiLineDataAndCuts) {
  bool complete = false;
  auto events = split_sse(": comment\r\nevent: a\r\ndata: 1\r\ndata: 2\r\n\r\ndata: x\n\n", &complete);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].event, "a");
  EXPECT_EQ(events[0].data, "1\n2");
  EXPECT_EQ(events[1].data, "x");
  EXPECT_TRUE(complete);
  events = split_sse("data: x\n\ndata: {\"half", &complete);
  EXPECT_EQ(events.size(), 1u);
  EXPECT_FALSE(complete);
  events = split_sse("data: x\n\ndata: y\n", &complete);
  EXPECT_EQ(events.size(), 1u) << "an event without its blank line is not complete";
  EXPECT_FALSE(complete);
}

TEST(ErrorBodies, ProviderShapes) {
  auto g = parse_error_body(WireKind::kGemini, R"({"error":{"code":429,"message":"quota","status":"RESOURCE_EXHAUSTED",
      "details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"2.5s"}]}})");
  EXPECT_EQ(g.kind, "RESOURCE_EXHAUSTED");
  EXPECT_DOUBLE_EQ(g.retry_after_seconds, 2.5);
  auto o = parse_error_body(WireKind::kOpenAI, R"({"error":{"message":"no money","type":"insufficient_quota","param":null,"code":null}})");
  EXPECT_TRUE(o.permanent);
  EXPECT_EQ(o.message, "no money");
  auto a = parse_error_body(WireKind::kAnthropic, R"({"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}})");
  EXPECT_EQ(a.kind, "overloaded_error");
  EXPECT_FALSE(a.permanent);
  auto junk = parse_error_body(WireKind::kOpenAI, "<html>Bad gateway</html>");
  EXPECT_EQ(junk.message, "<html>Bad gateway</html>");
}

TEST(Arguments, InvalidJsonIsKeptNotLost) {
  EXPECT_EQ(normalise_arguments(""), "{}");
  EXPECT_EQ(normalise_arguments(R"({"a":1})"), R"({"a":1})");
  auto kept = json::parse(normalise_arguments(R"({"a":)"));
  ASSERT_TRUE(kept);
  EXPECT_EQ(json::get_string(*kept, "_raw_arguments"), R"({"a":)");
}

Request tool_history() {
  Request r;
  r.messages.push_back({"system", "sys", {}, "", ""});
  r.messages.push_back({"user", "task", {}, "", ""});
  r.messages.push_back({"assistant", "", {{"c1", "read", R"({"p":"a"})"}, {"c2", "read", R"({"p":"b"})"}}, "", ""});
  r.messages.push_back({"tool", "A", {}, "c1", ""});
  r.messages.push_back({"tool", R"({"text":"B"})", {}, "c2", ""});
  return r;
}

TEST(AnthropicMapping, ConsecutiveToolResultsShareOneUserTurn) {
  config::ModelConfig m;
  m.provider = "anthropic";
  m.model = "claude";
  auto http = build_request(WireKind::kAnthropic, m, tool_history(), "http://h/v1", std::nullopt);
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url, "http://h/v1/messages");
  auto d = json::parse(http->body);
  ASSERT_TRUE(d);
  const auto& msgs = (*d)["messages"];
  ASSERT_EQ(msgs.Size(), 3u);
  EXPECT_EQ(msgs[2]["content"].Size(), 2u);
  EXPECT_STREQ(msgs[2]["content"][1]["tool_use_id"].GetString(), "c2");
  EXPECT_EQ((*d)["max_tokens"].GetInt(), 4096);
  for (const auto& h : http->headers) EXPECT_EQ(h.find("x-api-key"), std::string::npos) << "no key given";
}

TEST(GeminiMapping, ToolResponseNamesComeFromTheCallAndObjectsStayObjects) {
  config::ModelConfig m;
  m.provider = "gemini";
  m.model = "models/gemini-x";
  auto http = build_request(WireKind::kGemini, m, tool_history(), "http://h/", std::string("k-123456"));
  ASSERT_TRUE(http);
  EXPECT_EQ(http->url, "http://h/v1beta/models/gemini-x:generateContent");
  auto d = json::parse(http->body);
  ASSERT_TRUE(d);
  const auto& parts = (*d)["contents"][2]["parts"];
  ASSERT_EQ(parts.Size(), 2u);
  EXPECT_STREQ(parts[0]["functionResponse"]["name"].GetString(), "read");
  EXPECT_STREQ(parts[0]["functionResponse"]["response"]["result"].GetString(), "A");
  EXPECT_STREQ(parts[1]["functionResponse"]["response"]["text"].GetString(), "B");
  bool has_key = false;
  for (const auto& h : http->headers) has_key = has_key || h == "x-goog-api-key: k-123456";
  EXPECT_TRUE(has_key);
}

TEST(OpenAIMapping, ToolChoiceByNameAndMaxTokensField) {
  config::ModelConfig m;
  m.model = "gpt";
  Request r;
  r.messages.push_back({"user", "x", {}, "", ""});
  r.tools.push_back({"lookup", "", R"({"type":"object"})"});
  r.tool_choice = "lookup";
  r.max_output_tokens = 7;
  auto http = build_request(WireKind::kOpenAI, m, r, "https://api.openai.com/v1", std::string("sk-xyz123"));
  ASSERT_TRUE(http);
  auto d = json::parse(http->body);
  ASSERT_TRUE(d);
  EXPECT_STREQ((*d)["tool_choice"]["function"]["name"].GetString(), "lookup");
  EXPECT_EQ((*d)["max_completion_tokens"].GetInt(), 7);
  m.api_base = "http://127.0.0.1:8000/v1";  // a local server: max_tokens
  http = build_request(WireKind::kOpenAI, m, r, m.api_base, std::nullopt);
  d = json::parse(http->body);
  EXPECT_EQ((*d)["max_tokens"].GetInt(), 7);
}

TEST(StreamParsing, VllmUsageChunkWithNullChoicesIsAccepted) {
  std::string body =
      "data: {\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: {\"model\":\"m\",\"choices\":null,\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":1,\"total_tokens\":4}}\n\n"
      "data: [DONE]\n\n";
  auto r = parse_stream(WireKind::kOpenAI, body);
  ASSERT_TRUE(r) << r.status().to_string();
  EXPECT_EQ(r->content, "hi");
  EXPECT_EQ(r->usage.total_tokens, 4);
  auto cut = parse_stream(WireKind::kOpenAI, body.substr(0, body.size() - 16));
  EXPECT_FALSE(cut);
}

TEST(Providers, NamesMapToWires) {
  EXPECT_EQ(*wire_for_provider("xai"), WireKind::kOpenAI);
  EXPECT_EQ(*wire_for_provider("azure-openai"), WireKind::kOpenAI);
  EXPECT_EQ(*wire_for_provider("google"), WireKind::kGemini);
  EXPECT_EQ(*wire_for_provider("anthropic"), WireKind::kAnthropic);
  EXPECT_FALSE(wire_for_provider("cohere"));
}

}  // namespace
}  // namespace atlas::llm
