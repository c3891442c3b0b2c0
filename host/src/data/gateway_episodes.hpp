// The host side of shared gateway episodes (docs/serve.md, "Several gateway replicas"): typed
// calls to the storage plugin's gateway_* operations (plugins/storage/soci/ops_gateway.hpp),
// used by `atlas-host serve` with [serve] shared_episodes = true.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
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
  int64_t last_activity_ms = 0, now_ms = 0;  // on the database's clock
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
  bool claimed = false;  // this caller won open -> ending and must finish the episode
  std::optional<GatewayEpisode> episode;
  std::vector<std::string> calls;     // captured calls (JSON) by seq, when claimed
  std::vector<std::string> feedback;  // feedback documents (JSON) in arrival order, when claimed
};

class GatewayEpisodes {
 public:
  explicit GatewayEpisodes(Store& store) : store_(store) {}

  // Inserts the episode as `opening` unless it exists. first = true: this caller inserted it
  // and must open the session, then call opened().
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
  Result<GatewayEndClaim> claim_end(const std::string& id, const std::string& ended_by);
  Status finish(const std::string& id, const std::string& session_id, const std::string& report_json);
  // Open episodes idle for more than `idle_seconds` on the database's clock.
  Result<std::vector<std::string>> idle(double idle_seconds, int limit);

 private:
  Store& store_;
};

}  // namespace atlas::data
