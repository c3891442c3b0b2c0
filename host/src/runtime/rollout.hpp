// Rollout groups (docs/runtime.md, "Rollout groups"): N sibling sessions of one task that see
// the same learning state. The first sibling to begin reads the playbook and the learning
// history; every other sibling reuses that snapshot, so a sibling that ends early cannot change
// what a later one is shown. Learning updates a sibling would start are held back and started
// by Runtime::run_rollouts once the whole group has ended.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "data/store.hpp"

namespace atlas::runtime {

struct RolloutGroup {
  std::string id;
  int size = 0;
  std::vector<double> temperatures;  // empty = the model's own temperature for every sibling

  // The sampling seed of sibling `index`: derived from the group id, distinct per sibling.
  int64_t seed_of(int index) const;
  // The temperature of sibling `index` (temperatures[index % size]); nullopt = the model's own.
  std::optional<double> temperature_of(int index) const;

  // The learning state the whole group sees: read by the first sibling that asks (`read`
  // runs once, under the group's lock), then handed to every other sibling.
  struct Snapshot {
    std::string learning_key;
    std::optional<data::LearningState> state;  // nullopt: not read (learning off, or the read failed)
    std::string history_json;                  // the aggregated learning history
  };
  Snapshot snapshot(const std::string& learning_key, const std::function<Snapshot()>& read);

  // Learning launches held back until the group has ended (Runtime::run_rollouts starts them).
  void defer(std::function<void()> launch);
  std::vector<std::function<void()>> take_deferred();

 private:
  std::mutex mu_;
  std::optional<Snapshot> snapshot_;
  std::vector<std::function<void()>> deferred_;
};

// One sibling of a group: what Runtime::run_rollouts hands each of its sessions.
struct RolloutSlot {
  std::shared_ptr<RolloutGroup> group;
  int index = 0;  // 0-based
};

// A new group id: "rg-" followed by 16 hex digits.
std::string new_rollout_group_id();

// A caller's rollout group id (run --rollout-group, the gateway's X-Atlas-Rollout-Group header):
// empty when valid, else why not (1-128 characters of A-Z a-z 0-9 . _ : -).
std::string rollout_group_id_error(std::string_view id);

}  // namespace atlas::runtime
