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

constexpr ExportFormat kFormats[] = {ExportFormat::kAtlasJsonl, ExportFormat::kTrlSft,
                                     ExportFormat::kTrlGrpo,    ExportFormat::kTrlDpo,
                                     ExportFormat::kOpenAiFt,   ExportFormat::kTrlSftCorrections,
                                     ExportFormat::kTrlKto,     ExportFormat::kTrlPrm};

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
  for (const char* reserved :
       {"completions", "prompts", "completion_ids", "trainer_state", "log_extra", "log_metric"}) {
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

TEST(ExportSchema, KtoNeedsABooleanLabel) {
  const std::string row =
      R"({"prompt":[{"role":"user","content":"t"}],"completion":[{"role":"assistant","content":"a"}])";
  EXPECT_FALSE(check(ExportFormat::kTrlKto, row + R"(,"label":true})").has_value());
  auto missing = check(ExportFormat::kTrlKto, row + "}");
  ASSERT_TRUE(missing.has_value());
  EXPECT_NE(missing->message.find("label"), std::string::npos) << missing->message;
  EXPECT_TRUE(check(ExportFormat::kTrlKto, row + R"(,"label":1})").has_value()) << "a number is no desirable flag";
}

TEST(ExportSchema, PrmWantsStringsAndBooleanLabelsInTheStandardFormat) {
  EXPECT_FALSE(check(ExportFormat::kTrlPrm, R"({"prompt":"t","completions":["a","b"],"labels":[true,false]})"));
  EXPECT_TRUE(check(ExportFormat::kTrlPrm, R"({"prompt":[{"role":"user","content":"t"}],"completions":["a"],
    "labels":[true]})"))
      << "stepwise supervision is standard (string) format only";
  EXPECT_TRUE(check(ExportFormat::kTrlPrm, R"({"prompt":"t","completions":["a"],"labels":[0.9]})"));
  EXPECT_TRUE(check(ExportFormat::kTrlPrm, R"({"prompt":"t","completions":["a"]})"));
}

TEST(ExportSchema, SftCorrectionsNeedItsSource) {
  EXPECT_TRUE(check(ExportFormat::kTrlSftCorrections, R"({"messages":[{"role":"user","content":"t"},
    {"role":"assistant","content":"a"}]})"));
  EXPECT_FALSE(check(ExportFormat::kTrlSftCorrections, R"({"messages":[{"role":"user","content":"t"},
    {"role":"assistant","content":"a"}],"source":"demonstration"})"));
}

TEST(ExportSchema, SftNeedsMessages) {
  auto e = check(ExportFormat::kTrlSft, R"({"session_id":"1"})");
  ASSERT_TRUE(e.has_value());
  EXPECT_NE(e->message.find("messages"), std::string::npos) << e->message;
}

// ---- the conversation the student saw ------------------------------------------------------

constexpr const char* kPlaybook =
    ">>> Student Playbook >>>\nLast updated: 2026-01-01T00:00:00Z | Version: 3\n- Read files before answering.\n"
    ">>> End Student Playbook >>>";

TEST(StripPlaybook, RemovesExactlyTheMarkedBlockAndItsSeparator) {
  const std::string body = "You are a careful file assistant.\n\nAnswer in one line.";
  EXPECT_EQ(strip_playbook(std::string(kPlaybook) + "\n\n" + body), body);  // prompts::compose's shape
  EXPECT_EQ(strip_playbook(body + "\n\n" + kPlaybook), body);
  EXPECT_EQ(strip_playbook(kPlaybook), "");
  EXPECT_EQ(strip_playbook(body), body) << "no playbook: unchanged";
  EXPECT_EQ(strip_playbook(">>> Student Playbook >>>\nnever closed\n\n" + body),
            ">>> Student Playbook >>>\nnever closed\n\n" + body)
      << "an unterminated block is not a playbook: nothing is cut";
}

TEST(StripPlaybook, UsesTheExactTextACapturedCallRecordedAsInjected) {
  const std::string injected = "Team rules: cite the file.";  // no markers: only the recorded text finds it
  EXPECT_EQ(strip_playbook(injected + "\n\nYou are the client's agent.", injected), "You are the client's agent.");
  EXPECT_EQ(strip_playbook(std::string(kPlaybook) + "\n\nbody", "not in the prompt"), "body")
      << "falls back to the markers";
}

// A run session as read_session returns it: the attempt event records the system prompt (with
// the playbook) and the three offered tools with their schemas; one tool was called.
constexpr const char* kThreeTools = R"([
  {"name":"read_file","description":"Read a file","parameters":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"]}},
  {"name":"list_dir","description":"List a directory","parameters":{"type":"object","properties":{"dir":{"type":"string"}}}},
  {"name":"search","description":"Search files","parameters":{"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer","minimum":1}},"required":["query"]}}])";

json::Document run_session(const std::string& system_prompt) {
  std::string events = R"([
    {"event":{"type":"session","name":"start","role":"host","data":{}}},
    {"event":{"type":"attempt","name":"start","role":"student","step_id":"1","data":{"attempt":1,
      "system_prompt":)" +
                       json::quote(system_prompt) + R"(,"tools":)" + kThreeTools + R"(}}},
    {"event":{"type":"tool_call","name":"read_file","role":"student","step_id":"1",
      "data":{"tool":"read_file","call_id":"c1","arguments":{"path":"a.txt"},"result":"hello"}}}])";
  return json::parse(R"({"session_id":"7","task":"Summarise a.txt","final_answer":"It says hello","metadata":{},
    "steps":[],"trajectory_events":)" +
                     events + "}")
      .value();
}

TEST(StudentConversation, TheSystemPromptComesFirstAndStripPlaybookRemovesOnlyThePlaybook) {
  const std::string body = "You review files.";
  auto session = run_session(std::string(kPlaybook) + "\n\n" + body);
  json::Document out(rapidjson::kObjectType);
  json::Value messages;
  build_transcript(session, messages, out.GetAllocator());
  ASSERT_GE(messages.Size(), 4u);
  EXPECT_EQ(json::get_string(messages[0], "role"), "system");
  EXPECT_EQ(json::get_string(messages[0], "content"), std::string(kPlaybook) + "\n\n" + body);
  EXPECT_EQ(json::get_string(messages[1], "role"), "user");
  build_transcript(session, messages, out.GetAllocator(), TranscriptOptions{true});
  EXPECT_EQ(json::get_string(messages[0], "content"), body);
  EXPECT_EQ(student_system_prompt(session, TranscriptOptions{true}), body);
}

TEST(StudentConversation, ACapturedCallsInjectedTextIsWhatStripPlaybookRemoves) {
  auto session = json::parse(R"({"task":"t","final_answer":"a","metadata":{},"steps":[],"trajectory_events":[
    {"event":{"type":"llm_call","role":"student","step_id":"1","data":{"system_injected":"Rules.",
      "system_prompt":"Rules.\n\nClient prompt.","tools":[]}}}]})")
                     .value();
  EXPECT_EQ(student_system_prompt(session), "Rules.\n\nClient prompt.");
  EXPECT_EQ(student_system_prompt(session, TranscriptOptions{true}), "Client prompt.");
}

TEST(StudentConversation, EveryOfferedToolWithItsSchemaNotOnlyTheUsedOnes) {
  auto session = run_session("sys");
  json::Document out(rapidjson::kObjectType);
  json::Value messages, tools;
  build_transcript(session, messages, out.GetAllocator());
  build_tools(session, messages, tools, out.GetAllocator());
  auto offered = json::parse(kThreeTools).value();
  ASSERT_EQ(tools.Size(), 3u);
  for (rapidjson::SizeType i = 0; i < 3; ++i) {
    EXPECT_EQ(json::get_string(tools[i], "type"), "function");
    const json::Value& fn = tools[i]["function"];
    EXPECT_EQ(json::get_string(fn, "name"), json::get_string(offered[i], "name"));
    EXPECT_EQ(json::get_string(fn, "description"), json::get_string(offered[i], "description"));
    EXPECT_TRUE(fn["parameters"] == offered[i]["parameters"]) << json::dump(fn);
  }
}

TEST(ExportSchema, ToolsNeedTheFunctionShapeWithParameters) {
  const std::string messages = R"("messages":[{"role":"user","content":"t"},{"role":"assistant","content":"a"}])";
  const std::string tool =
      R"({"type":"function","function":{"name":"f","description":"d","parameters":{"type":"object"}}})";
  EXPECT_FALSE(check(ExportFormat::kTrlSft, "{" + messages + R"(,"tools":[)" + tool + "]}").has_value());
  EXPECT_FALSE(check(ExportFormat::kOpenAiFt, "{" + messages + R"(,"tools":[)" + tool + "]}").has_value());
  auto stub =
      check(ExportFormat::kTrlSft, "{" + messages + R"(,"tools":[{"type":"function","function":{"name":"f"}}]})");
  ASSERT_TRUE(stub.has_value()) << "a TRL tool without parameters is refused";
  EXPECT_NE(stub->message.find("parameters"), std::string::npos) << stub->message;
  EXPECT_TRUE(check(ExportFormat::kOpenAiFt,
                    "{" + messages + R"(,"tools":[{"type":"function","function":{"name":"f","parameters":"x"}}]})")
                  .has_value());
  EXPECT_TRUE(check(ExportFormat::kOpenAiFt,
                    R"({"messages":[{"role":"user","content":"t"},{"role":"assistant","content":"a","weight":2}]})")
                  .has_value())
      << "weight is 0 or 1";
}

}  // namespace
}  // namespace atlas::data
