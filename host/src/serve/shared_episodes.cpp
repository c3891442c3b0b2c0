#include "serve/shared_episodes.hpp"

#include <chrono>
#include <thread>

#include "common/log.hpp"
#include "config/config.hpp"
#include "runtime/captured_call_json.hpp"
#include "serve/episodes.hpp"

namespace atlas::serve {

Result<data::GatewayEpisode> SharedEpisodes::start_call(const std::string& id, const OpenSession& open_session,
                                                        std::shared_ptr<runtime::Episode>* opened_here) {
  auto row = db_.get(id);
  if (!row) return row.status();
  if (*row && (*row)->state != "opening") return std::move(**row);
  if (!*row) {
    auto claim = db_.claim(id);
    if (!claim) return claim.status();
    if (claim->first) {
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
      if (Status st = db_.opened(id, what); !st.is_ok()) return st;
      *opened_here = episode;
      data::GatewayEpisode out = std::move(claim->second);
      out.state = "open";
      out.session_id = what.session_id;
      out.learning_key = what.learning_key;
      out.lane = what.lane;
      out.playbook_block = what.playbook_block;
      out.resume_state = what.resume_state;
      out.recorded = what.recorded;
      return out;
    }
    if (claim->second.state != "opening") return std::move(claim->second);
  }
  return wait_until_open(id);
}

Result<data::GatewayEpisode> SharedEpisodes::wait_until_open(const std::string& id) {
  // Another replica is opening the session (its first call arrived there a moment earlier).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto pause = std::chrono::milliseconds(5);
  while (std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(200));
    auto row = db_.get(id);
    if (!row) return row.status();
    if (*row && (*row)->state != "opening") return std::move(**row);
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
