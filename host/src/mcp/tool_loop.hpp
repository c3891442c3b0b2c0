// The host-side tool loop: an LLM adapter proposes tool calls, the host runs them on MCP
// servers and calls the adapter again with the results, until the model answers without
// tool calls or the turn bound is reached.
//
//   auto tools = mcp::ToolSet::start(config.agent.mcp_servers);        // Result<...>
//   mcp::ToolLoopOptions opts{.max_turns = 8};
//   auto out = mcp::run_tool_loop(
//       [&](std::string_view req) { return adapter.invoke(ctx, req); },  // adapter request -> response
//       request_json, **tools, opts,
//       [&](std::string_view ev) { emit_step_event(ev); });              // one event per tool call
//
// Events: {"type":"tool_call","server","tool","exposed_name","call_id","arguments",
//          "result","is_error","latency_ms","turn"}.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "mcp/mcp_client.hpp"

namespace atlas::mcp {

// The tools of one or more running MCP servers, under the names the model sees.
// With one server the tool names are used as they are (characters outside [A-Za-z0-9_-]
// become '_'); with several, "<server>__<tool>". The mapping back is kept, so it is
// reversible even when mangling collapses characters.
class ToolSet {
 public:
  struct Entry {
    std::string exposed_name;
    std::string server;
    Tool tool;
  };

  // Starts every server and lists its tools. Fails (stopping the ones already started) when
  // a server does not start or two exposed names collide.
  static Result<std::unique_ptr<ToolSet>> start(const std::vector<ServerConfig>& servers, ClientInfo info = {});
  // For tests and callers that start clients themselves.
  static Result<std::unique_ptr<ToolSet>> from_clients(std::vector<std::unique_ptr<Client>> clients);

  const std::vector<Entry>& entries() const { return entries_; }
  const Entry* find(std::string_view exposed_name) const;
  // JSON array for the adapter request's "tools": [{"name","description","parameters"}].
  std::string tools_json() const;
  // Runs one tool by its exposed name.
  Result<ToolResult> call(std::string_view exposed_name, std::string_view arguments_json);
  Client* client(std::string_view server_name);

 private:
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<Entry> entries_;
};

// Exposed name for a tool ("server__tool" when `prefix` is true), [A-Za-z0-9_-], <= 64 chars.
std::string exposed_tool_name(std::string_view server, std::string_view tool, bool prefix);

struct ToolLoopOptions {
  int max_turns = 8;  // adapter calls that may return tool calls; the bound ends the loop
};

struct ToolLoopResult {
  std::string response_json;  // the last adapter response; "usage" summed over all turns
  std::string messages_json;  // the full conversation, tool messages included
  int turns = 0;              // adapter calls made
  int tool_calls = 0;         // tool calls executed
  bool bound_reached = false; // the model still wanted tools after max_turns
};

using AdapterInvoke = std::function<Result<std::string>(std::string_view request_json)>;
using EventSink = std::function<void(std::string_view event_json)>;

// `request_json` is an adapter request (docs/plugin-contracts.md); the MCP tools are added
// to its "tools". A tool call naming a tool that is not an MCP tool ends the loop and is
// returned to the caller unchanged (the caller owns such tools). Adapter errors are returned
// as they are; MCP failures of one call become an error tool result the model sees.
Result<ToolLoopResult> run_tool_loop(const AdapterInvoke& invoke, std::string_view request_json, ToolSet& tools,
                                     const ToolLoopOptions& options, const EventSink& on_event = {});

}  // namespace atlas::mcp
