// What the MCP client reads from a server's stdout: one JSON-RPC message per line, a tools/call
// result turned into a ToolResult, and tools/list-style entries.
#include "common/json.hpp"
#include "fuzz_support.hpp"
#include "mcp/mcp_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = atlas::fuzz::input(data, size);
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    auto msg = atlas::json::parse(line, "MCP message", atlas::json::kMaxInputDepth);
    if (!msg || !msg->IsObject()) continue;
    if (const auto* result = atlas::json::find(*msg, "result")) {
      atlas::mcp::ToolResult r = atlas::mcp::tool_result_from_json(*result);
      (void)r.text;
    }
    if (const auto* servers = atlas::json::find(*msg, "servers")) (void)atlas::mcp::parse_server_configs(*servers);
    (void)atlas::json::dump(*msg);
  }
  return 0;
}
