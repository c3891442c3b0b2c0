// The OpenAI Responses API as the gateway reads it (serve/responses_wire.hpp), on bodies and
// streams shaped as OpenAI's API reference shows them.
#include "serve/responses_wire.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"
#include "serve/wire_capture.hpp"

namespace atlas::serve {
namespace {

constexpr ClientWire kWire = ClientWire::kOpenAIResponses;

TEST(WireCaptureResponses, InstructionsItemsFunctionCallsAndOutputs) {
  auto r = read_client_request(kWire, R"({"model":"gpt-4.1","instructions":"You are terse.","stream":true,
    "previous_response_id":"resp_0",
    "input":[{"role":"developer","content":"Use metric units."},
             {"type":"message","role":"user","content":[{"type":"input_text","text":"Weather in "},{"type":"input_text","text":"Paris?"},{"type":"input_image","image_url":"x"}]},
             {"type":"reasoning","id":"rs_1","summary":[]},
             {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
             {"type":"function_call","call_id":"call_2","name":"get_time","arguments":"{}"},
             {"type":"function_call_output","call_id":"call_1","output":"18C"},
             {"role":"assistant","content":[{"type":"output_text","text":"It is 18C."}]}],
    "tools":[{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
             {"type":"web_search"}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->model, "gpt-4.1");
  EXPECT_TRUE(r->stream);
  ASSERT_EQ(r->messages.size(), 6u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[0].content, "You are terse.");
  EXPECT_EQ(r->messages[1].role, "system");  // developer
  EXPECT_EQ(r->messages[2].content, "Weather in Paris?[input_image]");
  // Parallel function_call items are one assistant turn, as on the chat wire.
  EXPECT_EQ(r->messages[3].role, "assistant");
  ASSERT_EQ(r->messages[3].tool_calls.size(), 2u);
  EXPECT_EQ(r->messages[3].tool_calls[0].id, "call_1");
  EXPECT_EQ(r->messages[3].tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(r->messages[4].role, "tool");
  EXPECT_EQ(r->messages[4].tool_call_id, "call_1");
  EXPECT_EQ(r->messages[4].name, "get_weather");
  EXPECT_EQ(r->messages[4].content, "18C");
  EXPECT_EQ(r->messages[5].content, "It is 18C.");
  ASSERT_EQ(r->tools.size(), 1u) << "hosted tools are not the agent's";
  EXPECT_EQ(r->tools[0].name, "get_weather");
  EXPECT_NE(r->tools[0].parameters_json.find("city"), std::string::npos);
  EXPECT_EQ(first_user_text(r->messages), "Weather in Paris?[input_image]");
}

TEST(WireCaptureResponses, StringInputIsOneUserMessage) {
  auto r = read_client_request(kWire, R"({"model":"m","input":"hello"})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].role, "user");
  EXPECT_EQ(r->messages[0].content, "hello");
  EXPECT_FALSE(r->stream);
}

TEST(WireCaptureResponses, BadBodiesSayWhatIsWrong) {
  auto message_of = [](std::string_view body) {
    auto r = read_client_request(kWire, body);
    EXPECT_FALSE(r.is_ok()) << body;
    return r ? std::string() : r.status().message();
  };
  EXPECT_NE(message_of(R"({"model":"m"})").find("no \"input\""), std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":[]})").find("non-empty array"), std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":42})").find("\"input\" must be a string"), std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":["hi"]})").find("must be an object"), std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":[{"role":"tool","content":"x"}]})").find("\"role\""), std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":[{"content":"x"}]})").find("neither \"type\" nor \"role\""),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","input":[{"type":"function_call_output","output":"x"}]})").find("call_id"),
            std::string::npos);
  EXPECT_NE(message_of(R"({"model":"m","instructions":{"a":1},"input":"x"})").find("\"instructions\""),
            std::string::npos);
  EXPECT_NE(message_of(R"({"input":"x"})").find("\"model\""), std::string::npos);
  EXPECT_FALSE(read_client_request(kWire, std::string(100000, '[')).is_ok());
  EXPECT_FALSE(read_client_request(kWire, R"({"model":"m","input":[)" + std::string(100000, '[')).is_ok());
}

TEST(WireCaptureResponses, PlaybookGoesInFrontOfTheInstructions) {
  auto with = read_client_request(kWire, R"({"model":"m","instructions":"S","input":"hi"})");
  ASSERT_TRUE(with.is_ok());
  prepend_system_text(*with, "PLAYBOOK");
  EXPECT_EQ(json::get_string(with->body, "instructions"), "PLAYBOOK\n\nS");
  ASSERT_EQ(with->messages.size(), 2u);
  EXPECT_EQ(with->messages[0].content, "PLAYBOOK\n\nS");

  auto without = read_client_request(kWire, R"({"model":"m","input":"hi"})");
  ASSERT_TRUE(without.is_ok());
  prepend_system_text(*without, "PLAYBOOK");
  EXPECT_EQ(json::get_string(without->body, "instructions"), "PLAYBOOK");
  EXPECT_EQ(without->messages[0].role, "system");
}

TEST(WireCaptureResponses, GuidanceTurnsAStringInputIntoItems) {
  auto r = read_client_request(kWire, R"({"model":"m","input":"hi"})");
  ASSERT_TRUE(r.is_ok());
  append_guidance(*r, "bad reply", "say hello back");
  const auto& input = r->body["input"];
  ASSERT_TRUE(input.IsArray());
  ASSERT_EQ(input.Size(), 3u);
  EXPECT_EQ(json::dump(input[0]), R"({"role":"user","content":"hi"})");
  EXPECT_EQ(json::dump(input[1]), R"({"role":"assistant","content":"bad reply"})");
  EXPECT_EQ(json::get_string(input[2], "role"), "user");
  EXPECT_NE(json::get_string(input[2], "content").find("say hello back"), std::string::npos);

  auto items = read_client_request(kWire, R"({"model":"m","input":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(items.is_ok());
  append_guidance(*items, "bad reply", "say hello back");
  EXPECT_EQ(items->body["input"].Size(), 3u);
}

TEST(WireCaptureResponses, GuidanceBeforeACallAddsOnlyAUserItem) {
  auto r = read_client_request(kWire, R"({"model":"m","input":"hi"})");
  ASSERT_TRUE(r.is_ok());
  append_guidance_before_call(*r, "greet by name");
  const auto& input = r->body["input"];
  ASSERT_TRUE(input.IsArray());
  ASSERT_EQ(input.Size(), 2u);
  EXPECT_EQ(json::get_string(input[1], "role"), "user");
  EXPECT_NE(json::get_string(input[1], "content").find("greet by name"), std::string::npos);
}

const char* kReplyBody = R"({"id":"resp_1","object":"response","created_at":1750000000,"status":"completed",
  "model":"gpt-4.1-2025","output":[
    {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Look it up."}]},
    {"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Checking.","annotations":[]}]},
    {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"}],
  "usage":{"input_tokens":60,"input_tokens_details":{"cached_tokens":0},"output_tokens":12,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":72}})";

TEST(WireCaptureResponses, ReplyBodyTextToolCallAndUsage) {
  auto r = read_reply(kWire, kReplyBody, false);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->content, "Checking.");
  EXPECT_EQ(r->reasoning, "Look it up.");
  EXPECT_EQ(r->model, "gpt-4.1-2025");
  ASSERT_EQ(r->tool_calls.size(), 1u);
  EXPECT_EQ(r->tool_calls[0].id, "call_1");
  EXPECT_EQ(r->tool_calls[0].name, "get_weather");
  EXPECT_EQ(r->tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(r->finish_reason, "tool_calls");
  EXPECT_EQ(r->usage.prompt_tokens, 60);
  EXPECT_EQ(r->usage.completion_tokens, 12);
  EXPECT_EQ(r->usage.total_tokens, 72);

  auto cut =
      read_reply(kWire,
                 R"({"object":"response","status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},
                            "output":[{"type":"message","content":[{"type":"output_text","text":"Par"}]}]})",
                 false);
  ASSERT_TRUE(cut.is_ok()) << cut.status().message();
  EXPECT_EQ(cut->finish_reason, "length");
  EXPECT_FALSE(read_reply(kWire, R"({"object":"response"})", false).is_ok());
  EXPECT_FALSE(read_reply(kWire, R"({"error":{"message":"boom"},"output":[]})", false).is_ok());
}

// An SSE data line cannot hold a newline.
std::string one_line(std::string json_text) {
  std::erase(json_text, '\n');
  return json_text;
}

std::string event(const std::string& type, const std::string& fields) {
  return "event: " + type + "\ndata: {\"type\":\"" + type + "\",\"sequence_number\":0" +
         (fields.empty() ? "" : "," + fields) + "}\n\n";
}

TEST(WireCaptureResponses, StreamTheCompletedResponseIsAuthoritative) {
  std::string stream =
      event("response.created", R"("response":{"id":"resp_1","status":"in_progress","output":[]})") +
      event("response.output_item.added", R"("output_index":0,"item":{"type":"message","id":"msg_1","content":[]})") +
      event("response.output_text.delta", R"("item_id":"msg_1","output_index":0,"content_index":0,"delta":"Check")") +
      event("response.output_text.delta", R"("item_id":"msg_1","output_index":0,"content_index":0,"delta":"ing.")") +
      event(
          "response.output_item.added",
          R"("output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":""})") +
      event("response.function_call_arguments.delta", R"("item_id":"fc_1","output_index":1,"delta":"{\"city\":")") +
      event("response.function_call_arguments.delta", R"("item_id":"fc_1","output_index":1,"delta":"\"Paris\"}")") +
      event("response.completed", "\"response\":" + one_line(kReplyBody));
  auto r = read_reply(kWire, stream, true);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->content, "Checking.");
  ASSERT_EQ(r->tool_calls.size(), 1u);
  EXPECT_EQ(r->tool_calls[0].id, "call_1");
  EXPECT_EQ(r->tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(r->usage.total_tokens, 72);

  // A terminal event without output: the deltas fill in.
  std::string bare =
      stream.substr(0, stream.rfind("event: response.completed")) +
      event("response.completed",
            R"("response":{"status":"completed","output":[],"usage":{"input_tokens":5,"output_tokens":3}})");
  auto from_deltas = read_reply(kWire, bare, true);
  ASSERT_TRUE(from_deltas.is_ok()) << from_deltas.status().message();
  EXPECT_EQ(from_deltas->content, "Checking.");
  ASSERT_EQ(from_deltas->tool_calls.size(), 1u);
  EXPECT_EQ(from_deltas->tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(from_deltas->finish_reason, "tool_calls");
  EXPECT_EQ(from_deltas->usage.total_tokens, 8);
}

TEST(WireCaptureResponses, StreamWithoutCompletionOrWithAnErrorFails) {
  std::string start = event("response.output_text.delta", R"("output_index":0,"delta":"Hi")");
  auto cut = read_reply(kWire, start, true);
  ASSERT_FALSE(cut.is_ok());
  EXPECT_NE(cut.status().message().find("response.completed"), std::string::npos);
  auto errored = read_reply(kWire, start + event("error", R"("code":"server_error","message":"Overloaded")"), true);
  ASSERT_FALSE(errored.is_ok());
  EXPECT_NE(errored.status().message().find("Overloaded"), std::string::npos);
  auto failed = read_reply(
      kWire, start + event("response.failed", R"("response":{"status":"failed","error":{"message":"quota"}})"), true);
  ASSERT_FALSE(failed.is_ok());
  EXPECT_NE(failed.status().message().find("quota"), std::string::npos);
  EXPECT_FALSE(read_reply(kWire, "data: {not json\n\n", true).is_ok());
}

TEST(WireCaptureResponses, ErrorBodyIsOpenAIsShapeAndTheUpstreamIsOpenAIs) {
  auto body = json::parse(error_body(kWire, 400, "invalid_request_error", "no input"));
  ASSERT_TRUE(body.is_ok());
  EXPECT_EQ(json::get_string(body->operator[]("error"), "message"), "no input");
  EXPECT_EQ(provider_wire(kWire), llm::WireKind::kOpenAI);
  EXPECT_EQ(client_wire_name(kWire), "openai.responses");
}

}  // namespace
}  // namespace atlas::serve
