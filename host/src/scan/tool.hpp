// The scanner's data model: a tool definition found somewhere (a file and line, an MCP
// server, an OpenAPI operation), what was skipped and why, and what normalisation did.
#pragma once

#include <string>
#include <vector>

namespace atlas::scan {

struct Location {
  std::string file;  // relative to the scanned root, or "mcp:<command>", or the OpenAPI path
  int line = 0;      // 1-based; 0 = unknown
  std::string to_string() const { return line > 0 ? file + ":" + std::to_string(line) : file; }
};

// A tool as declared by its source, before normalisation.
struct FoundTool {
  std::string name;
  std::string description;
  std::string input_schema_json;  // the schema as found (any draft)
  std::string format;             // "openai-function", "mcp-tool", "json-schema", "python @tool", ...
  Location where;
  bool from_mcp = false;          // calls are forwarded to the MCP server
};

struct Skipped {
  Location where;
  std::string reason;
};

// Everything one scan found, in a deterministic order (files sorted, then source order).
struct Found {
  std::vector<FoundTool> tools;
  std::vector<Skipped> skipped;
  // For MCP-sourced tools: the server command line (argv) the generated plugin starts.
  std::vector<std::string> mcp_command;
};

enum class Severity { kInfo, kWarning, kError };
const char* severity_name(Severity s);

// One thing schema normalisation changed or could not do.
struct Note {
  Severity severity = Severity::kInfo;
  std::string pointer;  // JSON pointer into the tool's input schema, "" = root
  std::string message;
};

// A tool ready for code generation.
struct Tool {
  std::string name;         // original name (what the MCP server / user code knows)
  std::string ident;        // C++ identifier, snake_case, unique in the project
  std::string type_name;    // PascalCase, unique
  std::string openai_name;  // ^[a-zA-Z0-9_-]{1,64}$
  std::string gemini_name;  // letter/underscore first, [A-Za-z0-9_.:-], <= 64
  std::string description;
  std::string schema_json;  // lowered to draft-04 (what RapidJSON and the generated validator enforce)
  std::string gemini_parameters_json;  // OpenAPI-subset form for Gemini
  std::vector<Note> notes;
  FoundTool source;
};

}  // namespace atlas::scan
