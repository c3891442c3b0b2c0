// Store: retries, spool and exactly-once replay, with the real plugin behind a backend that
// can be switched "down" (every call UNAVAILABLE, as when the server is gone).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>

#include "integration/storage/storage_fixture.hpp"

namespace atlas::test {
namespace {

class FlakyBackend : public data::StorageBackend {
 public:
  explicit FlakyBackend(std::shared_ptr<data::StorageBackend> inner) : inner_(std::move(inner)) {}
  Result<std::string> execute(std::string_view op, std::string_view req) override {
    ++calls;
    if (down) return unavailable("database is down (test)");
    return inner_->execute(op, req);
  }
  std::atomic<bool> down{false};
  std::atomic<int> calls{0};

 private:
  std::shared_ptr<data::StorageBackend> inner_;
};

class StoreSpool : public BackendTest {
 protected:
  data::StoreOptions fast_options() {
    auto o = store_options();
    o.retry_attempts = 2;
    o.retry_backoff_ms = 1;
    return o;
  }
  int64_t count(plugin::StorageHandle& h, const std::string& filter = "{}") {
    auto r = call(h, "count_sessions", filter);
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    return r.is_ok() ? json::get_int(*r, "count") : -1;
  }
};

std::string finish_json(const std::string& id) {
  return R"({"session_id":")" + id + R"(","status":"succeeded","final_answer":"ok","metadata":{},
    "steps":[{"step_id":1,"output":"ok","attempts":1,"attempt_details":[],"guidance":[]}],"review_status":"pending"})";
}

TEST_P(StoreSpool, WritesDuringAnOutageAreSpooledAndReplayedExactlyOnce) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto store = data::Store::open(flaky, fast_options());
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  auto& s = **store;

  flaky->down = true;
  auto id = s.begin_session("during outage", "{}");
  ASSERT_TRUE(id.is_ok()) << id.status().to_string();
  EXPECT_EQ(id->rfind("pending:", 0), 0u) << *id;  // provisional id
  for (int i = 0; i < 30; ++i) s.append_event(*id, R"({"type":"x","n":)" + std::to_string(i) + "}");
  ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());  // accepted: it is in the spool
  EXPECT_GE(s.spool_status().pending_records, 3u);          // begin, events, finish
  EXPECT_EQ(count(h), 0);

  // Keep a copy of the spool to replay it a second time later (a crash mid-replay).
  std::filesystem::copy_file(s.spool_status().path, dir_ / "spool.copy");

  flaky->down = false;
  auto replayed = s.replay_spool();
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().to_string();
  EXPECT_EQ(s.spool_status().pending_records, 0u);
  EXPECT_FALSE(std::filesystem::exists(s.spool_status().path));

  std::filesystem::copy_file(dir_ / "spool.copy", s.spool_status().path);
  ASSERT_TRUE(s.replay_spool().is_ok());
  EXPECT_EQ(count(h), 1);
  auto page = call(h, "query_sessions", "{}");
  std::string real_id = json::get_string((*page)["sessions"][0], "session_id");
  auto full = call(h, "read_session", R"({"session_id":")" + real_id + "\"}");
  EXPECT_EQ(json::get_string(*full, "status"), "succeeded");
  ASSERT_EQ((*full)["trajectory_events"].Size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ((*full)["trajectory_events"][i]["event"]["n"].GetInt(), i);
}

TEST_P(StoreSpool, ASessionBegunBeforeTheOutageKeepsItsOrder) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto store = data::Store::open(flaky, fast_options());
  ASSERT_TRUE(store.is_ok());
  auto& s = **store;
  auto id = s.begin_session("before", "{}");
  ASSERT_TRUE(id.is_ok());
  EXPECT_EQ(id->find("pending:"), std::string::npos);
  for (int i = 0; i < 10; ++i) s.append_event(*id, R"({"n":)" + std::to_string(i) + "}");
  ASSERT_TRUE(s.flush(*id).is_ok());
  flaky->down = true;
  for (int i = 10; i < 20; ++i) s.append_event(*id, R"({"n":)" + std::to_string(i) + "}");
  ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());
  flaky->down = false;
  ASSERT_TRUE(s.replay_spool().is_ok());
  auto full = call(h, "read_session", R"({"session_id":")" + *id + "\"}");
  ASSERT_EQ((*full)["trajectory_events"].Size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ((*full)["trajectory_events"][i]["event"]["n"].GetInt(), i);
  EXPECT_EQ(json::get_string(*full, "status"), "succeeded");
}

TEST_P(StoreSpool, ASpoolLeftByAnEarlierProcessIsReplayedOnOpen) {
  auto h = handle();
  {
    auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
    auto store = data::Store::open(flaky, fast_options());
    ASSERT_TRUE(store.is_ok());
    flaky->down = true;
    for (int k = 0; k < 3; ++k) {
      auto id = (*store)->begin_session("left behind " + std::to_string(k), "{}");
      ASSERT_TRUE(id.is_ok());
      (*store)->append_event(*id, R"({"n":1})");
      ASSERT_TRUE((*store)->finish_session(finish_json(*id)).is_ok());
    }
  }  // the process "exits" with the database still down
  EXPECT_EQ(count(h), 0);
  auto store = data::Store::open(h, store_options());
  ASSERT_TRUE(store.is_ok());
  EXPECT_EQ((*store)->spool_status().pending_records, 0u);
  EXPECT_EQ(count(h, R"({"status":["succeeded"]})"), 3);
}

TEST_P(StoreSpool, ARecordTheDatabaseRefusesIsSetAsideNotRetriedForever) {
  auto h = handle();
  auto store = data::Store::open(h, store_options());
  ASSERT_TRUE(store.is_ok());
  {
    std::ofstream spool(dir_ / "spool.jsonl");
    spool << R"({"op":"finish_session","request":{"session_id":"424242","status":"succeeded"}})" << "\n";
    spool << R"({"op":"begin_session","request":{"task":"after the bad one","session_key":"kk"}})" << "\n";
    spool << R"({"op":"begin_session","request":{"task":"torn)";  // crash mid-write
  }
  auto r = (*store)->replay_spool();
  ASSERT_TRUE(r.is_ok()) << r.status().to_string();
  EXPECT_EQ((*store)->spool_status().pending_records, 0u);
  EXPECT_TRUE(std::filesystem::exists(dir_ / "spool.jsonl.rejected"));
  EXPECT_EQ(count(h), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreSpool, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
