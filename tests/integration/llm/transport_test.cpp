// The HTTP transport on its own: callers drive their own transfers from a pool of keep-alive
// handles. Closing the transport must abort a transfer in progress and wait for it.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <future>
#include <mutex>
#include <memory>
#include <thread>

#include "common/clock.hpp"
#include "common/scheduling_class.hpp"
#include "llm/http_transport.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

HttpRequest chat_request(const std::string& base) {
  HttpRequest r;
  r.url = base + "/v1/chat/completions";
  r.headers = {"Content-Type: application/json"};
  r.body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  return r;
}

TEST(HttpTransport, SequentialAndConcurrentCallsSucceedOnPooledHandles) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"done"}}]})");
  ASSERT_TRUE(mock.ok());
  HttpTransport transport;
  for (int i = 0; i < 5; ++i) {
    HttpResponse r = transport.perform(chat_request(mock.base_url()));
    ASSERT_EQ(r.curl_code, 0) << r.curl_error;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("done"), std::string::npos);
    EXPECT_EQ(r.headers.count("content-type"), 1u);
  }
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      HttpResponse r = transport.perform(chat_request(mock.base_url()));
      if (r.curl_code == 0 && r.status == 200) ++ok;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 8);
  EXPECT_EQ(mock.requests().size(), 13u);
}

TEST(HttpTransport, ClosingAbortsATransferInProgressAndWaitsForIt) {
  testing::MockLlm mock(R"({"latency_ms":60000,"rules":[{"response":{"text":"late"}}]})");
  ASSERT_TRUE(mock.ok());
  auto transport = std::make_unique<HttpTransport>();
  HttpResponse got;
  HttpTransport* raw = transport.get();  // the caller must not read `transport` while it is reset
  std::thread caller([&, raw] { got = raw->perform(chat_request(mock.base_url())); });
  // The mock records a request before its latency starts: from then on the transfer is in flight.
  while (mock.requests().empty()) std::this_thread::yield();
  double start = clock::monotonic_seconds();
  transport.reset();  // returns only after the in-flight transfer has ended
  double waited = clock::monotonic_seconds() - start;
  caller.join();
  EXPECT_NE(got.curl_code, 0);
  EXPECT_EQ(got.curl_error, "the HTTP transport shut down");
  EXPECT_LT(waited, 10.0) << "the abort must not wait for the 60 s reply";
}

TEST(HttpTransport, StartedTransfersRunOnTheIoThreadAndShutdownEndsThem) {
  testing::MockLlm mock(R"({"rules":[{"times":3,"response":{"text":"quick"}},{"response":{"text":"slow","latency_ms":60000}}]})");
  ASSERT_TRUE(mock.ok());
  auto transport = std::make_unique<HttpTransport>();
  std::promise<std::vector<HttpResponse>> quick;
  std::vector<HttpResponse> got;
  std::mutex mu;
  for (int i = 0; i < 3; ++i) {
    transport->start(std::make_shared<const HttpRequest>(chat_request(mock.base_url())), [&](HttpResponse r) {
      std::lock_guard<std::mutex> lock(mu);
      got.push_back(std::move(r));
      if (got.size() == 3) quick.set_value(got);
    });
  }
  for (const auto& r : quick.get_future().get()) {
    EXPECT_EQ(r.curl_code, 0) << r.curl_error;
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("quick"), std::string::npos);
  }
  // A timer and a transfer that never answers: closing the transport runs the first and ends the second.
  std::promise<HttpResponse> hung;
  std::promise<void> timer;
  transport->start(std::make_shared<const HttpRequest>(chat_request(mock.base_url())),
                   [&](HttpResponse r) { hung.set_value(std::move(r)); });
  transport->run_after(3600, [&] { timer.set_value(); });
  while (mock.requests().size() < 4) std::this_thread::yield();
  transport.reset();
  HttpResponse r = hung.get_future().get();
  EXPECT_NE(r.curl_code, 0);
  EXPECT_EQ(r.curl_error, "the HTTP transport shut down");
  timer.get_future().get();  // ran at shutdown, not in an hour
}

// The gateway's storage workers run under SCHED_IDLE and start judge calls; the request path
// (a paired-lane probe) starts calls from normal threads. Whichever comes first, each call's
// transfer and callback run in its caller's class, on separate I/O threads.
TEST(HttpTransport, StartedTransfersRunInTheirCallersSchedulingClass) {
  if (SchedulingClass::of_this_thread().background()) GTEST_SKIP() << "the test itself runs in a background class";
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"ok"}}]})");
  ASSERT_TRUE(mock.ok());
  HttpTransport transport;
  struct Seen {
    int policy = -1;
    std::thread::id thread;
    long status = 0;
  };
  auto start_and_wait = [&] {
    std::promise<Seen> seen;
    transport.start(std::make_shared<const HttpRequest>(chat_request(mock.base_url())), [&](HttpResponse r) {
      seen.set_value({sched_getscheduler(0), std::this_thread::get_id(), r.status});
    });
    return seen.get_future().get();
  };
  Seen from_idle;
  std::thread idle_caller([&] {
    sched_param none{};
    ASSERT_EQ(pthread_setschedparam(pthread_self(), SCHED_IDLE, &none), 0);
    from_idle = start_and_wait();  // first use: the transport's first I/O thread starts here
  });
  idle_caller.join();
  Seen from_normal = start_and_wait();
  Seen idle_again;
  std::thread second_idle_caller([&] {
    sched_param none{};
    ASSERT_EQ(pthread_setschedparam(pthread_self(), SCHED_IDLE, &none), 0);
    idle_again = start_and_wait();
  });
  second_idle_caller.join();

  EXPECT_EQ(from_idle.status, 200);
  EXPECT_EQ(from_normal.status, 200);
  EXPECT_EQ(from_idle.policy, SCHED_IDLE);
  EXPECT_EQ(from_normal.policy, SCHED_OTHER) << "a normal caller's transfer ran on the idle-class I/O thread";
  EXPECT_NE(from_idle.thread, from_normal.thread);
  EXPECT_EQ(idle_again.thread, from_idle.thread) << "background calls share one I/O thread";
}

}  // namespace
}  // namespace atlas::llm
