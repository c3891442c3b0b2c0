// The episode table and the storage strand queue: ordering per episode, the bound, draining.
#include "serve/episodes.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <future>
#include <thread>
#include <vector>

namespace atlas::serve {
namespace {

TEST(StorageQueue, RunsEachEpisodesWorkInOrderAndDrains) {
  std::vector<int> a_seen, b_seen;
  std::mutex mu;
  {
    StorageQueue q(1000, 4);
    auto a = std::make_shared<OpenEpisode>("a");
    auto b = std::make_shared<OpenEpisode>("b");
    for (int i = 0; i < 200; ++i) {
      q.submit(a, [&, i] {
        std::lock_guard<std::mutex> g(mu);
        a_seen.push_back(i);
      });
      q.submit(b, [&, i] {
        std::lock_guard<std::mutex> g(mu);
        b_seen.push_back(i);
      });
    }
    EXPECT_TRUE(q.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
    EXPECT_EQ(q.depth(), 0u);
  }
  ASSERT_EQ(a_seen.size(), 200u);
  ASSERT_EQ(b_seen.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(a_seen[i], i);
    EXPECT_EQ(b_seen[i], i);
  }
}

TEST(StorageQueue, ReportsFullWithoutDroppingWhatWasAdmitted) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  {
    StorageQueue q(2, 1);
    auto ep = std::make_shared<OpenEpisode>("e");
    q.submit(ep, [&] {
      gate.wait();
      ++ran;
    });
    q.submit(ep, [&] { ++ran; });
    EXPECT_FALSE(q.has_room());
    release.set_value();
  }  // the destructor finishes queued work
  EXPECT_EQ(ran.load(), 2);
}

// Relay threads submit without a lock: many at once, to shared and own episodes. Every op runs
// exactly once, each episode's ops in the order one thread submitted them, never two of one
// episode at the same time, and nothing is lost when the queue is destroyed right after.
TEST(StorageQueue, ManySubmittersKeepEachEpisodesOrderAndLoseNothing) {
  constexpr int kThreads = 8, kEpisodes = 16, kPerThread = 2000;
  struct Seen {
    std::mutex mu;
    std::vector<std::pair<int, int>> ops;  // (thread, sequence)
    std::atomic<int> running{0};
    bool overlapped = false;
  };
  std::vector<Seen> seen(kEpisodes);
  std::atomic<int> total{0};
  {
    StorageQueue q(1u << 30, 4);
    std::vector<std::shared_ptr<OpenEpisode>> eps;
    for (int e = 0; e < kEpisodes; ++e) eps.push_back(std::make_shared<OpenEpisode>("e" + std::to_string(e)));
    std::vector<std::thread> submitters;
    for (int t = 0; t < kThreads; ++t)
      submitters.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int e = (t * 7 + i) % kEpisodes;
          q.submit(eps[static_cast<size_t>(e)], [&, e, t, i] {
            Seen& s = seen[static_cast<size_t>(e)];
            if (s.running.fetch_add(1) != 0) s.overlapped = true;
            {
              std::lock_guard<std::mutex> g(s.mu);
              s.ops.emplace_back(t, i);
            }
            s.running.fetch_sub(1);
            ++total;
          });
        }
      });
    for (auto& th : submitters) th.join();
  }  // destroyed at once: must still run everything admitted
  EXPECT_EQ(total.load(), kThreads * kPerThread);
  for (int e = 0; e < kEpisodes; ++e) {
    Seen& s = seen[static_cast<size_t>(e)];
    EXPECT_FALSE(s.overlapped) << "two ops of episode " << e << " ran at the same time";
    std::vector<int> last(kThreads, -1);
    for (auto [t, i] : s.ops) {
      EXPECT_GT(i, last[static_cast<size_t>(t)]) << "episode " << e << ": thread " << t << "'s ops out of order";
      last[static_cast<size_t>(t)] = i;
    }
  }
}

// A submit onto work no worker has taken yet wakes nobody (one wake-up takes it all), so the
// worker that takes two episodes' work at once must wake another for the second: each op here
// waits until the other episode's op runs too, which only two workers in parallel can satisfy.
TEST(StorageQueue, DifferentEpisodesTakenInOneWakeUpStillRunInParallel) {
  StorageQueue q(100, 2);
  for (int round = 0; round < 50; ++round) {
    auto a = std::make_shared<OpenEpisode>("a" + std::to_string(round));
    auto b = std::make_shared<OpenEpisode>("b" + std::to_string(round));
    struct Meeting {
      std::mutex mu;
      std::condition_variable cv;
      int running = 0, met = 0;
    };
    auto m = std::make_shared<Meeting>();
    auto meet = [m] {
      std::unique_lock<std::mutex> lk(m->mu);
      ++m->running;
      m->cv.notify_all();
      if (m->cv.wait_for(lk, std::chrono::seconds(5), [&] { return m->running == 2; })) ++m->met;
    };
    q.submit(a, meet);
    q.submit(b, meet);
    ASSERT_TRUE(q.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
    ASSERT_EQ(m->met, 2) << "round " << round << ": the two episodes' ops ran one after the other";
  }
}

TEST(StorageQueue, WaitIdleTimesOutWhileWorkRunsAndSucceedsAfter) {
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  StorageQueue q(10, 2);
  auto ep = std::make_shared<OpenEpisode>("e");
  q.submit(ep, [gate] { gate.wait(); });
  EXPECT_EQ(q.depth(), 1u);
  EXPECT_FALSE(q.wait_idle(std::chrono::steady_clock::now() + std::chrono::milliseconds(50)));
  release.set_value();
  EXPECT_TRUE(q.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(q.depth(), 0u);
}

TEST(EpisodeTable, EndedEpisodesAreRememberedAndRefused) {
  EpisodeTable t(2);
  std::optional<EndedEpisode> ended;
  auto a = t.open("a", &ended);
  ASSERT_TRUE(a);
  EXPECT_EQ(t.open("a", &ended), a);
  EXPECT_TRUE(t.take_for_end("a", "17"));
  EXPECT_FALSE(t.take_for_end("a", "17"));
  EXPECT_FALSE(t.open("a", &ended));
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->session_id, "17");
  // The memory of ended episodes is bounded.
  t.open("b", nullptr);
  t.take_for_end("b", "");
  t.open("c", nullptr);
  t.take_for_end("c", "");
  EXPECT_FALSE(t.ended("a"));
  EXPECT_TRUE(t.ended("c"));
}

TEST(EpisodeTable, IdleEpisodesAreTakenOnce) {
  EpisodeTable t;
  auto a = t.open("a", nullptr);
  auto b = t.open("b", nullptr);
  a->last_activity_ms = 100;
  b->last_activity_ms = 300;
  auto idle = t.take_idle(200);
  ASSERT_EQ(idle.size(), 1u);
  EXPECT_EQ(idle[0]->id, "a");
  EXPECT_EQ(t.open_count(), 1u);
  EXPECT_EQ(t.take_idle(-1).size(), 1u);
  EXPECT_EQ(t.open_count(), 0u);
}

TEST(EpisodeIds, ClientIdsAreChecked) {
  EXPECT_TRUE(valid_episode_id("run-1.a:b_c"));
  EXPECT_FALSE(valid_episode_id(""));
  EXPECT_FALSE(valid_episode_id("a/b"));
  EXPECT_FALSE(valid_episode_id(std::string(129, 'a')));
  EXPECT_TRUE(valid_episode_id(new_episode_id()));
  EXPECT_NE(new_episode_id(), new_episode_id());
}

}  // namespace
}  // namespace atlas::serve
