#include "data/atlas_events.hpp"

#include "common/clock.hpp"

namespace atlas::data {

using json::Value;

AtlasEventName atlas_event_name(std::string_view type, std::string_view name, std::string_view step_id) {
  const std::string s(name);
  const bool starts = s == "start" || s == "draft" || s == "synthesis_start";
  const std::string half = starts ? "_START" : "_END";
  if (type == "session") return {"WORKFLOW" + half, "orchestration"};
  if (type == "probe") return {"CUSTOM_END", "capability_probe"};
  if (type == "route") return {"CUSTOM_END", "adaptive_route"};
  if (type == "step_start" || type == "step_end")
    return {type == "step_start" ? "TASK_START" : "TASK_END", "step_" + std::string(step_id.empty() ? name : step_id)};
  if (type == "plan") {
    if (s == "draft" || s == "final") return {"FUNCTION" + half, "plan_creation"};
    return {"CUSTOM_END", "plan_" + s};
  }
  if (type == "synthesis") return {"FUNCTION_START", "final_synthesis"};
  if (type == "llm_call") return {"LLM_END", s};
  if (type == "tool_call") return {"TOOL_END", s};
  if (type == "reward") return {"CUSTOM" + half, "session_reward"};
  if (type == "learning") return {"CUSTOM" + half, "learning_synthesis"};
  return {"CUSTOM" + half, std::string(type)};
}

namespace {

Value copy_or_null(const Value* v, json::Allocator& a) {
  return v ? Value(*v, a) : Value();
}

double event_seconds(const Value& event, std::string_view created_at) {
  if (const Value* us = json::find(event, "timestamp_us"); us && us->IsInt64())
    return static_cast<double>(us->GetInt64()) / 1e6;
  if (auto secs = clock::parse_iso8601_seconds(created_at)) return static_cast<double>(*secs);
  return 0.0;
}

}  // namespace

Value atlas_event_payload(const Value& event, std::string_view created_at, std::string_view final_answer,
                          json::Allocator& a) {
  const std::string type = json::get_string(event, "type");
  const std::string name = json::get_string(event, "name");
  const std::string step_id = json::get_string(event, "step_id");
  const AtlasEventName an = atlas_event_name(type, name, step_id);
  const Value* data = json::find(event, "data");
  const bool starts = an.event_type.size() > 6 && an.event_type.compare(an.event_type.size() - 6, 6, "_START") == 0;

  Value io(rapidjson::kObjectType);
  Value input, output;
  if (type == "session" && starts) {
    input.SetObject();
    input.AddMember("task", json::str(data ? json::get_string(*data, "task") : "", a), a);
  } else if (type == "session") {
    output = json::str(final_answer, a);
  } else if (type == "tool_call" && data) {
    input = copy_or_null(json::find(*data, "arguments"), a);
    output = copy_or_null(json::find(*data, "result"), a);
  } else if (starts) {
    input = copy_or_null(data, a);
  } else {
    output = copy_or_null(data, a);
  }
  io.AddMember("input", input, a);
  io.AddMember("output", output, a);
  io.AddMember("chunk", Value(), a);

  Value metadata(rapidjson::kObjectType);
  metadata.AddMember("actor", json::str(json::get_string(event, "role"), a), a);
  if (!step_id.empty()) metadata.AddMember("step_id", json::str(step_id, a), a);
  metadata.AddMember("atlas_host_type", json::str(type, a), a);
  metadata.AddMember("atlas_host_name", json::str(name, a), a);

  Value p(rapidjson::kObjectType);
  p.AddMember("event_type", json::str(an.event_type, a), a);
  p.AddMember("event_timestamp", event_seconds(event, created_at), a);
  p.AddMember("span_event_timestamp", Value(), a);
  p.AddMember("framework", "atlas-host", a);
  p.AddMember("name", json::str(an.name, a), a);
  p.AddMember("tags", Value(rapidjson::kArrayType), a);
  p.AddMember("metadata", metadata, a);
  p.AddMember("data", io, a);
  const Value* usage = type == "llm_call" && data ? json::find(*data, "usage") : nullptr;
  p.AddMember("usage_info", copy_or_null(usage, a), a);
  p.AddMember("UUID", json::str(json::get_string(event, "id"), a), a);
  return p;
}

Value atlas_function_ancestry(const Value& event, json::Allocator& a) {
  const std::string step_id = json::get_string(event, "step_id");
  Value f(rapidjson::kObjectType);
  f.AddMember("function_id", json::str(step_id.empty() ? "root" : "step_" + step_id, a), a);
  f.AddMember("function_name", json::str(step_id.empty() ? "root" : "step_" + step_id, a), a);
  const std::string parent = json::get_string(event, "parent_id");
  f.AddMember("parent_id", parent.empty() ? Value() : json::str(parent, a), a);
  f.AddMember("parent_name", step_id.empty() ? Value() : json::str("root", a), a);
  return f;
}

}  // namespace atlas::data
