// One path from config to components: every command reaches the same database, loads plugins
// with the same trust settings, and the environment wins over the file (at run time too).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "config/loader.hpp"
#include "runtime/runtime.hpp"
#include "support/mock_llm_fixture.hpp"
#include "support/run_cli.hpp"

namespace fs = std::filesystem;

namespace atlas::runtime {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::run_cli;

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("atlas-cfgpath-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

// An auto-lane agent on the mock (student only), no judges; `extra` is appended.
std::string agent_config(const testing::MockLlm& mock, const std::string& extra) {
  std::string model =
      "provider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\n"
      "api_base = \"" +
      mock.openai_base() + "\"\ntimeout_seconds = 30\n\n";
  return "[agent]\nadapter = \"openai\"\n\n[student.llm]\n" + model + "[teacher.llm]\n" + model +
         "[orchestration]\nforced_mode = \"auto\"\n\n[rewards]\nsession_judges = []\nstep_judges = []\n\n"
         "[learning]\nenabled = false\n\n[plugins]\ndirs = [\"" +
         std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n" + extra;
}

const char* kStudentSays =
    R"({"rules":[{"match":{"system_contains":"You are the student agent"},"response":{"text":"done"}}]})";

// Regression: `run` let [plugins.soci] database_url override [storage] while db/review/export
// did the opposite, so `run` wrote to one database and `db migrate`/`review list` read another.
// Every command now refuses the ambiguity with the same message, before touching a database.
TEST(ConfigPaths, StoragePluginTableNamingADatabaseIsRefusedByEveryCommand) {
  testing::MockLlm mock(kStudentSays);
  fs::path dir = temp_dir("conflict");
  std::ofstream(dir / "atlas.toml") << agent_config(mock, "[plugins.soci]\ndatabase_url = \"sqlite://" +
                                                              (dir / "b.db").string() +
                                                              "\"\n\n[storage]\n"
                                                              "database_url = \"sqlite://" +
                                                              (dir / "a.db").string() + "\"\n");
  for (const char* args :
       {"run --config atlas.toml --task 'x'", "db migrate --config atlas.toml", "review list --config atlas.toml",
        "export --config atlas.toml --format atlas-jsonl --output out.jsonl"}) {
    auto [code, out] = run_cli(dir, args);
    EXPECT_EQ(code, 1) << args << "\n" << out;
    EXPECT_THAT(out, HasSubstr("[plugins.soci] sets database_url, which is a [storage] setting")) << args;
  }
  EXPECT_FALSE(fs::exists(dir / "a.db"));
  EXPECT_FALSE(fs::exists(dir / "b.db"));
  // The preflight may list the models (GET /v1/models); no model is called.
  EXPECT_TRUE(mock.requests("openai.chat").empty()) << "run must stop before calling a model";
  fs::remove_all(dir);
}

// `run` and `db status` open the same database; the storage plugin's own keys still reach it.
TEST(ConfigPaths, RunAndDbStatusReachTheSameDatabase) {
  testing::MockLlm mock(kStudentSays);
  fs::path dir = temp_dir("same");
  std::ofstream(dir / "atlas.toml") << agent_config(mock,
                                                    "[plugins.soci]\nbusy_timeout_seconds = 5\n\n[storage]\n"
                                                    "database_url = \"sqlite://" +
                                                        (dir / "a.db").string() + "\"\nwrite_retry_seconds = 2\n");
  auto [code, out] = run_cli(dir, "run --config atlas.toml --task 'store me'");
  ASSERT_EQ(code, 0) << out;
  EXPECT_THAT(out, Not(HasSubstr("(not stored)"))) << out;
  auto [scode, status] = run_cli(dir, "db status --config atlas.toml --json");
  EXPECT_EQ(scode, 0) << status;
  EXPECT_THAT(status, HasSubstr("\"succeeded\": 1")) << status;
  fs::remove_all(dir);
}

// Regression: `eval probe` discovered plugins without [plugins] lock_file, so a pinned
// deployment evaluated an unpinned probe. A lock file that lists nothing refuses every plugin,
// so the probe is not there to evaluate.
TEST(ConfigPaths, EvalProbeHonoursThePluginLockFile) {
  testing::MockLlm mock(kStudentSays);  // the history probe calls no model; the config needs one
  fs::path dir = temp_dir("lock");
  std::ofstream(dir / "plugins.lock") << "# nothing is pinned\n";
  std::string dataset = std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/data/probe_eval.jsonl";
  std::ofstream(dir / "open.toml") << agent_config(mock, "[storage]\nenabled = false\n");
  std::ofstream(dir / "pinned.toml") << agent_config(
      mock, "lock_file = \"" + (dir / "plugins.lock").string() + "\"\n[storage]\nenabled = false\n");
  auto [ok, report] = run_cli(dir, "eval probe --config open.toml --dataset '" + dataset + "'");
  EXPECT_EQ(ok, 0) << report;
  auto [refused, msg] = run_cli(dir, "eval probe --config pinned.toml --dataset '" + dataset + "'");
  EXPECT_EQ(refused, 1) << msg;
  EXPECT_THAT(msg, HasSubstr("no probe plugin named 'history' was found")) << msg;
  fs::remove_all(dir);
}

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) { ::setenv(name, value, 1); }
  ~ScopedEnv() { ::unsetenv(name_); }

 private:
  const char* name_;
};

std::unique_ptr<Runtime> runtime_for(const std::string& toml) {
  auto cfg = config::parse_config(toml, "test.toml");
  EXPECT_TRUE(cfg.is_ok()) << cfg.status().to_string();
  if (!cfg) return nullptr;
  RuntimeOptions ro;
  ro.use_default_plugin_dirs = false;
  auto rt = Runtime::create(std::move(*cfg), ro);
  EXPECT_TRUE(rt.is_ok()) << rt.status().to_string();
  return rt ? std::move(*rt) : nullptr;
}

// Regression: ATLAS_REVIEW_REQUIRE_APPROVAL did not override a configuration at run time (only
// where a command applied the overrides while loading a file). As in Atlas, the environment
// wins when the session is persisted, whoever built the configuration.
TEST(ConfigPaths, ReviewApprovalFromTheEnvironmentWinsAtRunTime) {
  testing::MockLlm mock(kStudentSays);
  auto strict = runtime_for(agent_config(mock, "[storage]\nenabled = false\n[review]\nrequire_approval = true\n"));
  auto lax = runtime_for(agent_config(mock, "[storage]\nenabled = false\n[review]\nrequire_approval = false\n"));
  ASSERT_TRUE(strict && lax);
  EXPECT_EQ(strict->run({"t", "{}", ""}).review_status, ReviewStatus::kPending);
  EXPECT_EQ(lax->run({"t", "{}", ""}).review_status, ReviewStatus::kApproved);
  {
    ScopedEnv env("ATLAS_REVIEW_REQUIRE_APPROVAL", "0");
    SessionReport r = strict->run({"t", "{}", ""});
    EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
    EXPECT_EQ(r.review_status, ReviewStatus::kApproved);
  }
  {
    ScopedEnv env("ATLAS_REVIEW_REQUIRE_APPROVAL", "yes");
    EXPECT_EQ(lax->run({"t", "{}", ""}).review_status, ReviewStatus::kPending);
  }
}

}  // namespace
}  // namespace atlas::runtime
