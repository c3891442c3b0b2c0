// Fault injection: retries, Retry-After / RetryInfo honoured (checked on the mock's receive
// timestamps), no retry on 400, timeouts, mid-stream errors, malformed JSON, dropped connections.
// Every test runs on both paths of the client: blocking complete() and asynchronous start().
#include <gtest/gtest.h>

#include <future>
#include <tuple>

#include "llm/llm.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

Request simple_request(bool stream = false) {
  Request r;
  r.stream = stream;
  r.messages.push_back({"user", "hello there", {}, "", ""});
  return r;
}

class FaultBase : public ::testing::Test {
 protected:
  Result<Response> call_on(bool async, const config::ModelConfig& model, const Request& request, CallRecord* record) {
    if (!async) return client_->complete(model, request, record);
    std::promise<Result<Response>> done;
    CallRecord got;
    client_->start(model, request, [&](Result<Response> result, const CallRecord& r) {
      got = r;
      done.set_value(std::move(result));
    });
    Result<Response> result = done.get_future().get();
    if (record) *record = got;
    return result;
  }
  std::shared_ptr<Client> client_ = make_client();
};

// Parameter: true = asynchronous start(), false = blocking complete().
class FaultTest : public FaultBase, public ::testing::WithParamInterface<bool> {
 protected:
  Result<Response> call(const config::ModelConfig& model, const Request& request, CallRecord* record = nullptr) {
    return call_on(GetParam(), model, request, record);
  }
};

std::string path_name(bool async) { return async ? "async" : "blocking"; }

double gap(const std::vector<mock::RecordedRequest>& reqs, size_t i) {
  return reqs[i].received_monotonic - reqs[i - 1].received_monotonic;
}

TEST_P(FaultTest, RateLimitHonoursRetryAfterHeader) {
  testing::MockLlm mock(R"({"rules":[{"times":1,"response":{"fault":"rate_limit","retry_after":1}},
                                     {"response":{"text":"ok now"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model("openai"), simple_request(), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "ok now");
  EXPECT_EQ(rec.retries, 1);
  EXPECT_EQ(rec.outcome, "ok");
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].status, 429);
  EXPECT_GE(gap(reqs, 1), 1.0) << "the retry came before the Retry-After delay";
  EXPECT_LT(gap(reqs, 1), 3.0);
}

TEST_P(FaultTest, RateLimitHonoursRetryAfterMsOnAnthropic) {
  testing::MockLlm mock(R"({"rules":[{"times":1,"response":{"fault":"rate_limit","retry_after_ms":700}},
                                     {"response":{"text":"ok"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model("anthropic"), simple_request(), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_GE(gap(reqs, 1), 0.7);
  EXPECT_EQ(rec.retries, 1);
}

TEST_P(FaultTest, GeminiRetryInfoInBodyIsHonoured) {
  testing::MockLlm mock(R"({"rules":[{"times":1,"response":{"fault":"rate_limit","retry_after":0.8}},
                                     {"response":{"text":"ok"}}]})");
  ASSERT_TRUE(mock.ok());
  auto res = call(mock.model("gemini"), simple_request());
  ASSERT_TRUE(res) << res.status().to_string();
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_GE(gap(reqs, 1), 0.8) << "RetryInfo.retryDelay in the error body was not honoured";
}

TEST_P(FaultTest, ServerErrorsAreRetriedWithBackoff) {
  testing::MockLlm mock(R"({"rules":[{"times":2,"response":{"fault":"server_error"}},{"response":{"text":"recovered"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto model = mock.model("openai");
  model.retry.backoff_seconds = 0.1;
  model.retry.max_backoff_seconds = 1.0;
  auto res = call(model, simple_request(), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "recovered");
  EXPECT_EQ(rec.retries, 2);
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 3u);
  // Exponential: ~0.1 s then ~0.2 s (jitter 0.8..1.2).
  EXPECT_GE(gap(reqs, 1), 0.08);
  EXPECT_GE(gap(reqs, 2), 0.16);
}

TEST_P(FaultTest, OverloadedExhaustsAttemptsAndReports) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"overloaded"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model("anthropic"), simple_request(), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(res.status().message().find("HTTP 529"), std::string::npos) << res.status().message();
  EXPECT_NE(res.status().message().find("overloaded_error"), std::string::npos);
  EXPECT_NE(res.status().message().find("gave up after 3 attempts"), std::string::npos);
  EXPECT_EQ(mock.requests().size(), 3u);
  EXPECT_EQ(rec.retries, 2);
  EXPECT_EQ(rec.outcome, "UNAVAILABLE");
  EXPECT_FALSE(rec.error.empty());
}

TEST_P(FaultTest, BadRequestIsNotRetried) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"http_error","status":400,"error_message":"messages: too long"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model("openai"), simple_request(), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("messages: too long"), std::string::npos);
  EXPECT_EQ(mock.requests().size(), 1u);
  EXPECT_EQ(rec.retries, 0);
}

TEST_P(FaultTest, HungServerHitsTheTotalTimeout) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"timeout","hang_ms":20000}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model("openai");
  model.timeout_seconds = 0.5;
  CallRecord rec;
  auto res = call(model, simple_request(), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kDeadlineExceeded) << res.status().to_string();
  EXPECT_NE(res.status().message().find("timeout_seconds=0.5"), std::string::npos);
  EXPECT_GE(rec.latency_seconds, 0.5);
  EXPECT_LT(rec.latency_seconds, 5.0);
  EXPECT_EQ(mock.requests().size(), 1u) << "a spent time budget is not retried";
}

TEST_P(FaultTest, SlowResponseWithinTimeoutSucceeds) {
  testing::MockLlm mock(R"({"latency_ms":300,"rules":[{"response":{"text":"late but fine"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model("gemini"), simple_request(), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_GE(rec.latency_seconds, 0.3);
}

class StreamFaultTest : public FaultBase, public ::testing::WithParamInterface<std::tuple<std::string, bool>> {
 protected:
  std::string provider() const { return std::get<0>(GetParam()); }
  Result<Response> call(const config::ModelConfig& model, const Request& request, CallRecord* record = nullptr) {
    return call_on(std::get<1>(GetParam()), model, request, record);
  }
};

TEST_P(StreamFaultTest, MidStreamErrorIsAnErrorNotATruncatedSuccess) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"mid_stream_error","text":"one two three four five six seven eight nine ten","error_message":"Overloaded mid-stream"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model(provider()), simple_request(true), &rec);
  ASSERT_FALSE(res) << "got content: " << res->content;
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(res.status().message().find("after HTTP 200"), std::string::npos) << res.status().message();
  EXPECT_NE(res.status().message().find("Overloaded mid-stream"), std::string::npos) << res.status().message();
  EXPECT_EQ(rec.retries, 2);
}

TEST_P(StreamFaultTest, MidStreamErrorOnceThenRetrySucceeds) {
  testing::MockLlm mock(R"({"rules":[{"times":1,"response":{"fault":"mid_stream_error","text":"a b c d e f g h"}},
                                     {"response":{"text":"complete answer"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model(provider()), simple_request(true), &rec);
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "complete answer");
  EXPECT_EQ(rec.retries, 1);
}

TEST_P(StreamFaultTest, DroppedStreamIsAnError) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"drop_connection","text":"one two three four five six seven eight nine ten"}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model(provider());
  model.retry.attempts = 2;
  CallRecord rec;
  auto res = call(model, simple_request(true), &rec);
  ASSERT_FALSE(res) << "got content: " << res->content;
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable) << res.status().to_string();
  EXPECT_EQ(mock.requests().size(), 2u);
}

TEST_P(StreamFaultTest, DroppedPlainReplyIsAnError) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"drop_connection","text":"some longer reply text here"}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model(provider());
  model.retry.attempts = 1;
  auto res = call(model, simple_request(false));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable) << res.status().to_string();
}

TEST_P(StreamFaultTest, MalformedJsonIsAClearError) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"malformed_json","text":"a reply that will be cut"}}]})");
  ASSERT_TRUE(mock.ok());
  CallRecord rec;
  auto res = call(mock.model(provider()), simple_request(false), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kInternal) << res.status().to_string();
  EXPECT_NE(res.status().message().find("malformed JSON"), std::string::npos) << res.status().message();
  EXPECT_NE(res.status().message().find("column"), std::string::npos) << res.status().message();
  EXPECT_EQ(mock.requests().size(), 1u);
}

TEST_P(StreamFaultTest, MalformedStreamEventIsAnError) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"malformed_json","text":"one two three four five six seven eight nine"}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model(provider());
  model.retry.attempts = 1;
  auto res = call(model, simple_request(true));
  ASSERT_FALSE(res);
  EXPECT_NE(res.status().message().find("malformed event"), std::string::npos) << res.status().message();
}

INSTANTIATE_TEST_SUITE_P(AllProviders, StreamFaultTest,
                         ::testing::Combine(::testing::Values("openai", "anthropic", "gemini"), ::testing::Bool()),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + path_name(std::get<1>(info.param));
                         });

TEST_P(FaultTest, ConnectionRefusedIsRetriedThenUnavailable) {
  int port = 0;
  {
    testing::MockLlm gone;
    ASSERT_TRUE(gone.ok());
    port = gone.port();
  }
  config::ModelConfig model;
  model.provider = "openai";
  model.model = "m";
  model.api_base = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  model.api_key_env = "ATLAS_MOCK_LLM_UNSET_KEY";
  model.retry.backoff_seconds = 0.01;
  CallRecord rec;
  auto res = call(model, simple_request(), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(res.status().message().find("cannot connect"), std::string::npos) << res.status().message();
  EXPECT_EQ(rec.retries, 2);
}

TEST_P(FaultTest, MissingKeyWithoutApiBaseNamesTheVariable) {
  ::unsetenv("ATLAS_TEST_MISSING_KEY");
  config::ModelConfig model;
  model.provider = "anthropic";
  model.model = "claude-test";
  model.api_key_env = "ATLAS_TEST_MISSING_KEY";
  ::unsetenv("ANTHROPIC_BASE_URL");
  CallRecord rec;
  auto res = call(model, simple_request(), &rec);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kPermissionDenied);
  EXPECT_NE(res.status().message().find("ATLAS_TEST_MISSING_KEY"), std::string::npos);
  EXPECT_EQ(rec.outcome, "PERMISSION_DENIED");
}

TEST_P(FaultTest, BaseUrlEnvOverrideIsUsedWhenApiBaseIsEmpty) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"via env base"}}]})");
  ASSERT_TRUE(mock.ok());
  ::setenv("GEMINI_BASE_URL", mock.base_url().c_str(), 1);
  config::ModelConfig model = mock.model("gemini");
  model.api_base.clear();
  auto res = call(model, simple_request());
  ::unsetenv("GEMINI_BASE_URL");
  ASSERT_TRUE(res) << res.status().to_string();
  EXPECT_EQ(res->content, "via env base");
}

TEST_P(FaultTest, UnknownProviderIsRejected) {
  config::ModelConfig model;
  model.provider = "openia";
  model.model = "x";
  auto res = call(model, simple_request());
  ASSERT_FALSE(res);
  EXPECT_EQ(res.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(res.status().message().find("openia"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(BothPaths, FaultTest, ::testing::Bool(),
                         [](const auto& info) { return path_name(info.param); });

}  // namespace
}  // namespace atlas::llm
