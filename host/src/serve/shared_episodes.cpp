#include "serve/shared_episodes.hpp"

#include <chrono>
#include <thread>

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/process_name.hpp"
#include "config/config.hpp"
#include "runtime/captured_call_json.hpp"
#include "runtime/events.hpp"
#include "serve/episodes.hpp"

namespace atlas::serve {

namespace {

std::string outcome_to_json(const runtime::EpisodeOutcome& o) {
  std::string out = "{\"final_answer\":" + json::quote(o.final_answer) + ",\"ended_by\":" + json::quote(o.ended_by);
  if (o.success) out += std::string(",\"success\":") + (*o.success ? "true" : "false");
  if (!o.feedback_json.empty()) out += ",\"feedback\":" + o.feedback_json;
  return out + "}";
}

// The outcome the first /end stored on the row ("" = none: an idle timeout's end).
runtime::EpisodeOutcome outcome_from_row(const data::GatewayEpisode& row) {
  runtime::EpisodeOutcome o;
  o.ended_by = row.ended_by.empty() ? "client" : row.ended_by;
  auto doc = json::parse(row.end_outcome_json.empty() ? "{}" : row.end_outcome_json, "end outcome");
  if (!doc || !doc->IsObject()) return o;
  o.final_answer = json::get_string(*doc, "final_answer");
  if (const json::Value* s = json::find(*doc, "success"); s && s->IsBool()) o.success = s->GetBool();
  if (const json::Value* f = json::find(*doc, "feedback"); f && f->IsObject()) o.feedback_json = json::dump(*f);
  return o;
}

bool lease_expired(const data::GatewayEpisode& row, double lease_seconds) {
  return static_cast<double>(row.now_ms - row.last_activity_ms) > lease_seconds * 1000.0;
}

}  // namespace

SharedEpisodes::SharedEpisodes(runtime::Runtime& rt, data::Store& store, double lease_seconds)
    : rt_(rt),
      store_(store),
      lease_seconds_(lease_seconds),
      // The random part keeps a restarted replica (same pod name, same pid 1) from renewing the
      // leases of rows its previous life left half done.
      db_(store, host_and_pid() + ":" + runtime::random_id().substr(0, 12), lease_seconds) {}

Result<data::GatewayEpisode> SharedEpisodes::start_call(const std::string& id, const OpenSession& open_session,
                                                        std::shared_ptr<runtime::Episode>* opened_here) {
  auto row = db_.get(id);
  if (!row) return row.status();
  if (*row && (*row)->state != "opening") return std::move(**row);
  // No row yet, or another replica is opening it: claim (which also takes over an expired lease).
  auto claim = db_.claim(id);
  if (!claim) return claim.status();
  if (claim->first) {
    if (*row)
      log::warn("serve", "episode " + id + ": took over its opening from " + (*row)->owner + ", whose lease expired");
    return open_claimed(id, std::move(claim->second), open_session, opened_here);
  }
  if (claim->second.state != "opening") return std::move(claim->second);
  return wait_until_open(id, open_session, opened_here);
}

Result<data::GatewayEpisode> SharedEpisodes::open_claimed(const std::string& id, data::GatewayEpisode claimed,
                                                          const OpenSession& open_session,
                                                          std::shared_ptr<runtime::Episode>* opened_here) {
  std::string error;
  std::shared_ptr<runtime::Episode> episode = open_session(&error);
  data::GatewayEpisodeOpened what;
  if (episode) {
    // The session's first events (start, route) are durable before another replica can take
    // the episode up: they are written in batches, and this process may be killed.
    if (Status st = store_.flush(episode->session_id()); !st.is_ok())
      log::warn("serve", "episode " + id + ": the session's first events wait in the spool: " + st.message());
    what.session_id = episode->session_id();
    what.learning_key = episode->learning_key();
    what.lane = std::string(config::lane_name(episode->lane()));
    what.playbook_block = episode->playbook_block();
    what.resume_state = episode->resume_state_json();
  } else {
    what.recorded = false;
    what.lane = std::string(config::lane_name(config::Lane::kAuto));
    log::warn("serve", "episode " + id + " could not be recorded: " + error);
  }
  if (Status st = db_.opened(id, what); !st.is_ok()) {
    // Another replica took the opening over (this one stalled past its lease): its session is
    // the episode's; the one begun here ends now, so it is not left running.
    if (episode) {
      runtime::EpisodeOutcome abandoned;
      abandoned.ended_by = "superseded";
      episode->end(abandoned);
    }
    return st;
  }
  *opened_here = episode;
  claimed.state = "open";
  claimed.session_id = what.session_id;
  claimed.learning_key = what.learning_key;
  claimed.lane = what.lane;
  claimed.playbook_block = what.playbook_block;
  claimed.resume_state = what.resume_state;
  claimed.recorded = what.recorded;
  claimed.owner.clear();
  return claimed;
}

Result<data::GatewayEpisode> SharedEpisodes::wait_until_open(const std::string& id, const OpenSession& open_session,
                                                             std::shared_ptr<runtime::Episode>* opened_here) {
  // Another replica is opening the session (its first call arrived there a moment earlier).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto pause = std::chrono::milliseconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
    auto row = db_.get(id);
    if (!row) return row.status();
    if (*row && (*row)->state != "opening") return std::move(**row);
    if (*row && lease_expired(**row, lease_seconds_)) {
      auto claim = db_.claim(id);  // the opener died: take over (one waiter wins)
      if (!claim) return claim.status();
      if (claim->first) {
        log::warn("serve", "episode " + id + ": took over its opening from " + (*row)->owner + ", whose lease expired");
        return open_claimed(id, std::move(claim->second), open_session, opened_here);
      }
    }
  }
  return unavailable("episode " + id + " is still being opened by another gateway replica after 30 s; retry");
}

std::shared_ptr<runtime::Episode> SharedEpisodes::resume(const data::GatewayEpisode& row) {
  if (!row.recorded || row.resume_state.empty()) return nullptr;
  return rt_.resume_episode(row.resume_state);
}

Status SharedEpisodes::append(const std::string& id, const runtime::CapturedCall& call, const runtime::Episode* local) {
  if (local) {
    if (Status st = store_.flush(local->session_id()); !st.is_ok())
      log::warn("serve", "episode " + id + ": the call's teacher events wait in the spool: " + st.message());
  }
  const llm::Usage& u = call.reply.usage;
  const int64_t tokens = u.total_tokens > 0 ? u.total_tokens : u.prompt_tokens + u.completion_tokens;
  auto done =
      db_.append_call(id, runtime::captured_call_to_json(call), 1 + static_cast<int64_t>(call.rejected.size()), tokens);
  if (!done) return done.status();
  if (!done->appended)
    return Status(StatusCode::kFailedPrecondition, "episode " + id + " ended on another gateway replica (" +
                                                       done->state + ") before this call was stored");
  return Status::ok();
}

Result<data::GatewayEndClaim> SharedEpisodes::claim_end(const std::string& id, const runtime::EpisodeOutcome& outcome) {
  return db_.claim_end(id, outcome.ended_by, outcome_to_json(outcome));
}

Result<data::GatewayEndClaim> SharedEpisodes::take_over_end(const std::string& id, runtime::EpisodeOutcome* outcome) {
  auto claim = db_.claim_end(id, "", "");
  if (!claim || !claim->claimed || !claim->episode) return claim;
  *outcome = outcome_from_row(*claim->episode);
  log::warn("serve", "episode " + id + ": took over its end (" + outcome->ended_by +
                         ") from a replica whose lease expired; the stored calls are judged and stored here");
  return claim;
}

SharedEpisodes::Ended SharedEpisodes::finish_end(const data::GatewayEndClaim& claim, runtime::EpisodeOutcome outcome) {
  Ended out;
  const data::GatewayEpisode& row = *claim.episode;
  std::shared_ptr<runtime::Episode> episode = resume(row);
  if (!episode) {
    out.report_json = row.recorded ? "{\"error\":\"the episode's session could not be taken up on this replica\"}"
                                   : "{\"error\":\"the episode was not recorded\"}";
  } else {
    for (size_t i = 0; i < claim.calls.size(); ++i) {
      auto call = runtime::captured_call_from_json(claim.calls[i]);
      if (!call) {
        log::error("serve", "episode " + row.episode_id + ": stored call " + std::to_string(i + 1) +
                                " is unreadable, left out: " + call.status().message());
        continue;
      }
      episode->record(*call);
    }
    if (!row.limit_note.empty()) episode->note_limit(row.limit_note);
    std::vector<std::string> feedback = claim.feedback;
    if (!outcome.feedback_json.empty()) feedback.push_back(outcome.feedback_json);
    outcome.feedback_json = feedback_array(feedback);
    runtime::SessionReport report = episode->end(outcome);
    out.session_id = report.session_id;
    out.report_json = report.to_json();
  }
  if (Status st = db_.finish(row.episode_id, out.session_id, out.report_json); !st.is_ok())
    log::error("serve", "episode " + row.episode_id + ": the end report could not be stored: " + st.message());
  return out;
}

}  // namespace atlas::serve
