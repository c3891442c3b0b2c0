#include "runtime/rollout.hpp"

#include <cstdlib>

#include "common/digest.hpp"
#include "runtime/events.hpp"

namespace atlas::runtime {

int64_t RolloutGroup::seed_of(int index) const {
  // The first 12 hex digits of SHA-256(id:index): stable for a stored group, distinct per
  // sibling, and within the 2^53 that JSON numbers carry exactly.
  const std::string digest = sha256_hex(id + ":" + std::to_string(index));
  return static_cast<int64_t>(std::strtoull(digest.substr(0, 12).c_str(), nullptr, 16));
}

std::optional<double> RolloutGroup::temperature_of(int index) const {
  if (temperatures.empty() || index < 0) return std::nullopt;
  return temperatures[static_cast<size_t>(index) % temperatures.size()];
}

RolloutGroup::Snapshot RolloutGroup::snapshot(const std::string& learning_key, const std::function<Snapshot()>& read) {
  std::lock_guard<std::mutex> g(mu_);
  // Siblings share one task and metadata, hence one key; a caller that mixed keys still gets
  // the state of its own key.
  if (!snapshot_ || snapshot_->learning_key != learning_key) {
    Snapshot s = read();
    s.learning_key = learning_key;
    if (snapshot_) return s;
    snapshot_ = std::move(s);
  }
  return *snapshot_;
}

void RolloutGroup::defer(std::function<void()> launch) {
  std::lock_guard<std::mutex> g(mu_);
  deferred_.push_back(std::move(launch));
}

std::vector<std::function<void()>> RolloutGroup::take_deferred() {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<std::function<void()>> out;
  out.swap(deferred_);
  return out;
}

std::string new_rollout_group_id() {
  return "rg-" + random_id().substr(0, 16);
}

std::string rollout_group_id_error(std::string_view id) {
  if (id.empty() || id.size() > 128)
    return "a rollout group id must be 1-128 characters (got " + std::to_string(id.size()) + ")";
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == ':' || c == '-';
    if (!ok) return "a rollout group id may hold only A-Z a-z 0-9 . _ : - (found '" + std::string(1, c) + "')";
  }
  return "";
}

}  // namespace atlas::runtime
