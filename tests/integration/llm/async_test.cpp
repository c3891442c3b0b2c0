// The asynchronous path of the client (Client::start, Client::complete_many): many calls in
// flight on one I/O thread, results in order, callbacks that start further calls, calls
// rejected before any I/O, and a client destroyed with calls still in flight.
// (Faults and retries on this path: faults_test.cpp runs every fault on both paths.)
#include <gtest/gtest.h>

#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "llm/llm.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

Request ask(const std::string& text, bool stream = false) {
  Request r;
  r.stream = stream;
  r.messages.push_back({"user", text, {}, "", ""});
  return r;
}

TEST(AsyncClient, CompleteManyOverlapsSixtyFourCallsAndKeepsTheirOrder) {
  testing::MockLlm mock(R"({"default":"echo","latency_ms":200})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  std::vector<BatchCall> calls;
  const char* providers[] = {"openai", "anthropic", "gemini"};
  for (int i = 0; i < 64; ++i) calls.push_back({mock.model(providers[i % 3]), ask("call " + std::to_string(i), i % 2)});
  std::vector<CallRecord> records;
  double start = clock::monotonic_seconds();
  auto results = client->complete_many(calls, &records);
  double wall = clock::monotonic_seconds() - start;
  ASSERT_EQ(results.size(), 64u);
  ASSERT_EQ(records.size(), 64u);
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(results[i]) << i << ": " << results[i].status().to_string();
    EXPECT_EQ(results[i]->content, "echo: call " + std::to_string(i));
    EXPECT_EQ(records[i].outcome, "ok");
    EXPECT_EQ(records[i].provider, providers[i % 3]);
    EXPECT_GE(records[i].latency_seconds, 0.2);
  }
  EXPECT_EQ(mock.requests().size(), 64u);
  EXPECT_LT(wall, 8 * 0.2) << "64 calls at 200 ms took " << wall << " s: they were serialised";
}

TEST(AsyncClient, CallbacksRunOnOneIoThreadNotTheCallers) {
  testing::MockLlm mock(R"({"default":"echo"})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  std::mutex mu;
  std::set<std::thread::id> threads;
  std::promise<void> all;
  int left = 16;
  for (int i = 0; i < 16; ++i) {
    client->start(mock.model("openai"), ask("x"), [&](Result<Response> r, const CallRecord&) {
      EXPECT_TRUE(r) << r.status().to_string();
      std::lock_guard<std::mutex> lock(mu);
      threads.insert(std::this_thread::get_id());
      if (--left == 0) all.set_value();
    });
  }
  all.get_future().wait();
  ASSERT_EQ(threads.size(), 1u);
  EXPECT_NE(*threads.begin(), std::this_thread::get_id());
}

TEST(AsyncClient, ACallbackMayStartTheNextCall) {
  testing::MockLlm mock(R"({"default":"echo"})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  auto model = mock.model("anthropic");
  std::promise<std::vector<std::string>> finished;
  std::vector<std::string> contents;
  std::function<void(int)> next = [&](int i) {
    client->start(model, ask("step " + std::to_string(i)), [&, i](Result<Response> r, const CallRecord&) {
      contents.push_back(r ? r->content : r.status().to_string());
      if (i < 5) return next(i + 1);
      finished.set_value(contents);
    });
  };
  next(1);
  auto got = finished.get_future().get();
  ASSERT_EQ(got.size(), 5u);
  EXPECT_EQ(got.front(), "echo: step 1");
  EXPECT_EQ(got.back(), "echo: step 5");
}

TEST(AsyncClient, ARequestRejectedBeforeAnyIoIsReportedOnTheCallersThread) {
  auto client = make_client();
  config::ModelConfig model;
  model.provider = "openia";
  model.model = "x";
  bool called = false;
  std::thread::id where;
  client->start(model, ask("x"), [&](Result<Response> r, const CallRecord& rec) {
    called = true;
    where = std::this_thread::get_id();
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(rec.outcome, "INVALID_ARGUMENT");
  });
  EXPECT_TRUE(called) << "done must have run before start() returned";
  EXPECT_EQ(where, std::this_thread::get_id());
}

TEST(AsyncClient, DestroyingTheClientEndsCallsInFlightWithAnError) {
  testing::MockLlm mock(R"({"latency_ms":60000,"rules":[{"response":{"text":"never"}}]})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  std::promise<std::pair<Status, CallRecord>> done;
  client->start(mock.model("openai"), ask("x"), [&](Result<Response> r, const CallRecord& rec) {
    done.set_value({r.status(), rec});
  });
  while (mock.requests().empty()) std::this_thread::yield();  // the request is on the wire
  double start = clock::monotonic_seconds();
  client.reset();
  auto [status, record] = done.get_future().get();
  EXPECT_LT(clock::monotonic_seconds() - start, 5.0) << "shutdown waited for the 60 s reply";
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_NE(status.message().find("the HTTP transport shut down"), std::string::npos) << status.message();
  EXPECT_EQ(record.outcome, "UNAVAILABLE");
  EXPECT_EQ(record.retries, 0) << "a shutdown is not retried";
}

TEST(AsyncClient, DestroyingTheClientDuringABackoffEndsTheCall) {
  // The first reply asks for a retry in 30 s; the client goes away while the retry waits.
  testing::MockLlm mock(R"({"rules":[{"response":{"fault":"rate_limit","retry_after":30}}]})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  auto model = mock.model("openai");
  model.retry.max_backoff_seconds = 60;
  std::promise<Status> done;
  client->start(model, ask("x"), [&](Result<Response> r, const CallRecord&) {
    done.set_value(r ? Status(StatusCode::kInternal, "unexpected success: " + r->content) : r.status());
  });
  while (mock.requests().empty()) std::this_thread::yield();
  double start = clock::monotonic_seconds();
  client.reset();
  Status status = done.get_future().get();
  EXPECT_LT(clock::monotonic_seconds() - start, 5.0) << "shutdown waited for the 30 s backoff";
  EXPECT_EQ(status.code(), StatusCode::kUnavailable) << status.to_string();
  EXPECT_EQ(mock.requests().size(), 1u);
}

}  // namespace
}  // namespace atlas::llm
