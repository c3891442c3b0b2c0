// gtest helper: mock-llm running in-process on 127.0.0.1:0 with a scenario (docs/mock-llm.md).
// Link the test with atlas_mock (and atlas_llm to call it through the host's clients).
//
//   atlas::testing::MockLlm mock(R"({"rules":[{"response":{"text":"hi"}}]})");
//   ASSERT_TRUE(mock.ok());
//   auto model = mock.model("openai");          // ModelConfig pointing at the mock, no API key
//   auto res = atlas::llm::default_client()->complete(model, request);
//   EXPECT_EQ(mock.requests().size(), 1u);      // what the mock received (headers, body, timestamps)
//   auto body = mock.body(0);                    // request body of the first request, parsed
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "config/model_config.hpp"
#include "mock/mock_server.hpp"

namespace atlas::testing {

class MockLlm {
 public:
  // Starts immediately; on failure the current test gets a non-fatal failure and ok() is false.
  explicit MockLlm(std::string_view scenario_json = R"({"default":"echo"})", mock::MockOptions options = {}) {
    auto port = server_.start_json(scenario_json, options);
    if (!port) {
      ADD_FAILURE() << "mock-llm did not start: " << port.status().to_string();
      return;
    }
    ok_ = true;
  }

  bool ok() const { return ok_; }
  int port() const { return server_.port(); }
  std::string base_url() const { return server_.base_url(); }  // http://127.0.0.1:PORT
  std::string openai_base() const { return base_url() + "/v1"; }

  // A model block aimed at the mock. provider: openai | anthropic | gemini (api_base is set
  // the way each client expects). api_key_env names an unset variable, so no auth header is
  // sent; retries use a short backoff so fault tests stay fast.
  config::ModelConfig model(std::string provider = "openai", std::string model_name = "mock-model") const {
    config::ModelConfig m;
    m.provider = std::move(provider);
    m.model = std::move(model_name);
    m.api_base = m.provider == "openai" ? openai_base() : base_url();
    m.api_key_env = "ATLAS_MOCK_LLM_UNSET_KEY";
    m.timeout_seconds = 30.0;
    m.connect_timeout_seconds = 5.0;
    m.retry.attempts = 3;
    m.retry.backoff_seconds = 0.01;
    m.retry.max_backoff_seconds = 0.1;
    return m;
  }

  std::vector<mock::RecordedRequest> requests() const { return server_.requests(); }
  // Requests of one route: openai.chat, anthropic.messages, gemini.generate, gemini.stream, models.
  std::vector<mock::RecordedRequest> requests(std::string_view route) const {
    std::vector<mock::RecordedRequest> out;
    for (auto& r : server_.requests())
      if (r.route == route) out.push_back(r);
    return out;
  }
  // Parsed body of the i-th request (an empty object when out of range or not JSON).
  json::Document body(size_t i) const {
    auto reqs = server_.requests();
    json::Document doc;
    if (i < reqs.size()) doc.Parse(reqs[i].body.c_str());
    if (i >= reqs.size() || doc.HasParseError()) doc.SetObject();
    return doc;
  }
  void clear_requests() { server_.clear_requests(); }
  mock::MockLlmServer& server() { return server_; }

 private:
  mock::MockLlmServer server_;
  bool ok_ = false;
};

// Fixture base: ASSERT_NO_FATAL_FAILURE(start_mock(R"({...})"));
class MockLlmTest : public ::testing::Test {
 protected:
  void start_mock(std::string_view scenario_json, mock::MockOptions options = {}) {
    mock_ = std::make_unique<MockLlm>(scenario_json, std::move(options));
    ASSERT_TRUE(mock_->ok());
  }
  MockLlm& mock() { return *mock_; }
  std::unique_ptr<MockLlm> mock_;
};

}  // namespace atlas::testing
