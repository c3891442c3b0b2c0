// Schema normalisation: lowers a tool's input schema (often JSON Schema 2020-12) to the
// draft-04 dialect RapidJSON validates (it ignores newer keywords and so fails open), makes a
// Gemini (OpenAPI-subset) variant, and gives every tool names each provider accepts.
// Whatever cannot be lowered without changing what the schema accepts is reported as a Note
// (kWarning: not enforced; kError: removed because it would break validation).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "scan/tool.hpp"

namespace atlas::scan {

// Lowers `schema` in place (allocations from `a`). `notes` receives what changed.
void lower_schema(json::Value& schema, json::Allocator& a, std::vector<Note>& notes);

// Gemini's function-declaration `parameters`: $ref inlined, nullable instead of type arrays,
// keywords Gemini rejects removed (each removal noted).
void to_gemini_schema(json::Value& schema, json::Allocator& a, std::vector<Note>& notes);

// Provider-safe names. Unchanged when already valid; otherwise invalid characters become '_'
// and an 8-hex-digit hash of the original name is appended, so distinct originals never
// collide. The generated plugin keeps the table (tools.json, gen/tools.hpp) to map back.
std::string openai_tool_name(std::string_view name);  // ^[a-zA-Z0-9_-]{1,64}$
std::string gemini_tool_name(std::string_view name);  // [A-Za-z_][A-Za-z0-9_.:-]{0,63}
bool is_valid_openai_name(std::string_view name);
bool is_valid_gemini_name(std::string_view name);

// snake_case C++ identifier (keywords get a trailing '_'); never empty.
std::string to_identifier(std::string_view name);
// PascalCase type name from an identifier.
std::string to_type_name(std::string_view ident);
bool is_cpp_keyword(std::string_view word);

// Normalises every found tool: lowered schema, names, unique identifiers. Tools that cannot
// be used at all (schema not an object schema, duplicate name) go to `skipped` with the reason.
std::vector<Tool> normalize_tools(const std::vector<FoundTool>& found, std::vector<Skipped>& skipped);

}  // namespace atlas::scan
