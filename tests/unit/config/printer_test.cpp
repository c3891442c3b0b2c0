// config show: the effective config as TOML/JSON, loadable again, never holding a secret.
#include <map>

#include "common/json.hpp"
#include "common/secrets.hpp"
#include "test_util.hpp"

namespace atlas::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::kMinimal;
using testing::parse_ok;

EnvLookup env(std::map<std::string, std::string> vars) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(vars));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

constexpr const char* kRich = R"([agent]
adapter = "openai"
name = "reviewer"
system_prompt = "Line one\nLine \"two\""
config = { stream = true }

[[agent.tools]]
name = "search"
parameters = { type = "object", properties = { q = { type = "string" } } }

[[agent.mcp_servers]]
name = "fs"
command = "npx"
args = ["-y", "server"]

[student.llm]
model = "gpt-4o-mini"
temperature = 0.2

[teacher.llm]
model = "gpt-4o"
api_key_env = "TEACHER_KEY"

[orchestration]
forced_mode = "coach"

[rewards.small_model]
model = "gpt-4o-mini"

[rewards]
session_judges = [{ plugin = "llm", rubric = "tone", weight = 0.5, config = { k = 1 } }]
[rewards.rubrics]
tone = "Be kind."

[plugins.openai]
stream = false

[train]
command = ["python", "train.py"]
overrides = { "trainer.lr" = 1e-5 }

[serve]
listen = "127.0.0.1:0"
client_keys_env = "GATEWAY_KEYS"
idle_timeout_seconds = 12.5

[serve.gemini]
api_base = "http://127.0.0.1:1"
api_key_env = "UPSTREAM_GEMINI_KEY"
)";

TEST(ConfigShow, TomlOutputReloadsToTheSameConfig) {
  Config c = parse_ok(kRich);
  std::string text = config_to_toml(c, env({}));
  Config again = parse_ok(text);
  EXPECT_EQ(again.agent.system_prompt, "Line one\nLine \"two\"");
  EXPECT_EQ(again.agent.tools.size(), 1u);
  EXPECT_EQ(again.agent.mcp_servers.size(), 1u);
  EXPECT_EQ(again.student.llm.model, "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(again.student.llm.temperature, 0.2);
  EXPECT_EQ(again.teacher.llm.api_key_env, "TEACHER_KEY");
  EXPECT_EQ(again.orchestration.forced_mode, Lane::kCoach);
  EXPECT_EQ(again.rewards.session_judges.size(), 1u);
  EXPECT_EQ(again.rewards.session_judges[0].rubric, "tone");
  EXPECT_EQ(again.rewards.rubrics.at("tone").text, "Be kind.");
  EXPECT_EQ(again.plugins.configs.at("openai"), c.plugins.configs.at("openai"));
  EXPECT_EQ(again.train.overrides, c.train.overrides);
  EXPECT_EQ(again.learning.llm.model, c.learning.llm.model);
  EXPECT_EQ(again.drift.window, 50);
  EXPECT_EQ(again.serve.client_keys_env, "GATEWAY_KEYS");
  EXPECT_DOUBLE_EQ(again.serve.idle_timeout_seconds, 12.5);
  ASSERT_TRUE(again.serve.gemini.has_value());
  EXPECT_EQ(again.serve.gemini->api_key_env, "UPSTREAM_GEMINI_KEY");
  // Defaults are written out explicitly.
  EXPECT_THAT(text, HasSubstr("step_timeout_seconds = 900"));
  EXPECT_THAT(text, HasSubstr("variance_threshold = 0.15"));
}

TEST(ConfigShow, SaysWhetherKeysAreSetWithoutPrintingThem) {
  Config c = parse_ok(kRich);
  const std::string value = "sk-test-abcdefghijklmnopqrstuvwxyz";
  std::string text = config_to_toml(c, env({{"OPENAI_API_KEY", value}}));
  EXPECT_THAT(text, Not(HasSubstr(value)));
  EXPECT_THAT(text, HasSubstr("api_key_env = 'OPENAI_API_KEY'  # (set)"));
  EXPECT_THAT(text, HasSubstr("api_key_env = 'TEACHER_KEY'  # (not set)"));

  json::Document doc = config_to_json(c, env({{"OPENAI_API_KEY", value}}));
  std::string dumped = json::dump(doc);
  EXPECT_THAT(dumped, Not(HasSubstr(value)));
  const json::Value* student = json::find(doc, "student");
  ASSERT_NE(student, nullptr);
  const json::Value* llm = json::find(*student, "llm");
  ASSERT_NE(llm, nullptr);
  EXPECT_TRUE(json::get_bool(*llm, "api_key_set"));
  EXPECT_FALSE(json::get_bool(*json::find(*json::find(doc, "teacher"), "llm"), "api_key_set", true));
  // Plugin configs come out as JSON objects.
  EXPECT_TRUE(json::get_bool(*json::find(*json::find(doc, "agent"), "config"), "stream"));
}

// The gateway's client keys and its upstream keys are secrets like every other *_env value:
// registered at load, so no log line or stored row can carry them.
TEST(ConfigSecrets, ServeClientKeysAndUpstreamKeysAreRegistered) {
  const std::string client = "gw-client-key-0123456789abcdef";
  const std::string upstream = "upstream-gemini-key-0123456789";
  ::setenv("GATEWAY_KEYS", client.c_str(), 1);
  ::setenv("UPSTREAM_GEMINI_KEY", upstream.c_str(), 1);
  register_config_secrets(parse_ok(kRich));
  std::string scrubbed = secrets::redact("keys: " + client + " and " + upstream);
  EXPECT_THAT(scrubbed, Not(HasSubstr(client)));
  EXPECT_THAT(scrubbed, Not(HasSubstr(upstream)));
  ::unsetenv("GATEWAY_KEYS");
  ::unsetenv("UPSTREAM_GEMINI_KEY");
}

}  // namespace
}  // namespace atlas::config
