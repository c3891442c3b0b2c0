// SQLite group commit (plugins/storage/soci/sqlite_group_commit.hpp): write ops that queue while
// one batch runs share the next commit, each in a savepoint of its own. The batches are made
// deterministic by holding SQLite's write lock from another connection, as another program
// sharing the database would: the first op becomes the leader and waits for the lock, every
// later one queues behind it, and the `status` op shows them queued before the lock is let go.
#include <gtest/gtest.h>
#include <sched.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <set>
#include <thread>
#include <vector>

#include "common/scheduling_class.hpp"
#include "integration/storage/storage_fixture.hpp"

namespace atlas::test {
namespace {

using json::get_int;
using json::get_string;

class GroupCommit : public BackendTest {
 protected:
  struct Counts {
    int64_t ops = 0, commits = 0, running = 0, queued = 0;
  };
  Counts counts(plugin::StorageHandle& h) {
    auto st = call(h, "status", "{}");
    EXPECT_TRUE(st.is_ok()) << st.status().to_string();
    Counts n;
    if (!st.is_ok() || !(*st).HasMember("group_commit")) return n;
    const auto& g = (*st)["group_commit"];
    n.ops = get_int(g, "ops");
    n.commits = get_int(g, "commits");
    n.running = get_int(g, "running");
    n.queued = get_int(g, "queued");
    return n;
  }

  // Another connection's write transaction on the test database, until release().
  struct WriteLock {
    sqlite3* db = nullptr;
    explicit WriteLock(const std::string& path) {
      EXPECT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
      EXPECT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
    }
    void release() {
      if (!db) return;
      EXPECT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
      sqlite3_close(db);
      db = nullptr;
    }
    ~WriteLock() { release(); }
  };

  // Runs each op on its own thread while the write lock is held: the first becomes the leader
  // (a batch of its own), the others queue; then the lock is let go and every answer collected.
  std::vector<Result<json::Document>> run_behind_the_lock(plugin::StorageHandle& h,
                                                          const std::vector<std::pair<std::string, std::string>>& ops,
                                                          std::function<void()> while_held = {}) {
    WriteLock lock((dir_ / "atlas.db").string());
    std::vector<Result<json::Document>> answers = not_run(ops.size());
    std::vector<std::thread> threads;
    auto start = [&](size_t i) { threads.emplace_back([&, i] { answers[i] = call(h, ops[i].first, ops[i].second); }); };
    start(0);
    wait_for(
        h, [](const Counts& n) { return n.running == 1; }, "the first op leading a batch");
    for (size_t i = 1; i < ops.size(); ++i) start(i);
    const auto behind = static_cast<int64_t>(ops.size()) - 1;
    wait_for(
        h, [&](const Counts& n) { return n.queued == behind; }, "the others queued");
    if (while_held) while_held();
    lock.release();
    for (auto& t : threads) t.join();
    return answers;
  }

  static std::vector<Result<json::Document>> not_run(size_t n) {
    std::vector<Result<json::Document>> answers;
    for (size_t i = 0; i < n; ++i) answers.emplace_back(Status(StatusCode::kUnknown, "not run"));
    return answers;
  }

  void wait_for(plugin::StorageHandle& h, const std::function<bool(const Counts&)>& seen, const char* what) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!seen(counts(h))) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "never saw " << what;
      std::this_thread::yield();
    }
  }

  std::string begin(plugin::StorageHandle& h, const std::string& task) {
    auto r = call(h, "begin_session", R"({"task":")" + task + R"("})");
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? get_string(*r, "session_id") : "";
  }
  std::string count(const std::string& sql) { return raw_sql(sql).value_or("?"); }
};

TEST_P(GroupCommit, OpsQueuedBehindABatchShareOneCommitAndEachGetsItsOwnAnswer) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "SQLite's single writer";
  auto h = handle();
  const std::string s0 = begin(h, "first");
  const Counts before = counts(h);
  const std::string events = R"({"session_id":")" + s0 + R"(","events":[{"event":{"type":"step","n":1}}]})";
  auto answers = run_behind_the_lock(h, {{"begin_session", R"({"task":"leader"})"},
                                         {"begin_session", R"({"task":"second"})"},
                                         {"append_events", events},
                                         {"begin_session", R"({"task":"third"})"},
                                         {"append_events", events}});
  for (auto& a : answers) ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  const Counts after = counts(h);
  EXPECT_EQ(after.ops - before.ops, 5);
  EXPECT_EQ(after.commits - before.commits, 2) << "the leader's commit, then one for the four queued behind it";
  std::set<std::string> ids = {s0};
  for (size_t i : {0u, 1u, 3u}) ids.insert(get_string(*answers[i], "session_id"));
  EXPECT_EQ(ids.size(), 4u) << "every begin got its own session";
  EXPECT_EQ(get_int(*answers[2], "appended") + get_int(*answers[4], "appended"), 2);
  EXPECT_EQ(count("SELECT group_concat(task, ',') FROM (SELECT task FROM sessions ORDER BY task);"),
            "first,leader,second,third");
  EXPECT_EQ(count("SELECT COUNT(*) FROM trajectory_events WHERE session_id = " + s0 + ";"), "2");
}

TEST_P(GroupCommit, AnOpThatFailsInASharedCommitUndoesOnlyItsOwnWrites) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "SQLite's single writer";
  auto h = handle();
  const std::string s0 = begin(h, "kept running");
  const Counts before = counts(h);
  // The plan row is written before the steps are read; the step without a step_id then fails
  // the finish, which must take its plan row with it.
  const std::string bad_finish = R"({"session_id":")" + s0 +
                                 R"(","status":"succeeded","final_answer":"x","plan":{"steps":[]},
                                   "steps":[{"trace":"no step_id"}]})";
  const std::string events = R"({"session_id":")" + s0 + R"(","events":[{"event":{"type":"step"}}]})";
  auto answers = run_behind_the_lock(h, {{"begin_session", R"({"task":"leader"})"},
                                         {"append_events", events},
                                         {"finish_session", bad_finish},
                                         {"begin_session", R"({"task":"after the failure"})"}});
  ASSERT_TRUE(answers[0].is_ok()) << answers[0].status().to_string();
  ASSERT_TRUE(answers[1].is_ok()) << answers[1].status().to_string();
  ASSERT_FALSE(answers[2].is_ok());
  EXPECT_EQ(answers[2].status().code(), StatusCode::kInvalidArgument) << answers[2].status().to_string();
  EXPECT_NE(answers[2].status().message().find("step_id"), std::string::npos) << answers[2].status().to_string();
  ASSERT_TRUE(answers[3].is_ok()) << answers[3].status().to_string();
  EXPECT_EQ(counts(h).commits - before.commits, 2) << "the failed finish shared the second commit";
  EXPECT_EQ(count("SELECT COUNT(*) FROM plans WHERE session_id = " + s0 + ";"), "0");
  EXPECT_EQ(count("SELECT status FROM sessions WHERE id = " + s0 + ";"), "running");
  EXPECT_EQ(count("SELECT COUNT(*) FROM trajectory_events WHERE session_id = " + s0 + ";"), "1");
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE task = 'after the failure';"), "1");
}

TEST_P(GroupCommit, ABatchThatCannotTakeTheWriteLockFailsEveryOpAndStoresNothing) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "SQLite's single writer";
  auto h_or = open_soci(config(R"(,"busy_timeout_seconds":0.2)"));
  ASSERT_TRUE(h_or.is_ok()) << h_or.status().to_string();
  auto& h = *h_or;
  begin(h, "schema and one session");
  std::vector<Result<json::Document>> answers;
  {
    WriteLock lock((dir_ / "atlas.db").string());
    std::vector<std::thread> threads;
    answers = not_run(3);
    for (size_t i = 0; i < answers.size(); ++i)
      threads.emplace_back(
          [&, i] { answers[i] = call(h, "begin_session", R"({"task":"refused )" + std::to_string(i) + R"("})"); });
    for (auto& t : threads) t.join();  // each batch gives up after the busy timeout
  }
  for (auto& a : answers) {
    ASSERT_FALSE(a.is_ok());
    EXPECT_EQ(a.status().code(), StatusCode::kUnavailable) << a.status().to_string();
    EXPECT_NE(a.status().message().find("begin_session"), std::string::npos) << a.status().to_string();
    EXPECT_NE(a.status().message().find("locked"), std::string::npos) << a.status().to_string();
  }
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions;"), "1");
  EXPECT_FALSE(begin(h, "once the lock is free").empty());
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions;"), "2");
}

// Background-class callers (the gateway's storage workers) wait for company; a normal-class op
// is never held back: it ends the wait and shares the commit.
TEST_P(GroupCommit, BackgroundWritesWaitForCompanyAndANormalOneEndsTheWait) {
  if (GetParam() != "sqlite") GTEST_SKIP() << "SQLite's single writer";
  if (SchedulingClass::of_this_thread().background()) GTEST_SKIP() << "the test itself runs in a background class";
  auto h_or = open_soci(config(R"(,"group_commit_wait_ms":20000)"));
  ASSERT_TRUE(h_or.is_ok()) << h_or.status().to_string();
  auto& h = *h_or;
  begin(h, "schema");  // a normal-class op: no wait
  const Counts before = counts(h);
  std::vector<Result<json::Document>> answers = not_run(2);
  std::vector<std::thread> background;
  for (size_t i = 0; i < answers.size(); ++i) {
    background.emplace_back([&, i] {
      sched_param none{};
      ASSERT_EQ(sched_setscheduler(0, SCHED_IDLE, &none), 0);
      answers[i] = call(h, "begin_session", R"({"task":"background )" + std::to_string(i) + R"("})");
    });
    const auto waiting = static_cast<int64_t>(i) + 1;
    wait_for(
        h, [&](const Counts& n) { return n.queued == waiting && n.running == 0; },
        "the background ops waiting, none running");
  }
  auto normal = std::async(std::launch::async, [&] { return call(h, "begin_session", R"({"task":"normal"})"); });
  ASSERT_EQ(normal.wait_for(std::chrono::seconds(15)), std::future_status::ready)
      << "the normal-class op waited out the background leader's window";
  auto normal_answer = normal.get();
  for (auto& t : background) t.join();
  ASSERT_TRUE(normal_answer.is_ok()) << normal_answer.status().to_string();
  for (auto& a : answers) ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  const Counts after = counts(h);
  EXPECT_EQ(after.ops - before.ops, 3);
  EXPECT_EQ(after.commits - before.commits, 1) << "both background ops and the normal one shared a commit";
}

TEST_P(GroupCommit, ManyWritersLoseNothingAndPostgresqlWritesWithoutIt) {
  // Both backends: with_write_tx is the write path of begin/append/finish on each.
  auto h = handle();
  constexpr int kThreads = 6, kSessions = 15;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kSessions; ++i) {
        auto b = call(h, "begin_session", R"({"task":"t)" + std::to_string(t) + "-" + std::to_string(i) + R"("})");
        if (!b.is_ok()) {
          ++failures;
          continue;
        }
        const std::string id = get_string(*b, "session_id");
        auto e = call(h, "append_events",
                      R"({"session_id":")" + id + R"(","events":[{"event":{"a":1}},{"event":{"a":2}}]})");
        auto f =
            call(h, "finish_session", R"({"session_id":")" + id + R"(","status":"succeeded","final_answer":"ok"})");
        if (!e.is_ok() || !f.is_ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(count("SELECT COUNT(*) FROM sessions WHERE status = 'succeeded';"), std::to_string(kThreads * kSessions));
  EXPECT_EQ(count("SELECT COUNT(*) FROM trajectory_events;"), std::to_string(2 * kThreads * kSessions));
  if (GetParam() == "sqlite") {
    const Counts n = counts(h);
    EXPECT_EQ(n.ops, 3 * kThreads * kSessions);
    EXPECT_LE(n.commits, n.ops);
    EXPECT_EQ(n.queued, 0);
  } else {
    auto st = call(h, "status", "{}");
    ASSERT_TRUE(st.is_ok());
    EXPECT_FALSE((*st).HasMember("group_commit")) << "PostgreSQL has many writers; no group commit";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, GroupCommit, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
