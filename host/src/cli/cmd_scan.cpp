// atlas-host scan: find tool schemas (folder, --mcp, --openapi) and optionally generate an
// adapter-plugin project (--out). Argument parsing only; the work is in scan/.
#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "scan/codegen.hpp"
#include "scan/normalize.hpp"
#include "scan/report.hpp"
#include "scan/scanner.hpp"

namespace atlas::cli {

int run_scan(const Args& args) {
  po::options_description opts(
      "Usage: atlas-host scan [DIR] [--mcp \"COMMAND ARGS\"] [--openapi FILE] [--out DIR [--name NAME]]\n\n"
      "Finds tool definitions statically (user code is never run): OpenAI/Anthropic/MCP tool JSON, JSON Schema\n"
      "files, Python @tool functions and tools=[...] literals, TypeScript server.tool()/registerTool() and\n"
      "{name, inputSchema|parameters} literals, OpenAPI 3 operations, or a live MCP server's tools/list.\n"
      "With --out it writes a buildable adapter-plugin project; re-running rewrites only generated files.\n\n"
      "Options");
  std::string dir, mcp, openapi, out, name;
  double timeout = 60.0;
  opts.add_options()("help,h", "show this help")(
      "mcp", po::value(&mcp), "start this MCP server (stdio), list its tools, stop it")(
      "openapi", po::value(&openapi), "OpenAPI 3 document (JSON): one tool per operation")(
      "out", po::value(&out), "write the adapter-plugin project into this folder")(
      "name", po::value(&name), "plugin name (default: the --out folder's name)")(
      "timeout", po::value(&timeout)->default_value(60.0), "seconds to wait for the MCP server")(
      "json", "machine-readable output")("verbose,v", "also list every schema lowering step");
  po::options_description hidden;
  hidden.add_options()("dir", po::value(&dir));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("dir", 1);
  po::variables_map vm = parse_options(args, all, &pos);
  if (vm.count("help")) {
    std::cout << opts << "\nExit codes: 0 ok, 1 nothing found or a source failed, 2 usage error.\n";
    return kExitOk;
  }
  if (dir.empty() && mcp.empty() && openapi.empty())
    throw UsageError("nothing to scan: give a folder, --mcp \"COMMAND\" or --openapi FILE");
  if (timeout <= 0) throw UsageError("--timeout must be positive");

  scan::ScanOptions options;
  options.dir = dir;
  options.mcp_command = mcp;
  options.openapi = openapi;
  options.mcp_timeout_seconds = timeout;
  if (!out.empty()) options.exclude.push_back(out);
  auto found = scan::scan(options);
  if (!found.is_ok()) {
    std::cerr << "atlas-host scan: error: " << found.status().message() << "\n";
    return kExitFailure;
  }
  scan::Report report;
  report.skipped = found->skipped;
  report.tools = scan::normalize_tools(found->tools, report.skipped);
  if (!out.empty() && !report.tools.empty()) {
    scan::GenerateOptions gen;
    gen.plugin_name =
        scan::sanitize_plugin_name(name.empty() ? std::filesystem::absolute(out).lexically_normal().filename().string() : name);
    std::vector<std::string> sources;
    if (!dir.empty()) sources.push_back(std::filesystem::path(dir).lexically_normal().generic_string());
    if (!openapi.empty()) sources.push_back(std::filesystem::path(openapi).filename().string());
    if (!mcp.empty()) sources.push_back("MCP server `" + mcp + "`");
    for (size_t i = 0; i < sources.size(); ++i) gen.source_summary += (i ? ", " : "") + sources[i];
    gen.mcp_command = found->mcp_command;
    auto written = scan::write_project(scan::render_project(report.tools, gen), out);
    if (!written.is_ok()) {
      std::cerr << "atlas-host scan: error: " << written.status().message() << "\n";
      return kExitFailure;
    }
    report.files = written.value();
    report.out_dir = out;
  }
  std::cout << (vm.count("json") ? scan::render_json(report) : scan::render_text(report, vm.count("verbose") > 0));
  if (report.tools.empty()) {
    std::cerr << "atlas-host scan: no tool definitions found" << (out.empty() ? "" : "; nothing generated") << "\n";
    return kExitFailure;
  }
  return kExitOk;
}

}  // namespace atlas::cli
