// An API key read from the environment reaches the provider but never appears in errors,
// call records, the mock's request log or the host log — on success and on failure.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "llm/llm.hpp"
#include "llm/llm_json.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::llm {
namespace {

constexpr const char* kKeyVar = "ATLAS_TEST_FAKE_PROVIDER_KEY";
constexpr const char* kKey = "sk-test-Zq81sEcReTvAlUe0042xyz";

TEST(Secrets, KeyValueNeverAppearsInAnythingWritten) {
  ::setenv(kKeyVar, kKey, 1);
  auto log_path = std::filesystem::temp_directory_path() / ("atlas-llm-secrets-" + std::to_string(::getpid()) + ".jsonl");
  std::filesystem::remove(log_path);
  mock::MockOptions opts;
  opts.request_log_path = log_path.string();
  // The provider echoes the key in an error, as OpenAI does for a wrong key.
  std::string scenario = std::string(R"({"rules":[
      {"match":{"last_user_contains":"fail-auth"},"response":{"fault":"http_error","status":401,
        "error_message":"Incorrect API key provided: )") + kKey + R"("}},
      {"match":{"last_user_contains":"fail-500"},"response":{"fault":"server_error","error_message":"boom )" + kKey + R"("}},
      {"response":{"text":"fine"}}]})";
  testing::MockLlm mock(scenario, opts);
  ASSERT_TRUE(mock.ok());
  auto client = make_client();
  log::Level old = log::level();
  log::set_level(log::Level::kDebug);
  ::testing::internal::CaptureStderr();

  std::string everything;
  for (const std::string provider : {"openai", "anthropic", "gemini"}) {
    auto model = mock.model(provider);
    model.api_key_env = kKeyVar;
    for (const std::string text : {"ok please", "fail-auth", "fail-500"}) {
      Request r;
      r.messages.push_back({"user", text, {}, "", ""});
      CallRecord rec;
      auto res = client->complete(model, r, &rec);
      if (text == "ok please") {
        EXPECT_TRUE(res) << res.status().to_string();
      } else {
        ASSERT_FALSE(res);
        everything += res.status().to_string() + "\n";
      }
      everything += call_record_to_json(rec) + "\n" + rec.error + "\n";
    }
    // Through the JSON service as well (inline model block).
    CallRecord rec;
    std::string req = R"({"model":{"provider":")" + provider + R"(","model":"m","api_base":")" +
                      model.api_base + R"(","api_key_env":")" + kKeyVar +
                      R"("},"messages":[{"role":"user","content":"fail-auth"}]})";
    auto out = complete_json(*client, nullptr, req, &rec);
    ASSERT_FALSE(out);
    everything += out.status().to_string() + call_record_to_json(rec);
  }
  std::string captured = ::testing::internal::GetCapturedStderr();
  log::set_level(old);
  everything += captured;
  mock.server().stop();
  std::ifstream in(log_path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string request_log = ss.str();
  everything += request_log;
  for (const auto& r : mock.requests()) {
    for (const auto& [k, v] : r.headers) everything += k + ": " + v + "\n";
    everything += r.path + r.body;
  }

  EXPECT_EQ(everything.find(kKey), std::string::npos) << "the key leaked";
  EXPECT_NE(everything.find("[REDACTED:ATLAS_TEST_FAKE_PROVIDER_KEY]"), std::string::npos)
      << "the provider's echo of the key should show up redacted";
  // The key was really sent: each request carried an auth header (logged as [redacted]).
  size_t with_auth = 0;
  for (const auto& r : mock.requests())
    with_auth += r.headers.count("authorization") + r.headers.count("x-api-key") + r.headers.count("x-goog-api-key");
  EXPECT_EQ(with_auth, mock.requests().size());
  EXPECT_FALSE(request_log.empty());
  std::filesystem::remove(log_path);
  ::unsetenv(kKeyVar);
}

}  // namespace
}  // namespace atlas::llm
