// MCP client against the real npm servers and a Python server that speaks the stateless
// 2026-07-28 revision.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "mcp/tool_loop.hpp"
#include "mcp_fixture.hpp"

namespace atlas::testing {
namespace {

bool has_tool(const std::vector<mcp::Tool>& tools, std::string_view name) {
  return std::any_of(tools.begin(), tools.end(), [&](const mcp::Tool& t) { return t.name == name; });
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(McpFilesystemServer, ListsToolsAndWritesAndReadsAFile) {
  ATLAS_REQUIRE_NPM_SERVERS();
  TempDir dir;
  auto client = mcp::Client::start(filesystem_server(dir.path()));
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  auto& c = *client.value();
  EXPECT_FALSE(c.stateless());  // this server predates 2026-07-28: legacy handshake
  EXPECT_FALSE(c.protocol_version().empty());
  EXPECT_EQ(c.server_name(), "secure-filesystem-server");

  auto tools = c.list_tools();
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  EXPECT_TRUE(has_tool(*tools, "write_file"));
  EXPECT_TRUE(has_tool(*tools, "read_text_file"));
  EXPECT_TRUE(has_tool(*tools, "list_directory"));

  std::string file = (dir.path() / "notes.txt").string();
  auto wrote = c.call_tool("write_file", R"({"path": ")" + file + R"(", "content": "line one\nline two"})");
  ASSERT_TRUE(wrote.is_ok()) << wrote.status().to_string();
  EXPECT_FALSE(wrote->is_error) << wrote->text;
  EXPECT_EQ(read_file(file), "line one\nline two");  // really on disk

  auto read = c.call_tool("read_text_file", R"({"path": ")" + file + R"("})");
  ASSERT_TRUE(read.is_ok()) << read.status().to_string();
  EXPECT_FALSE(read->is_error);
  EXPECT_EQ(read->text, "line one\nline two");
  EXPECT_NE(read->raw_json.find("\"content\""), std::string::npos);

  // Outside the allowed folder: the tool fails, and says so, as a tool result.
  auto denied = c.call_tool("read_text_file", R"({"path": "/etc/hostname"})");
  ASSERT_TRUE(denied.is_ok()) << denied.status().to_string();
  EXPECT_TRUE(denied->is_error);
  EXPECT_NE(denied->text.find("denied"), std::string::npos) << denied->text;
}

TEST(McpEverythingServer, EchoAndSumTools) {
  ATLAS_REQUIRE_NPM_SERVERS();
  auto client = mcp::Client::start(everything_server());
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  auto tools = (*client)->list_tools();
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  ASSERT_TRUE(has_tool(*tools, "echo"));
  ASSERT_TRUE(has_tool(*tools, "get-sum"));
  for (const auto& t : *tools) {
    auto schema = json::parse(t.input_schema_json);
    ASSERT_TRUE(schema.is_ok()) << t.name;
    EXPECT_TRUE(schema->IsObject()) << t.name;
  }

  auto echo = (*client)->call_tool("echo", R"({"message": "hello mcp"})");
  ASSERT_TRUE(echo.is_ok()) << echo.status().to_string();
  EXPECT_EQ(echo->text, "Echo: hello mcp");

  auto sum = (*client)->call_tool("get-sum", R"({"a": 19, "b": 23})");
  ASSERT_TRUE(sum.is_ok()) << sum.status().to_string();
  EXPECT_NE(sum->text.find("42"), std::string::npos) << sum->text;

  // Bad arguments are a JSON-RPC level error or a tool error, never a success.
  auto bad = (*client)->call_tool("get-sum", R"({"a": "not a number"})");
  EXPECT_TRUE(!bad.is_ok() || bad->is_error);
}

TEST(McpStatelessServer, DiscoversPaginatesAndSendsMetaOnEveryRequest) {
  auto client = mcp::Client::start(python_server("modern"));
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  EXPECT_TRUE((*client)->stateless());
  EXPECT_EQ((*client)->protocol_version(), "2026-07-28");
  EXPECT_EQ((*client)->server_name(), "modern-test");

  // Five tools on three pages, with a server-to-client request and a notification in between.
  auto tools = (*client)->list_tools();
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  ASSERT_EQ(tools->size(), 5u);
  EXPECT_EQ((*tools)[4].name, "die");

  // The server rejects any request without _meta, so success proves it is sent.
  auto echo = (*client)->call_tool("echo", R"({"text": "stateless hello"})");
  ASSERT_TRUE(echo.is_ok()) << echo.status().to_string();
  EXPECT_EQ(echo->text, "stateless hello");

  auto structured = (*client)->call_tool("weather.now", "{}");
  ASSERT_TRUE(structured.is_ok());
  EXPECT_EQ(structured->text, R"({"temp_c":18})");

  auto failed = (*client)->call_tool("fail", "{}");
  ASSERT_TRUE(failed.is_ok());
  EXPECT_TRUE(failed->is_error);
  EXPECT_EQ(failed->text, "disk full");

  auto unknown = (*client)->call_tool("nope", "{}");
  ASSERT_FALSE(unknown.is_ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("Unknown tool: nope"), std::string::npos);
}

TEST(McpLegacyFallback, SilentDiscoveryFallsBackToInitialize) {
  auto cfg = python_server("silent-discover");
  cfg.startup_timeout_seconds = 2.0;  // bounds the wait for the unanswered server/discover
  auto client = mcp::Client::start(cfg);
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  EXPECT_FALSE((*client)->stateless());
  EXPECT_EQ((*client)->protocol_version(), "2025-06-18");
  auto echo = (*client)->call_tool("echo", R"({"text": "legacy"})");
  ASSERT_TRUE(echo.is_ok()) << echo.status().to_string();
  EXPECT_EQ(echo->text, "legacy");
}

TEST(McpLegacyFallback, AcceptsContentLengthFramedMessages) {
  auto client = mcp::Client::start(python_server("legacy-lsp"));
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  EXPECT_EQ((*client)->server_name(), "legacy-test");
  auto tools = (*client)->list_tools();
  ASSERT_TRUE(tools.is_ok()) << tools.status().to_string();
  EXPECT_EQ(tools->size(), 5u);
}

TEST(McpFailures, ServerThatExitsAtStartIsAClearError) {
  mcp::ServerConfig cfg;
  cfg.name = "broken";
  cfg.command = "python3";
  cfg.args = {"-c", "import sys; sys.stderr.write('cannot open database\\n'); sys.exit(2)"};
  auto client = mcp::Client::start(cfg);
  ASSERT_FALSE(client.is_ok());
  const std::string& msg = client.status().message();
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable) << msg;
  EXPECT_NE(msg.find("MCP server 'broken'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot open database"), std::string::npos) << msg;
}

TEST(McpFailures, MissingProgramNamesIt) {
  mcp::ServerConfig cfg;
  cfg.name = "ghost";
  cfg.command = "/nonexistent/mcp-server";
  auto client = mcp::Client::start(cfg);
  ASSERT_FALSE(client.is_ok());
  EXPECT_NE(client.status().message().find("/nonexistent/mcp-server"), std::string::npos)
      << client.status().message();
}

TEST(McpFailures, ServerDyingMidCallReportsExitAndStderr) {
  auto client = mcp::Client::start(python_server("modern"));
  ASSERT_TRUE(client.is_ok()) << client.status().to_string();
  auto r = (*client)->call_tool("die", "{}");
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  const std::string& msg = r.status().message();
  EXPECT_NE(msg.find("dying as asked"), std::string::npos) << msg;
  EXPECT_NE(msg.find("tools/call"), std::string::npos) << msg;
  // Later calls fail fast instead of hanging.
  auto again = (*client)->call_tool("echo", R"({"text": "x"})");
  ASSERT_FALSE(again.is_ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnavailable);
}

TEST(McpConfig, ParsesAndRejectsWithPreciseMessages) {
  auto good = json::parse(R"([{"name": "fs", "command": "npx", "args": ["-y", "srv", "/tmp"],
                               "env": {"A": "1"}, "cwd": "/tmp", "timeout_seconds": 5}])");
  ASSERT_TRUE(good.is_ok());
  auto parsed = mcp::parse_server_configs(*good);
  ASSERT_TRUE(parsed.is_ok()) << parsed.status().to_string();
  ASSERT_EQ(parsed->size(), 1u);
  EXPECT_EQ((*parsed)[0].args.size(), 3u);
  EXPECT_EQ((*parsed)[0].env.at("A"), "1");
  EXPECT_DOUBLE_EQ((*parsed)[0].timeout_seconds, 5.0);

  auto check = [](const char* text, const char* expected) {
    auto doc = json::parse(text);
    ASSERT_TRUE(doc.is_ok());
    auto r = mcp::parse_server_configs(*doc);
    ASSERT_FALSE(r.is_ok()) << text;
    EXPECT_NE(r.status().message().find(expected), std::string::npos) << r.status().message();
  };
  check(R"([{"name": "a", "command": "x"}, {"name": "a", "command": "y"}])", "agent.mcp_servers[1].name 'a' is used twice");
  check(R"([{"name": "a"}])", "agent.mcp_servers[0].command is required");
  check(R"([{"name": "a", "command": "x", "arg": []}])", "unknown key 'arg'");
  check(R"([{"name": "a b", "command": "x"}])", "letters, digits");
}

}  // namespace
}  // namespace atlas::testing

namespace atlas::testing {
namespace {

TEST(McpToolResult, EveryContentKindBecomesReadableText) {
  auto doc = json::parse(R"({"content": [
      {"type": "text", "text": "first"},
      {"type": "image", "mimeType": "image/png", "data": "AAAA"},
      {"type": "resource_link", "uri": "file:///a.txt", "name": "a.txt"},
      {"type": "resource", "resource": {"uri": "file:///b.txt", "text": "inline text"}},
      {"type": "resource", "resource": {"uri": "file:///c.bin", "mimeType": "application/zip", "blob": "AAAA"}}],
      "structuredContent": {"n": 1}, "isError": true})");
  ASSERT_TRUE(doc.is_ok());
  auto r = mcp::tool_result_from_json(*doc);
  EXPECT_TRUE(r.is_error);
  EXPECT_EQ(r.text,
            "first\n[image image/png, 3 bytes]\n[resource_link file:///a.txt a.txt]\ninline text\n"
            "[resource file:///c.bin (application/zip)]");
  EXPECT_NE(r.raw_json.find("structuredContent"), std::string::npos);  // kept for the trace
}

TEST(McpToolNames, ExposedNamesAreProviderSafeAndPrefixedWhenAsked) {
  EXPECT_EQ(mcp::exposed_tool_name("fs", "read_file", false), "read_file");
  EXPECT_EQ(mcp::exposed_tool_name("fs", "read_file", true), "fs__read_file");
  EXPECT_EQ(mcp::exposed_tool_name("srv", "weather.now/v2", true), "srv__weather_now_v2");
  EXPECT_EQ(mcp::exposed_tool_name("s", std::string(100, 'x'), true).size(), 64u);
}

}  // namespace
}  // namespace atlas::testing
