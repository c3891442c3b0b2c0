// The shared gateway episodes' storage operations (plugins/storage/soci/ops_gateway.cpp) on SQLite
// and PostgreSQL: the opening claim, appends numbered by the database under concurrent writers,
// feedback, the first limit refusal, the one-winner end claim that hands over every call in
// order, the finish that keeps the report and drops the calls, idle episodes, leases and their
// takeover, bad requests.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

#include "storage_fixture.hpp"

namespace atlas::test {
namespace {

using json::get_bool;
using json::get_int;
using json::get_string;

class GatewayOps : public BackendTest {
 protected:
  json::Document ok(plugin::StorageHandle& h, std::string_view op, const std::string& req) {
    auto r = call(h, op, req);
    EXPECT_TRUE(r.is_ok()) << op << ": " << r.status().to_string();
    if (!r.is_ok()) return json::Document(rapidjson::kObjectType);
    return std::move(*r);
  }
  void open(plugin::StorageHandle& h, const std::string& id) {
    auto c = ok(h, "gateway_episode_claim", R"({"episode_id":")" + id + R"("})");
    ASSERT_TRUE(get_bool(c, "claimed"));
    auto o = ok(h, "gateway_episode_opened",
                R"({"episode_id":")" + id +
                    R"(","session_id":"17","learning_key":"k1","lane":"paired","playbook_block":"PB",)"
                    R"("resume_state":"{\"session_id\":\"17\"}","recorded":true})");
    ASSERT_TRUE(get_bool(o, "updated"));
  }
  json::Document append(plugin::StorageHandle& h, const std::string& id, const std::string& tag, int tokens = 10) {
    return ok(h, "gateway_call_append",
              R"({"episode_id":")" + id + R"(","call":{"tag":")" + tag +
                  R"(","messages":[]},"model_calls":2,"tokens":)" + std::to_string(tokens) + "}");
  }
  json::Document episode(plugin::StorageHandle& h, const std::string& id) {
    auto g = ok(h, "gateway_episode_get", R"({"episode_id":")" + id + R"("})");
    json::Document out(rapidjson::kObjectType);
    if (const json::Value* e = json::find(g, "episode"); e && e->IsObject()) out.CopyFrom(*e, out.GetAllocator());
    return out;
  }
};

TEST_P(GatewayOps, AnEpisodeOpensTakesCallsInOrderAndEndsOnce) {
  auto h = handle();
  ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
  EXPECT_FALSE(json::find(ok(h, "gateway_episode_get", R"({"episode_id":"e1"})"), "episode")->IsObject());
  auto first = ok(h, "gateway_episode_claim", R"({"episode_id":"e1"})");
  EXPECT_TRUE(get_bool(first, "claimed"));
  auto second = ok(h, "gateway_episode_claim", R"({"episode_id":"e1"})");
  EXPECT_FALSE(get_bool(second, "claimed"));  // another replica's first call: it waits for `open`
  EXPECT_EQ(get_string(second["episode"], "state"), "opening");
  // Calls before the session is open are refused (no seq is taken).
  EXPECT_FALSE(get_bool(append(h, "e1", "early"), "appended"));
  ASSERT_TRUE(get_bool(ok(h, "gateway_episode_opened",
                          R"({"episode_id":"e1","session_id":"17","learning_key":"k1","lane":"paired",)"
                          R"("playbook_block":"PB","resume_state":"{}","recorded":true})"),
                       "updated"));
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_opened", R"({"episode_id":"e1","session_id":"18"})"), "updated"));
  for (int i = 1; i <= 3; ++i) {
    auto a = append(h, "e1", "c" + std::to_string(i));
    EXPECT_TRUE(get_bool(a, "appended"));
    EXPECT_EQ(get_int(a, "seq"), i);
  }
  EXPECT_TRUE(get_bool(ok(h, "gateway_feedback_add", R"({"episode_id":"e1","feedback":{"comment":"one"}})"), "added"));
  EXPECT_TRUE(get_bool(ok(h, "gateway_episode_note_limit", R"({"episode_id":"e1","reason":"first"})"), "noted"));
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_note_limit", R"({"episode_id":"e1","reason":"second"})"), "noted"));
  auto e = episode(h, "e1");
  EXPECT_EQ(get_string(e, "state"), "open");
  EXPECT_EQ(get_string(e, "session_id"), "17");
  EXPECT_EQ(get_string(e, "lane"), "paired");
  EXPECT_EQ(get_string(e, "playbook_block"), "PB");
  EXPECT_EQ(get_int(e, "calls"), 3);
  EXPECT_EQ(get_int(e, "model_calls"), 6);
  EXPECT_EQ(get_int(e, "tokens"), 30);
  EXPECT_EQ(get_string(e, "limit_note"), "first");

  auto end = ok(h, "gateway_episode_end", R"({"episode_id":"e1","ended_by":"client"})");
  ASSERT_TRUE(get_bool(end, "claimed"));
  ASSERT_EQ(end["calls"].Size(), 3u);
  for (rapidjson::SizeType i = 0; i < 3; ++i)
    EXPECT_EQ(get_string(end["calls"][i], "tag"), "c" + std::to_string(i + 1));
  ASSERT_EQ(end["feedback"].Size(), 1u);
  EXPECT_EQ(get_string(end["feedback"][0], "comment"), "one");
  auto again = ok(h, "gateway_episode_end", R"({"episode_id":"e1","ended_by":"idle_timeout"})");
  EXPECT_FALSE(get_bool(again, "claimed"));
  EXPECT_EQ(get_string(again["episode"], "state"), "ending");
  EXPECT_EQ(again["calls"].Size(), 0u);
  // An episode that is ending takes no more calls or feedback.
  auto late = append(h, "e1", "late");
  EXPECT_FALSE(get_bool(late, "appended"));
  EXPECT_EQ(get_string(late, "state"), "ending");
  EXPECT_EQ(get_string(ok(h, "gateway_feedback_add", R"({"episode_id":"e1","feedback":{}})"), "state"), "ending");

  EXPECT_TRUE(get_bool(
      ok(h, "gateway_episode_finish", R"({"episode_id":"e1","session_id":"17","report":{"status":"succeeded"}})"),
      "finished"));
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_finish", R"({"episode_id":"e1","report":{}})"), "finished"));
  e = episode(h, "e1");
  EXPECT_EQ(get_string(e, "state"), "ended");
  EXPECT_EQ(get_string(e["report"], "status"), "succeeded");
  EXPECT_EQ(get_string(e, "ended_by"), "client");
  // The calls are in the stored session now: a claim of the ended episode gets none.
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_end", R"({"episode_id":"e1"})"), "claimed"));
  EXPECT_EQ(get_string(append(h, "missing-episode", "x"), "state"), "missing");
}

TEST_P(GatewayOps, ConcurrentAppendsGetDistinctSeqsAndOneEndClaimWins) {
  auto h = handle();
  ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
  open(h, "e2");
  constexpr int kThreads = 4, kEach = 15;
  std::vector<std::vector<int64_t>> seqs(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      auto mine = open_soci(config());  // its own handle: separate connections, as replicas have
      ASSERT_TRUE(mine.is_ok());
      for (int i = 0; i < kEach; ++i) {
        auto a = append(*mine, "e2", std::to_string(t) + "-" + std::to_string(i));
        EXPECT_TRUE(get_bool(a, "appended"));
        seqs[t].push_back(get_int(a, "seq"));
      }
    });
  for (auto& t : threads) t.join();
  std::set<int64_t> all;
  for (const auto& s : seqs) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kEach));
  EXPECT_EQ(*all.begin(), 1);
  EXPECT_EQ(*all.rbegin(), kThreads * kEach);

  std::atomic<int> claimed{0};
  std::atomic<size_t> calls_handed{0};
  threads.clear();
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&] {
      auto mine = open_soci(config());
      ASSERT_TRUE(mine.is_ok());
      auto r = ok(*mine, "gateway_episode_end", R"({"episode_id":"e2","ended_by":"client"})");
      if (get_bool(r, "claimed")) {
        ++claimed;
        calls_handed += r["calls"].Size();
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(claimed.load(), 1);
  EXPECT_EQ(calls_handed.load(), static_cast<size_t>(kThreads * kEach));
}

TEST_P(GatewayOps, IdleEpisodesAreFoundOnTheDatabaseClock) {
  auto h = handle();
  ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
  open(h, "idle-1");
  auto ids = [&](const std::string& seconds) {
    auto r = ok(h, "gateway_episodes_idle", R"({"idle_seconds":)" + seconds + "}");
    std::vector<std::string> out;
    for (const auto& v : r["episode_ids"].GetArray()) out.emplace_back(v.GetString());
    return out;
  };
  EXPECT_TRUE(ids("3600").empty());
  // Idle for more than 0 s as soon as the database's clock moves past the last activity.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> found;
  while (found.empty() && std::chrono::steady_clock::now() < deadline) found = ids("0");
  EXPECT_EQ(found, std::vector<std::string>{"idle-1"});
  ASSERT_TRUE(get_bool(ok(h, "gateway_episode_end", R"({"episode_id":"idle-1"})"), "claimed"));
  EXPECT_TRUE(ids("0").empty());  // ending: no other reaper claims it
}

// Replica A dies while opening and again while ending; replica B takes each over only once A's
// lease is older than B's lease_seconds, and A's late writes are refused.
TEST_P(GatewayOps, ExpiredLeasesLetAnotherReplicaTakeOverAnOpeningOrAnEnd) {
  auto h = handle();
  ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
  auto claim = [&](const std::string& owner, const std::string& lease) {
    return ok(h, "gateway_episode_claim",
              R"({"episode_id":"lease-1","owner":")" + owner + R"(","lease_seconds":)" + lease + "}");
  };
  auto a = claim("A", "60");
  ASSERT_TRUE(get_bool(a, "claimed"));
  EXPECT_FALSE(get_bool(a, "took_over"));
  EXPECT_EQ(get_string(a["episode"], "owner"), "A");
  auto b_early = claim("B", "3600");
  EXPECT_FALSE(get_bool(b_early, "claimed"));  // A's lease is fresh
  EXPECT_EQ(get_int(ok(h, "gateway_episodes_heartbeat", R"({"owner":"A"})"), "renewed"), 1);
  EXPECT_EQ(get_int(ok(h, "gateway_episodes_heartbeat", R"({"owner":"B"})"), "renewed"), 0);
  // A stops renewing; with a lease of 0 s, B takes over as soon as the database clock moves on.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  json::Document b(rapidjson::kObjectType);
  while (!get_bool(b, "claimed") && std::chrono::steady_clock::now() < deadline) b = claim("B", "0");
  ASSERT_TRUE(get_bool(b, "claimed"));
  EXPECT_TRUE(get_bool(b, "took_over"));
  EXPECT_EQ(get_string(b["episode"], "owner"), "B");
  const std::string opened = R"(","session_id":"21","lane":"auto","resume_state":"{}","recorded":true})";
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_opened", R"({"episode_id":"lease-1","owner":"A)" + opened), "updated"))
      << "the dead opener's late write must be refused";
  ASSERT_TRUE(get_bool(ok(h, "gateway_episode_opened", R"({"episode_id":"lease-1","owner":"B)" + opened), "updated"));
  EXPECT_EQ(get_string(episode(h, "lease-1"), "owner"), "");
  EXPECT_TRUE(get_bool(append(h, "lease-1", "c1"), "appended"));

  // A wins the end with the client's outcome, then dies.
  auto end = [&](const std::string& owner, const std::string& lease, const std::string& extra) {
    return ok(h, "gateway_episode_end",
              R"({"episode_id":"lease-1","owner":")" + owner + R"(","lease_seconds":)" + lease + extra + "}");
  };
  auto a_end = end("A", "60", R"(,"ended_by":"client","outcome":{"final_answer":"42","success":true})");
  ASSERT_TRUE(get_bool(a_end, "claimed"));
  EXPECT_FALSE(get_bool(a_end, "took_over"));
  auto stale = [&](const std::string& lease) {
    auto r = ok(h, "gateway_episodes_idle", R"({"idle_seconds":3600,"lease_seconds":)" + lease + "}");
    std::vector<std::string> out;
    for (const auto& v : r["stale_ending_ids"].GetArray()) out.emplace_back(v.GetString());
    return out;
  };
  EXPECT_TRUE(stale("3600").empty());
  EXPECT_FALSE(get_bool(end("B", "3600", ""), "claimed"));  // A's end lease is fresh
  std::vector<std::string> found;
  while (found.empty() && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(10)) found = stale("0");
  EXPECT_EQ(found, std::vector<std::string>{"lease-1"});
  json::Document b_end(rapidjson::kObjectType);
  while (!get_bool(b_end, "claimed") && std::chrono::steady_clock::now() < deadline + std::chrono::seconds(20))
    b_end = end("B", "0", R"(,"ended_by":"")");
  ASSERT_TRUE(get_bool(b_end, "claimed"));
  EXPECT_TRUE(get_bool(b_end, "took_over"));
  EXPECT_EQ(b_end["calls"].Size(), 1u);                           // the calls come with the takeover
  EXPECT_EQ(get_string(b_end["episode"], "ended_by"), "client");  // the first claim's, kept
  EXPECT_EQ(get_string(b_end["episode"]["end_outcome"], "final_answer"), "42");
  const std::string report = R"(","session_id":"21","report":{"status":"succeeded"}})";
  EXPECT_FALSE(get_bool(ok(h, "gateway_episode_finish", R"({"episode_id":"lease-1","owner":"A)" + report), "finished"))
      << "the dead ender's late finish must be refused";
  EXPECT_TRUE(get_bool(ok(h, "gateway_episode_finish", R"({"episode_id":"lease-1","owner":"B)" + report), "finished"));
  EXPECT_EQ(get_string(episode(h, "lease-1"), "state"), "ended");
  EXPECT_TRUE(stale("0").empty());
}

TEST_P(GatewayOps, BadRequestsSayWhatIsWrong) {
  auto h = handle();
  ASSERT_TRUE(call(h, "migrate", "{}").is_ok());
  auto no_call = call(h, "gateway_call_append", R"({"episode_id":"e"})");
  ASSERT_FALSE(no_call.is_ok());
  EXPECT_NE(no_call.status().message().find("'call' (an object) is required"), std::string::npos)
      << no_call.status().message();
  auto no_id = call(h, "gateway_episode_claim", "{}");
  ASSERT_FALSE(no_id.is_ok());
  EXPECT_NE(no_id.status().message().find("'episode_id'"), std::string::npos) << no_id.status().message();
  auto no_idle = call(h, "gateway_episodes_idle", R"({"idle_seconds":-1})");
  ASSERT_FALSE(no_idle.is_ok());
  EXPECT_NE(no_idle.status().message().find("idle_seconds"), std::string::npos);
  auto bad_lease = call(h, "gateway_episode_claim", R"({"episode_id":"e","lease_seconds":"soon"})");
  ASSERT_FALSE(bad_lease.is_ok());
  EXPECT_NE(bad_lease.status().message().find("'lease_seconds' must be a number"), std::string::npos);
  auto no_owner = call(h, "gateway_episodes_heartbeat", "{}");
  ASSERT_FALSE(no_owner.is_ok());
  EXPECT_NE(no_owner.status().message().find("'owner'"), std::string::npos) << no_owner.status().message();
}

INSTANTIATE_TEST_SUITE_P(Backends, GatewayOps, ::testing::Values("sqlite", "postgresql"), backend_name);

}  // namespace
}  // namespace atlas::test
