// MCP (Model Context Protocol) client over stdio: the host starts a tool server as a child
// process and speaks newline-delimited JSON-RPC 2.0 with it (docs/adapters.md).
//
// Protocol eras: the client first sends `server/discover` (stateless revision 2026-07-28,
// every request then carries params._meta). Any error or no answer within the discovery
// timeout means a legacy server: `initialize` + `notifications/initialized`. The decision is
// kept for the life of the server process.
//
// A Client is thread-safe: requests are serialised on one mutex (one request in flight per
// server), which matches how the tool loop uses it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::config {
struct Config;
}

namespace atlas::mcp {

// One entry of the config's agent.mcp_servers list.
struct ServerConfig {
  std::string name;                          // [A-Za-z0-9_-]+, unique in the list
  std::string command;                       // program; looked up on PATH when it has no '/'
  std::vector<std::string> args;
  std::map<std::string, std::string> env;    // added to (and overriding) the host's environment
  std::string cwd;                           // empty = the host's working directory
  double timeout_seconds = 60.0;             // per request (tools/call included)
  double startup_timeout_seconds = 30.0;     // discovery + handshake
};

// Parses [{name, command, args, env, cwd, timeout_seconds}] (the JSON form of the TOML array
// agent.mcp_servers). Errors name the entry index and key.
Result<std::vector<ServerConfig>> parse_server_configs(const json::Value& array);
// The MCP servers the agent's [[agent.mcp_servers]] name, the one place they come from.
std::vector<ServerConfig> servers(const config::Config& config);

struct Tool {
  std::string name;
  std::string title;
  std::string description;
  std::string input_schema_json = R"({"type":"object","properties":{}})";
  std::string annotations_json;  // "" when absent; hints only, never trusted
};

struct ToolResult {
  std::string text;       // text blocks joined by newlines; structuredContent JSON-encoded when no
                          // text block came with it; images/audio/resource links summarised
  bool is_error = false;  // the tool itself failed (isError:true); the model should see it
  std::string raw_json;   // the raw MCP result object, kept for the trace
};

struct ClientInfo {
  std::string name = "atlas-host";
  std::string version = "0.1.0";
};

class Client {
 public:
  // Starts the server and completes discovery / the handshake. On failure the child is
  // stopped and the error carries the server's stderr tail.
  static Result<std::unique_ptr<Client>> start(const ServerConfig& config, ClientInfo info = {});
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ServerConfig& config() const;
  // "2026-07-28" (stateless) or the version the legacy server agreed to.
  const std::string& protocol_version() const;
  bool stateless() const;
  const std::string& server_name() const;  // serverInfo.name, "" when not sent

  // tools/list, following nextCursor until the last page.
  Result<std::vector<Tool>> list_tools();
  // tools/call. A JSON-RPC error (unknown tool, bad arguments) is INVALID_ARGUMENT; a dead
  // or silent server is UNAVAILABLE / DEADLINE_EXCEEDED with the stderr tail.
  Result<ToolResult> call_tool(std::string_view name, std::string_view arguments_json);
  // Last bytes the server wrote to stderr (bounded).
  std::string stderr_tail() const;
  // Closes stdin, then SIGTERM, then SIGKILL; idempotent. Called by the destructor.
  void shutdown();

  class Impl;

 private:
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Converts an MCP tools/call result object into ToolResult (exposed for unit tests).
ToolResult tool_result_from_json(const json::Value& result);

}  // namespace atlas::mcp
