// Ctrl-C and SIGTERM on a real `atlas-host run` child process with SQLite storage, against
// mock-llm answering the student only after a minute: the signal arrives once the first
// sessions are under way (the mock has their model requests: a condition, not a sleep). The
// run must exit 130 / 143 promptly (model calls in flight are aborted), store the sessions
// that had started as `interrupted` and store nothing for the tasks that had not.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/clock.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::runtime {
namespace {

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("atlas-int-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string config_for(const testing::MockLlm& mock, const fs::path& db) {
  std::string t = "[agent]\nadapter = \"openai\"\nname = \"reviewer\"\n\n[orchestration]\nforced_mode = \"paired\"\n\n";
  for (const char* section : {"student.llm", "teacher.llm", "rewards.small_model", "learning.llm"}) {
    t += std::string("[") + section + "]\nprovider = \"openai\"\nmodel = \"mock-model\"\n"
         "api_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\napi_base = \"" + mock.openai_base() + "\"\ntimeout_seconds = 120\n\n";
  }
  t += "[review]\nrequire_approval = false\n\n";
  t += "[storage]\ndatabase_url = \"sqlite://" + db.string() + "\"\n\n";
  t += "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n";
  return t;
}

// Session status -> count, straight from the database file.
std::map<std::string, int> stored_statuses(const fs::path& db_path) {
  std::map<std::string, int> out;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT status, COUNT(*) FROM sessions GROUP BY status", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW)
      out[reinterpret_cast<const char*>(sqlite3_column_text(st, 0))] = sqlite3_column_int(st, 1);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

struct Outcome {
  int exit_code = -1;
  double seconds_after_signal = 0;
  std::string stderr_text;
};

// Starts `atlas-host run` on `tasks` tasks with `concurrency`, waits until `concurrency`
// student requests reached the mock (so that many sessions are under way), sends `signo`.
Outcome interrupt_run(testing::MockLlm& mock, const fs::path& dir, int tasks, int concurrency, int signo) {
  {
    std::ofstream f(dir / "tasks.jsonl");
    for (int i = 0; i < tasks; ++i) f << "\"task number " << i << "\"\n";
  }
  std::ofstream(dir / "atlas.toml") << config_for(mock, dir / "atlas.db");
  int err[2];
  EXPECT_EQ(::pipe(err), 0);
  const std::string host = std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host";
  const std::string cfg = (dir / "atlas.toml").string(), tasks_file = (dir / "tasks.jsonl").string();
  const std::string conc = std::to_string(concurrency);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(err[1], 2);
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::close(err[0]);
    ::execl(host.c_str(), host.c_str(), "run", "--config", cfg.c_str(), "--tasks", tasks_file.c_str(), "--concurrency",
            conc.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(err[1]);
  Outcome out;
  EXPECT_TRUE(mock.server().wait_for_requests(static_cast<size_t>(concurrency), 120.0))
      << "the sessions never reached the model";
  double sent = clock::monotonic_seconds();
  ::kill(pid, signo);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.seconds_after_signal = clock::monotonic_seconds() - sent;
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  char buf[4096];
  ssize_t n;
  while ((n = ::read(err[0], buf, sizeof buf)) > 0) out.stderr_text.append(buf, static_cast<size_t>(n));
  ::close(err[0]);
  return out;
}

// The student's model call is held for a minute: nothing finishes on its own.
constexpr const char* kSlowStudent =
    R"({"default":"echo","rules":[{"match":{"system_contains":"You are the student agent"},"response":{"text":"late","latency_ms":60000}}]})";

class RunInterrupt : public ::testing::TestWithParam<int> {};

TEST_P(RunInterrupt, StoresOnlyStartedSessionsAsInterruptedAndExitsPromptly) {
  const int signo = GetParam();
  testing::MockLlm mock(kSlowStudent);
  ASSERT_TRUE(mock.ok());
  fs::path dir = temp_dir(signo == SIGINT ? "sigint" : "sigterm");
  Outcome out = interrupt_run(mock, dir, 20, 2, signo);
  EXPECT_EQ(out.exit_code, 128 + signo) << out.stderr_text;
  std::printf("[ figure ] atlas-host run exited %.2f s after %s (2 sessions in flight, 18 tasks queued)\n",
              out.seconds_after_signal, signo == SIGINT ? "SIGINT" : "SIGTERM");
  // Generous for ASan on a loaded machine; without cancellation the run waits a minute.
  EXPECT_LT(out.seconds_after_signal, 20.0) << out.stderr_text;
  auto statuses = stored_statuses(dir / "atlas.db");
  EXPECT_EQ(statuses["interrupted"], 2) << out.stderr_text;
  EXPECT_EQ(statuses.size(), 1u) << "only the two started sessions may be stored, as interrupted\n" << out.stderr_text;
  EXPECT_NE(out.stderr_text.find("2 session(s) stored as interrupted, 18 task(s) not started"), std::string::npos)
      << out.stderr_text;
  // Nothing interrupted is exported, even with every review status and --include-failed.
  const std::string host = std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host";
  std::string cmd = "'" + host + "' export --database-url 'sqlite://" + (dir / "atlas.db").string() +
                    "' --format atlas-jsonl --output '" + (dir / "out.jsonl").string() +
                    "' --include-all-statuses --include-failed >/dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1) << "an export of interrupted sessions only must find nothing";
  EXPECT_FALSE(fs::exists(dir / "out.jsonl"));
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Signals, RunInterrupt, ::testing::Values(SIGINT, SIGTERM),
                         [](const auto& info) { return std::string(info.param == SIGINT ? "Sigint" : "Sigterm"); });

}  // namespace
}  // namespace atlas::runtime
