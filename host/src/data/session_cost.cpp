#include "data/session_cost.hpp"

#include <cstdio>

namespace atlas::data {

using json::Value;

namespace {

std::optional<double> usd_member(const Value& object) {
  const Value* cost = json::find(object, "cost_usd");
  if (!cost || !cost->IsNumber()) return std::nullopt;
  return cost->GetDouble();
}

}  // namespace

SessionCost session_cost(const Value& session) {
  SessionCost out;
  const Value* meta = json::find(session, "metadata");
  const Value* usage = meta && meta->IsObject() ? json::find(*meta, "token_usage") : nullptr;
  if (usage && usage->IsObject()) {
    out.total_usd = usd_member(*usage);
    if (const Value* roles = json::find(*usage, "by_role"); roles && roles->IsObject())
      for (auto it = roles->MemberBegin(); it != roles->MemberEnd(); ++it)
        if (it->value.IsObject()) out.by_role[it->name.GetString()] = usd_member(it->value);
    if (const Value* unpriced = json::find(*usage, "unpriced_roles"); unpriced && unpriced->IsArray())
      for (const Value& role : unpriced->GetArray())
        if (role.IsString()) out.unpriced_roles.emplace_back(role.GetString());
  }
  if (const Value* events = json::find(session, "trajectory_events"); events && events->IsArray()) {
    CostSum learning;
    for (const Value& e : events->GetArray()) {
      const Value* body = json::find(e, "event");
      if (!body || json::get_string(*body, "type") != "llm_call" || json::get_string(*body, "role") != "learning")
        continue;
      const Value* data = json::find(*body, "data");
      learning.add(data && data->IsObject() ? usd_member(*data) : std::nullopt);
      ++out.learning_calls;
    }
    out.learning_usd = learning.value();
  }
  return out;
}

std::string format_usd(std::optional<double> usd) {
  if (!usd) return "unknown";
  char buf[48];
  std::snprintf(buf, sizeof(buf), "$%.6f", *usd);
  return buf;
}

}  // namespace atlas::data
