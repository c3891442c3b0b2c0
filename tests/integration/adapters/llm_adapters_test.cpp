// openai / anthropic / gemini adapters: loaded as real .so files through the Registry; the
// host's llm_complete is a recording double, so these tests check the mapping both ways.
#include <gtest/gtest.h>

#include "adapter_fixture.hpp"

namespace atlas::testing {
namespace {

constexpr const char* kToolRequest = R"({
  "role": "executor", "task": "read a.txt", "session_id": "42", "step_id": "3",
  "messages": [
    {"role": "system", "content": "You are careful."},
    {"role": "user", "content": "What is in a.txt?"},
    {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "name": "read_file", "arguments": {"path": "a.txt"}}]},
    {"role": "tool", "tool_call_id": "c1", "name": "read_file", "content": "hello"}
  ],
  "tools": [{"name": "read_file", "description": "Read a file", "parameters": {"type": "object",
             "properties": {"path": {"type": "string"}}, "required": ["path"]}}],
  "tool_choice": "auto",
  "response_format": {"type": "json_object"},
  "metadata": {"ignored": true}
})";

class LlmAdapterTest : public ::testing::TestWithParam<const char*> {};

TEST_P(LlmAdapterTest, MapsRequestToHostLlmModelAndBack) {
  auto services = std::make_shared<RecordingServices>();
  services->script({R"({"content": "The file says hello.", "tool_calls": [],
      "usage": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17},
      "finish_reason": "stop", "model": "m-1", "reasoning": "looked at the tool output"})"});
  auto adapter = load_adapter(GetParam(), "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  EXPECT_EQ(adapter->info().name, GetParam());

  plugin::CallContext ctx;
  ctx.session_id = "42";
  auto reply = adapter->invoke(ctx, kToolRequest);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();

  ASSERT_EQ(services->llm_requests().size(), 1u);
  auto sent = parse_or_fail(services->llm_requests()[0]);
  EXPECT_EQ(json::get_string(sent, "model_ref"), "student");  // default model block
  EXPECT_EQ(json::get_string(sent, "role"), "student");       // accounting role
  EXPECT_EQ(json::get_string(sent, "session_id"), "42");
  ASSERT_TRUE(sent["messages"].IsArray());
  ASSERT_EQ(sent["messages"].Size(), 4u);
  EXPECT_EQ(json::get_string(sent["messages"][0], "role"), "system");
  EXPECT_EQ(json::get_string(sent["messages"][2]["tool_calls"][0], "name"), "read_file");
  EXPECT_EQ(json::get_string(sent["messages"][2]["tool_calls"][0]["arguments"], "path"), "a.txt");
  EXPECT_EQ(json::get_string(sent["messages"][3], "tool_call_id"), "c1");
  EXPECT_EQ(json::get_string(sent["messages"][3], "content"), "hello");
  ASSERT_TRUE(sent["tools"].IsArray());
  EXPECT_EQ(json::get_string(sent["tools"][0], "name"), "read_file");
  EXPECT_EQ(json::get_string(sent["tools"][0]["parameters"], "type"), "object");
  EXPECT_EQ(json::get_string(sent, "tool_choice"), "auto");
  EXPECT_EQ(json::get_string(sent["response_format"], "type"), "json_object");
  EXPECT_EQ(json::find(sent, "metadata"), nullptr);  // adapter-only keys do not leak to the provider

  auto got = parse_or_fail(reply.value());
  EXPECT_EQ(json::get_string(got, "content"), "The file says hello.");
  EXPECT_EQ(json::get_int(got["usage"], "total_tokens"), 17);
  EXPECT_EQ(json::get_string(got, "finish_reason"), "stop");
  EXPECT_EQ(json::get_string(got, "reasoning"), "looked at the tool output");
  EXPECT_TRUE(got["tool_calls"].IsArray());
  EXPECT_EQ(got["tool_calls"].Size(), 0u);
}

TEST_P(LlmAdapterTest, ToolCallArgumentsComeBackAsObjects) {
  auto services = std::make_shared<RecordingServices>();
  // A provider client that hands arguments through as a JSON string is normalised.
  services->script({R"({"content": "", "finish_reason": "tool_calls",
      "tool_calls": [{"id": "t9", "name": "write_file", "arguments": "{\"path\":\"b.txt\",\"content\":\"x\"}"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}})"});
  auto adapter = load_adapter(GetParam(), "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, R"({"task": "write b.txt", "tools": [{"name": "write_file"}]})");
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  auto got = parse_or_fail(reply.value());
  ASSERT_EQ(got["tool_calls"].Size(), 1u);
  EXPECT_EQ(json::get_string(got["tool_calls"][0], "id"), "t9");
  ASSERT_TRUE(got["tool_calls"][0]["arguments"].IsObject());
  EXPECT_EQ(json::get_string(got["tool_calls"][0]["arguments"], "path"), "b.txt");
  EXPECT_EQ(json::get_string(got, "finish_reason"), "tool_calls");

  // The bare task became the user message; a tool without parameters got an empty schema.
  auto sent = parse_or_fail(services->llm_requests().at(0));
  EXPECT_EQ(json::get_string(sent["messages"][0], "role"), "user");
  EXPECT_EQ(json::get_string(sent["messages"][0], "content"), "write b.txt");
  EXPECT_EQ(json::get_string(sent["tools"][0]["parameters"], "type"), "object");
}

TEST_P(LlmAdapterTest, InlineModelBlockDefaultsToTheAdaptersProvider) {
  auto services = std::make_shared<RecordingServices>();
  services->script({R"({"content": "ok"})"});
  auto adapter = load_adapter(GetParam(),
                              R"({"model": "some-model", "api_key_env": "MY_KEY", "temperature": 0.3, "stream": true})",
                              services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  ASSERT_TRUE(adapter->invoke({}, R"({"task": "hi"})").is_ok());
  auto sent = parse_or_fail(services->llm_requests().at(0));
  EXPECT_EQ(json::find(sent, "model_ref"), nullptr);
  ASSERT_TRUE(sent["model"].IsObject());
  EXPECT_EQ(json::get_string(sent["model"], "provider"), GetParam());
  EXPECT_EQ(json::get_string(sent["model"], "model"), "some-model");
  EXPECT_EQ(json::get_string(sent["model"], "api_key_env"), "MY_KEY");
  EXPECT_DOUBLE_EQ(json::get_double(sent["model"], "temperature"), 0.3);
  EXPECT_TRUE(json::get_bool(sent, "stream"));
}

TEST_P(LlmAdapterTest, HostErrorsKeepTheirStatusAndNameTheAdapter) {
  auto services = std::make_shared<RecordingServices>();
  services->llm = [](std::string_view) -> Result<std::string> {
    return resource_exhausted("openai: HTTP 429 after 3 attempts");
  };
  auto adapter = load_adapter(GetParam(), R"({"model_ref": "teacher"})", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, R"({"task": "hi"})");
  ASSERT_FALSE(reply.is_ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(reply.status().message().find(std::string(GetParam()) + " adapter"), std::string::npos)
      << reply.status().message();
  EXPECT_NE(reply.status().message().find("HTTP 429"), std::string::npos);
  EXPECT_EQ(json::get_string(parse_or_fail(services->llm_requests().at(0)), "model_ref"), "teacher");
}

TEST_P(LlmAdapterTest, BadRequestsAndConfigsGetClearErrors) {
  auto services = std::make_shared<RecordingServices>();
  auto literal_key = load_adapter(GetParam(), R"({"model": "m", "api_key": "sk-abcdef123456"})", services);
  ASSERT_FALSE(literal_key.is_ok());
  EXPECT_EQ(literal_key.status().code(), StatusCode::kInvalidArgument);

  auto adapter = load_adapter(GetParam(), "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto empty = adapter->invoke({}, R"({"messages": []})");
  ASSERT_FALSE(empty.is_ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(empty.status().message().find("no messages and no task"), std::string::npos);

  auto bad_role = adapter->invoke({}, R"({"messages": [{"role": "robot", "content": "x"}]})");
  ASSERT_FALSE(bad_role.is_ok());
  EXPECT_NE(bad_role.status().message().find("messages[0].role is 'robot'"), std::string::npos)
      << bad_role.status().message();
  EXPECT_TRUE(services->llm_requests().empty());  // nothing reached the provider
}

INSTANTIATE_TEST_SUITE_P(Providers, LlmAdapterTest, ::testing::Values("openai", "anthropic", "gemini"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace atlas::testing
