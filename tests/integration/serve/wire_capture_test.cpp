// Client-side wire reading and the supervision edits, on bodies shaped as each provider's
// documentation shows them (docs/serve.md lists the fields read).
#include "serve/wire_capture.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace atlas::serve {
namespace {

TEST(WireCapture, OpenAIChatConversationToolsAndToolResults) {
  auto r = read_client_request(ClientWire::kOpenAIChat, R"({"model":"gpt-x","stream":true,
    "messages":[{"role":"developer","content":"Be terse."},
                {"role":"user","content":[{"type":"text","text":"Weather in "},{"type":"text","text":"Paris?"},{"type":"image_url","image_url":{"url":"x"}}]},
                {"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
                {"role":"tool","tool_call_id":"c1","content":"18C"}],
    "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->model, "gpt-x");
  EXPECT_TRUE(r->stream);
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[0].role, "system");
  EXPECT_EQ(r->messages[1].content, "Weather in Paris?[image_url]");
  ASSERT_EQ(r->messages[2].tool_calls.size(), 1u);
  EXPECT_EQ(r->messages[2].tool_calls[0].arguments_json, R"({"city":"Paris"})");
  EXPECT_EQ(r->messages[3].tool_call_id, "c1");
  ASSERT_EQ(r->tools.size(), 1u);
  EXPECT_NE(r->tools[0].parameters_json.find("city"), std::string::npos);
  EXPECT_EQ(first_user_text(r->messages), "Weather in Paris?[image_url]");
}

TEST(WireCapture, AnthropicBlocksBecomeToolCallsAndResults) {
  auto r = read_client_request(ClientWire::kAnthropicMessages, R"({"model":"claude-x","max_tokens":100,
    "system":[{"type":"text","text":"Sys."}],
    "messages":[{"role":"user","content":"Weather?"},
                {"role":"assistant","content":[{"type":"text","text":"Checking."},{"type":"tool_use","id":"tu1","name":"get_weather","input":{"city":"Paris"}}]},
                {"role":"user","content":[{"type":"tool_result","tool_use_id":"tu1","content":[{"type":"text","text":"18C"}],"is_error":true}]}],
    "tools":[{"name":"get_weather","input_schema":{"type":"object"}}]})");
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  ASSERT_EQ(r->messages.size(), 4u);
  EXPECT_EQ(r->messages[0].content, "Sys.");
  EXPECT_EQ(r->messages[2].tool_calls[0].id, "tu1");
  EXPECT_EQ(r->messages[3].role, "tool");
  EXPECT_EQ(r->messages[3].content, "[error] 18C");
  EXPECT_EQ(r->tools.size(), 1u);
}

TEST(WireCapture, GeminiPartsAndModelFromThePath) {
  auto r = read_client_request(ClientWire::kGeminiGenerate, R"({"contents":[
      {"role":"user","parts":[{"text":"Weather?"}]},
      {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}}]},
      {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"t":"18C"}}}]}],
    "tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object"}}]}]})",
                               "gemini-x", true);
  ASSERT_TRUE(r.is_ok()) << r.status().message();
  EXPECT_EQ(r->model, "gemini-x");
  EXPECT_TRUE(r->stream);
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[1].role, "assistant");
  EXPECT_EQ(r->messages[2].name, "get_weather");
}

TEST(WireCapture, BadBodiesSayWhatIsWrong) {
  auto not_json = read_client_request(ClientWire::kOpenAIChat, "{nope");
  ASSERT_FALSE(not_json.is_ok());
  EXPECT_NE(not_json.status().message().find("not valid JSON"), std::string::npos);
  auto no_messages = read_client_request(ClientWire::kOpenAIChat, R"({"model":"m"})");
  ASSERT_FALSE(no_messages.is_ok());
  EXPECT_NE(no_messages.status().message().find("\"messages\""), std::string::npos);
  auto bad_role = read_client_request(ClientWire::kAnthropicMessages,
                                      R"({"model":"m","messages":[{"role":"system","content":"x"}]})");
  ASSERT_FALSE(bad_role.is_ok());
  auto no_model = read_client_request(ClientWire::kOpenAIChat, R"({"messages":[{"role":"user","content":"x"}]})");
  ASSERT_FALSE(no_model.is_ok());
  std::string deep(100000, '[');
  EXPECT_FALSE(read_client_request(ClientWire::kOpenAIChat, deep).is_ok());
}

TEST(WireCapture, PlaybookGoesInFrontOfTheSystemPromptInEachWire) {
  auto oa =
      read_client_request(ClientWire::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(oa.is_ok());
  prepend_system_text(*oa, "PLAYBOOK");
  EXPECT_EQ(json::dump(oa->body["messages"][0]), R"({"role":"system","content":"PLAYBOOK"})");
  EXPECT_EQ(oa->body["messages"].Size(), 2u);

  auto oa2 = read_client_request(
      ClientWire::kOpenAIChat,
      R"({"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"S"}]},{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(oa2.is_ok());
  prepend_system_text(*oa2, "PLAYBOOK");
  EXPECT_EQ(json::dump(oa2->body["messages"][0]["content"]),
            R"([{"type":"text","text":"PLAYBOOK"},{"type":"text","text":"S"}])");
  EXPECT_EQ(oa2->messages[0].content, "PLAYBOOK\n\nS");

  auto an = read_client_request(ClientWire::kAnthropicMessages,
                                R"({"model":"m","system":"S","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(an.is_ok());
  prepend_system_text(*an, "PLAYBOOK");
  EXPECT_EQ(json::get_string(an->body, "system"), "PLAYBOOK\n\nS");

  auto ge = read_client_request(ClientWire::kGeminiGenerate, R"({"contents":[{"parts":[{"text":"hi"}]}]})", "g");
  ASSERT_TRUE(ge.is_ok());
  prepend_system_text(*ge, "PLAYBOOK");
  EXPECT_EQ(json::dump(ge->body["systemInstruction"]), R"({"parts":[{"text":"PLAYBOOK"}]})");
}

TEST(WireCapture, GuidanceKeepsAnthropicTurnsAlternating) {
  auto an = read_client_request(ClientWire::kAnthropicMessages,
                                R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(an.is_ok());
  append_guidance(*an, "bad reply", "say hello back");
  ASSERT_EQ(an->body["messages"].Size(), 1u);
  const auto& content = an->body["messages"][0]["content"];
  ASSERT_TRUE(content.IsArray());
  ASSERT_EQ(content.Size(), 2u);
  EXPECT_NE(json::get_string(content[1], "text").find("say hello back"), std::string::npos);

  auto oa =
      read_client_request(ClientWire::kOpenAIChat, R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(oa.is_ok());
  append_guidance(*oa, "bad reply", "say hello back");
  ASSERT_EQ(oa->body["messages"].Size(), 2u);
  EXPECT_EQ(json::get_string(oa->body["messages"][1], "role"), "user");
}

// Found by fuzz_serve_request_anthropic: a user turn without "content" is forwarded as sent (the
// provider answers it), and a retry's guidance must not assume the member exists.
TEST(WireCapture, GuidanceOnAnAnthropicUserTurnWithoutContent) {
  auto an =
      read_client_request(ClientWire::kAnthropicMessages,
                          R"({"model":"m","messages":[{"role":"user","content":"hi"},{"role":"user","contelt":1}]})");
  ASSERT_TRUE(an.is_ok()) << an.status().message();
  append_guidance(*an, "bad reply", "say hello back");
  const auto& content = an->body["messages"][1]["content"];
  ASSERT_TRUE(content.IsArray());
  ASSERT_EQ(content.Size(), 1u);
  EXPECT_NE(json::get_string(content[0], "text").find("say hello back"), std::string::npos);
}

TEST(WireCapture, GuidanceBeforeACallIsAUserTurnAfterTheConversation) {
  auto oa = read_client_request(
      ClientWire::kOpenAIChat,
      R"({"model":"m","messages":[{"role":"system","content":"S"},{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(oa.is_ok());
  append_guidance_before_call(*oa, "greet by name");
  ASSERT_EQ(oa->body["messages"].Size(), 3u);
  EXPECT_EQ(json::get_string(oa->body["messages"][2], "role"), "user");
  EXPECT_NE(json::get_string(oa->body["messages"][2], "content").find("greet by name"), std::string::npos);
  EXPECT_EQ(json::get_string(oa->body["messages"][2], "content").find("not accepted"), std::string::npos)
      << "nothing was rejected before the call";

  auto an = read_client_request(ClientWire::kAnthropicMessages,
                                R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(an.is_ok());
  append_guidance_before_call(*an, "greet by name");
  ASSERT_EQ(an->body["messages"].Size(), 1u) << "Anthropic turns still alternate";
  ASSERT_EQ(an->body["messages"][0]["content"].Size(), 2u);

  auto ge = read_client_request(ClientWire::kGeminiGenerate,
                                R"({"contents":[{"role":"user","parts":[{"text":"hi"}]}]})", "gemini-x");
  ASSERT_TRUE(ge.is_ok()) << ge.status().message();
  append_guidance_before_call(*ge, "greet by name");
  ASSERT_EQ(ge->body["contents"].Size(), 2u);
}

TEST(WireCapture, ErrorBodiesUseEachWiresShape) {
  auto oa = json::parse(error_body(ClientWire::kOpenAIChat, 429, "rate_limit_error", "slow down"));
  ASSERT_TRUE(oa.is_ok());
  EXPECT_EQ(json::get_string(oa->operator[]("error"), "message"), "slow down");
  auto an = json::parse(error_body(ClientWire::kAnthropicMessages, 401, "authentication_error", "no"));
  ASSERT_TRUE(an.is_ok());
  EXPECT_EQ(json::get_string(*an, "type"), "error");
  auto ge = json::parse(error_body(ClientWire::kGeminiGenerate, 400, "INVALID_ARGUMENT", "bad"));
  ASSERT_TRUE(ge.is_ok());
  EXPECT_EQ(json::get_int(ge->operator[]("error"), "code"), 400);
}

}  // namespace
}  // namespace atlas::serve
