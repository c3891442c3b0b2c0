// The HTTP transport on its own: callers drive their own transfers from a pool of keep-alive
// handles. Closing the transport must abort a transfer in progress and wait for it.
#include <gtest/gtest.h>
#include <httplib.h>
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <memory>
#include <set>
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

// A burst of calls (a session's judges), one call, then another burst: the second burst reuses
// the first one's connections. curl's default keeps 4 idle connections per transfer in flight,
// so the single call in between made it close 12 of the 16 and the next burst connect again.
TEST(HttpTransport, ConnectionsOfABurstAreKeptForTheNextOne) {
  constexpr int kBurst = 16;
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  bool hold = true;
  std::set<int> client_ports;
  httplib::Server server;
  server.new_task_queue = [] { return new httplib::ThreadPool(kBurst + 4); };
  server.Post("/v1/chat/completions", [&](const httplib::Request& req, httplib::Response& res) {
    std::unique_lock<std::mutex> lock(mu);
    client_ports.insert(req.remote_port);
    ++in_flight;
    cv.notify_all();
    // A burst's calls are answered together, once all of them are open at the same time.
    cv.wait_for(lock, std::chrono::seconds(30), [&] { return !hold || in_flight >= kBurst; });
    res.set_content(R"({"choices":[{"message":{"role":"assistant","content":"ok"}}]})", "application/json");
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread listener([&] { server.listen_after_bind(); });
  const std::string base = "http://127.0.0.1:" + std::to_string(port);

  auto transport = std::make_unique<HttpTransport>();
  auto run = [&](int calls) {
    {
      std::lock_guard<std::mutex> lock(mu);
      in_flight = 0;
      hold = calls > 1;
    }
    std::vector<std::future<HttpResponse>> replies;
    for (int i = 0; i < calls; ++i) {
      auto reply = std::make_shared<std::promise<HttpResponse>>();
      replies.push_back(reply->get_future());
      transport->start(std::make_shared<const HttpRequest>(chat_request(base)),
                       [reply](HttpResponse r) { reply->set_value(std::move(r)); });
    }
    for (auto& r : replies) EXPECT_EQ(r.get().status, 200);
  };
  run(kBurst);
  run(1);
  run(kBurst);
  transport.reset();  // closes its connections, so the server's threads stop at once
  server.stop();
  listener.join();
  EXPECT_EQ(client_ports.size(), static_cast<size_t>(kBurst)) << "connections made for 3 bursts of 16, 1 and 16 calls";
}

}  // namespace
}  // namespace atlas::llm
