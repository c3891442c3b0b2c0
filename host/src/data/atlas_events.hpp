// Atlas's telemetry shape for our events, so tooling written for Atlas traces reads our
// atlas-jsonl exports: each stored event gets the `payload` ({event_type, name, data{input,
// output}, ...}) and `function_ancestry` Atlas's runtime events carry. The mapping is listed in
// docs/atlas-compatibility.md ("Trajectory events").
#pragma once

#include <string>
#include <string_view>

#include "common/json.hpp"

namespace atlas::data {

struct AtlasEventName {
  std::string event_type;  // WORKFLOW_START, TASK_END, CUSTOM_END, LLM_END, TOOL_END, ...
  std::string name;        // orchestration, adaptive_route, capability_probe, step_<id>, ...
};

// Atlas's event type and name for one of our events (type, name, step_id as stored).
AtlasEventName atlas_event_name(std::string_view type, std::string_view name, std::string_view step_id);

// Atlas's `payload` for one stored event object ({id, parent_id, type, name, role, step_id,
// timestamp_us, data}); `final_answer` is the output of the session's end event.
json::Value atlas_event_payload(const json::Value& event, std::string_view created_at, std::string_view final_answer,
                                json::Allocator& a);

// Atlas's `function_ancestry` for one stored event.
json::Value atlas_function_ancestry(const json::Value& event, json::Allocator& a);

}  // namespace atlas::data
