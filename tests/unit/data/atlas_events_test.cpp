#include "data/atlas_events.hpp"

#include <gtest/gtest.h>

namespace atlas::data {
namespace {

TEST(AtlasEvents, NamesFollowAtlasTelemetry) {
  auto check = [](std::string_view type, std::string_view name, std::string_view step, const char* et, const char* n) {
    auto got = atlas_event_name(type, name, step);
    EXPECT_EQ(got.event_type, et) << type << "/" << name;
    EXPECT_EQ(got.name, n) << type << "/" << name;
  };
  check("session", "start", "", "WORKFLOW_START", "orchestration");
  check("session", "end", "", "WORKFLOW_END", "orchestration");
  check("route", "paired", "", "CUSTOM_END", "adaptive_route");
  check("probe", "history", "", "CUSTOM_END", "capability_probe");
  check("step_start", "2", "2", "TASK_START", "step_2");
  check("step_end", "2", "2", "TASK_END", "step_2");
  check("plan", "draft", "", "FUNCTION_START", "plan_creation");
  check("plan", "final", "", "FUNCTION_END", "plan_creation");
  check("llm_call", "teacher", "1", "LLM_END", "teacher");
  check("tool_call", "read_file", "1", "TOOL_END", "read_file");
  check("validation", "invalid", "1", "CUSTOM_END", "validation");
}

TEST(AtlasEvents, PayloadCarriesInputsOutputsAndUsage) {
  json::Document d;
  auto& a = d.GetAllocator();
  auto start = json::parse(R"({"id":"e1","type":"session","name":"start","role":"host","step_id":null,
                               "timestamp_us":1767225661500000,"data":{"task":"Review","learning_key":"k"}})");
  ASSERT_TRUE(start.is_ok());
  json::Value p = atlas_event_payload(*start, "", "the answer", a);
  EXPECT_EQ(json::get_string(p, "event_type"), "WORKFLOW_START");
  EXPECT_EQ(json::get_string(p, "name"), "orchestration");
  EXPECT_EQ(json::get_string(p["data"]["input"], "task"), "Review");
  EXPECT_DOUBLE_EQ(p["event_timestamp"].GetDouble(), 1767225661.5);
  EXPECT_EQ(json::get_string(p, "UUID"), "e1");

  auto end = json::parse(R"({"id":"e9","type":"session","name":"end","role":"host","data":{"status":"succeeded"}})");
  json::Value pe = atlas_event_payload(*end, "2026-01-01T00:01:01.000000Z", "the answer", a);
  EXPECT_EQ(std::string(pe["data"]["output"].GetString()), "the answer");
  EXPECT_DOUBLE_EQ(pe["event_timestamp"].GetDouble(), 1767225661.0);

  auto llm =
      json::parse(R"({"id":"e3","parent_id":"e2","type":"llm_call","name":"teacher","role":"teacher","step_id":"1",
                             "data":{"usage":{"total_tokens":12}}})");
  json::Value pl = atlas_event_payload(*llm, "", "", a);
  EXPECT_EQ(pl["usage_info"]["total_tokens"].GetInt(), 12);
  EXPECT_EQ(json::get_string(pl["metadata"], "actor"), "teacher");
  json::Value anc = atlas_function_ancestry(*llm, a);
  EXPECT_EQ(json::get_string(anc, "function_name"), "step_1");
  EXPECT_EQ(json::get_string(anc, "parent_id"), "e2");
}

}  // namespace
}  // namespace atlas::data
