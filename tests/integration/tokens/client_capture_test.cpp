// The host's client against mock-llm with capture_tokens: ids and logprobs are requested,
// read back (plain and streamed), kept in the call record and its llm_call event, and match
// the server's own /tokenize; a server without them gives a text-only record with the reason.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "llm/llm.hpp"
#include "llm/tokenize.hpp"
#include "runtime/host_services.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas {
namespace {

llm::Request tool_request(bool stream) {
  llm::Request r;
  r.messages.push_back({"system", "You are terse.", {}, {}, {}});
  r.messages.push_back({"user", "weather in Paris?", {}, {}, {}});
  r.tools.push_back({"get_weather", "Weather by city", R"({"type":"object","properties":{"city":{"type":"string"}}})"});
  r.stream = stream;
  return r;
}

class ClientCapture : public ::testing::TestWithParam<bool> {};

TEST_P(ClientCapture, TokenExactRecordMatchesTheServersTokenizer) {
  testing::MockLlm mock(R"({"rules":[{"match":{"has_tools":true},"response":{"text":"Let me look.",
      "tool_calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]}}]})");
  ASSERT_TRUE(mock.ok());
  config::ModelConfig model = mock.model("openai");
  model.capture_tokens = true;
  llm::CallRecord record;
  auto client = llm::make_client();
  auto reply = client->complete(model, tool_request(GetParam()), &record);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  auto sent = mock.body(0);
  EXPECT_TRUE(json::get_bool(sent, "return_token_ids"));
  EXPECT_TRUE(json::get_bool(sent, "logprobs"));
  ASSERT_TRUE(record.tokens.requested);
  ASSERT_TRUE(record.tokens.token_exact()) << record.tokens.text_only_reason();
  // The completion is the text and the call under the mock's template; one logprob each.
  EXPECT_EQ(record.tokens.logprobs->size(), record.tokens.completion_ids->size());
  EXPECT_GT(record.tokens.completion_ids->size(), std::string("Let me look.").size());
  // The stored request re-tokenises to the stored prompt ids.
  auto fresh = llm::tokenize_chat(mock.base_url() + "/tokenize", "mock-model", record.tokens.request_json);
  ASSERT_TRUE(fresh.is_ok()) << fresh.status().to_string();
  EXPECT_EQ(*fresh, *record.tokens.prompt_ids);
  // The llm_call event carries it.
  auto event = json::parse(runtime::llm_call_event_json(record, "student"));
  ASSERT_TRUE(event.is_ok());
  const json::Value* tokens = json::find(*event, "tokens");
  ASSERT_TRUE(tokens && tokens->IsObject());
  EXPECT_EQ(json::get_string(*tokens, "capture"), "token_exact");
  EXPECT_EQ((*tokens)["prompt_ids"].Size(), record.tokens.prompt_ids->size());
  EXPECT_TRUE((*tokens)["request"]["tools"].IsArray());
}

INSTANTIATE_TEST_SUITE_P(PlainAndStreamed, ClientCapture, ::testing::Bool());

TEST(ClientCaptureFallback, AServerWithoutTokenIdsGivesATextOnlyRecordWithTheReason) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"ok","token_ids":false}}]})");
  ASSERT_TRUE(mock.ok());
  config::ModelConfig model = mock.model("openai");
  model.capture_tokens = true;
  llm::CallRecord record;
  auto reply = llm::make_client()->complete(model, tool_request(false), &record);
  ASSERT_TRUE(reply.is_ok());
  EXPECT_FALSE(record.tokens.token_exact());
  EXPECT_NE(record.tokens.text_only_reason().find("prompt_token_ids"), std::string::npos);
  auto event = json::parse(runtime::llm_call_event_json(record, "student"));
  EXPECT_EQ(json::get_string((*event)["tokens"], "capture"), "text_only");
  EXPECT_FALSE(json::get_string((*event)["tokens"], "reason").empty());
}

TEST(ClientCaptureFallback, WithoutCaptureTokensNothingIsAskedOrStored) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"ok"}}]})");
  ASSERT_TRUE(mock.ok());
  llm::CallRecord record;
  auto reply = llm::make_client()->complete(mock.model("openai"), tool_request(false), &record);
  ASSERT_TRUE(reply.is_ok());
  EXPECT_FALSE(mock.body(0).HasMember("return_token_ids"));
  EXPECT_FALSE(record.tokens.requested);
  auto event = json::parse(runtime::llm_call_event_json(record, "student"));
  EXPECT_FALSE(event->HasMember("tokens"));
}

TEST(Tokenize, ErrorsNameTheUrlAndTheProblem) {
  testing::MockLlm mock;
  ASSERT_TRUE(mock.ok());
  auto missing = llm::tokenize_chat(mock.base_url() + "/no-such", "m", R"({"messages":[]})");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_NE(missing.status().message().find("404"), std::string::npos) << missing.status().to_string();
  auto bad = llm::tokenize_chat(mock.base_url() + "/tokenize", "m", R"({"nothing":1})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("messages"), std::string::npos);
  auto down = llm::tokenize_chat("http://127.0.0.1:1/tokenize", "m", R"({"messages":[]})", 5);
  ASSERT_FALSE(down.is_ok());
  EXPECT_NE(down.status().message().find("cannot connect"), std::string::npos) << down.status().to_string();
}

}  // namespace
}  // namespace atlas
