// The host side of shared gateway episodes (docs/serve.md, "Several gateway replicas"): typed
// calls to the storage plugin's gateway_* operations (plugins/storage/soci/ops_gateway.hpp),
// used by `atlas-host serve` with [serve] shared_episodes = true.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "data/store.hpp"

namespace atlas::data {

// One row of gateway_episodes.
struct GatewayEpisode {
  std::string episode_id;
  std::string state;  // opening | open | ending | ended
  std::string session_id, learning_key, lane, playbook_block;
  std::string resume_state;  // runtime::Episode::resume_state_json()
  bool recorded = true;      // false: the session ended at once; calls are forwarded, not recorded
  int64_t calls = 0, model_calls = 0, tokens = 0, feedback_count = 0;
  std::string limit_note;  // the first [limits] refusal ("" = none)
  std::string ended_by;
  std::string report_json;                   // the end report once ended ("" before)
  int64_t last_activity_ms = 0, now_ms = 0;  // on the database's clock (opening/ending: the lease)
  std::string owner;                         // the replica opening or ending it ("" otherwise)
  std::string end_outcome_json;              // what the first /end asked for, once ending ("" = none)
};

// What the replica that opened the session stores for the others.
struct GatewayEpisodeOpened {
  std::string session_id, learning_key, lane, playbook_block, resume_state;
  bool recorded = true;
};

struct GatewayAppend {
  bool appended = false;
  int64_t seq = 0;
  std::string state;  // the episode's state ("missing" when there is no such episode)
};

struct GatewayEndClaim {
  bool claimed = false;    // this caller won open -> ending and must finish the episode
  bool took_over = false;  // ... by taking over the end of a replica whose lease expired
  std::optional<GatewayEpisode> episode;
  std::vector<std::string> calls;     // captured calls (JSON) by seq, when claimed
  std::vector<std::string> feedback;  // feedback documents (JSON) in arrival order, when claimed
};

struct GatewayIdle {
  std::vector<std::string> idle;          // open episodes past the idle timeout
  std::vector<std::string> stale_ending;  // ending episodes whose owner's lease expired
};

// `owner` names this replica in the rows it opens or ends (its lease); `lease_seconds` is how
// long another replica's lease may go unrenewed before this one takes the row over.
class GatewayEpisodes {
 public:
  GatewayEpisodes(Store& store, std::string owner, double lease_seconds)
      : store_(store), owner_(std::move(owner)), lease_seconds_(lease_seconds) {}
  const std::string& owner() const { return owner_; }

  // Inserts the episode as `opening` unless it exists, or takes over an opening row whose
  // lease expired. first = true: this caller must open the session, then call opened().
  Result<std::pair<bool, GatewayEpisode>> claim(const std::string& id);
  Status opened(const std::string& id, const GatewayEpisodeOpened& what);
  Result<std::optional<GatewayEpisode>> get(const std::string& id);
  // Appends a captured call (runtime/captured_call_json.hpp) while the episode is open,
  // committed before it returns; model_calls and tokens add to the episode's [limits] counters.
  Result<GatewayAppend> append_call(const std::string& id, const std::string& call_json, int64_t model_calls,
                                    int64_t tokens);
  // Keeps feedback with the open episode. The state, and whether it was added.
  Result<std::pair<bool, std::string>> add_feedback(const std::string& id, const std::string& feedback_json);
  Status note_limit(const std::string& id, const std::string& reason);
  // open -> ending (keeping `outcome_json`, "" = none, for a takeover), or the takeover of an
  // ending row whose lease expired.
  Result<GatewayEndClaim> claim_end(const std::string& id, const std::string& ended_by,
                                    const std::string& outcome_json);
  Status finish(const std::string& id, const std::string& session_id, const std::string& report_json);
  // Open episodes idle for more than `idle_seconds` and ending ones with an expired lease, on
  // the database's clock.
  Result<GatewayIdle> idle(double idle_seconds, int limit);
  // Renews the lease of every row this replica is opening or ending; how many.
  Result<int64_t> heartbeat();

 private:
  std::string lease_member() const;  // ,"owner":..,"lease_seconds":..
  Store& store_;
  std::string owner_;
  double lease_seconds_;
};

}  // namespace atlas::data
