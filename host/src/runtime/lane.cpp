#include "runtime/lane.hpp"

#include <algorithm>
#include <cctype>

#include "common/json.hpp"

namespace atlas::runtime {

std::string LaneDecision::to_json() const {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("mode", json::str(config::lane_name(lane), a), a);
  d.AddMember("confidence", confidence ? json::Value(*confidence) : json::Value(), a);
  d.AddMember("reason", json::str(source, a), a);
  if (probe) {
    d.AddMember("probe_mode", probe->mode ? json::str(*probe->mode, a) : json::Value(), a);
    d.AddMember("probe_confidence", probe->confidence ? json::Value(*probe->confidence) : json::Value(), a);
    d.AddMember("probe_rationale", json::str(probe->rationale, a), a);
  }
  if (!probe_error.empty()) d.AddMember("probe_error", json::str(probe_error, a), a);
  return json::dump(d);
}

Result<ProbeAnswer> parse_probe_reply(std::string_view reply_json) {
  auto doc = json::parse_lenient_object(reply_json);
  if (!doc) return doc.status();
  ProbeAnswer p;
  p.raw_json = json::dump(*doc);
  if (const json::Value* m = json::find(*doc, "mode"); m && m->IsString()) {
    std::string mode = m->GetString();
    std::transform(mode.begin(), mode.end(), mode.begin(), [](unsigned char c) { return std::tolower(c); });
    if (mode == "auto" || mode == "paired" || mode == "coach") p.mode = mode;
  }
  if (const json::Value* c = json::find(*doc, "confidence"); c && c->IsNumber())
    p.confidence = std::clamp(c->GetDouble(), 0.0, 1.0);
  p.rationale = json::get_string(*doc, "rationale");
  return p;
}

config::Lane lane_for_confidence(double c, const config::RoutingThresholds& t) {
  if (c >= t.auto_) return config::Lane::kAuto;
  if (c >= t.paired) return config::Lane::kPaired;
  return config::Lane::kCoach;
}

std::optional<LaneDecision> static_lane_decision(const config::OrchestrationConfig& orch,
                                                 const config::RoutingConfig& routing) {
  LaneDecision d;
  if (orch.forced_mode) {
    d.lane = *orch.forced_mode;
    d.confidence = 1.0;
    d.source = "forced";
    return d;
  }
  if (!routing.enabled) {
    d.lane = config::Lane::kPaired;
    d.source = "adaptive_disabled";
    return d;
  }
  if (routing.mode_override) {
    d.lane = *routing.mode_override;
    d.confidence = 1.0;
    d.source = "mode_override";
    return d;
  }
  return std::nullopt;
}

LaneDecision decide_lane(const config::OrchestrationConfig& orch, const config::RoutingConfig& routing,
                         int64_t history_count, const ProbeFn& probe) {
  if (auto fixed = static_lane_decision(orch, routing)) return *fixed;
  LaneDecision d;
  if (history_count <= 0) {
    d.lane = config::Lane::kPaired;
    d.source = "no_learning_history";
    return d;
  }
  auto answer = probe ? probe() : Result<ProbeAnswer>(unavailable("no probe configured"));
  if (!answer) {
    d.lane = routing.fallback_mode;
    d.source = "probe_failed";
    d.probe_error = answer.status().to_string();
    return d;
  }
  d.probe = *answer;
  d.confidence = answer->confidence;
  if (answer->mode) {
    d.lane = *config::parse_lane(*answer->mode);
    d.source = "capability_probe";
  } else if (answer->confidence) {
    d.lane = lane_for_confidence(*answer->confidence, routing.thresholds);
    d.source = "probe_confidence";
  } else {
    d.lane = routing.fallback_mode;
    d.source = "probe_fallback";
  }
  return d;
}

}  // namespace atlas::runtime
