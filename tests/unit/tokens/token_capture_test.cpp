// Token-level capture without a network: what the OpenAI wire asks for and reads back, the
// mock's deterministic tokenizer, tokens-jsonl rows and the drift position.
#include "llm/token_capture.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"
#include "data/export_schema.hpp"
#include "data/export_tokens.hpp"
#include "llm/tokenize.hpp"
#include "llm/wire.hpp"
#include "mock/mock_tokens.hpp"
#include "runtime/captured_call_json.hpp"
#include "runtime/token_check.hpp"

namespace atlas {
namespace {

llm::Request one_user_turn() {
  llm::Request r;
  r.messages.push_back({"user", "hi", {}, {}, {}});
  return r;
}

TEST(TokenCaptureWire, CaptureTokensAsksForIdsAndLogprobsOnlyFromLocalServers) {
  config::ModelConfig m;
  m.model = "qwen";
  m.api_base = "http://127.0.0.1:8000/v1";
  auto plain = llm::build_request(llm::WireKind::kOpenAI, m, one_user_turn(), m.api_base, std::nullopt);
  ASSERT_TRUE(plain.is_ok());
  EXPECT_EQ(plain->body.find("logprobs"), std::string::npos) << "no capture unless asked: " << plain->body;
  m.capture_tokens = true;
  auto local = llm::build_request(llm::WireKind::kOpenAI, m, one_user_turn(), m.api_base, std::nullopt);
  ASSERT_TRUE(local.is_ok());
  auto body = json::parse(local->body);
  ASSERT_TRUE(body.is_ok());
  EXPECT_TRUE(json::get_bool(*body, "logprobs"));
  EXPECT_EQ(json::get_int(*body, "top_logprobs"), 1);
  EXPECT_TRUE(json::get_bool(*body, "return_token_ids"));
  // OpenAI itself refuses unknown parameters: no return_token_ids without a custom api_base.
  m.api_base.clear();
  auto cloud =
      llm::build_request(llm::WireKind::kOpenAI, m, one_user_turn(), "https://api.openai.com/v1", std::nullopt);
  ASSERT_TRUE(cloud.is_ok());
  EXPECT_EQ(cloud->body.find("return_token_ids"), std::string::npos) << cloud->body;
  EXPECT_NE(cloud->body.find("\"logprobs\":true"), std::string::npos);
}

TEST(TokenCaptureWire, ReadsVllmFieldsAsTokenExact) {
  auto r = llm::parse_reply(llm::WireKind::kOpenAI, R"({"model":"m","prompt_token_ids":[1,2,3],
    "choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"ab"},
    "token_ids":[97,98],"logprobs":{"content":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-0.25}]}}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  r->tokens.requested = true;
  EXPECT_TRUE(r->tokens.token_exact());
  EXPECT_EQ(*r->tokens.prompt_ids, (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(*r->tokens.completion_ids, (std::vector<int64_t>{97, 98}));
  EXPECT_EQ(*r->tokens.logprobs, (std::vector<double>{-0.5, -0.25}));
  EXPECT_EQ(r->tokens.text_only_reason(), "");
}

TEST(TokenCaptureWire, AServerWithoutIdsIsTextOnlyWithTheReason) {
  auto r = llm::parse_reply(llm::WireKind::kOpenAI, R"({"choices":[{"index":0,"message":{"content":"ab"},
    "logprobs":{"content":[{"token":"a","logprob":-0.5},{"token":"b","logprob":-0.25}]}}]})");
  ASSERT_TRUE(r.is_ok());
  r->tokens.requested = true;
  EXPECT_FALSE(r->tokens.token_exact());
  EXPECT_NE(r->tokens.text_only_reason().find("prompt_token_ids"), std::string::npos) << r->tokens.text_only_reason();
  EXPECT_NE(r->tokens.text_only_reason().find("token_ids"), std::string::npos);
  llm::TokenCapture off;
  EXPECT_NE(off.text_only_reason().find("capture_tokens is off"), std::string::npos);
  llm::TokenCapture uneven;
  uneven.requested = true;
  uneven.prompt_ids = std::vector<int64_t>{1};
  uneven.completion_ids = std::vector<int64_t>{1, 2};
  uneven.logprobs = std::vector<double>{-1.0};
  EXPECT_FALSE(uneven.token_exact());
  EXPECT_NE(uneven.text_only_reason().find("1 logprobs for 2 completion tokens"), std::string::npos);
}

TEST(TokenCaptureWire, CompletionIdsFromLogprobEntriesAndNonFiniteLogprobs) {
  // llama.cpp-style integer ids and vLLM's return_tokens_as_token_ids strings.
  auto r = llm::parse_reply(llm::WireKind::kOpenAI, R"({"choices":[{"index":0,"message":{"content":"ab"},
    "logprobs":{"content":[{"id":7,"token":"a","logprob":-1},{"token":"token_id:9","logprob":-2}]}}]})");
  ASSERT_TRUE(r.is_ok());
  ASSERT_TRUE(r->tokens.completion_ids);
  EXPECT_EQ(*r->tokens.completion_ids, (std::vector<int64_t>{7, 9}));
  auto partial = llm::parse_reply(llm::WireKind::kOpenAI, R"({"choices":[{"index":0,"message":{"content":"ab"},
    "logprobs":{"content":[{"id":7,"token":"a","logprob":-1},{"token":"b","logprob":-2}]}}]})");
  ASSERT_TRUE(partial.is_ok());
  EXPECT_FALSE(partial->tokens.completion_ids) << "ids for only some tokens are no ids";
  llm::TokenCapture t;
  t.requested = true;
  t.prompt_ids = std::vector<int64_t>{1};
  t.completion_ids = std::vector<int64_t>{2};
  t.logprobs = std::vector<double>{-std::numeric_limits<double>::infinity()};
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  llm::write_token_capture(w, t);
  auto doc = json::parse(sb.GetString());
  ASSERT_TRUE(doc.is_ok()) << sb.GetString();
  EXPECT_EQ(json::get_string(*doc, "capture"), "token_exact");
  EXPECT_DOUBLE_EQ((*doc)["logprobs"][0].GetDouble(), llm::kLogprobFloor);
}

TEST(TokenCaptureWire, StreamingChunksAccumulate) {
  std::string sse =
      "data: {\"prompt_token_ids\":[5,6],\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"token_ids\":[97],"
      "\"logprobs\":{\"content\":[{\"token\":\"a\",\"logprob\":-0.1}]}}]}\n\n"
      "data: {\"prompt_token_ids\":null,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"token_ids\":[98],"
      "\"logprobs\":{\"content\":[{\"token\":\"b\",\"logprob\":-0.2}]},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  auto r = llm::parse_stream(llm::WireKind::kOpenAI, sse);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->content, "ab");
  EXPECT_EQ(*r->tokens.prompt_ids, (std::vector<int64_t>{5, 6}));
  EXPECT_EQ(*r->tokens.completion_ids, (std::vector<int64_t>{97, 98}));
  EXPECT_EQ(r->tokens.logprobs->size(), 2u);
}

TEST(TokenCaptureWire, TheRequestFieldsAreOneListForRunAndTheGateway) {
  auto local = llm::token_request_fields(true);
  EXPECT_EQ(json::dump(local), R"({"logprobs":true,"top_logprobs":1,"return_token_ids":true})");
  EXPECT_EQ(json::dump(llm::token_request_fields(false)), R"({"logprobs":true,"top_logprobs":1})");
}

TEST(TokenCaptureWire, AStoredCaptureReadsBackAsItWasWritten) {
  llm::TokenCapture exact;
  exact.requested = true;
  exact.prompt_ids = std::vector<int64_t>{1, 2};
  exact.completion_ids = std::vector<int64_t>{3};
  exact.logprobs = std::vector<double>{-0.5};
  exact.request_json = R"({"messages":[{"role":"user","content":"hi"}]})";
  llm::TokenCapture missing;
  missing.requested = true;
  missing.logprobs = std::vector<double>{-0.5};
  llm::TokenCapture wire;
  wire.requested = true;
  wire.text_only_because = "the openai.responses wire carries no token ids";
  for (const llm::TokenCapture* t : {&exact, &missing, &wire}) {
    const std::string text = llm::token_capture_json(*t);
    auto doc = json::parse(text);
    ASSERT_TRUE(doc.is_ok()) << text;
    llm::TokenCapture back = llm::read_token_capture(*doc);
    EXPECT_EQ(llm::token_capture_json(back), text);
    EXPECT_EQ(back.token_exact(), t->token_exact());
    EXPECT_EQ(back.text_only_reason(), t->text_only_reason());
  }
  EXPECT_EQ(wire.text_only_reason(), "the openai.responses wire carries no token ids");
  EXPECT_FALSE(wire.token_exact());
}

TEST(TokenCaptureWire, ASharedEpisodesStoredCallKeepsItsCapture) {
  runtime::CapturedCall call;
  call.wire = "openai.chat";
  call.messages.push_back({"user", "hi", {}, {}, {}});
  call.reply.content = "ok";
  call.reply.tokens.requested = true;
  call.reply.tokens.prompt_ids = std::vector<int64_t>{257, 104, 105, 260, 258};
  call.reply.tokens.completion_ids = std::vector<int64_t>{111, 107};
  call.reply.tokens.logprobs = std::vector<double>{-0.25, -0.2};
  auto back = runtime::captured_call_from_json(runtime::captured_call_to_json(call));
  ASSERT_TRUE(back.is_ok()) << back.status().to_string();
  EXPECT_TRUE(back->reply.tokens.token_exact());
  EXPECT_EQ(llm::token_capture_json(back->reply.tokens), llm::token_capture_json(call.reply.tokens));
  runtime::CapturedCall plain;
  auto plain_back = runtime::captured_call_from_json(runtime::captured_call_to_json(plain));
  ASSERT_TRUE(plain_back.is_ok());
  EXPECT_FALSE(plain_back->reply.tokens.requested) << "no capture stored, none read back";
}

TEST(MockTokenizer, ChatTemplateIsDeterministicAndDocumented) {
  auto msgs = json::parse(R"([{"role":"system","content":"S"},{"role":"user","content":"hi"}])");
  ASSERT_TRUE(msgs.is_ok());
  auto ids = mock::chat_prompt_tokens(*msgs, nullptr, true);
  ASSERT_TRUE(ids.is_ok());
  EXPECT_EQ(*ids, (std::vector<int64_t>{mock::kTokSystem, 'S', mock::kTokEnd, mock::kTokUser, 'h', 'i', mock::kTokEnd,
                                        mock::kTokAssistant}));
  auto bad = json::parse(R"([{"content":"no role"}])");
  EXPECT_FALSE(mock::chat_prompt_tokens(*bad, nullptr, true).is_ok());
  auto tok = mock::tokenize_body(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", -1);
  ASSERT_TRUE(tok.is_ok());
  auto doc = json::parse(*tok);
  EXPECT_EQ(json::get_int(*doc, "count"), 5);
  auto drifted = mock::tokenize_body(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})", 2);
  auto ddoc = json::parse(*drifted);
  EXPECT_EQ((*ddoc)["tokens"][2].GetInt64(), 'i' + 1000);
  EXPECT_FALSE(mock::tokenize_body(R"({"model":"m"})", -1).is_ok()) << "neither messages nor prompt";
  auto prompt = mock::tokenize_body(R"({"prompt":"ab"})", -1);
  ASSERT_TRUE(prompt.is_ok());
  EXPECT_NE(prompt->find("\"tokens\":[97,98]"), std::string::npos) << *prompt;
}

TEST(MockTokenizer, ScenarioKeysAreChecked) {
  EXPECT_TRUE(
      mock::parse_scenario(R"({"tokenizer":{"drift_at":3},"rules":[{"response":{"text":"x","token_ids":false}}]})")
          .is_ok());
  auto bad = mock::parse_scenario(R"({"tokenizer":{"drift_at":-1}})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_NE(bad.status().message().find("drift_at"), std::string::npos);
  auto typo = mock::parse_scenario(R"({"rules":[{"response":{"token_ids":"no"}}]})");
  ASSERT_FALSE(typo.is_ok());
  EXPECT_NE(typo.status().message().find("token_ids"), std::string::npos);
}

TEST(TokenDrift, FirstDifference) {
  EXPECT_FALSE(runtime::first_difference({1, 2, 3}, {1, 2, 3}));
  EXPECT_EQ(*runtime::first_difference({1, 2, 3}, {1, 5, 3}), 1u);
  EXPECT_EQ(*runtime::first_difference({1, 2}, {1, 2, 3}), 2u);
  EXPECT_EQ(llm::tokenize_url_for("http://h:8000/v1/"), "http://h:8000/tokenize");
  EXPECT_EQ(llm::tokenize_url_for("http://h:8080"), "http://h:8080/tokenize");
}

// A read_session answer with one step and two student calls: one token-exact, one text-only.
constexpr const char* kSession = R"({"session_id":"7","reward":{"score":0.5},
  "steps":[{"step_id":1,"evaluation":{"reward":{"score":0.75}}}],
  "trajectory_events":[
    {"event":{"type":"llm_call","role":"student","step_id":"1","data":{"model":"qwen","outcome":"ok",
      "tokens":{"capture":"token_exact","prompt_ids":[1,2],"completion_ids":[3],"logprobs":[-0.5],"request":{"messages":[]}}}}},
    {"event":{"type":"llm_call","role":"student","step_id":"1","data":{"model":"qwen","outcome":"ok",
      "tokens":{"capture":"text_only","reason":"the server's reply carried no token_ids","prompt_ids":null,
      "completion_ids":null,"logprobs":[-1],"request":null}}}},
    {"event":{"type":"llm_call","role":"judge","step_id":"1","data":{"model":"j"}}}]})";

TEST(TokensJsonl, OneRowPerTokenExactCallWithTheStepFlag) {
  auto session = json::parse(kSession);
  ASSERT_TRUE(session.is_ok());
  auto caps = data::step_captures(*session);
  ASSERT_EQ(caps.size(), 1u);
  EXPECT_FALSE(caps["1"].token_exact);
  EXPECT_EQ(caps["1"].calls, 2);
  std::vector<std::string> rows;
  auto schema = data::export_schema(data::ExportFormat::kTokensJsonl);
  ASSERT_TRUE(schema.is_ok());
  Status s = data::tokens_rows(*session, [&](json::Document& row, int64_t step) {
    EXPECT_EQ(step, 1);
    if (auto e = (*schema)->check(row)) ADD_FAILURE() << e->message;
    rows.push_back(json::dump(row));
    return Status::ok();
  });
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  ASSERT_EQ(rows.size(), 1u);
  auto row = json::parse(rows[0]);
  EXPECT_EQ(json::get_string(*row, "step_capture"), "text_only");
  EXPECT_NE(json::get_string(*row, "step_capture_reason").find("token_ids"), std::string::npos);
  EXPECT_DOUBLE_EQ(json::get_double(*row, "reward"), 0.75);
  EXPECT_DOUBLE_EQ(json::get_double(*row, "session_reward"), 0.5);
  EXPECT_EQ(json::get_int(*row, "call_index"), 0);
}

TEST(TokensJsonl, InconsistentCaptureAndRowsMissingAFieldAreRefused) {
  std::string text = kSession;
  text.replace(text.find("\"logprobs\":[-0.5]"), 17, "\"logprobs\":[-0.5,-1]");
  auto session = json::parse(text);
  Status s = data::tokens_rows(*session, [](json::Document&, int64_t) { return Status::ok(); });
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("2 logprobs for 1 completion tokens"), std::string::npos) << s.to_string();
  auto schema = data::export_schema(data::ExportFormat::kTokensJsonl);
  auto row = json::parse(R"({"session_id":"1","step_id":1,"call_index":0,"model":"m","prompt_ids":[1],
    "completion_ids":[2],"reward":null,"session_reward":null,"step_capture":"token_exact"})");
  auto e = (*schema)->check(*row);
  ASSERT_TRUE(e) << "a row without logprobs must be refused";
  EXPECT_NE(e->message.find("logprobs"), std::string::npos) << e->message;
}

}  // namespace
}  // namespace atlas
