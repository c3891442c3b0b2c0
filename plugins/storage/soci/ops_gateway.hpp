// Shared gateway episodes (docs/serve.md, "Several gateway replicas"): the episode rows, captured
// calls and feedback that let any `atlas-host serve` replica take any call of an episode, and
// the conditional state transitions that let exactly one replica end it, with leases so a dead
// replica's opening or ending is taken over. Tables: migration 8.
#pragma once

#include <rapidjson/document.h>

#include <string>
#include <vector>

#include "db.hpp"

namespace atlas_soci {

std::vector<std::string> gateway_episodes_schema(Backend b);

std::string op_gateway_episode_claim(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episode_opened(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episode_get(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_call_append(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_feedback_add(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episode_note_limit(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episode_end(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episode_finish(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episodes_idle(Pool& pool, const rapidjson::Value& req);
std::string op_gateway_episodes_heartbeat(Pool& pool, const rapidjson::Value& req);

}  // namespace atlas_soci
