// Shared episodes ([serve] shared_episodes = true, docs/serve.md "Several gateway replicas"):
// the episode's state lives in the database (data/gateway_episodes.hpp), so any `atlas-host serve`
// replica on the same database serves any call of it.
//
//   first call (any replica)  claim the row (opening) -> begin the session -> row open, with the
//                             session's resume state; a replica that lost the claim waits for open
//   every call                read the row (lane, playbook block, counters), forward, then append
//                             the captured call; the append commits before the reply goes out
//   end (/end, idle timeout)  open -> ending in one conditional UPDATE (one replica wins), then
//                             that replica resumes the session, replays the stored calls into it
//                             (the calls' events are written here, once) and ends it as usual
//   leases                    the replica opening or ending a row renews its lease (heartbeat);
//                             when it dies, another replica takes the row over after
//                             [serve] episode_lease_seconds: the next call opens the session
//                             again, the reaper ends the episode with the outcome /end stored
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "data/gateway_episodes.hpp"
#include "runtime/runtime.hpp"

namespace atlas::serve {

class SharedEpisodes {
 public:
  SharedEpisodes(runtime::Runtime& rt, data::Store& store, double lease_seconds);

  // Opens the session for a new episode: the episode, or null with `error` set when it could not
  // be recorded (the session ended at once).
  using OpenSession = std::function<std::shared_ptr<runtime::Episode>(std::string* error)>;

  // The row a new call of episode `id` forwards with. The first call of an episode (no row yet)
  // claims it and runs `open_session` (its episode comes back in `opened_here`); a call that
  // finds another replica opening it waits (up to 30 s) until it is open, or takes the opening
  // over when that replica's lease expires.
  Result<data::GatewayEpisode> start_call(const std::string& id, const OpenSession& open_session,
                                          std::shared_ptr<runtime::Episode>* opened_here);
  // The session of an open episode taken up on this replica (teacher checks of paired/coach
  // calls); null when its resume state is unreadable.
  std::shared_ptr<runtime::Episode> resume(const data::GatewayEpisode& row);
  // Stores a served call, committed before it returns. FAILED_PRECONDITION when the episode is
  // no longer open (another replica ended it meanwhile).
  // `local` (the session opened or taken up here, may be null): its events (teacher checks) are
  // flushed first, so a replica killed after the reply loses nothing of the call.
  Status append(const std::string& id, const runtime::CapturedCall& call, const runtime::Episode* local);
  Status note_limit(const std::string& id, const std::string& reason) { return db_.note_limit(id, reason); }
  // open -> ending; `outcome` is kept on the row for a replica that takes the end over.
  Result<data::GatewayEndClaim> claim_end(const std::string& id, const runtime::EpisodeOutcome& outcome);
  // Takes over the end of an episode whose ending replica's lease expired: claimed (with the
  // first /end's outcome in `outcome`) or not (another replica was first, or the lease was
  // renewed meanwhile).
  Result<data::GatewayEndClaim> take_over_end(const std::string& id, runtime::EpisodeOutcome* outcome);
  struct Ended {
    std::string session_id;
    std::string report_json;
  };
  // The end of an episode this replica claimed: resumes its session, replays the stored calls,
  // adds its feedback and first limit refusal, ends it (judges, review, stored session,
  // learning) and stores the report on the row.
  Ended finish_end(const data::GatewayEndClaim& claim, runtime::EpisodeOutcome outcome);
  Result<std::optional<data::GatewayEpisode>> get(const std::string& id) { return db_.get(id); }
  Result<std::pair<bool, std::string>> add_feedback(const std::string& id, const std::string& feedback_json) {
    return db_.add_feedback(id, feedback_json);
  }
  Result<data::GatewayIdle> idle(double idle_seconds) { return db_.idle(idle_seconds, 100); }
  // Renews this replica's leases; called by the reaper every quarter lease.
  Result<int64_t> heartbeat() { return db_.heartbeat(); }
  double lease_seconds() const { return lease_seconds_; }

 private:
  Result<data::GatewayEpisode> open_claimed(const std::string& id, data::GatewayEpisode claimed,
                                            const OpenSession& open_session,
                                            std::shared_ptr<runtime::Episode>* opened_here);
  Result<data::GatewayEpisode> wait_until_open(const std::string& id, const OpenSession& open_session,
                                               std::shared_ptr<runtime::Episode>* opened_here);
  runtime::Runtime& rt_;
  data::Store& store_;
  double lease_seconds_;
  data::GatewayEpisodes db_;
};

}  // namespace atlas::serve
