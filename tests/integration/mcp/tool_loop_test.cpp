// The host tool loop: the real openai adapter plugin (.so through the Registry) with a
// scripted model behind llm_complete, and real MCP servers executing the tool calls.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "integration/adapters/adapter_fixture.hpp"
#include "integration/adapters/mock_llm_services.hpp"
#include "mcp/tool_loop.hpp"
#include "mcp_fixture.hpp"

namespace atlas::testing {
namespace {

std::string tool_call_reply(const std::string& id, const std::string& name, const std::string& args_json) {
  return R"({"content": "", "finish_reason": "tool_calls", "usage": {"prompt_tokens": 10, "completion_tokens": 5,
    "total_tokens": 15}, "tool_calls": [{"id": ")" + id + R"(", "name": ")" + name + R"(", "arguments": )" +
         args_json + "}]}";
}

std::string final_reply(const std::string& text) {
  return R"({"content": ")" + text + R"(", "finish_reason": "stop", "usage": {"prompt_tokens": 20,
    "completion_tokens": 7, "total_tokens": 27}})";
}

struct LoopRig {
  std::shared_ptr<RecordingServices> services = std::make_shared<RecordingServices>();
  plugin::AdapterHandle adapter;
  std::vector<std::string> events;

  void load() {
    auto a = load_adapter("openai", "{}", services);
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    adapter = a.value();
  }
  mcp::AdapterInvoke invoke() {
    return [this](std::string_view req) { return adapter.invoke({}, req); };
  }
  mcp::EventSink sink() {
    return [this](std::string_view ev) { events.emplace_back(ev); };
  }
};

constexpr const char* kTask = R"({"role": "executor", "task": "store a note", "session_id": "5", "step_id": "1",
  "messages": [{"role": "user", "content": "Write 'hello from the loop' to notes.txt, then read it back."}]})";

TEST(ToolLoop, CompletesAFileTaskThroughTheFilesystemServer) {
  ATLAS_REQUIRE_NPM_SERVERS();
  TempDir dir;
  std::string file = (dir.path() / "notes.txt").string();
  LoopRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.load());
  rig.services->script({
      tool_call_reply("c1", "write_file", R"({"path": ")" + file + R"(", "content": "hello from the loop"})"),
      tool_call_reply("c2", "read_text_file", R"({"path": ")" + file + R"("})"),
      final_reply("The note says: hello from the loop"),
  });
  auto tools = mcp::ToolSet::start({filesystem_server(dir.path())});
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  ASSERT_NE((*tools)->find("write_file"), nullptr);  // one server: names are not prefixed

  auto out = mcp::run_tool_loop(rig.invoke(), kTask, **tools, {.max_turns = 5}, rig.sink());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->turns, 3);
  EXPECT_EQ(out->tool_calls, 2);
  EXPECT_FALSE(out->bound_reached);

  // The task really happened on disk.
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "hello from the loop");

  auto resp = parse_or_fail(out->response_json);
  EXPECT_EQ(json::get_string(resp, "content"), "The note says: hello from the loop");
  EXPECT_EQ(json::get_int(resp["usage"], "total_tokens"), 15 + 15 + 27);  // summed over turns

  // The model saw the MCP tools, then the tool results as tool messages.
  auto reqs = rig.services->llm_requests();
  ASSERT_EQ(reqs.size(), 3u);
  auto first = parse_or_fail(reqs[0]);
  bool offered = false;
  for (const auto& t : first["tools"].GetArray()) offered = offered || json::get_string(t, "name") == "read_text_file";
  EXPECT_TRUE(offered);
  auto third = parse_or_fail(reqs[2]);
  const auto& msgs = third["messages"];
  ASSERT_EQ(msgs.Size(), 5u);  // user, assistant(c1), tool, assistant(c2), tool
  EXPECT_EQ(json::get_string(msgs[2], "role"), "tool");
  EXPECT_EQ(json::get_string(msgs[2], "tool_call_id"), "c1");
  EXPECT_EQ(json::get_string(msgs[4], "content"), "hello from the loop");
  EXPECT_EQ(json::get_string(msgs[3]["tool_calls"][0], "name"), "read_text_file");

  // One event per tool call.
  ASSERT_EQ(rig.events.size(), 2u);
  auto ev = parse_or_fail(rig.events[1]);
  EXPECT_EQ(json::get_string(ev, "type"), "tool_call");
  EXPECT_EQ(json::get_string(ev, "server"), "fs");
  EXPECT_EQ(json::get_string(ev, "tool"), "read_text_file");
  EXPECT_EQ(json::get_string(ev["arguments"], "path"), file);
  EXPECT_EQ(json::get_string(ev, "result"), "hello from the loop");
  EXPECT_FALSE(json::get_bool(ev, "is_error", true));
  EXPECT_GE(json::get_int(ev, "latency_ms", -1), 0);

  auto transcript = parse_or_fail(out->messages_json);
  EXPECT_EQ(transcript.Size(), 6u);  // ... plus the final assistant answer
}

TEST(ToolLoop, SeveralServersGetPrefixedNamesThatMapBack) {
  ATLAS_REQUIRE_NPM_SERVERS();
  TempDir dir;
  LoopRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.load());
  rig.services->script({tool_call_reply("e1", "everything__echo", R"({"message": "via two servers"})"),
                        final_reply("done")});
  auto tools = mcp::ToolSet::start({filesystem_server(dir.path()), everything_server()});
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  EXPECT_NE((*tools)->find("fs__write_file"), nullptr);
  EXPECT_NE((*tools)->find("everything__get-sum"), nullptr);
  EXPECT_EQ((*tools)->find("echo"), nullptr);

  auto out = mcp::run_tool_loop(rig.invoke(), kTask, **tools, {.max_turns = 3}, rig.sink());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  ASSERT_EQ(rig.events.size(), 1u);
  auto ev = parse_or_fail(rig.events[0]);
  EXPECT_EQ(json::get_string(ev, "server"), "everything");
  EXPECT_EQ(json::get_string(ev, "tool"), "echo");
  EXPECT_EQ(json::get_string(ev, "exposed_name"), "everything__echo");
  EXPECT_EQ(json::get_string(ev, "result"), "Echo: via two servers");
}

TEST(ToolLoop, ToolFailuresReachTheModelAndTheTurnBoundHolds) {
  LoopRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.load());
  // A model that never stops asking for tools.
  int n = 0;
  rig.services->llm = [&n](std::string_view) -> Result<std::string> {
    ++n;
    return tool_call_reply("f" + std::to_string(n), n == 1 ? "fail" : "weather_now", "{}");
  };
  auto tools = mcp::ToolSet::start({python_server("modern")});
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  ASSERT_NE((*tools)->find("weather_now"), nullptr);  // '.' is not allowed by providers: mangled

  auto out = mcp::run_tool_loop(rig.invoke(), kTask, **tools, {.max_turns = 2}, rig.sink());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_TRUE(out->bound_reached);
  EXPECT_EQ(out->turns, 3);       // two rounds of tools, then the bound stops the third
  EXPECT_EQ(out->tool_calls, 2);
  ASSERT_EQ(rig.events.size(), 2u);
  auto failed = parse_or_fail(rig.events[0]);
  EXPECT_TRUE(json::get_bool(failed, "is_error"));
  EXPECT_EQ(json::get_string(failed, "result"), "disk full");
  auto weather = parse_or_fail(rig.events[1]);
  EXPECT_EQ(json::get_string(weather, "tool"), "weather.now");  // the original MCP name
  // The model saw the failure as a tool message.
  auto second = parse_or_fail(rig.services->llm_requests().at(1));
  EXPECT_EQ(json::get_string(second["messages"][2], "content"), "disk full");
}

TEST(ToolLoop, CallsToToolsTheHostDoesNotOwnGoBackToTheCaller) {
  LoopRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.load());
  rig.services->script({tool_call_reply("x1", "submit_answer", R"({"answer": 4})")});
  auto tools = mcp::ToolSet::start({python_server("modern")});
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  auto out = mcp::run_tool_loop(rig.invoke(),
                                R"({"task": "t", "tools": [{"name": "submit_answer", "parameters": {"type": "object"}}]})",
                                **tools, {.max_turns = 4}, rig.sink());
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->turns, 1);
  EXPECT_EQ(out->tool_calls, 0);
  auto resp = parse_or_fail(out->response_json);
  EXPECT_EQ(json::get_string(resp["tool_calls"][0], "name"), "submit_answer");
  // The caller's tool and the MCP tools were all offered.
  auto sent = parse_or_fail(rig.services->llm_requests().at(0));
  EXPECT_EQ(sent["tools"].Size(), 6u);
}

TEST(ToolLoop, AdapterErrorsAreReturnedUnchanged) {
  LoopRig rig;
  ASSERT_NO_FATAL_FAILURE(rig.load());
  rig.services->llm = [](std::string_view) -> Result<std::string> { return unavailable("provider down"); };
  auto tools = mcp::ToolSet::start({python_server("modern")});
  ASSERT_TRUE(tools.is_ok());
  auto out = mcp::run_tool_loop(rig.invoke(), kTask, **tools, {}, rig.sink());
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find("provider down"), std::string::npos);
}

}  // namespace
}  // namespace atlas::testing

namespace atlas::testing {
namespace {

// The whole chain over real sockets and processes: mock-llm (OpenAI wire format) scripted to
// ask for a tool and then answer, the host's provider client, the openai adapter plugin, the
// tool loop and the npm filesystem server.
TEST(ToolLoopOverMockLlm, ScriptedModelCompletesAFileTask) {
  ATLAS_REQUIRE_NPM_SERVERS();
  TempDir dir;
  std::string file = (dir.path() / "answer.txt").string();
  MockLlm mock(R"({"rules": [
      {"match": {"last_message_contains": "Successfully wrote"}, "responses": [{"text": "Saved the answer to answer.txt."}]},
      {"match": {"has_tools": true}, "responses": [{"tool_calls": [{"id": "w1", "name": "write_file",
          "arguments": {"path": ")" + file + R"(", "content": "42"}}]}]}]})");
  ASSERT_TRUE(mock.ok());
  auto services = std::make_shared<MockLlmServices>(mock, "openai");
  auto adapter = load_adapter("openai", "{}", services);
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto tools = mcp::ToolSet::start({filesystem_server(dir.path())});
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();

  std::vector<std::string> events;
  auto out = mcp::run_tool_loop([&](std::string_view req) { return adapter->invoke({}, req); },
                                R"({"role": "executor", "task": "Write 42 to answer.txt",
                                    "messages": [{"role": "user", "content": "Write 42 to answer.txt"}]})",
                                **tools, {.max_turns = 4}, [&](std::string_view ev) { events.emplace_back(ev); });
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(json::get_string(parse_or_fail(out->response_json), "content"), "Saved the answer to answer.txt.");
  EXPECT_EQ(out->turns, 2);
  std::ifstream in(file);
  std::string content;
  std::getline(in, content);
  EXPECT_EQ(content, "42");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(json::get_string(parse_or_fail(events[0]), "tool"), "write_file");
  // mock-llm saw the filesystem tools in OpenAI's function format, then the tool result.
  auto reqs = mock.requests("openai.chat");
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_NE(reqs[0].body.find("\"read_text_file\""), std::string::npos);
  EXPECT_NE(reqs[1].body.find("\"tool_call_id\":\"w1\""), std::string::npos) << reqs[1].body;
}

}  // namespace
}  // namespace atlas::testing
