// A live MCP server: started through the host's MCP client (mcp/), tools/list read, stopped.
#include "mcp/mcp_client.hpp"
#include "scan/scanner.hpp"

namespace atlas::scan {

Status scan_mcp_server(const std::vector<std::string>& argv, double timeout_seconds, Found& out) {
  if (argv.empty()) return invalid_argument("--mcp: empty command");
  mcp::ServerConfig config;
  config.name = "scan";
  config.command = argv[0];
  config.args.assign(argv.begin() + 1, argv.end());
  config.timeout_seconds = timeout_seconds;
  config.startup_timeout_seconds = timeout_seconds;
  std::string where = "mcp:";
  for (size_t i = 0; i < argv.size(); ++i) where += (i ? " " : "") + argv[i];
  auto client = mcp::Client::start(config, mcp::ClientInfo{"atlas-host-scan", "0.1.0"});
  if (!client.is_ok()) return client.status().with_context("--mcp \"" + where.substr(4) + "\"");
  auto tools = client.value()->list_tools();
  client.value()->shutdown();
  if (!tools.is_ok()) return tools.status().with_context("--mcp \"" + where.substr(4) + "\": tools/list");
  for (const mcp::Tool& t : tools.value()) {
    FoundTool f;
    f.name = t.name;
    f.description = t.description.empty() ? t.title : t.description;
    f.input_schema_json = t.input_schema_json;
    f.format = "mcp tools/list";
    f.where = {where, 0};
    f.from_mcp = true;
    out.tools.push_back(std::move(f));
  }
  out.mcp_command = argv;
  return Status::ok();
}

}  // namespace atlas::scan
