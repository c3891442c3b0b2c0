// `atlas-host config check|show` as a user runs it: real process, real files, exit codes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "common/json.hpp"

namespace {

using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

struct ProcResult {
  int exit_code = -1;
  std::string output;  // stdout + stderr
};

ProcResult run_host(const std::string& args, const std::string& prefix = "") {
  const std::string cmd = prefix + " '" + std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' " + args + " 2>&1";
  ProcResult r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.output.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class ConfigCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("atlas_config_cli_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p) << text;
    return p;
  }
  fs::path dir_;
};

TEST_F(ConfigCli, EveryShippedExampleChecksOk) {
  std::string files;
  int count = 0;
  for (const auto& e : fs::directory_iterator(fs::path(ATLAS_TEST_SOURCE_DIR) / "configs")) {
    if (e.path().extension() != ".toml") continue;
    files += " '" + e.path().string() + "'";
    ++count;
  }
  ASSERT_GE(count, 9);
  ProcResult r = run_host("config check" + files);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  size_t oks = 0;
  for (size_t pos = r.output.find(": OK"); pos != std::string::npos; pos = r.output.find(": OK", pos + 1)) ++oks;
  EXPECT_EQ(oks, static_cast<size_t>(count)) << r.output;
}

TEST_F(ConfigCli, MisspeltKeyExitsOneWithPositionAndSuggestion) {
  fs::path p = write("atlas.toml", R"([agent]
adapter = "openai"

[student.llm]
model = "gpt-4o-mini"

[teacher.llm]
model = "gpt-4o"
temprature = 0.3

[rewards.small_model]
model = "gpt-4o-mini"
)");
  ProcResult r = run_host("config check --config '" + p.string() + "'");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(p.string() + ":9:1: teacher.llm.temprature: unknown key 'temprature' "
                                               "(did you mean 'temperature'?)"));
  EXPECT_THAT(r.output, HasSubstr("invalid (1 error)"));

  // --json carries the same facts for machines.
  ProcResult j = run_host("config check --json '" + p.string() + "'");
  EXPECT_EQ(j.exit_code, 1);
  auto doc = atlas::json::parse(j.output);
  ASSERT_TRUE(doc.is_ok()) << j.output;
  const auto& err = (*doc)["files"][0]["errors"][0];
  EXPECT_EQ(atlas::json::get_int(err, "line"), 9);
  EXPECT_EQ(atlas::json::get_int(err, "column"), 1);
  EXPECT_EQ(atlas::json::get_string(err, "key_path"), "teacher.llm.temprature");
}

TEST_F(ConfigCli, WithoutAtlasTomlExplainsHowToCreateOne) {
  ProcResult r = run_host("config check", "cd '" + dir_.string() + "' &&");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cp configs/quickstart.toml atlas.toml"));
  // With ./atlas.toml present it is used by default.
  fs::copy_file(fs::path(ATLAS_TEST_SOURCE_DIR) / "configs" / "quickstart.toml", dir_ / "atlas.toml");
  ProcResult ok = run_host("config check", "cd '" + dir_.string() + "' &&");
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(ConfigCli, ShowNeverPrintsAKeyAndAppliesEnvOverrides) {
  const std::string key = "sk-cli-test-abcdefghijklmnopqrstuvwxyz";
  const std::string cfg = (fs::path(ATLAS_TEST_SOURCE_DIR) / "configs" / "quickstart.toml").string();
  ProcResult r = run_host("config show --config '" + cfg + "'", "OPENAI_API_KEY=" + key + " ATLAS_DRIFT_WINDOW=7");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr(key)));
  EXPECT_THAT(r.output, HasSubstr("api_key_env = 'OPENAI_API_KEY'  # (set)"));
  EXPECT_THAT(r.output, HasSubstr("window = 7"));

  ProcResult j = run_host("config show --json --config '" + cfg + "'", "env -u OPENAI_API_KEY");
  EXPECT_EQ(j.exit_code, 0) << j.output;
  auto doc = atlas::json::parse(j.output);
  ASSERT_TRUE(doc.is_ok()) << j.output;
  EXPECT_FALSE(atlas::json::get_bool((*doc)["teacher"]["llm"], "api_key_set", true));
  EXPECT_EQ(atlas::json::get_string((*doc)["storage"], "database_url"), "sqlite://.atlas/atlas.db");
}

TEST_F(ConfigCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_host("config").exit_code, 2);
  EXPECT_EQ(run_host("config frobnicate").exit_code, 2);
  EXPECT_EQ(run_host("config check --bogus").exit_code, 2);
  ProcResult help = run_host("config --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.output, HasSubstr("config check"));
}

}  // namespace
