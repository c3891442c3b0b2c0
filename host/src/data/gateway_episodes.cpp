#include "data/gateway_episodes.hpp"

#include "common/json.hpp"
#include "data/work_queue.hpp"

namespace atlas::data {

namespace {

GatewayEpisode episode_from(const json::Value& v) {
  GatewayEpisode e;
  e.episode_id = json::get_string(v, "episode_id");
  e.state = json::get_string(v, "state");
  e.session_id = json::get_string(v, "session_id");
  e.learning_key = json::get_string(v, "learning_key");
  e.lane = json::get_string(v, "lane");
  e.playbook_block = json::get_string(v, "playbook_block");
  e.resume_state = json::get_string(v, "resume_state");
  e.recorded = json::get_bool(v, "recorded", true);
  e.calls = json::get_int(v, "calls");
  e.model_calls = json::get_int(v, "model_calls");
  e.tokens = json::get_int(v, "tokens");
  e.feedback_count = json::get_int(v, "feedback_count");
  e.limit_note = json::get_string(v, "limit_note");
  e.ended_by = json::get_string(v, "ended_by");
  if (const json::Value* r = json::find(v, "report"); r && r->IsObject()) e.report_json = json::dump(*r);
  e.last_activity_ms = json::get_int(v, "last_activity_ms");
  e.now_ms = json::get_int(v, "now_ms");
  e.owner = json::get_string(v, "owner");
  if (const json::Value* o = json::find(v, "end_outcome"); o && o->IsObject()) e.end_outcome_json = json::dump(*o);
  return e;
}

std::optional<GatewayEpisode> episode_in(const json::Value& answer) {
  const json::Value* e = json::find(answer, "episode");
  if (!e || !e->IsObject()) return std::nullopt;
  return episode_from(*e);
}

std::string id_request(const std::string& id) {
  return "{\"episode_id\":" + json::quote(id) + "}";
}

}  // namespace

std::string GatewayEpisodes::lease_member() const {
  return ",\"owner\":" + json::quote(owner_) + ",\"lease_seconds\":" + std::to_string(lease_seconds_);
}

Result<std::pair<bool, GatewayEpisode>> GatewayEpisodes::claim(const std::string& id) {
  auto doc = queue_call(store_, "gateway_episode_claim", "{\"episode_id\":" + json::quote(id) + lease_member() + "}");
  if (!doc) return doc.status();
  auto e = episode_in(*doc);
  if (!e) return Status(StatusCode::kInternal, "gateway_episode_claim: the storage plugin answered no episode");
  return std::make_pair(json::get_bool(*doc, "claimed"), std::move(*e));
}

Status GatewayEpisodes::opened(const std::string& id, const GatewayEpisodeOpened& what) {
  auto doc =
      queue_call(store_, "gateway_episode_opened",
                 "{\"episode_id\":" + json::quote(id) + ",\"session_id\":" + json::quote(what.session_id) +
                     ",\"learning_key\":" + json::quote(what.learning_key) + ",\"lane\":" + json::quote(what.lane) +
                     ",\"playbook_block\":" + json::quote(what.playbook_block) +
                     ",\"resume_state\":" + json::quote(what.resume_state) +
                     ",\"recorded\":" + (what.recorded ? "true" : "false") + ",\"owner\":" + json::quote(owner_) + "}");
  if (!doc) return doc.status();
  if (!json::get_bool(*doc, "updated"))
    return Status(StatusCode::kFailedPrecondition,
                  "episode " + id + " was not opening any more, or another replica took its opening over");
  return Status::ok();
}

Result<std::optional<GatewayEpisode>> GatewayEpisodes::get(const std::string& id) {
  auto doc = queue_call(store_, "gateway_episode_get", id_request(id));
  if (!doc) return doc.status();
  return episode_in(*doc);
}

Result<GatewayAppend> GatewayEpisodes::append_call(const std::string& id, const std::string& call_json,
                                                   int64_t model_calls, int64_t tokens) {
  auto doc = queue_call(store_, "gateway_call_append",
                        "{\"episode_id\":" + json::quote(id) + ",\"call\":" + call_json + ",\"model_calls\":" +
                            std::to_string(model_calls) + ",\"tokens\":" + std::to_string(tokens) + "}");
  if (!doc) return doc.status();
  GatewayAppend out;
  out.appended = json::get_bool(*doc, "appended");
  out.seq = json::get_int(*doc, "seq");
  out.state = json::get_string(*doc, "state");
  return out;
}

Result<std::pair<bool, std::string>> GatewayEpisodes::add_feedback(const std::string& id,
                                                                   const std::string& feedback_json) {
  auto doc = queue_call(store_, "gateway_feedback_add",
                        "{\"episode_id\":" + json::quote(id) + ",\"feedback\":" + feedback_json + "}");
  if (!doc) return doc.status();
  return std::make_pair(json::get_bool(*doc, "added"), json::get_string(*doc, "state"));
}

Status GatewayEpisodes::note_limit(const std::string& id, const std::string& reason) {
  auto doc = queue_call(store_, "gateway_episode_note_limit",
                        "{\"episode_id\":" + json::quote(id) + ",\"reason\":" + json::quote(reason) + "}");
  return doc ? Status::ok() : doc.status();
}

Result<GatewayEndClaim> GatewayEpisodes::claim_end(const std::string& id, const std::string& ended_by,
                                                   const std::string& outcome_json) {
  auto doc = queue_call(store_, "gateway_episode_end",
                        "{\"episode_id\":" + json::quote(id) + ",\"ended_by\":" + json::quote(ended_by) +
                            (outcome_json.empty() ? "" : ",\"outcome\":" + outcome_json) + lease_member() + "}");
  if (!doc) return doc.status();
  GatewayEndClaim out;
  out.claimed = json::get_bool(*doc, "claimed");
  out.took_over = json::get_bool(*doc, "took_over");
  out.episode = episode_in(*doc);
  for (auto [key, list] : {std::pair{"calls", &out.calls}, std::pair{"feedback", &out.feedback}}) {
    if (const json::Value* a = json::find(*doc, key); a && a->IsArray())
      for (const json::Value& v : a->GetArray()) list->push_back(json::dump(v));
  }
  return out;
}

Status GatewayEpisodes::finish(const std::string& id, const std::string& session_id, const std::string& report_json) {
  auto doc = queue_call(store_, "gateway_episode_finish",
                        "{\"episode_id\":" + json::quote(id) + ",\"session_id\":" + json::quote(session_id) +
                            ",\"report\":" + report_json + ",\"owner\":" + json::quote(owner_) + "}");
  if (!doc) return doc.status();
  if (!json::get_bool(*doc, "finished"))
    return Status(StatusCode::kFailedPrecondition,
                  "episode " + id + " was not ending any more, or another replica took its end over");
  return Status::ok();
}

Result<GatewayIdle> GatewayEpisodes::idle(double idle_seconds, int limit) {
  auto doc = queue_call(store_, "gateway_episodes_idle",
                        "{\"idle_seconds\":" + std::to_string(idle_seconds) + ",\"limit\":" + std::to_string(limit) +
                            lease_member() + "}");
  if (!doc) return doc.status();
  GatewayIdle out;
  for (auto [key, list] : {std::pair{"episode_ids", &out.idle}, std::pair{"stale_ending_ids", &out.stale_ending}}) {
    if (const json::Value* a = json::find(*doc, key); a && a->IsArray())
      for (const json::Value& v : a->GetArray())
        if (v.IsString()) list->emplace_back(v.GetString());
  }
  return out;
}

Result<int64_t> GatewayEpisodes::heartbeat() {
  auto doc = queue_call(store_, "gateway_episodes_heartbeat", "{\"owner\":" + json::quote(owner_) + "}");
  if (!doc) return doc.status();
  return json::get_int(*doc, "renewed");
}

}  // namespace atlas::data
