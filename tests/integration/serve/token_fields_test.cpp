// Token capture through the gateway without a network: what an OpenAI Chat Completions request
// gains, what the client's reply loses again (whole bodies and streams cut anywhere), and what
// the captured call records per wire (docs/serve.md, "Token-level capture").
#include "serve/token_fields.hpp"

#include <gtest/gtest.h>

namespace atlas::serve {
namespace {

json::Document body_of(const char* text) {
  return json::parse(text).value();
}

TEST(GatewayTokenFields, ARequestWithoutLogprobsGetsTheCaptureFieldsAndAllAreTakenOutAgain) {
  auto body = body_of(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  AddedTokenFields added = request_token_fields(body, body.GetAllocator(), true);
  EXPECT_TRUE(added.logprobs);
  EXPECT_TRUE(added.token_ids);
  EXPECT_EQ(json::dump(body),
            R"({"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true,"top_logprobs":1,)"
            R"("return_token_ids":true})");
  auto hosted = body_of(R"({"model":"m","messages":[],"logprobs":false})");
  AddedTokenFields on_openai = request_token_fields(hosted, hosted.GetAllocator(), false);
  EXPECT_TRUE(on_openai.logprobs) << "logprobs: false is not asking for them";
  EXPECT_FALSE(on_openai.token_ids) << "OpenAI itself refuses return_token_ids: never sent to it";
  EXPECT_EQ(json::dump(hosted), R"({"model":"m","messages":[],"logprobs":true,"top_logprobs":1})");
}

TEST(GatewayTokenFields, WhatTheClientAskedForItselfGoesAsSentAndStaysInTheReply) {
  auto body = body_of(R"({"messages":[],"logprobs":true,"return_token_ids":true})");
  AddedTokenFields added = request_token_fields(body, body.GetAllocator(), true);
  EXPECT_FALSE(added.any());
  EXPECT_EQ(json::dump(body), R"({"messages":[],"logprobs":true,"return_token_ids":true})")
      << "no top_logprobs the client did not ask for";
  const std::string reply =
      R"({"prompt_token_ids":[1],"choices":[{"index":0,"message":{"content":"a"},"token_ids":[97],)"
      R"("logprobs":{"content":[{"token":"a","logprob":-0.5}]}}]})";
  EXPECT_EQ(without_added_fields(reply, false, added), reply);
  auto top = body_of(R"({"messages":[],"logprobs":true,"top_logprobs":5})");
  AddedTokenFields ids_only = request_token_fields(top, top.GetAllocator(), true);
  EXPECT_FALSE(ids_only.logprobs);
  EXPECT_TRUE(ids_only.token_ids);
  EXPECT_EQ(json::get_int(top, "top_logprobs"), 5);
  EXPECT_EQ(
      without_added_fields(reply, false, ids_only),
      R"({"choices":[{"index":0,"message":{"content":"a"},"logprobs":{"content":[{"token":"a","logprob":-0.5}]}}]})")
      << "the ids go, the logprobs the client asked for stay";
}

TEST(GatewayTokenFields, AWholeReplyLosesTheAddedFieldsAndKeepsEverythingElseInOrder) {
  AddedTokenFields added{true, true};
  EXPECT_EQ(
      without_added_fields(R"({"id":"x","prompt_token_ids":[1,2],"choices":[{"index":0,"message":)"
                           R"({"content":"a"},"logprobs":{"content":[]},"token_ids":[97],"finish_reason":"stop"},)"
                           R"({"index":1,"message":{"content":"b"},"logprobs":null}],"usage":{}})",
                           false, added),
      R"({"id":"x","choices":[{"index":0,"message":{"content":"a"},"logprobs":null,"finish_reason":"stop"},)"
      R"({"index":1,"message":{"content":"b"},"logprobs":null}],"usage":{}})");
  const std::string plain = R"({"choices":[{"index":0,"message":{"content":"a"}}]})";
  EXPECT_EQ(without_added_fields(plain, false, added), plain) << "nothing to remove: the same bytes";
  EXPECT_EQ(without_added_fields("not json", false, added), "not json");
}

TEST(GatewayTokenFields, AStreamCutAnywhereComesOutAsIfTheFieldsWereNeverAskedFor) {
  const std::string stream =
      "data: {\"id\":\"c\",\"prompt_token_ids\":[5,6],\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      ": keep-alive\r\n\r\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"token_ids\":[97,98],"
      "\"logprobs\":{\"content\":[{\"token\":\"a\",\"logprob\":-0.1},{\"token\":\"b\",\"logprob\":-0.2}]},"
      "\"finish_reason\":\"stop\"}]}\r\n\r\n"
      "data: [DONE]\n\n";
  const std::string expected =
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"}}]}\n\n"
      ": keep-alive\r\n\r\n"
      "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"logprobs\":null,"
      "\"finish_reason\":\"stop\"}]}\r\n\r\n"
      "data: [DONE]\n\n";
  const AddedTokenFields added{true, true};
  EXPECT_EQ(without_added_fields(stream, true, added), expected);
  for (size_t piece : {1u, 3u, 7u, 64u}) {
    StreamFieldStripper stripper(added);
    std::string out;
    for (size_t at = 0; at < stream.size(); at += piece)
      out += stripper.feed(std::string_view(stream).substr(at, piece));
    out += stripper.finish();
    EXPECT_EQ(out, expected) << "pieces of " << piece << " bytes";
  }
  StreamFieldStripper unterminated(added);
  EXPECT_EQ(unterminated.feed("data: {\"prompt_token_ids\":[1]}"), "") << "a line waits for its end";
  EXPECT_EQ(unterminated.finish(), "data: {}") << "the last line without a newline still goes out, stripped";
  StreamFieldStripper off(AddedTokenFields{});
  EXPECT_EQ(off.feed("data: {\"prompt_token_ids\":[1]"), "data: {\"prompt_token_ids\":[1]") << "nothing added: as is";
}

TEST(GatewayTokenFields, TheCapturedCallRecordsTheRequestOrWhyItsWireHasNoIds) {
  const std::string sent = R"({"model":"m","messages":[{"role":"user","content":"hi"}],"logprobs":true})";
  llm::TokenCapture chat;
  note_token_capture(ClientWire::kOpenAIChat, true, sent, chat);
  EXPECT_TRUE(chat.requested);
  EXPECT_EQ(chat.request_json, R"({"messages":[{"role":"user","content":"hi"}]})");
  EXPECT_NE(chat.text_only_reason().find("carried no prompt_token_ids"), std::string::npos) << "no ids read yet";
  llm::TokenCapture responses;
  note_token_capture(ClientWire::kOpenAIResponses, true, R"({"input":"hi"})", responses);
  EXPECT_TRUE(responses.requested);
  EXPECT_FALSE(responses.token_exact());
  EXPECT_NE(responses.text_only_reason().find("openai.responses wire carries no token ids"), std::string::npos)
      << responses.text_only_reason();
  llm::TokenCapture off;
  note_token_capture(ClientWire::kOpenAIChat, false, sent, off);
  EXPECT_FALSE(off.requested) << "capture_tokens off: nothing recorded";
}

}  // namespace
}  // namespace atlas::serve
