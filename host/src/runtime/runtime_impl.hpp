// The runtime's shared state (internal to the runtime component): what Runtime::create
// assembles from the configuration and every session of the runtime uses.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "common/worker_pool.hpp"
#include "config/config.hpp"
#include "data/store.hpp"
#include "llm/llm.hpp"
#include "mcp/tool_loop.hpp"
#include "plugin/registry.hpp"
#include "rewards/rewards.hpp"
#include "runtime/events.hpp"
#include "runtime/host_services.hpp"
#include "runtime/runtime.hpp"

namespace atlas::runtime {

struct RolloutSlot;  // runtime/rollout.hpp

class Runtime::Impl {
 public:
  config::Config config;
  RuntimeOptions options;
  std::shared_ptr<llm::Client> client;
  std::unique_ptr<plugin::Registry> registry;
  std::shared_ptr<RuntimeServices> services;
  plugin::AdapterHandle adapter;
  plugin::ProbeHandle probe;
  std::shared_ptr<data::Store> store;
  std::unique_ptr<rewards::RewardEngine> rewards;
  std::unique_ptr<mcp::ToolSet> tools;
  // Ctrl-C: set once by Runtime::cancel(); every model call of the runtime runs under it.
  std::shared_ptr<llm::Cancellation> cancellation = std::make_shared<llm::Cancellation>();
  bool cancelled() const { return cancellation->cancelled(); }
  // Step bodies abandoned in a plugin call that never returned (they may still run).
  std::atomic<int> abandoned_steps{0};
  // Background learning syntheses: at most kMaxBackground at once (a long-running gateway ends
  // many episodes a second; launching waits for a slot, off any request path), on threads kept
  // between syntheses: a gateway ending 200 episodes a second used to start 200 threads a
  // second, whose stacks are mapped and unmapped under the process's memory-map lock that every
  // relay thread's page fault also takes.
  static constexpr int kMaxBackground = 4;
  // Runs `task` in the background; with `wait_for_slot`, first waits until fewer than
  // kMaxBackground run (a rollout group's deferred updates do not wait: the group has ended).
  void run_in_background(std::function<void()> task, bool wait_for_slot);
  void wait_background_idle();
  std::mutex background_mu;
  std::condition_variable background_cv;
  int background_running = 0;
  WorkerPool background_pool{kMaxBackground};
  std::mutex progress_mu;
  // The latest learning state seen per learning key (read by a session's begin, written after a
  // synthesis), so that an episode can be opened without waiting for storage
  // (Runtime::prepare_episode). An entry older than options.learning_cache_seconds is still used,
  // but the first episode that finds it so re-reads the key off the request path (another process
  // may have written it since): stale-while-revalidate, so that no episode waits for storage to
  // learn what a second ago it knew.
  std::mutex learning_cache_mu;
  std::map<std::string, std::pair<data::LearningState, std::chrono::steady_clock::time_point>> learning_cache;
  void remember_learning(const std::string& key, const data::LearningState& state);
  struct KnownLearning {
    data::LearningState state;
    bool refresh = false;  // stale: the caller re-reads the key (the entry counts as fresh meanwhile)
  };
  std::optional<KnownLearning> known_learning(const std::string& key);

  // `rollout`: the sibling's group and index (run_rollouts), null for a lone session.
  SessionReport run(const TaskSpec& task, const RolloutSlot* rollout = nullptr);
  void print_progress(const Event& e);
};

}  // namespace atlas::runtime
