// The storage guarantees seen from the command line, with the real atlas-host binary, the
// command adapter (a real python3 agent) and real databases:
//  * a `run` during a PostgreSQL outage spools, says so and exits 3, while `db status` and
//    `review list` run over and over next to it without touching the spool; `db replay`
//    stores every session exactly once, and never into another database;
//  * a provider key and the database password put into every input channel appear in no byte
//    written (database, WAL, spool, exports, stdout, stderr);
//  * NUL and non-UTF-8 task text is stored normalised on both backends;
//  * read-only commands never create a database.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <fstream>
#include <set>

#include "common/json.hpp"
#include "common/text.hpp"
#include "integration/adapters/run_e2e_support.hpp"
#include "integration/storage/storage_fixture.hpp"

extern char** environ;

namespace atlas::test {
namespace {

using atlas::testing::run_atlas_host;
using atlas::testing::RunResult;
using atlas::testing::slurp;
using atlas::testing::write_file;

bool have_python() {
  return std::system("python3 -c 'pass' >/dev/null 2>&1") == 0;
}

std::string agent_config(const std::string& database_url, const std::filesystem::path& dir,
                         const std::string& extra = "") {
  return R"(
[agent]
adapter = "command"
[agent.config]
command = ["python3", ")" +
         std::string(ATLAS_TEST_SOURCE_DIR) + R"(/plugins/adapters/command/examples/echo_agent.py"]
timeout_seconds = 60
[orchestration]
forced_mode = "auto"
[rewards]
session_judges = [{ plugin = "verifiable" }]
step_judges = []
[routing]
probe = "history"
[learning]
enabled = false
[storage]
database_url = ")" +
         database_url +
         R"("
spool_path = ")" +
         (dir / "spool" / "spool.jsonl").string() +
         R"("
write_retry_seconds = 1
[review]
require_approval = false
)" + extra;
}

// `atlas-host <args>` started in the background (stdout and stderr to files in `dir`).
pid_t spawn_atlas_host(const std::filesystem::path& dir, const std::string& args, const std::string& name) {
  std::string cmd = "cd '" + dir.string() + "' && exec '" + std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' " + args +
                    " >'" + (dir / (name + ".out")).string() + "' 2>'" + (dir / (name + ".err")).string() + "'";
  const char* argv[] = {"/bin/sh", "-c", cmd.c_str(), nullptr};
  pid_t pid = -1;
  if (posix_spawn(&pid, "/bin/sh", nullptr, nullptr, const_cast<char* const*>(argv), environ) != 0) return -1;
  return pid;
}

// Exit code once `pid` has ended, or nullopt while it runs.
std::optional<int> exited(pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, WNOHANG) != pid) return std::nullopt;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

std::vector<std::filesystem::path> spool_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir / "spool", ec))
    if (e.path().extension() == ".jsonl") out.push_back(e.path());
  return out;
}

class PostgresOutageCli : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped()) return;
    if (!have_python()) GTEST_SKIP() << "python3 is not installed";
    state_ = (dir_ / "pg.env").string();
    auto url = pg_private_cluster(state_);
    ASSERT_TRUE(url.has_value()) << "cannot start a private PostgreSQL cluster";
    url_ = *url;
  }
  void TearDown() override {
    if (!state_.empty()) pg_run("stop", state_);
    BackendTest::TearDown();
  }
  std::string state_;
};

TEST_P(PostgresOutageCli, ARunDuringAnOutageExits3AndDbReplayStoresEverySessionExactlyOnce) {
  const int kTasks = 24;
  write_file(dir_ / "atlas.toml", agent_config(url_, dir_));
  {
    std::ofstream tasks(dir_ / "tasks.jsonl");
    for (int i = 0; i < kTasks; ++i) tasks << "{\"task\":\"outage task " << i << "\"}\n";
  }
  ASSERT_TRUE(pg_pause(state_)) << "pg_ctl stop failed";

  pid_t run = spawn_atlas_host(dir_, "run --config atlas.toml --tasks tasks.jsonl --concurrency 4 --json", "run");
  ASSERT_GT(run, 0);
  // Read-only commands over and over while the run spools.
  int status_runs = 0;
  std::optional<int> run_code;
  while (!(run_code = exited(run))) {
    auto status = run_atlas_host(dir_, "db status -c atlas.toml");
    EXPECT_EQ(status.exit_code, 1) << status.out << status.err;  // the database is down
    auto list = run_atlas_host(dir_, "review list -c atlas.toml");
    EXPECT_NE(list.exit_code, 0);
    ++status_runs;
  }
  EXPECT_GE(status_runs, 1);
  std::string run_err = slurp(dir_ / "run.err");
  ASSERT_EQ(*run_code, 3) << run_err;
  auto spools = spool_files(dir_);
  ASSERT_EQ(spools.size(), 1u);
  EXPECT_NE(run_err.find("wait in the spool " + spools[0].string()), std::string::npos) << run_err;
  auto reports = json::parse(slurp(dir_ / "run.out"));
  ASSERT_TRUE(reports.is_ok()) << slurp(dir_ / "run.out");
  ASSERT_EQ(reports->Size(), static_cast<size_t>(kTasks));
  for (const auto& r : reports->GetArray()) EXPECT_TRUE(json::get_bool(r, "stored"));

  // Still down: status reports the spool and changes nothing; so does a replay into another database.
  const std::string spooled = slurp(spools[0]);
  auto status = run_atlas_host(dir_, "db status -c atlas.toml");
  EXPECT_NE(status.out.find("record(s) waiting for replay"), std::string::npos) << status.out;
  const std::string other = "sqlite://" + (dir_ / "other.db").string();
  auto elsewhere = run_atlas_host(dir_, "db replay -c atlas.toml --database-url " + other);
  EXPECT_EQ(elsewhere.exit_code, 0) << elsewhere.out << elsewhere.err;
  EXPECT_NE(elsewhere.out.find("Replayed 0 record(s)"), std::string::npos) << elsewhere.out;
  auto replay_down = run_atlas_host(dir_, "db replay -c atlas.toml");
  EXPECT_EQ(replay_down.exit_code, 3) << replay_down.out << replay_down.err;

  ASSERT_TRUE(pg_resume(state_)) << "pg_ctl start failed";
  status = run_atlas_host(dir_, "db status -c atlas.toml");
  EXPECT_EQ(status.exit_code, 0) << status.out << status.err;
  auto list = run_atlas_host(dir_, "review list -c atlas.toml");
  EXPECT_EQ(slurp(spools[0]), spooled) << "a read-only command replayed or rewrote the spool";

  auto replay = run_atlas_host(dir_, "db replay -c atlas.toml");
  EXPECT_EQ(replay.exit_code, 0) << replay.out << replay.err;
  EXPECT_FALSE(std::filesystem::exists(spools[0]));
  auto again = run_atlas_host(dir_, "db replay -c atlas.toml");
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;

  auto h = handle();
  auto page = call(h, "query_sessions", R"({"limit":1000})");
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  std::set<std::string> tasks;
  for (const auto& s : (*page)["sessions"].GetArray()) {
    EXPECT_TRUE(tasks.insert(json::get_string(s, "task")).second) << "duplicate " << json::get_string(s, "task");
    EXPECT_EQ(json::get_string(s, "status"), "succeeded") << json::get_string(s, "task");
    auto full = call(h, "read_session", R"({"session_id":")" + json::get_string(s, "session_id") + "\"}");
    ASSERT_TRUE(full.is_ok());
    EXPECT_GT((*full)["trajectory_events"].Size(), 2u);
  }
  EXPECT_EQ(tasks.size(), static_cast<size_t>(kTasks));

  // Text PostgreSQL refuses (NUL, invalid UTF-8) is stored normalised, the session finished.
  write_file(dir_ / "bad.jsonl", std::string("{\"task\":\"nul \\u0000 and \xff bytes\"}\n"));
  auto bad = run_atlas_host(dir_, "run --config atlas.toml --tasks bad.jsonl --json");
  EXPECT_EQ(bad.exit_code, 0) << bad.out << bad.err;
  EXPECT_EQ(call(h, "count_sessions", R"({"status":["running"]})").value()["count"].GetInt(), 0);
  auto stored = call(h, "query_sessions", R"({"limit":1000})");
  bool found = false;
  for (const auto& s : (*stored)["sessions"].GetArray())
    found = found || json::get_string(s, "task") == "nul \xEF\xBF\xBD and \xEF\xBF\xBD bytes";
  EXPECT_TRUE(found);
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresOutageCli, ::testing::Values("postgresql"), backend_name);

std::vector<std::filesystem::path> all_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out.push_back(e.path());
  return out;
}

TEST(StorageCli, SecretsInEveryInputChannelAppearInNoByteWritten) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  auto dir = fresh_temp_dir("atlas-secret-grep");
  const std::string key = "sk-leaktest-9f8e7d6c5b4a3210ZZ";
  const std::string password = "dbpass-leaktest-4242";
  ::setenv("ATLAS_LEAK_TEST_KEY", key.c_str(), 1);
  write_file(
      dir / "atlas.toml",
      agent_config(
          "sqlite://" + (dir / "atlas.db").string(), dir,
          "[teacher.llm]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\napi_key_env = \"ATLAS_LEAK_TEST_KEY\"\n"
          "[plugins.soci]\nbusy_timeout_seconds = 5\n"));
  write_file(dir / "tasks.jsonl", "{\"task\":\"first " + key + "\",\"metadata\":{\"secret\":\"" + key + "\"}}\n");
  std::string out, err;
  auto record = [&](const RunResult& r) {
    out += r.out;
    err += r.err;
  };
  auto r = run_atlas_host(dir, "run --config atlas.toml --tasks tasks.jsonl --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  record(r);
  r = run_atlas_host(dir, "run --config atlas.toml --task 'second " + key + "'");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  record(r);
  auto id = json::get_string(json::parse(out.substr(0, out.find('\n'))).value(), "session_id");
  ASSERT_FALSE(id.empty()) << out;
  record(run_atlas_host(
      dir, "review quarantine -c atlas.toml " + id + " --reason 'why " + key + "' --note 'n " + key + "'"));
  record(run_atlas_host(dir, "review approve -c atlas.toml " + id + " --reason 'ok " + key + "'"));
  record(run_atlas_host(dir, "review note -c atlas.toml " + id + " 'note " + key + "'"));
  record(run_atlas_host(dir, "review show -c atlas.toml " + id));
  record(run_atlas_host(dir, "review list -c atlas.toml"));
  for (const char* f :
       {"atlas-jsonl", "trl-sft", "trl-grpo", "trl-dpo", "openai-ft", "trl-sft-corrections", "trl-kto", "trl-prm"}) {
    record(run_atlas_host(dir, std::string("export -c atlas.toml --include-all-statuses --format ") + f +
                                   " --output export-" + f + ".jsonl"));
  }
  EXPECT_TRUE(std::filesystem::exists(dir / "export-atlas-jsonl.jsonl")) << err;
  // The database password, in a URL: never printed by config show/check.
  write_file(dir / "pg.toml", agent_config("postgresql://atlas:" + password + "@127.0.0.1:1/atlas", dir));
  record(run_atlas_host(dir, "config show -c pg.toml"));
  record(run_atlas_host(dir, "config show -c pg.toml --json"));
  record(run_atlas_host(dir, "config check pg.toml"));
  EXPECT_NE(out.find("postgresql://atlas:****@127.0.0.1:1/atlas"), std::string::npos) << out;

  EXPECT_NE(out.find("[REDACTED:ATLAS_LEAK_TEST_KEY]"), std::string::npos) << out;
  EXPECT_EQ(out.find(key), std::string::npos) << out;
  EXPECT_EQ(err.find(key), std::string::npos) << err;
  EXPECT_EQ(out.find(password), std::string::npos);
  EXPECT_EQ(err.find(password), std::string::npos);
  size_t files = 0;
  for (const auto& f : all_files(dir)) {
    if (f.filename() == "tasks.jsonl" || f.extension() == ".toml") continue;  // the inputs themselves
    std::string bytes = slurp(f);
    EXPECT_EQ(bytes.find(key), std::string::npos) << f;
    EXPECT_EQ(bytes.find(password), std::string::npos) << f;
    ++files;
  }
  // database, stderr and every export that matched a session (a format with no matching
  // session writes no file: e.g. DPO needs pairs); the atlas-jsonl export is checked above
  EXPECT_GE(files, 4u);
  ::unsetenv("ATLAS_LEAK_TEST_KEY");
  std::filesystem::remove_all(dir);
}

TEST(StorageCli, SqliteStoresNormalisedTextAndExportsOnlyUtf8) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  auto dir = fresh_temp_dir("atlas-text");
  write_file(dir / "atlas.toml", agent_config("sqlite://" + (dir / "atlas.db").string(), dir));
  write_file(dir / "bad.jsonl", std::string("{\"task\":\"nul \\u0000 and \xff bytes\"}\n"));
  auto r = run_atlas_host(dir, "run --config atlas.toml --tasks bad.jsonl --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = run_atlas_host(dir, "export -c atlas.toml --include-all-statuses --format atlas-jsonl --output out.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::ifstream in(dir / "out.jsonl");
  std::string line;
  size_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    text::Repairs repairs;
    EXPECT_EQ(text::normalise_json(line, &repairs), line);
    EXPECT_FALSE(repairs.any()) << "an exported line is not valid UTF-8 or holds NUL";
    EXPECT_NE(line.find("nul \xEF\xBF\xBD and \xEF\xBF\xBD bytes"), std::string::npos);
    EXPECT_NE(line.find("text_normalised"), std::string::npos);
  }
  EXPECT_EQ(lines, 1u);
  std::filesystem::remove_all(dir);
}

// `export` checks every row before writing it: a row the schema refuses exits 1 with the row,
// session and field in the message, and leaves no file (nor anything on stdout) behind.
TEST(StorageCli, ExportRefusesARowMissingARequiredFieldAndWritesNothing) {
  if (!have_python()) GTEST_SKIP() << "python3 is not installed";
  auto dir = fresh_temp_dir("atlas-export-schema");
  write_file(dir / "atlas.toml", agent_config("sqlite://" + (dir / "atlas.db").string(), dir));
  write_file(dir / "tasks.jsonl", "{\"task\":\"say hello\"}\n");
  auto r = run_atlas_host(dir, "run --config atlas.toml --tasks tasks.jsonl --json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  write_file(dir / "trainer.json", R"({"type":"object","required":["label"]})");
  const std::string base = "export -c atlas.toml --include-all-statuses --include-failed --format trl-sft ";
  r = run_atlas_host(dir, base + "--schema trainer.json --output out.jsonl");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("row 1 of the trl-sft export"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("does not match the schema trainer.json"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("label"), std::string::npos) << r.err;
  for (const char* leftover : {"out.jsonl", "out.jsonl.partial", "out.jsonl.lineage.jsonl"})
    EXPECT_FALSE(std::filesystem::exists(dir / leftover)) << leftover;
  r = run_atlas_host(dir, base + "--schema trainer.json --output -");
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.out, "") << "a refused row must leave nothing on stdout";
  r = run_atlas_host(dir, base + "--schema missing.json --output out.jsonl");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot read the schema file missing.json"), std::string::npos) << r.err;
  // The format's own schema accepts what the exporter writes; lineage lands in the sidecar.
  r = run_atlas_host(dir, base + "--output out.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(std::filesystem::exists(dir / "out.jsonl.lineage.jsonl"));
  // Options that do not fit the format are refused with the reason (exit 2).
  for (const auto& [args, says] :
       std::vector<std::pair<std::string, std::string>>{{"--drop-zero-variance", "use it with --format trl-grpo"},
                                                        {"--label-threshold 0.7", "trl-kto and trl-prm"},
                                                        {"--guidance sometimes", "use context"}}) {
    r = run_atlas_host(dir, base + args + " --output opt.jsonl");
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(says), std::string::npos) << args << ": " << r.err;
  }
  r = run_atlas_host(dir,
                     "export -c atlas.toml --include-all-statuses --include-failed --format trl-kto "
                     "--label-threshold 1.5 --output opt.jsonl");
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("between 0 and 1"), std::string::npos) << r.err;
  r = run_atlas_host(dir, "export --format trl-grpo --print-schema");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("atlas_completions"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(StorageCli, ReadOnlyCommandsNeverCreateADatabase) {
  auto dir = fresh_temp_dir("atlas-readonly");
  const std::string url = "sqlite://" + (dir / "sub" / "missing.db").string();
  for (const std::string cmd :
       {"db status", "review list", "review show 1", "export --format trl-sft --output x.jsonl", "report"}) {
    auto r = run_atlas_host(dir, cmd + " --database-url " + url);
    EXPECT_EQ(r.exit_code, 1) << cmd << ": " << r.out << r.err;
    EXPECT_NE(r.err.find("does not exist"), std::string::npos) << cmd << ": " << r.err;
    EXPECT_FALSE(std::filesystem::exists(dir / "sub" / "missing.db")) << cmd;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "sub")) << "not even its folder";
  EXPECT_FALSE(std::filesystem::exists(dir / ".atlas")) << "nor a spool folder";
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace atlas::test
