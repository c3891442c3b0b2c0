// The shipped example configs (configs/*.toml) load from any folder and need only the key of
// the provider they use; command-agent.toml finds its agent script from any folder.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <map>

#include "cli_support.hpp"
#include "config/loader.hpp"
#include "runtime/preflight.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

const fs::path kConfigs = fs::path(ATLAS_TEST_SOURCE_DIR) / "configs";

// Every provider's base URL points at the mock; only `key` (if any) is set.
class ProviderEnv {
 public:
  ProviderEnv(const testing::MockLlm& mock, const std::string& key) {
    for (const char* k : {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "XAI_API_KEY"}) ::unsetenv(k);
    ::setenv("OPENAI_BASE_URL", mock.openai_base().c_str(), 1);
    ::setenv("ANTHROPIC_BASE_URL", mock.base_url().c_str(), 1);
    ::setenv("GEMINI_BASE_URL", mock.base_url().c_str(), 1);
    if (!key.empty()) ::setenv(key.c_str(), "test-key", 1);
  }
  ~ProviderEnv() {
    for (const char* k : {"OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "XAI_API_KEY", "OPENAI_BASE_URL",
                          "ANTHROPIC_BASE_URL", "GEMINI_BASE_URL"})
      ::unsetenv(k);
  }
};

TEST(ExampleConfigs, EachNeedsOnlyItsOwnProvidersKey) {
  // An empty model list: the endpoint answers, and the examples' real model names are not checked.
  testing::MockLlm mock(R"({"models": [], "rules": [{"response": {"text": "fine"}}]})");
  // The key each example's provider needs; the ones not listed use OpenAI.
  const std::map<std::string, std::string> keys = {
      {"anthropic.toml", "ANTHROPIC_API_KEY"}, {"gemini.toml", "GEMINI_API_KEY"}, {"local-server.toml", ""}};
  TempDir elsewhere("examples-cwd");
  fs::path previous = fs::current_path();
  fs::current_path(elsewhere.path());  // relative paths must not depend on the working folder
  size_t checked = 0;
  for (const auto& entry : fs::directory_iterator(kConfigs)) {
    if (entry.path().extension() != ".toml") continue;
    std::string name = entry.path().filename().string();
    auto it = keys.find(name);
    ProviderEnv env(mock, it == keys.end() ? "OPENAI_API_KEY" : it->second);
    auto cfg = config::load_config(entry.path());
    ASSERT_TRUE(cfg.is_ok()) << name << ": " << cfg.status().message();
    for (const auto& p : runtime::preflight_models(*cfg)) {
      // local-server.toml names local servers that are not running here; nothing else may fail.
      if (name == "local-server.toml" && p.message.find("unreachable") != std::string::npos) continue;
      ADD_FAILURE() << name << ": " << p.role << " " << p.section << ": " << p.message;
    }
    ++checked;
  }
  fs::current_path(previous);
  EXPECT_GE(checked, 9u);
}

TEST(ExampleConfigs, CommandAgentRunsFromAnotherFolder) {
  if (std::system("python3 -c 'pass' >/dev/null 2>&1") != 0) GTEST_SKIP() << "python3 is not installed";
  testing::MockLlm mock(R"({"models": [], "rules": [
    {"match": {"system_contains": "You are the teacher"}, "response": {"json": {"valid": true}}},
    {"response": {"text": "fine"}}]})");
  TempDir dir("command-agent");
  std::string config = sh_quote((kConfigs / "command-agent.toml").string());
  CliResult r = run_cli(dir.path(), "run -c " + config + " --task 'count the vowels in banana' --json",
                        "OPENAI_BASE_URL=" + sh_quote(mock.openai_base()));
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("echo: "), std::string::npos) << r.all();
  EXPECT_TRUE(fs::exists(dir.path() / ".atlas" / "atlas.db"));
}

}  // namespace
}  // namespace atlas::cli_test
