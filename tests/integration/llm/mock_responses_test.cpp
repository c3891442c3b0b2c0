// mock-llm's OpenAI Responses API (POST /v1/responses): rule matching on instructions and input
// items, replies, tool calls, the typed SSE events and faults, as OpenAI's API reference shows them.
#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <vector>

#include "common/json.hpp"
#include "llm/wire.hpp"
#include "mock/scenario.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas {
namespace {

using testing::MockLlm;

const char* kScenario = R"({"default":"error","rules":[
  {"name":"chat-only","match":{"wire":"openai.chat"},"response":{"text":"chat"}},
  {"name":"answer","match":{"wire":"openai.responses","has_tools":true,"last_message_contains":"18C"},
   "response":{"text":"It is 18C in Paris.","usage":{"prompt_tokens":30,"completion_tokens":8}}},
  {"name":"call","match":{"wire":"openai","has_tools":true},
   "response":{"tool_calls":[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}]}},
  {"name":"terse","match":{"system_contains":"terse","last_user_contains":"hello"},
   "response":{"text":"Hello there, this reply arrives in several pieces.","usage":{"prompt_tokens":12,"completion_tokens":9}}},
  {"name":"flaky","match":{"last_user_contains":"flaky"},"response":{"fault":"mid_stream_error","error_message":"Overloaded"}},
  {"name":"limited","match":{"last_user_contains":"limit"},"response":{"fault":"rate_limit","retry_after":2}}]})";

const char* kTools =
    R"([{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}])";

httplib::Result post(const MockLlm& mock, const std::string& body) {
  httplib::Client c("127.0.0.1", mock.port());
  c.set_read_timeout(std::chrono::seconds(30));
  return c.Post("/v1/responses", body, "application/json");
}

json::Document parsed(const std::string& text) {
  auto doc = json::parse(text);
  EXPECT_TRUE(doc.is_ok()) << text;
  return doc ? std::move(*doc) : json::Document();
}

TEST(MockResponses, TextReplyMatchesInstructionsAndLastUserText) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  auto r = post(mock, R"({"model":"gpt-4.1","instructions":"You are terse.","input":"hello"})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto body = parsed(r->body);
  EXPECT_EQ(json::get_string(body, "object"), "response");
  EXPECT_EQ(json::get_string(body, "status"), "completed");
  EXPECT_EQ(json::get_string(body, "model"), "gpt-4.1");
  ASSERT_TRUE(body["output"].IsArray());
  ASSERT_EQ(body["output"].Size(), 1u);
  const auto& message = body["output"][0];
  EXPECT_EQ(json::get_string(message, "type"), "message");
  EXPECT_EQ(json::get_string(message, "role"), "assistant");
  EXPECT_EQ(json::get_string(message["content"][0], "type"), "output_text");
  EXPECT_EQ(json::get_string(message["content"][0], "text"), "Hello there, this reply arrives in several pieces.");
  EXPECT_EQ(json::get_int(body["usage"], "input_tokens"), 12);
  EXPECT_EQ(json::get_int(body["usage"], "output_tokens"), 9);
  EXPECT_EQ(json::get_int(body["usage"], "total_tokens"), 21);
  ASSERT_EQ(mock.requests("openai.responses").size(), 1u);
  EXPECT_EQ(mock.requests("openai.responses")[0].rule, "terse");

  // A developer message in the input items is system text too.
  auto items = post(mock, R"({"model":"m","input":[{"role":"developer","content":"Be terse."},
                                                  {"type":"message","role":"user","content":[{"type":"input_text","text":"hello"}]}]})");
  ASSERT_TRUE(items);
  EXPECT_EQ(items->status, 200) << items->body;
}

TEST(MockResponses, ToolCallRoundTripAsFunctionCallItems) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  auto first = post(mock, std::string(R"({"model":"m","input":"weather in Paris?","tools":)") + kTools + "}");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200) << first->body;
  auto body = parsed(first->body);
  ASSERT_EQ(body["output"].Size(), 1u);
  const auto& call = body["output"][0];
  EXPECT_EQ(json::get_string(call, "type"), "function_call");
  EXPECT_EQ(json::get_string(call, "call_id"), "call_1");
  EXPECT_EQ(json::get_string(call, "name"), "get_weather");
  EXPECT_EQ(json::get_string(call, "arguments"), R"({"city":"Paris"})");  // a string on this wire

  auto second = post(mock, std::string(R"({"model":"m","tools":)") + kTools + R"(,"input":[
      {"role":"user","content":"weather in Paris?"},
      {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
      {"type":"function_call_output","call_id":"call_1","output":"18C"}]})");
  ASSERT_TRUE(second);
  ASSERT_EQ(second->status, 200) << second->body;
  auto answer = parsed(second->body);
  EXPECT_EQ(json::get_string(answer["output"][0]["content"][0], "text"), "It is 18C in Paris.");
  auto reqs = mock.requests("openai.responses");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].rule, "call");
  EXPECT_EQ(reqs[1].rule, "answer");
}

TEST(MockResponses, StreamSendsTypedEventsWithRisingSequenceNumbers) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  auto r = post(mock, R"({"model":"m","instructions":"You are terse.","input":"hello","stream":true})");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type").rfind("text/event-stream", 0), 0u);
  EXPECT_EQ(r->body.find("[DONE]"), std::string::npos);
  bool complete = false;
  auto events = llm::split_sse(r->body, &complete);
  EXPECT_TRUE(complete);
  std::vector<std::string> types;
  std::string text;
  int deltas = 0;
  int64_t last_sequence = -1;
  for (const auto& ev : events) {
    auto data = parsed(ev.data);
    std::string type = json::get_string(data, "type");
    EXPECT_EQ(type, ev.event) << "the event line names the data's type";
    EXPECT_EQ(json::get_int(data, "sequence_number", -1), last_sequence + 1);
    last_sequence = json::get_int(data, "sequence_number", -1);
    types.push_back(type);
    if (type == "response.output_text.delta") {
      text += json::get_string(data, "delta");
      ++deltas;
    }
    if (type == "response.completed") {
      EXPECT_EQ(json::get_int(data["response"]["usage"], "total_tokens"), 21);
      EXPECT_EQ(json::get_string(data["response"]["output"][0]["content"][0], "text"), text);
    }
  }
  EXPECT_EQ(text, "Hello there, this reply arrives in several pieces.");
  EXPECT_GT(deltas, 1);
  ASSERT_GE(types.size(), 8u);
  EXPECT_EQ(types.front(), "response.created");
  EXPECT_EQ(types[1], "response.in_progress");
  EXPECT_EQ(types[2], "response.output_item.added");
  EXPECT_EQ(types[3], "response.content_part.added");
  EXPECT_EQ(types.back(), "response.completed");
}

TEST(MockResponses, StreamedToolCallArgumentsArriveInFragments) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  auto r = post(mock, std::string(R"({"model":"m","input":"weather?","stream":true,"tools":)") + kTools + "}");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  bool complete = false;
  std::string arguments;
  std::string done_arguments;
  for (const auto& ev : llm::split_sse(r->body, &complete)) {
    auto data = parsed(ev.data);
    if (ev.event == "response.function_call_arguments.delta") arguments += json::get_string(data, "delta");
    if (ev.event == "response.output_item.done") done_arguments = json::get_string(data["item"], "arguments");
  }
  EXPECT_EQ(arguments, R"({"city":"Paris"})");
  EXPECT_EQ(done_arguments, arguments);
}

TEST(MockResponses, FaultsUseOpenAIsErrorShapeAndStreamErrorEvent) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  auto limited = post(mock, R"({"model":"m","input":"limit"})");
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(limited->get_header_value("retry-after"), "2");
  auto error = parsed(limited->body);
  EXPECT_EQ(json::get_string(error["error"], "code"), "rate_limit_exceeded");

  auto flaky = post(mock, R"({"model":"m","input":"flaky","stream":true})");
  ASSERT_TRUE(flaky);
  EXPECT_EQ(flaky->status, 200);
  EXPECT_NE(flaky->body.find("event: error\ndata: {\"type\":\"error\""), std::string::npos) << flaky->body;
  EXPECT_NE(flaky->body.find("Overloaded"), std::string::npos);
  EXPECT_EQ(flaky->body.find("response.completed"), std::string::npos);

  auto bad = post(mock, R"({"model":"m"})");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("\\\"input\\\" must be a string or an array"), std::string::npos) << bad->body;
}

TEST(MockResponses, WireMatchOpenAITakesBothAPIsAndUnknownWiresAreRejected) {
  MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  httplib::Client c("127.0.0.1", mock.port());
  auto chat = c.Post("/v1/chat/completions", std::string(R"({"model":"m","messages":[{"role":"user","content":"x"}]})"),
                     "application/json");
  ASSERT_TRUE(chat);
  EXPECT_NE(chat->body.find("\"chat\""), std::string::npos) << "openai.chat takes chat calls";
  // "chat-only" does not take Responses calls; "call" (wire openai) does.
  auto responses = post(mock, std::string(R"({"model":"m","input":"x","tools":)") + kTools + "}");
  ASSERT_TRUE(responses);
  EXPECT_EQ(mock.requests("openai.responses").back().rule, "call");

  EXPECT_TRUE(mock::wire_matches("", mock::Wire::kOpenAIResponses));
  EXPECT_FALSE(mock::wire_matches("anthropic", mock::Wire::kOpenAIResponses));
  auto bad = mock::parse_scenario(R"({"rules":[{"match":{"wire":"openai.completions"},"response":{"text":"x"}}]})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("openai.responses"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace atlas
