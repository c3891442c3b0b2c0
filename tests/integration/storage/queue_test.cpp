// The work queue's storage operations (plugins/storage/soci/ops_queue.cpp) on SQLite and
// PostgreSQL: idempotent enqueue, claim order and exclusivity under concurrent claimers,
// heartbeats, failures to dead letter, retry, cancel, reclaim of expired leases, and the
// finish_session step that stores a task's session and marks it done in one transaction,
// including the lost-lease case where an old worker finishes late.
#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <set>
#include <thread>

#include "storage_fixture.hpp"

namespace atlas::test {
namespace {

class QueueSuite : public BackendTest {
 protected:
  json::Document ok(plugin::StorageHandle& h, std::string_view op, const std::string& req) {
    auto r = call(h, op, req);
    EXPECT_TRUE(r.is_ok()) << op << ": " << r.status().to_string();
    if (!r.is_ok()) return json::Document(rapidjson::kObjectType);
    return std::move(*r);
  }
  void enqueue(plugin::StorageHandle& h, const std::string& id, int priority = 0, int max_attempts = 3) {
    ok(h, "queue_enqueue",
       R"({"tasks":[{"task_id":")" + id + R"(","priority":)" + std::to_string(priority) + R"(,"max_attempts":)" +
           std::to_string(max_attempts) + R"(,"payload":{"task":"do )" + id + R"("}}]})");
  }
  // Claims one task; returns {task_id, lease_token} ("" when none).
  std::pair<std::string, std::string> claim(plugin::StorageHandle& h, int lease_seconds = 60) {
    auto r =
        ok(h, "queue_claim", R"({"worker":"test:1","limit":1,"lease_seconds":)" + std::to_string(lease_seconds) + "}");
    const json::Value* tasks = json::find(r, "tasks");
    if (!tasks || tasks->Empty()) return {"", ""};
    return {json::get_string((*tasks)[0], "task_id"), json::get_string(r, "lease_token")};
  }
  json::Document task(plugin::StorageHandle& h, const std::string& id) {
    return ok(h, "queue_task", R"({"task_id":")" + id + R"("})");
  }
  int64_t count(plugin::StorageHandle& h, const char* state) {
    auto r = ok(h, "queue_status", "{}");
    return (*json::find(r, "counts"))[state].GetInt64();
  }
  // A session run for the claimed task: begin, then finish with `status`.
  json::Document run_session(plugin::StorageHandle& h, const std::pair<std::string, std::string>& lease,
                             const std::string& status, const std::string& error = "") {
    std::string q =
        R"({"task_id":")" + lease.first + R"(","lease_token":")" + lease.second + R"(","retry_delay_ms":0})";
    auto begun = ok(h, "begin_session", R"({"task":"do it","metadata":{"atlas_queue":)" + q + "}}");
    std::string sid = json::get_string(begun, "session_id");
    std::string meta = R"({"atlas_queue":)" + q + (error.empty() ? "" : R"(,"error":")" + error + "\"") + "}";
    auto fin = ok(h, "finish_session",
                  R"({"session_id":")" + sid + R"(","status":")" + status +
                      R"(","final_answer":"x","review_status":"approved","metadata":)" + meta + "}");
    json::set(fin, "sid", sid, fin.GetAllocator());
    return fin;
  }
  // Waits (bounded) until the lease of the claimed task expires and reclaim returns it.
  void expire(plugin::StorageHandle& h) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = ok(h, "queue_reclaim", "{}");
      if ((*json::find(r, "reclaimed")).GetInt64() + (*json::find(r, "dead")).GetInt64() > 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling a condition, bounded by the deadline
    }
    ADD_FAILURE() << "the lease never expired";
  }
};

TEST_P(QueueSuite, EnqueueIsIdempotentByTaskId) {
  auto h = handle();
  auto first = ok(h, "queue_enqueue",
                  R"({"tasks":[{"task_id":"a","payload":{"task":"A"}},{"task_id":"b","payload":{"task":"B"}}]})");
  EXPECT_EQ(json::find(first, "inserted")->GetInt64(), 2);
  auto again = ok(h, "queue_enqueue",
                  R"({"tasks":[{"task_id":"a","payload":{"task":"A"}},{"task_id":"c","payload":{"task":"C"}}]})");
  EXPECT_EQ(json::find(again, "inserted")->GetInt64(), 1);
  EXPECT_EQ(json::find(again, "existing")->GetInt64(), 1);
  EXPECT_EQ(count(h, "pending"), 3);
  auto bad = call(h, "queue_enqueue", R"({"tasks":[{"task_id":"","payload":{}}]})");
  ASSERT_FALSE(bad.is_ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto no_payload = call(h, "queue_enqueue", R"({"tasks":[{"task_id":"x"}]})");
  ASSERT_FALSE(no_payload.is_ok());
  EXPECT_NE(no_payload.status().message().find("payload"), std::string::npos);
}

TEST_P(QueueSuite, ClaimsByPriorityThenOrderAndNeverTwice) {
  auto h = handle();
  enqueue(h, "low1", 0);
  enqueue(h, "high", 5);
  enqueue(h, "low2", 0);
  EXPECT_EQ(claim(h).first, "high");
  EXPECT_EQ(claim(h).first, "low1");
  EXPECT_EQ(claim(h).first, "low2");
  EXPECT_EQ(claim(h).first, "");
  EXPECT_EQ(count(h, "leased"), 3);
  auto t = task(h, "high");
  EXPECT_EQ(json::get_string(t, "state"), "leased");
  EXPECT_EQ(json::find(t, "attempts")->GetInt64(), 1);
}

TEST_P(QueueSuite, ConcurrentClaimersGetDisjointTasks) {
  auto h = handle();
  std::string batch = R"({"tasks":[)";
  for (int i = 0; i < 120; ++i)
    batch += (i ? "," : "") + std::string(R"({"task_id":"t)") + std::to_string(i) + R"(","payload":{"task":"x"}})";
  ok(h, "queue_enqueue", batch + "]}");
  std::mutex mu;
  std::multiset<std::string> got;
  std::vector<std::thread> threads;
  for (int w = 0; w < 6; ++w) {
    threads.emplace_back([&, w] {
      auto hw = open_soci(config());
      ASSERT_TRUE(hw.is_ok());
      for (;;) {
        plugin::CallContext ctx;
        auto r = hw->execute(ctx, "queue_claim", R"({"worker":"w)" + std::to_string(w) + R"(","limit":3})");
        ASSERT_TRUE(r.is_ok()) << r.status().to_string();
        auto d = json::parse(*r);
        const json::Value* tasks = json::find(*d, "tasks");
        if (tasks->Empty()) return;
        std::lock_guard g(mu);
        for (const auto& t : tasks->GetArray()) got.insert(json::get_string(t, "task_id"));
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(got.size(), 120u);
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()).size(), 120u) << "a task was handed out twice";
}

TEST_P(QueueSuite, HeartbeatExtendsOnlyOwnLeases) {
  auto h = handle();
  enqueue(h, "a");
  auto lease = claim(h);
  auto r = ok(h, "queue_heartbeat",
              R"({"lease_seconds":60,"leases":[{"task_id":"a","lease_token":")" + lease.second +
                  R"("},{"task_id":"a","lease_token":"not-mine"}]})");
  const json::Value* lost = json::find(r, "lost");
  ASSERT_EQ(lost->Size(), 1u);
  EXPECT_STREQ((*lost)[0].GetString(), "a");
}

TEST_P(QueueSuite, FailuresRetryThenDeadLetterWithLastErrorAndRetryRevives) {
  auto h = handle();
  enqueue(h, "f", 0, 2);
  auto l1 = claim(h);
  auto r1 = ok(h, "queue_fail",
               R"({"task_id":"f","lease_token":")" + l1.second + R"(","error":"boom 1","retry_delay_ms":0})");
  EXPECT_EQ(json::get_string(r1, "state"), "pending");
  // A second settle with the same (now spent) lease changes nothing.
  auto stale = ok(h, "queue_fail", R"({"task_id":"f","lease_token":")" + l1.second + R"(","error":"late"})");
  EXPECT_TRUE(json::find(stale, "state") == nullptr || json::find(stale, "state")->IsNull());
  auto l2 = claim(h);
  ASSERT_EQ(l2.first, "f");
  auto r2 = ok(h, "queue_fail", R"({"task_id":"f","lease_token":")" + l2.second + R"(","error":"boom 2"})");
  EXPECT_EQ(json::get_string(r2, "state"), "dead");
  auto t = task(h, "f");
  EXPECT_EQ(json::get_string(t, "last_error"), "boom 2");
  EXPECT_EQ(claim(h).first, "");
  auto listed = ok(h, "queue_status", R"({"list":"dead"})");
  ASSERT_EQ(json::find(listed, "tasks")->Size(), 1u);
  auto retried = ok(h, "queue_retry", R"({"state":"dead"})");
  EXPECT_EQ(json::find(retried, "retried")->GetInt64(), 1);
  EXPECT_EQ(json::find(task(h, "f"), "attempts")->GetInt64(), 0);
  EXPECT_EQ(claim(h).first, "f");
  auto bad = call(h, "queue_retry", "{}");
  EXPECT_FALSE(bad.is_ok());
}

TEST_P(QueueSuite, CancelStopsHandingOut) {
  auto h = handle();
  enqueue(h, "a");
  enqueue(h, "b");
  auto r = ok(h, "queue_cancel", R"({"task_ids":["a","nope"]})");
  EXPECT_EQ(json::find(r, "cancelled")->GetInt64(), 1);
  EXPECT_EQ(claim(h).first, "b");
  EXPECT_EQ(claim(h).first, "");
  auto all = ok(h, "queue_cancel", R"({"all":true})");
  EXPECT_EQ(json::find(all, "cancelled")->GetInt64(), 1);  // b, leased
  EXPECT_EQ(count(h, "cancelled"), 2);
}

TEST_P(QueueSuite, ExpiredLeaseIsReclaimedAndLastAttemptGoesDead) {
  auto h = handle();
  enqueue(h, "a", 0, 2);
  ASSERT_EQ(claim(h, 1).first, "a");
  expire(h);
  auto t = task(h, "a");
  EXPECT_EQ(json::get_string(t, "state"), "pending");
  EXPECT_NE(json::get_string(t, "last_error").find("lease expired"), std::string::npos);
  ASSERT_EQ(claim(h, 1).first, "a");
  expire(h);
  EXPECT_EQ(json::get_string(task(h, "a"), "state"), "dead");
}

TEST_P(QueueSuite, FinishMarksTaskDoneInTheSessionTransaction) {
  auto h = handle();
  enqueue(h, "a");
  auto lease = claim(h);
  auto fin = run_session(h, lease, "succeeded");
  EXPECT_EQ(json::get_string(fin, "queue"), "done");
  auto t = task(h, "a");
  EXPECT_EQ(json::get_string(t, "state"), "done");
  EXPECT_EQ(json::get_string(t, "session_id"), json::get_string(fin, "sid"));
  auto s = ok(h, "read_session", R"({"session_id":")" + json::get_string(fin, "sid") + R"("})");
  EXPECT_EQ(json::get_string(s, "status"), "succeeded");
}

TEST_P(QueueSuite, OldWorkerFinishingLateNeverStoresASecondSession) {
  auto h = handle();
  enqueue(h, "a");
  auto old_lease = claim(h, 1);
  expire(h);  // the old worker stalled; its lease ran out
  auto new_lease = claim(h);
  ASSERT_EQ(new_lease.first, "a");
  ASSERT_NE(new_lease.second, old_lease.second);
  // The old worker finishes first, while the new one still runs: lease lost.
  auto late = run_session(h, old_lease, "succeeded");
  EXPECT_EQ(json::get_string(late, "queue"), "lease_lost");
  auto old_session = ok(h, "read_session", R"({"session_id":")" + json::get_string(late, "sid") + R"("})");
  EXPECT_EQ(json::get_string(old_session, "status"), "interrupted");
  EXPECT_EQ(json::get_string(old_session, "review_status"), "pending") << "a lost-lease session is never approved";
  EXPECT_EQ(json::get_string(task(h, "a"), "state"), "leased");
  auto fin = run_session(h, new_lease, "succeeded");
  EXPECT_EQ(json::get_string(fin, "queue"), "done");
  // And once more, the old worker's finish replayed (e.g. from its spool): still one session.
  auto replay = run_session(h, old_lease, "succeeded");
  EXPECT_EQ(json::get_string(replay, "queue"), "lease_lost");
  auto done = ok(h, "count_sessions", R"({"status":"succeeded"})");
  EXPECT_EQ(json::find(done, "count")->GetInt64(), 1);
  EXPECT_EQ(json::get_string(task(h, "a"), "session_id"), json::get_string(fin, "sid"));
}

TEST_P(QueueSuite, FailedSessionCountsAsAttemptAndInterruptedReleases) {
  auto h = handle();
  enqueue(h, "a", 0, 2);
  auto l1 = claim(h);
  auto f1 = run_session(h, l1, "failed", "model said no");
  EXPECT_EQ(json::get_string(f1, "queue"), "retry");
  EXPECT_EQ(json::get_string(task(h, "a"), "last_error"), "model said no");
  auto l2 = claim(h);
  ASSERT_EQ(l2.first, "a");
  auto i2 = run_session(h, l2, "interrupted");
  EXPECT_EQ(json::get_string(i2, "queue"), "released");
  EXPECT_EQ(json::find(task(h, "a"), "attempts")->GetInt64(), 1) << "a released attempt does not count";
  auto l3 = claim(h);
  auto f3 = run_session(h, l3, "failed", "model said no again");
  EXPECT_EQ(json::get_string(f3, "queue"), "dead");
  EXPECT_EQ(json::get_string(task(h, "a"), "state"), "dead");
}

INSTANTIATE_TEST_SUITE_P(Backends, QueueSuite, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
