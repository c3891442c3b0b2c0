// Store: retries, spool and exactly-once replay, with the real plugin behind a backend that
// can be switched "down" (every call UNAVAILABLE, as when the server is gone).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <fstream>
#include <set>
#include <thread>

#include "common/scheduling_class.hpp"
#include "common/secrets.hpp"

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

// Records the scheduling class of the thread that sends each batch of events.
class ClassRecordingBackend : public data::StorageBackend {
 public:
  explicit ClassRecordingBackend(std::shared_ptr<data::StorageBackend> inner) : inner_(std::move(inner)) {}
  Result<std::string> execute(std::string_view op, std::string_view req) override {
    if (op == "append_events") {
      std::lock_guard<std::mutex> g(mu_);
      appended_by_ = SchedulingClass::of_this_thread();
      cv_.notify_all();
    }
    return inner_->execute(op, req);
  }
  std::optional<SchedulingClass> wait_for_append() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(20), [&] { return appended_by_.has_value(); });
    return appended_by_;
  }

 private:
  std::shared_ptr<data::StorageBackend> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<SchedulingClass> appended_by_;
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

// `serve` runs the store's batching thread in the background class (StoreOptions::idle_writer),
// so event writes never take a CPU from a relayed call; other commands keep the normal class.
TEST_P(StoreSpool, TheEventWriterThreadYieldsTheCpuOnlyWhenAskedTo) {
  if (SchedulingClass::of_this_thread().background()) GTEST_SKIP() << "the test itself runs in a background class";
  auto h = handle();
  for (bool idle : {true, false}) {
    auto recording = std::make_shared<ClassRecordingBackend>(data::handle_backend(h));
    auto options = store_options();
    options.idle_writer = idle;
    auto store = data::Store::open(recording, options);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    auto id = (*store)->begin_session("events from the writer thread", "{}");
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    (*store)->append_event(*id, R"({"type":"x"})");  // sent by the writer after batch_max_age_ms
    std::optional<SchedulingClass> sent_by = recording->wait_for_append();
    ASSERT_TRUE(sent_by.has_value()) << "the writer never sent the batch";
    EXPECT_EQ(sent_by->background(), idle) << "policy " << sent_by->policy << ", nice " << sent_by->nice;
    EXPECT_FALSE(SchedulingClass::of_this_thread().background()) << "the caller's own class is untouched";
  }
}

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

std::string slurp_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_P(StoreSpool, ASpoolBelongsToOneDatabaseAndIsNeverReplayedIntoAnother) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto options = fast_options();
  options.database_url = url_;
  std::filesystem::path ours;
  {
    auto store = data::Store::open(flaky, options);
    ASSERT_TRUE(store.is_ok()) << store.status().to_string();
    flaky->down = true;
    auto id = (*store)->begin_session("for the first database", "{}");
    ASSERT_TRUE(id.is_ok());
    ASSERT_TRUE((*store)->finish_session(finish_json(*id)).is_ok());
    ours = (*store)->spool_status().path;
    EXPECT_NE(ours, options.spool_path) << "the spool file must carry the database identity";
    EXPECT_EQ((*store)->spool_status().pending_records, 2u);
  }
  // The spool names its database on its first line.
  EXPECT_EQ(slurp_bytes(ours).rfind("{\"spool_for\":", 0), 0u);

  // Another database with the same [storage] spool_path: its own (empty) spool.
  const std::string other_url = "sqlite://" + (dir_ / "other.db").string();
  auto other_handle = open_soci("{\"database_url\":" + json::quote(other_url) + "}");
  ASSERT_TRUE(other_handle.is_ok()) << other_handle.status().to_string();
  auto other_options = fast_options();
  other_options.database_url = other_url;
  auto other = data::Store::open(*other_handle, other_options);
  ASSERT_TRUE(other.is_ok());
  EXPECT_NE((*other)->spool_status().path, ours);
  EXPECT_EQ((*other)->spool_status().pending_records, 0u);
  EXPECT_EQ(*(*other)->replay_spool(), 0u);
  EXPECT_EQ(count(*other_handle), 0);

  // A spool file copied under the other database's name is refused, not replayed.
  std::filesystem::copy_file(ours, (*other)->spool_status().path);
  auto refused = (*other)->replay_spool();
  ASSERT_FALSE(refused.is_ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("holds writes for the database"), std::string::npos)
      << refused.status().message();
  EXPECT_EQ(count(*other_handle), 0);
  EXPECT_EQ(count(h), 0);  // and nothing reached the first one either
}

TEST_P(StoreSpool, LearningOfASessionBegunDuringAnOutageIsReplayedExactlyOnce) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto store = data::Store::open(flaky, fast_options());
  ASSERT_TRUE(store.is_ok());
  auto& s = **store;
  flaky->down = true;
  auto id = s.begin_session("learned during an outage", "{}");
  ASSERT_TRUE(id.is_ok());
  ASSERT_EQ(id->rfind("pending:", 0), 0u);
  for (int i = 0; i < 3; ++i) s.append_event(*id, R"({"n":)" + std::to_string(i) + "}");
  ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());
  // Learning runs after the finish: its events and its playbook write.
  s.append_event(*id, R"({"n":3,"type":"learning"})");
  ASSERT_TRUE(s.flush(*id).is_ok());
  data::Store::SessionLearning own{*id, "own student text", "own teacher text"};
  auto version = s.learning_put("lk-outage", "playbook S", "playbook T", "{}", 0, &own);
  ASSERT_TRUE(version.is_ok()) << version.status().to_string();
  EXPECT_EQ(*version, 1);
  std::filesystem::copy_file(s.spool_status().path, dir_ / "spool.copy");

  flaky->down = false;
  auto replayed = s.replay_spool();
  ASSERT_TRUE(replayed.is_ok()) << replayed.status().to_string();
  EXPECT_EQ(s.spool_status().pending_records, 0u);
  EXPECT_FALSE(std::filesystem::exists(s.spool_status().path.string() + ".rejected"));
  // Replayed a second time (a crash before the spool was trimmed): nothing doubles.
  std::filesystem::copy_file(dir_ / "spool.copy", s.spool_status().path);
  ASSERT_TRUE(s.replay_spool().is_ok());
  EXPECT_FALSE(std::filesystem::exists(s.spool_status().path.string() + ".rejected"));

  EXPECT_EQ(count(h), 1);
  auto page = call(h, "query_sessions", "{}");
  std::string real_id = json::get_string((*page)["sessions"][0], "session_id");
  auto full = call(h, "read_session", R"({"session_id":")" + real_id + "\"}");
  ASSERT_TRUE(full.is_ok());
  EXPECT_EQ(json::get_string(*full, "status"), "succeeded");
  ASSERT_EQ((*full)["trajectory_events"].Size(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ((*full)["trajectory_events"][i]["event"]["n"].GetInt(), i);
  EXPECT_EQ(json::get_string(*full, "student_learning"), "own student text");
  EXPECT_EQ(json::get_string(*full, "teacher_learning"), "own teacher text");
  auto playbook = s.learning_get("lk-outage");
  ASSERT_TRUE(playbook.is_ok());
  EXPECT_EQ(playbook->version, 1);
  EXPECT_EQ(playbook->student_learning, "playbook S");
}

TEST_P(StoreSpool, ASpooledLearningPutKeepsANewerPlaybookAndStillStoresTheSessionsText) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto store = data::Store::open(flaky, fast_options());
  ASSERT_TRUE(store.is_ok());
  auto& s = **store;
  auto id = s.begin_session("stored before the outage", "{}");
  ASSERT_TRUE(id.is_ok());
  ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());
  flaky->down = true;
  data::Store::SessionLearning own{*id, "mine", ""};
  ASSERT_TRUE(s.learning_put("lk-race", "older", "", "{}", 0, &own).is_ok());  // spooled
  // Meanwhile another process wrote the playbook.
  ASSERT_TRUE(call(h, "learning_put", R"({"learning_key":"lk-race","student_learning":"newer","expected_version":0})")
                  .is_ok());
  flaky->down = false;
  ASSERT_TRUE(s.replay_spool().is_ok());
  EXPECT_FALSE(std::filesystem::exists(s.spool_status().path.string() + ".rejected"));
  auto playbook = s.learning_get("lk-race");
  EXPECT_EQ(playbook->student_learning, "newer");
  EXPECT_EQ(playbook->version, 1);
  auto full = call(h, "read_session", R"({"session_id":")" + *id + "\"}");
  EXPECT_EQ(json::get_string(*full, "student_learning"), "mine");
}

TEST_P(StoreSpool, AStoreThatDoesNotReplayLeavesTheSpoolByteForByte) {
  auto h = handle();
  std::filesystem::path spool;
  {
    auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
    auto store = data::Store::open(flaky, fast_options());
    ASSERT_TRUE(store.is_ok());
    flaky->down = true;
    auto id = (*store)->begin_session("waiting", "{}");
    ASSERT_TRUE((*store)->finish_session(finish_json(*id)).is_ok());
    spool = (*store)->spool_status().path;
  }
  const std::string before = slurp_bytes(spool);
  auto options = store_options();
  options.replay_spool = false;  // what `db status`, `review`, `export` open
  {
    auto store = data::Store::open(h, options);
    ASSERT_TRUE(store.is_ok());
    EXPECT_EQ((*store)->spool_status().pending_records, 2u);
    ASSERT_TRUE((*store)->execute("status", "{}").is_ok());
  }
  EXPECT_EQ(slurp_bytes(spool), before);
  EXPECT_EQ(count(h), 0);
}

// Two stores on one spool file stand for two processes (flock locks are per open file, so
// they exclude each other within a process too): one keeps appending while the other
// replays over and over. Every session must arrive exactly once.
TEST_P(StoreSpool, ReplayingWhileAnotherWriterAppendsLosesNothing) {
  const int kSessions = 40, kEvents = 5;
  auto h = handle();
  auto writer_backend = std::make_shared<FlakyBackend>(data::handle_backend(h));
  writer_backend->down = true;  // the writer never reaches the database: everything is spooled
  auto writer = data::Store::open(writer_backend, fast_options());
  ASSERT_TRUE(writer.is_ok());
  auto replayer_options = fast_options();
  replayer_options.replay_spool = false;  // replays only when told to, below
  auto replayer = data::Store::open(h, replayer_options);
  ASSERT_TRUE(replayer.is_ok());

  std::atomic<bool> writing{true};
  std::thread producer([&] {
    for (int k = 0; k < kSessions; ++k) {
      auto id = (*writer)->begin_session("task " + std::to_string(k), "{}");
      if (!id.is_ok()) continue;
      for (int i = 0; i < kEvents; ++i) (*writer)->append_event(*id, R"({"n":)" + std::to_string(i) + "}");
      (void)(*writer)->finish_session(finish_json(*id));
    }
    writing = false;
  });
  size_t replays = 0;
  while (writing) {
    auto r = (*replayer)->replay_spool();
    EXPECT_TRUE(r.is_ok()) << r.status().to_string();
    ++replays;
  }
  producer.join();
  ASSERT_TRUE((*replayer)->replay_spool().is_ok());
  EXPECT_EQ((*replayer)->spool_status().pending_records, 0u);
  EXPECT_GT(replays, 1u);

  auto page = call(h, "query_sessions", R"({"limit":1000})");
  ASSERT_TRUE(page.is_ok());
  std::set<std::string> tasks;
  for (const auto& row : (*page)["sessions"].GetArray()) {
    EXPECT_TRUE(tasks.insert(json::get_string(row, "task")).second) << "duplicate " << json::get_string(row, "task");
    EXPECT_EQ(json::get_string(row, "status"), "succeeded") << json::get_string(row, "task");
    auto full = call(h, "read_session", R"({"session_id":")" + json::get_string(row, "session_id") + "\"}");
    ASSERT_TRUE(full.is_ok());
    EXPECT_EQ((*full)["trajectory_events"].Size(), static_cast<size_t>(kEvents));
  }
  EXPECT_EQ(tasks.size(), static_cast<size_t>(kSessions));
}

TEST_P(StoreSpool, TextIsNormalisedIdenticallyAndTheSessionSaysSo) {
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto store = data::Store::open(flaky, fast_options());
  ASSERT_TRUE(store.is_ok());
  auto& s = **store;
  const std::string bad_task = "nul" + std::string(1, '\0') + "here and bad \xff\xfe bytes";
  std::vector<std::string> ids;
  for (bool outage : {false, true}) {  // straight to the database, and through the spool
    flaky->down = outage;
    auto id = s.begin_session(bad_task, "{}");
    ASSERT_TRUE(id.is_ok()) << id.status().to_string();
    s.append_event(*id, "{\"text\":\"event \xc3 with a \\u0000\"}");
    ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());
    ids.push_back(*id);
  }
  flaky->down = false;
  ASSERT_TRUE(s.replay_spool().is_ok());
  EXPECT_EQ(count(h, R"({"status":["succeeded"]})"), 2);
  EXPECT_EQ(count(h, R"({"status":["running"]})"), 0);
  auto page = call(h, "query_sessions", "{}");
  ASSERT_EQ((*page)["sessions"].Size(), 2u);
  for (const auto& row : (*page)["sessions"].GetArray()) {
    EXPECT_EQ(json::get_string(row, "task"), "nul\xEF\xBF\xBDhere and bad \xEF\xBF\xBD\xEF\xBF\xBD bytes");
    auto full = call(h, "read_session", R"({"session_id":")" + json::get_string(row, "session_id") + "\"}");
    ASSERT_TRUE(full.is_ok());
    int notes = 0;
    bool saw_event_text = false;
    for (const auto& e : (*full)["trajectory_events"].GetArray()) {
      if (json::get_string(e["event"], "name") == "text_normalised") {
        ++notes;
        EXPECT_EQ(json::get_string(e["event"], "type"), "storage");
      }
      if (json::get_string(e["event"], "text") == "event \xEF\xBF\xBD with a \xEF\xBF\xBD") saw_event_text = true;
    }
    EXPECT_EQ(notes, 2) << "one for the task, one for the event";
    EXPECT_TRUE(saw_event_text);
  }
}

TEST_P(StoreSpool, RegisteredSecretsNeverReachTheDatabaseOrTheSpool) {
  const std::string key = "sk-spooltest-0123456789abcdefXYZ";
  secrets::register_secret("ATLAS_SPOOL_TEST_KEY", key);
  auto h = handle();
  auto flaky = std::make_shared<FlakyBackend>(data::handle_backend(h));
  auto options = fast_options();
  options.database_url = url_;
  auto store = data::Store::open(flaky, options);
  ASSERT_TRUE(store.is_ok());
  auto& s = **store;
  flaky->down = true;
  auto id = s.begin_session("use " + key, "{\"note\":\"" + key + "\"}");
  ASSERT_TRUE(id.is_ok());
  s.append_event(*id, "{\"text\":\"" + key + "\"}");
  ASSERT_TRUE(s.finish_session(finish_json(*id)).is_ok());
  EXPECT_EQ(slurp_bytes(s.spool_status().path).find(key), std::string::npos);
  EXPECT_NE(slurp_bytes(s.spool_status().path).find("[REDACTED:ATLAS_SPOOL_TEST_KEY]"), std::string::npos);
  flaky->down = false;
  ASSERT_TRUE(s.replay_spool().is_ok());
  auto page = call(h, "query_sessions", "{}");
  std::string real_id = json::get_string((*page)["sessions"][0], "session_id");
  ASSERT_TRUE(s.execute("add_review_note", R"({"session_id":")" + real_id + R"(","actor":"t","note":"the key is )" +
                                                key + "\"}")
                  .is_ok());
  auto raw = call(h, "read_session", R"({"session_id":")" + real_id + "\"}");
  ASSERT_TRUE(raw.is_ok());
  const std::string stored = json::dump(*raw);
  EXPECT_EQ(stored.find(key), std::string::npos) << stored;
  EXPECT_NE(stored.find("[REDACTED:ATLAS_SPOOL_TEST_KEY]"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreSpool, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
