// `atlas-host train` as a user runs it: the shipped configs/postgres.toml against a stand-in
// Atlas Core checkout whose interpreter records the argv and folder it was started with, and a
// generic trainer run in [train] cwd. Real atlas-host child process, real SQLite store.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "data/open.hpp"

namespace fs = std::filesystem;

namespace atlas::data {
namespace {

std::pair<int, std::string> run(const fs::path& cwd, const std::string& cmd) {
  std::string full = "cd '" + cwd.string() + "' && " + cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  std::string out;
  if (!p) return {-1, out};
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_executable(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
  ::chmod(p.c_str(), 0755);
}

class TrainCli : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("atlas-train-" + std::to_string(::getpid()));
    fs::remove_all(root_);
    for (const char* d : {"configs", "ATLAS/scripts", "bin", "elsewhere", "trainer"}) fs::create_directories(root_ / d);
    root_ = fs::canonical(root_);
    db_ = "sqlite://" + (root_ / "atlas.db").string();
    OpenRequest req;
    req.database_url = db_;
    req.plugin_dirs = {ATLAS_TEST_PLUGIN_DIR};
    auto opened = open_store(req);
    ASSERT_TRUE(opened.is_ok()) << opened.status().to_string();
    for (int i = 0; i < 2; ++i) {
      auto id = opened->store->begin_session("Triage bug " + std::to_string(i), R"({"learning_key":"lk"})");
      ASSERT_TRUE(id.is_ok()) << id.status().to_string();
      ASSERT_TRUE(
          opened->store
              ->finish_session(R"({"session_id":")" + *id + R"(","status":"succeeded","final_answer":"dup of #1",
        "metadata":{"learning_key":"lk"},"plan":{"steps":[{"id":1,"description":"answer","depends_on":[]}]},
        "steps":[{"step_id":1,"trace":"t","output":"dup of #1","evaluation":{"validation":{"valid":true},"reward":{"score":0.9}},
                  "attempts":1,"metadata":{},"attempt_details":[],"guidance":[]}],
        "reward":{"score":0.9,"judges":[]},"reward_stats":{"score":0.9},"reward_audit":[],
        "review_status":"approved","review_actor":"test"})")
              .is_ok());
    }
    fs::copy_file(fs::path(ATLAS_TEST_SOURCE_DIR) / "configs" / "postgres.toml", root_ / "configs" / "postgres.toml");
    std::ofstream(root_ / "ATLAS" / "train.py") << "# stand-in\n";
    std::ofstream(root_ / "ATLAS" / "scripts" / "run_offline_pipeline.py") << "# stand-in\n";
    // The stand-in interpreter: records where it ran and its argv, and insists that the export
    // it was given is an absolute path to a file that exists.
    write_executable(root_ / "bin" / "python3",
                     "#!/bin/sh\n{ pwd; for a in \"$@\"; do echo \"$a\"; done; } > '" + (root_ / "argv.txt").string() +
                         "'\n"
                         "[ \"$1\" = scripts/run_offline_pipeline.py ] && [ -f \"$1\" ] || exit 3\n"
                         "[ \"$2\" = --export-path ] || exit 4\n"
                         "case \"$3\" in /*) ;; *) exit 5;; esac\n"
                         "[ -s \"$3\" ] || exit 6\n");
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string train(const std::string& args, const std::string& env = "") {
    return "env -u ATLAS_CORE_PATH PATH='" + (root_ / "bin").string() + ":/usr/bin:/bin' " + env + " '" +
           std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' train --database-url '" + db_ + "' --plugin-dir '" +
           ATLAS_TEST_PLUGIN_DIR + "' " + args;
  }

  fs::path root_;
  std::string db_;
};

TEST_F(TrainCli, ShippedPostgresExampleLaunchesAtlasCoreWithTheFlagsItsScriptTakes) {
  auto [code, out] = run(root_ / "elsewhere", train("--config ../configs/postgres.toml"));
  ASSERT_EQ(code, 0) << out;
  std::istringstream lines(read(root_ / "argv.txt"));
  std::vector<std::string> argv;
  for (std::string l; std::getline(lines, l);) argv.push_back(l);
  ASSERT_GE(argv.size(), 4u) << out;
  EXPECT_EQ(argv[0], (root_ / "ATLAS").string());  // run in the checkout
  EXPECT_EQ(argv[1], "scripts/run_offline_pipeline.py");
  EXPECT_EQ(argv[2], "--export-path");
  EXPECT_EQ(fs::path(argv[3]).parent_path(), root_ / "ATLAS" / "exports");
  std::vector<std::string> rest(argv.begin() + 4, argv.end());
  ASSERT_EQ(rest.size(), 10u) << out;
  EXPECT_EQ(std::vector<std::string>(rest.begin(), rest.begin() + 8),
            (std::vector<std::string>{"--config-name", "train", "--data-config", "runtime_traces", "--trainer-config",
                                      "grpo", "--eval-ratio", "0.1"}));
  EXPECT_EQ(rest[8], "--override");
  EXPECT_EQ(rest[9].rfind("trainer.learning_rate=", 0), 0u) << rest[9];
}

TEST_F(TrainCli, DryRunPrintsAShellQuotedCommandAndStartsNothing) {
  auto [code, out] =
      run(root_ / "elsewhere", train("--config ../configs/postgres.toml --dry-run 'trainer.note=two words'"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_FALSE(fs::exists(root_ / "argv.txt"));
  EXPECT_NE(out.find("python3 scripts/run_offline_pipeline.py --export-path " + (root_ / "ATLAS" / "exports").string()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("--override 'trainer.note=two words'"), std::string::npos) << out;
}

TEST_F(TrainCli, AnIncompleteAtlasCoreCheckoutIsRefusedWithExitTwo) {
  fs::create_directories(root_ / "not-core");
  auto [code, out] = run(root_ / "elsewhere", train("--config ../configs/postgres.toml",
                                                    "ATLAS_CORE_PATH='" + (root_ / "not-core").string() + "'"));
  EXPECT_EQ(code, 2) << out;
  EXPECT_NE(out.find("Atlas Core repository not found or incomplete at " + (root_ / "not-core").string()),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("ATLAS_CORE_PATH"), std::string::npos) << out;
  EXPECT_FALSE(fs::exists(root_ / "argv.txt"));
  // The flag wins over the environment.
  auto [ok, out2] = run(root_ / "elsewhere", train("--config ../configs/postgres.toml --atlas-core-path ../ATLAS",
                                                   "ATLAS_CORE_PATH='" + (root_ / "not-core").string() + "'"));
  EXPECT_EQ(ok, 0) << out2;
}

TEST_F(TrainCli, AGenericTrainerInItsOwnFolderGetsAnAbsoluteDatasetPath) {
  std::ofstream(root_ / "configs" / "generic.toml")
      << "[agent]\nadapter = \"openai\"\n[student.llm]\nmodel = \"m\"\n[teacher.llm]\nmodel = \"m\"\n"
      << "[rewards.small_model]\nmodel = \"m\"\n[storage]\ndatabase_url = \"" << db_
      << "\"\n[train]\ncwd = \"../trainer\"\n"
      << "command = [\"/bin/sh\", \"-c\", \"case \\\"$0\\\" in /*) ;; *) exit 5;; esac; test -s \\\"$0\\\" && pwd > "
         "seen\", "
         "\"{export_path}\"]\n";
  auto [code, out] = run(root_ / "elsewhere", train("--config ../configs/generic.toml --output exports/x.jsonl"));
  ASSERT_EQ(code, 0) << out;
  EXPECT_TRUE(fs::exists(root_ / "elsewhere" / "exports" / "x.jsonl"));
  EXPECT_EQ(read(root_ / "trainer" / "seen"), (root_ / "trainer").string() + "\n");
}

}  // namespace
}  // namespace atlas::data
