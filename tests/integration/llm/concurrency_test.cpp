// Many calls in flight: 64 concurrent calls at 200 ms mock latency must overlap.
#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "common/clock.hpp"
#include "llm/llm.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

class ConcurrencyTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ConcurrencyTest, SixtyFourCallsDoNotSerialise) {
  testing::MockLlm mock(R"({"latency_ms":200,"rules":[{"response":{"text":"done"}}]})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  auto model = mock.model(GetParam());
  constexpr int kCalls = 64;
  std::vector<std::thread> threads;
  std::vector<int> ok(kCalls, 0);
  double start = clock::monotonic_seconds();
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      Request r;
      r.stream = i % 2 == 0;
      r.messages.push_back({"user", "call " + std::to_string(i), {}, "", ""});
      auto res = client->complete(model, r);
      ok[i] = res && res->content == "done";
    });
  }
  for (auto& t : threads) t.join();
  double wall = clock::monotonic_seconds() - start;
  for (int i = 0; i < kCalls; ++i) EXPECT_TRUE(ok[i]) << "call " << i;
  EXPECT_EQ(mock.requests().size(), static_cast<size_t>(kCalls));
  EXPECT_LT(wall, 8 * 0.2) << "64 calls at 200 ms took " << wall << " s: they were serialised";
}

INSTANTIATE_TEST_SUITE_P(AllProviders, ConcurrencyTest, ::testing::Values("openai", "anthropic", "gemini"));

TEST(ConnectionReuse, SequentialCallsReuseConnections) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"x"}}]})");
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  Request r;
  r.messages.push_back({"user", "hi", {}, "", ""});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client->complete(mock.model("openai"), r));
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 5u);
  // The mock records the client's source port per request; one connection -> one port.
  std::set<int> ports;
  for (const auto& q : reqs) ports.insert(q.remote_port);
  EXPECT_EQ(ports.size(), 1u);
}

}  // namespace
}  // namespace atlas::llm
