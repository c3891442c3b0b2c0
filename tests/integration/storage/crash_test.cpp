// Crash and outage tests with a real writer process (storage_writer):
//  * SIGKILL in the middle of a batch run: no half-written session, the ones left running
//    are marked interrupted by the next start, and export never includes them;
//  * PostgreSQL stopped mid-batch and started again: every session arrives exactly once
//    (spool + idempotent replay).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "data/export.hpp"
#include "integration/storage/storage_fixture.hpp"

namespace atlas::test {
namespace {

// A child process whose stdout we read line by line.
class Writer {
 public:
  Writer(const std::string& url, const std::string& spool, int sessions, int events) {
    int fds[2];
    if (::pipe(fds) != 0) throw std::runtime_error("pipe");
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(fds[1], 1);
      ::close(fds[0]);
      ::close(fds[1]);
      std::string bin = std::string(ATLAS_TEST_BIN_DIR) + "/storage_writer";
      std::string s = std::to_string(sessions), e = std::to_string(events);
      ::execl(bin.c_str(), bin.c_str(), url.c_str(), spool.c_str(), s.c_str(), e.c_str(), nullptr);
      ::_exit(127);
    }
    ::close(fds[1]);
    out_ = ::fdopen(fds[0], "r");
  }
  ~Writer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (out_) std::fclose(out_);
  }
  // Reads lines until `count` "finished" lines were seen in total; false at EOF.
  bool wait_finished(int count) {
    char buf[256];
    while (finished_ < count) {
      if (!std::fgets(buf, sizeof(buf), out_)) return false;
      if (std::string(buf).rfind("finished ", 0) == 0) ++finished_;
    }
    return true;
  }
  void kill9() {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int wait_exit() {
    char buf[256];
    while (std::fgets(buf, sizeof(buf), out_)) {
    }
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  }
  int finished() const { return finished_; }

 private:
  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  int finished_ = 0;
};

class CrashTest : public BackendTest {};

TEST_P(CrashTest, SigkillMidBatchLeavesNoHalfWrittenSessionAndInterruptedOnesAreNeverExported) {
  const int kEvents = 40;
  {
    Writer w(url_, (dir_ / "writer-spool.jsonl").string(), 0, kEvents);
    ASSERT_TRUE(w.wait_finished(6)) << "writer stopped early";
    w.kill9();  // somewhere inside the next session's begin/events/finish
  }
  auto h = handle();
  auto page = call(h, "query_sessions", R"({"limit":1000})");
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  int succeeded = 0, running = 0;
  for (const auto& s : (*page)["sessions"].GetArray()) {
    std::string status = json::get_string(s, "status");
    auto full = call(h, "read_session", R"({"session_id":")" + json::get_string(s, "session_id") + "\"}");
    ASSERT_TRUE(full.is_ok());
    if (status == "succeeded") {
      ++succeeded;
      // finished sessions are complete: every step and every event
      EXPECT_EQ((*full)["steps"].Size(), 2u);
      EXPECT_EQ((*full)["trajectory_events"].Size(), static_cast<size_t>(kEvents));
      EXPECT_EQ((*full)["plan"]["steps"].Size(), 2u);
    } else {
      EXPECT_EQ(status, "running");
      EXPECT_EQ((*full)["steps"].Size(), 0u);  // final rows are all-or-nothing
      ++running;
    }
  }
  EXPECT_GE(succeeded, 6);
  EXPECT_LE(running, 1);

  // The next start marks the dead writer's running session interrupted.
  auto store = data::Store::open(handle(), store_options());
  ASSERT_TRUE(store.is_ok());
  auto st = call(h, "status", "{}");
  EXPECT_EQ(json::get_int((*st)["sessions"], "running"), 0);
  EXPECT_EQ(json::get_int((*st)["sessions"], "interrupted"), running);

  data::ExportOptions o;
  o.output = dir_ / "all.jsonl";
  o.filters.review_statuses = std::nullopt;  // every review status
  auto r = data::export_sessions(**store, o);
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ(r->sessions, static_cast<uint64_t>(succeeded));
}

INSTANTIATE_TEST_SUITE_P(Backends, CrashTest, ::testing::Values("sqlite", "postgresql"), backend_name);

// Stops the server, so it runs on a private cluster: other tests keep theirs.
class PostgresOutage : public BackendTest {
 protected:
  void SetUp() override {
    BackendTest::SetUp();
    if (IsSkipped()) return;
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

TEST_P(PostgresOutage, EverySessionArrivesExactlyOnceAfterARestartMidBatch) {
  const int kSessions = 30, kEvents = 20;
  Writer w(url_, (dir_ / "writer-spool.jsonl").string(), kSessions, kEvents);
  ASSERT_TRUE(w.wait_finished(5));
  ASSERT_TRUE(pg_pause(state_)) << "pg_ctl stop failed";
  bool progressed = w.wait_finished(12);  // the writer keeps going: its writes are spooled
  bool resumed = pg_resume(state_);
  ASSERT_TRUE(progressed) << "writer stopped while the database was down";
  ASSERT_TRUE(resumed) << "pg_ctl start failed";
  ASSERT_EQ(w.wait_exit(), 0) << "writer failed (spool not replayed?)";

  auto h = handle();
  auto page = call(h, "query_sessions", R"({"limit":1000})");
  ASSERT_TRUE(page.is_ok()) << page.status().to_string();
  std::set<std::string> tasks;
  for (const auto& s : (*page)["sessions"].GetArray()) {
    EXPECT_TRUE(tasks.insert(json::get_string(s, "task")).second) << "duplicate " << json::get_string(s, "task");
    EXPECT_EQ(json::get_string(s, "status"), "succeeded");
    auto full = call(h, "read_session", R"({"session_id":")" + json::get_string(s, "session_id") + "\"}");
    ASSERT_TRUE(full.is_ok());
    EXPECT_EQ((*full)["trajectory_events"].Size(), static_cast<size_t>(kEvents)) << json::get_string(s, "task");
    EXPECT_EQ((*full)["steps"].Size(), 2u);
  }
  EXPECT_EQ(tasks.size(), static_cast<size_t>(kSessions));
}

INSTANTIATE_TEST_SUITE_P(Backends, PostgresOutage, ::testing::Values("postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
