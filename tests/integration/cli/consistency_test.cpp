// Options every command treats alike: -c and the ./atlas.toml default for run/train/eval,
// `help <command>`, and `export --output -` on standard output.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

#include "cli_support.hpp"
#include "common/json.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

TEST(CliConsistency, RunTrainAndEvalTakeShortConfigAndDefaultToAtlasToml) {
  testing::MockLlm mock(R"({"rules": [{"response": {"text": "fine"}}]})");
  TempDir dir("consistency");
  fs::create_directories(dir.path() / "empty");
  write_file(
      dir.path() / "atlas.toml",
      mock_config(mock.openai_base(),
                  "[orchestration]\nforced_mode = \"auto\"\n[rewards]\nsession_judges = [{ plugin = \"verifiable\" }]\n"
                  "step_judges = []\n[learning]\nenabled = false\n[routing]\nprobe = \"history\"\n",
                  ""));
  CliResult by_default = run_cli(dir.path(), "run --task 'hello' --json");
  EXPECT_EQ(by_default.exit_code, 0) << by_default.all();
  EXPECT_NE(by_default.out.find("\"final_answer\":\"fine\""), std::string::npos) << by_default.all();
  CliResult short_flag = run_cli(dir.path() / "empty", "run -c ../atlas.toml --task 'hello' --json");
  EXPECT_EQ(short_flag.exit_code, 0) << short_flag.all();

  std::string dataset = sh_quote(std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/data/probe_eval.jsonl");
  CliResult eval = run_cli(dir.path(), "eval probe --dataset " + dataset);
  EXPECT_EQ(eval.exit_code, 0) << eval.all();
  EXPECT_NE(eval.out.find("accuracy"), std::string::npos) << eval.all();
  CliResult eval_c = run_cli(dir.path() / "empty", "eval probe -c ../atlas.toml --dataset " + dataset);
  EXPECT_EQ(eval_c.exit_code, 0) << eval_c.all();

  // No -c and no ./atlas.toml: a usage error that says both ways out.
  for (const std::string& cmd :
       {std::string("run --task x"), "eval probe --dataset " + dataset, std::string("train --dry-run")}) {
    CliResult none = run_cli(dir.path() / "empty", cmd);
    EXPECT_EQ(none.exit_code, 2) << cmd << "\n" << none.all();
    EXPECT_NE(none.err.find("-c/--config FILE"), std::string::npos) << cmd << "\n" << none.all();
    EXPECT_NE(none.err.find("./atlas.toml"), std::string::npos) << cmd << "\n" << none.all();
  }
  // train finds ./atlas.toml by itself: it gets past the config to the missing [train] command.
  CliResult train = run_cli(dir.path(), "train --dry-run --database-url sqlite://t.db");
  EXPECT_EQ(train.exit_code, 1) << train.all();
  EXPECT_EQ(train.err.find("--config"), std::string::npos) << train.all();
}

TEST(CliConsistency, HelpCommandShowsThatCommandsHelp) {
  TempDir dir("help");
  CliResult run_help = run_cli(dir.path(), "help run");
  EXPECT_EQ(run_help.exit_code, 0) << run_help.all();
  EXPECT_NE(run_help.out.find("--tasks"), std::string::npos) << run_help.all();
  EXPECT_NE(run_help.out.find("--concurrency"), std::string::npos) << run_help.all();
  CliResult review_help = run_cli(dir.path(), "help review");
  EXPECT_EQ(review_help.exit_code, 0);
  EXPECT_NE(review_help.out.find("--all-matching"), std::string::npos) << review_help.all();
  CliResult unknown = run_cli(dir.path(), "help nosuchcommand");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.all();
  EXPECT_NE(unknown.err.find("nosuchcommand"), std::string::npos) << unknown.all();
}

TEST(CliConsistency, ExportToADashWritesTheRecordsToStdout) {
  TempDir dir("export-stdout");
  ASSERT_NO_FATAL_FAILURE(copy_three_sessions_db(dir.path() / "s.db"));
  std::string url = " --database-url " + sh_quote("sqlite://" + (dir.path() / "s.db").string());
  CliResult r = run_cli(dir.path(), "export --format atlas-jsonl --output - --include-all-statuses" + url);
  ASSERT_EQ(r.exit_code, 0) << r.all();
  size_t lines = 0;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) {
    ++lines;
    EXPECT_TRUE(json::parse(line, "export line").is_ok()) << line.substr(0, 200);
  }
  EXPECT_EQ(lines, 3u) << r.out.substr(0, 500);
  EXPECT_NE(r.err.find("to standard output"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir.path() / "-"));
  EXPECT_FALSE(fs::exists(dir.path() / "-.partial"));
}

// A command whose output could not be written did not do its job: /dev/full takes nothing, and
// each command must say so and exit 1 instead of 0 (found in the exit-code audit of #13).
TEST(CliConsistency, OutputThatCannotBeWrittenIsAFailureNotASuccess) {
  TempDir dir("dev-full");
  ASSERT_NO_FATAL_FAILURE(copy_three_sessions_db(dir.path() / "s.db"));
  std::string url = " --database-url " + sh_quote("sqlite://" + (dir.path() / "s.db").string());
  const std::string bin = sh_quote(std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host");
  for (const std::string& command : std::vector<std::string>{"review list" + url, "review show 1" + url, "report" + url,
                              "export --format trl-sft --output - --include-all-statuses" + url, "--help",
                              "config show -c " + sh_quote(std::string(ATLAS_TEST_SOURCE_DIR) + "/configs/quickstart.toml")}) {
    const fs::path err = dir.path() / "err.txt";
    int status = std::system(("cd " + sh_quote(dir.path().string()) + " && " + bin + " " + command + " > /dev/full 2> " +
                              sh_quote(err.string()))
                                 .c_str());
    ASSERT_TRUE(WIFEXITED(status)) << command;
    std::ifstream in(err);
    std::string message((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(WEXITSTATUS(status), 1) << command << "\n" << message;
    EXPECT_NE(message.find("write"), std::string::npos) << command << "\n" << message;
  }
}

}  // namespace
}  // namespace atlas::cli_test
