// Cancellation (Client::bound_to + Cancellation): a call in flight ends with CANCELLED as soon
// as cancel() runs, on the blocking and on the asynchronous path, during a retry's backoff,
// and later calls fail before any I/O; a client bound to another Cancellation is untouched.
// Also [limits] max_reply_bytes: a reply larger than the limit is cut off while it arrives.
#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "common/clock.hpp"
#include "llm/llm.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

Request ask(const std::string& text) {
  Request r;
  r.messages.push_back({"user", text, {}, "", ""});
  return r;
}

// The mock holds every request without answering for a minute.
constexpr const char* kHangs = R"({"rules":[{"response":{"fault":"timeout","hang_ms":60000}}]})";

TEST(Cancellation, AbortsABlockingCallInFlightAtOnce) {
  testing::MockLlm mock(kHangs);
  ASSERT_TRUE(mock.ok());
  auto cancellation = std::make_shared<Cancellation>();
  auto client = make_client()->bound_to({cancellation});
  auto call = std::async(std::launch::async, [&] { return client->complete(mock.model(), ask("x")); });
  ASSERT_TRUE(mock.server().wait_for_requests(1, 30.0));
  double start = clock::monotonic_seconds();
  cancellation->cancel();
  Result<Response> r = call.get();
  double waited = clock::monotonic_seconds() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
  EXPECT_NE(r.status().message().find("cancelled"), std::string::npos);
  EXPECT_LT(waited, 5.0) << "a cancelled call kept running";
  EXPECT_EQ(mock.requests().size(), 1u) << "a cancelled call must not be retried";
}

TEST(Cancellation, RemovesAsynchronousTransfersFromTheIoThreadAtOnce) {
  testing::MockLlm mock(kHangs);
  ASSERT_TRUE(mock.ok());
  auto cancellation = std::make_shared<Cancellation>();
  auto client = make_client()->bound_to({cancellation});
  std::vector<BatchCall> calls;
  for (int i = 0; i < 8; ++i) calls.push_back({mock.model(i % 2 ? "anthropic" : "openai"), ask("x")});
  auto batch = std::async(std::launch::async, [&] { return client->complete_many(calls); });
  ASSERT_TRUE(mock.server().wait_for_requests(8, 30.0));
  double start = clock::monotonic_seconds();
  cancellation->cancel();
  auto results = batch.get();
  double waited = clock::monotonic_seconds() - start;
  ASSERT_EQ(results.size(), 8u);
  for (const auto& r : results) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
  }
  EXPECT_LT(waited, 5.0) << "cancelled transfers kept running";
}

TEST(Cancellation, EndsARetryBackoffAndStartsNoFurtherAttempt) {
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"server_error"}}]})");
  ASSERT_TRUE(mock.ok());
  auto model = mock.model();
  model.retry.attempts = 3;
  model.retry.backoff_seconds = 30;
  model.retry.max_backoff_seconds = 30;
  for (bool async : {false, true}) {
    mock.clear_requests();
    auto cancellation = std::make_shared<Cancellation>();
    auto client = make_client()->bound_to({cancellation});
    auto call = std::async(std::launch::async, [&] {
      if (!async) return client->complete(model, ask("x"));
      return std::move(client->complete_many({{model, ask("x")}})[0]);
    });
    ASSERT_TRUE(mock.server().wait_for_requests(1, 30.0));
    double start = clock::monotonic_seconds();
    cancellation->cancel();
    Result<Response> r = call.get();
    EXPECT_LT(clock::monotonic_seconds() - start, 5.0) << (async ? "async" : "blocking");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << r.status().to_string();
    EXPECT_EQ(mock.requests().size(), 1u) << (async ? "async" : "blocking");
  }
}

TEST(Cancellation, LaterCallsFailBeforeAnyIoAndOtherClientsAreUntouched) {
  testing::MockLlm mock(R"({"default":"echo"})");
  ASSERT_TRUE(mock.ok());
  auto base = make_client();
  auto cancellation = std::make_shared<Cancellation>();
  auto cancelled_client = base->bound_to({cancellation});
  auto other = base->bound_to({std::make_shared<Cancellation>()});
  cancellation->cancel();
  auto r = cancelled_client->complete(mock.model(), ask("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  auto many = cancelled_client->complete_many({{mock.model(), ask("x")}});
  EXPECT_EQ(many[0].status().code(), StatusCode::kCancelled);
  EXPECT_EQ(mock.requests().size(), 0u);
  auto ok = other->complete(mock.model(), ask("still here"));
  ASSERT_TRUE(ok) << ok.status().to_string();
  EXPECT_EQ(ok->content, "echo: still here");
  auto ok_base = base->complete(mock.model(), ask("base"));
  EXPECT_TRUE(ok_base) << ok_base.status().to_string();
}

TEST(ReplyLimit, AReplyLargerThanTheLimitIsCutOffWhileItArrivesOnBothPaths) {
  const std::string big(4 << 20, 'x');  // 4 MiB of text in one reply
  testing::MockLlm mock(R"({"rules":[{"response":{"text":")" + big + R"("}}]})");
  ASSERT_TRUE(mock.ok());
  CallPolicy policy;
  policy.max_reply_bytes = 64 << 10;
  auto client = make_client()->bound_to(policy);
  auto r = client->complete(mock.model(), ask("x"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted) << r.status().to_string();
  EXPECT_NE(r.status().message().find("max_reply_bytes"), std::string::npos) << r.status().message();
  EXPECT_EQ(mock.requests().size(), 1u) << "an oversized reply must not be retried";
  auto many = client->complete_many({{mock.model("anthropic"), ask("x")}});
  ASSERT_FALSE(many[0]);
  EXPECT_EQ(many[0].status().code(), StatusCode::kResourceExhausted);
  // Within the limit: unchanged.
  auto roomy = make_client()->bound_to({nullptr, 8u << 20});
  auto fine = roomy->complete(mock.model(), ask("x"));
  ASSERT_TRUE(fine) << fine.status().to_string();
  EXPECT_EQ(fine->content.size(), big.size());
}

}  // namespace
}  // namespace atlas::llm
