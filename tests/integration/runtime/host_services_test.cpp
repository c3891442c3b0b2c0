// The runtime's host services for plugins: llm_complete_many runs a plugin's batch concurrently
// through the host's client, reports one llm_call event per request in request order, and
// fails a bad request alone.
#include "runtime/host_services.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::runtime {
namespace {

std::string judge_request(int i) {
  return R"({"model_ref":"rewards.small_model","role":"judge","messages":[{"role":"user","content":"sample )" +
         std::to_string(i) + R"("}]})";
}

TEST(RuntimeServices, LlmCompleteManyRunsTheBatchTogetherAndReportsEachCallInOrder) {
  testing::MockLlm mock(R"({"default":"echo","latency_ms":300})");
  ASSERT_TRUE(mock.ok());
  config::Config cfg;
  cfg.rewards.small_model = mock.model("anthropic", "judge-small");
  RuntimeServices services(cfg, llm::make_client());
  std::vector<std::string> events;
  plugin::CallContext call;
  call.session_id = "42";
  call.on_event = [&](std::string_view e) { events.emplace_back(e); };

  std::vector<std::string> texts = {judge_request(0),
                                    R"({"role":"judge","messages":[{"role":"user","content":"no model named"}]})",
                                    judge_request(2), judge_request(3)};
  std::vector<std::string_view> batch(texts.begin(), texts.end());
  auto results = services.llm_complete_many("llm", &call, batch);

  ASSERT_EQ(results.size(), 4u);
  for (int i : {0, 2, 3}) {
    ASSERT_TRUE(results[i]) << i << ": " << results[i].status().to_string();
    auto r = json::parse(results[i].value()).value();
    EXPECT_EQ(json::get_string(r, "content"), "echo: sample " + std::to_string(i));
  }
  ASSERT_FALSE(results[1]);
  EXPECT_EQ(results[1].status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(results[1].status().message().find("llm_complete_many[1]"), std::string::npos)
      << results[1].status().message();
  EXPECT_NE(results[1].status().message().find("no model"), std::string::npos) << results[1].status().to_string();

  ASSERT_EQ(events.size(), 4u);
  for (size_t i = 0; i < events.size(); ++i) {
    auto e = json::parse(events[i]).value();
    EXPECT_EQ(json::get_string(e, "type"), "llm_call");
    EXPECT_EQ(json::get_string(e, "role"), "judge");
    EXPECT_EQ(json::get_string(e, "outcome"), i == 1 ? "INVALID_ARGUMENT" : "ok") << i;
    if (i != 1) {
      EXPECT_EQ(json::get_string(e, "model_ref"), "rewards.small_model");
    }
  }
  // Three calls at 300 ms each, sent together: the mock received them within 300 ms.
  auto reqs = mock.requests();
  ASSERT_EQ(reqs.size(), 3u);
  auto [lo, hi] = std::minmax_element(reqs.begin(), reqs.end(), [](const auto& a, const auto& b) {
    return a.received_monotonic < b.received_monotonic;
  });
  EXPECT_LT(hi->received_monotonic - lo->received_monotonic, 0.3) << "the batch was sent one call after another";
}

TEST(RuntimeServices, LlmCompleteManyAfterTheDeadlineFailsEveryRequestWithoutCalling) {
  testing::MockLlm mock(R"({"default":"echo"})");
  ASSERT_TRUE(mock.ok());
  config::Config cfg;
  cfg.rewards.small_model = mock.model("openai");
  RuntimeServices services(cfg, llm::make_client());
  plugin::CallContext call;
  call.deadline_unix_ms = 1;  // long past
  std::string one = judge_request(0);
  auto results = services.llm_complete_many("llm", &call, {one, one});
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_TRUE(mock.requests().empty());
}

}  // namespace
}  // namespace atlas::runtime

namespace atlas::runtime {
namespace {

// Every llm_call event carries what the call cost: the served model's prices times the
// reported usage; a model without a price gives null, never 0.
TEST(RuntimeServices, LlmCallEventsCarryTheCallsCostOrNullWithoutAPrice) {
  testing::MockLlm mock(R"({"default":"echo"})");
  ASSERT_TRUE(mock.ok());
  config::Config cfg;
  cfg.rewards.small_model = mock.model("openai", "judge-small");
  cfg.rewards.small_model.input_cost_per_mtok = 3.0;
  cfg.rewards.small_model.output_cost_per_mtok = 15.0;
  cfg.rewards.large_model = mock.model("openai", "judge-large");  // no price
  RuntimeServices services(cfg, llm::make_client());
  std::vector<std::string> events;
  plugin::CallContext call;
  call.on_event = [&](std::string_view e) { events.emplace_back(e); };
  ASSERT_TRUE(services.llm_complete("llm", &call, judge_request(0)));
  ASSERT_TRUE(services.llm_complete(
      "llm", &call,
      R"({"model_ref":"rewards.large_model","role":"arbiter","messages":[{"role":"user","content":"x"}]})"));
  ASSERT_EQ(events.size(), 2u);
  auto priced = json::parse(events[0]).value();
  const auto& usage = priced["usage"];
  ASSERT_GT(usage["prompt_tokens"].GetInt64() + usage["completion_tokens"].GetInt64(), 0) << events[0];
  ASSERT_TRUE(priced["cost_usd"].IsNumber()) << events[0];
  EXPECT_DOUBLE_EQ(priced["cost_usd"].GetDouble(), (static_cast<double>(usage["prompt_tokens"].GetInt64()) * 3.0 +
                                                    static_cast<double>(usage["completion_tokens"].GetInt64()) * 15.0) /
                                                       1e6);
  auto unpriced = json::parse(events[1]).value();
  ASSERT_TRUE(unpriced.HasMember("cost_usd")) << events[1];
  EXPECT_TRUE(unpriced["cost_usd"].IsNull()) << events[1];
}

}  // namespace
}  // namespace atlas::runtime
