// Finding tool definitions, statically (user code is never run): JSON files (OpenAI
// function/tool definitions, Anthropic and MCP tool definitions, JSON Schema files, OpenAPI
// documents), Python and TypeScript/JavaScript sources (lexer-level), an OpenAPI document, and
// a live MCP server (started, asked for tools/list, stopped).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "scan/tool.hpp"

namespace atlas::scan {

struct ScanOptions {
  std::filesystem::path dir;          // empty = no folder scan
  std::string mcp_command;            // "" = none; split like a shell would (quotes, backslashes)
  std::filesystem::path openapi;      // empty = none
  double mcp_timeout_seconds = 60.0;  // startup + tools/list
  std::vector<std::filesystem::path> exclude;  // folders not to descend into (e.g. --out)
};

// Runs every requested source. Paths in the result are relative to `dir` (folder scan) or as given.
Result<Found> scan(const ScanOptions& options);

// Single sources (used by scan(); exposed for tests). `file` is the name used in locations.
void scan_json_text(std::string_view text, const std::string& file, Found& out);
void scan_python_text(std::string_view text, const std::string& file, Found& out);
void scan_typescript_text(std::string_view text, const std::string& file, Found& out);
Status scan_openapi_text(std::string_view text, const std::string& file, Found& out);
Status scan_mcp_server(const std::vector<std::string>& argv, double timeout_seconds, Found& out);

// "node 'my server.js' --root \"/tmp/a b\"" -> argv. INVALID_ARGUMENT on an unclosed quote.
Result<std::vector<std::string>> split_command(std::string_view command);

// Line (1-based) of byte `offset` in `text`.
int line_of(std::string_view text, size_t offset);

}  // namespace atlas::scan
