#include <gtest/gtest.h>

#include "common/json.hpp"
#include "config/loader.hpp"
#include "runtime/quickstart.hpp"

namespace atlas {
namespace {

// --offline: every model block and an inline adapter model reach the mock, with no key.
TEST(QuickstartOffline, EveryModelOfAConfigIsRoutedToTheMock) {
  auto cfg = config::parse_config(R"(
[agent]
adapter = "anthropic"
[agent.config]
model = "claude-haiku-4-5"
provider = "anthropic"
[student.llm]
provider = "anthropic"
model = "claude-haiku-4-5"
api_key_env = "ANTHROPIC_API_KEY"
[teacher.llm]
provider = "gemini"
model = "gemini-2.5-pro"
[rewards.small_model]
provider = "openai"
model = "gpt-4o-mini"
organization = "org-1"
[rewards.large_model]
provider = "anthropic"
model = "claude-sonnet-4-5"
[routing]
probe = "llm"
)",
                                  "offline.toml");
  ASSERT_TRUE(cfg.is_ok()) << cfg.status().message();
  runtime::quickstart::route_models_to_mock(*cfg, "http://127.0.0.1:5555");
  for (const config::ModelConfig* m : {&cfg->student.llm, &cfg->teacher.llm, &cfg->rewards.small_model,
                                       &cfg->rewards.large_model, &cfg->learning.llm, &cfg->routing.probe_llm}) {
    EXPECT_EQ(m->provider, "openai");
    EXPECT_EQ(m->api_base, "http://127.0.0.1:5555/v1");
    EXPECT_EQ(m->api_key_env, "");
    EXPECT_TRUE(m->organization.empty());
    EXPECT_TRUE(m->model == "mock-small" || m->model == "mock-large") << m->model;
  }
  EXPECT_EQ(cfg->rewards.large_model.model, "mock-large");
  auto agent = json::parse(cfg->agent.config_json);
  ASSERT_TRUE(agent.is_ok());
  EXPECT_EQ(json::get_string(*agent, "api_base"), "http://127.0.0.1:5555/v1");
  EXPECT_EQ(json::get_string(*agent, "provider"), "openai");
  EXPECT_EQ(json::get_string(*agent, "api_key_env", "unset"), "");
}

}  // namespace
}  // namespace atlas
