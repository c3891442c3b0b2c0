// The pieces export rows are built from: step and session reward fields, format schemas.
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "data/export_schema.hpp"
#include "data/session_trace.hpp"

namespace atlas::data {
namespace {

TEST(StepScore, AnUnjudgedStepsPlaceholderIsNotAScore) {
  auto judged = json::parse(R"({"evaluation":{"reward":{"score":0.75}}})").value();
  auto placeholder = json::parse(
                         R"({"evaluation":{"reward":{"score":0.0,"rationale":"not_judged",
                              "raw":{"skipped":true,"reason":"no_rewards"}}}})")
                         .value();
  auto none = json::parse(R"({"evaluation":{}})").value();
  EXPECT_EQ(step_score(judged), 0.75);
  EXPECT_FALSE(step_score(placeholder).has_value());
  EXPECT_FALSE(step_score(none).has_value());
}

TEST(SessionUncertainty, ComesFromRewardStats) {
  auto with = json::parse(R"({"reward_stats":{"score":0.5,"uncertainty_mean":0.2}})").value();
  auto without = json::parse(R"({"reward_stats":{"score":0.5}})").value();
  EXPECT_EQ(session_uncertainty(with), 0.2);
  EXPECT_FALSE(session_uncertainty(without).has_value());
}

constexpr ExportFormat kFormats[] = {ExportFormat::kAtlasJsonl, ExportFormat::kTrlSft, ExportFormat::kTrlGrpo,
                                     ExportFormat::kTrlDpo, ExportFormat::kOpenAiFt};

TEST(ExportSchema, EveryFormatHasASchemaThatUsesOnlyKeywordsTheCheckerKnows) {
  for (ExportFormat f : kFormats) {
    auto schema = export_schema(f);
    ASSERT_TRUE(schema.is_ok()) << export_format_name(f) << ": " << schema.status().to_string();
    EXPECT_TRUE((*schema)->unsupported_keywords().empty()) << export_format_name(f);
  }
}

std::optional<json::SchemaError> check(ExportFormat f, std::string_view row) {
  auto doc = json::parse(row);
  EXPECT_TRUE(doc.is_ok()) << row;
  return export_schema(f).value()->check(*doc);
}

TEST(ExportSchema, GrpoRefusesAColumnThatWouldCollideWithTrlRewardArguments) {
  const std::string row =
      R"({"prompt":[{"role":"user","content":"t"}],"atlas_completions":[[{"role":"assistant","content":"a"}]],
    "atlas_session_rewards":[0.5],"atlas_step_rewards":[[0.5]],"atlas_reward_uncertainty":[null],"atlas_advantages":[0.0],
    "atlas_group_id":"k","atlas_group_size":1,"atlas_session_ids":["1"])";
  EXPECT_FALSE(check(ExportFormat::kTrlGrpo, row + "}").has_value());
  for (const char* reserved : {"completions", "prompts", "completion_ids", "trainer_state"}) {
    auto e = check(ExportFormat::kTrlGrpo, row + ",\"" + reserved + "\":[]}");
    ASSERT_TRUE(e.has_value()) << reserved;
    EXPECT_EQ(e->keyword, "additionalProperties") << reserved;
  }
}

TEST(ExportSchema, DpoNeedsPromptChosenAndRejected) {
  auto e = check(ExportFormat::kTrlDpo, R"({"prompt":[{"role":"user","content":"t"}],
    "rejected":[{"role":"assistant","content":"bad"}]})");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->keyword, "required");
  EXPECT_NE(e->message.find("chosen"), std::string::npos) << e->message;
}

TEST(ExportSchema, OpenAiWantsArgumentsAsStringsAndNoExtraKeys) {
  const char* object_arguments = R"({"messages":[{"role":"user","content":"t"},{"role":"assistant","content":null,
    "tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":{"a":1}}}]}]})";
  EXPECT_TRUE(check(ExportFormat::kOpenAiFt, object_arguments).has_value());
  EXPECT_TRUE(check(ExportFormat::kOpenAiFt, R"({"messages":[{"role":"user","content":"t"},
    {"role":"assistant","content":"a"}],"session_id":"1"})")
                  .has_value());
  EXPECT_TRUE(check(ExportFormat::kOpenAiFt, R"({"messages":[{"role":"user","content":"t"},
    {"role":"tool","content":"r"}]})")
                  .has_value())
      << "a tool reply must name its call";
  EXPECT_FALSE(check(ExportFormat::kOpenAiFt, R"({"messages":[{"role":"user","content":"t"},
    {"role":"assistant","content":"a"}],"parallel_tool_calls":false})")
                   .has_value());
}

TEST(ExportSchema, SftNeedsMessages) {
  auto e = check(ExportFormat::kTrlSft, R"({"session_id":"1"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("messages"), std::string::npos) << e->message;
}

}  // namespace
}  // namespace atlas::data
