// Fixed text of the generated project (files that do not depend on the tools). Kept apart
// from codegen.cpp so the generator logic stays readable.
#pragma once

namespace atlas::scan::templates {

extern const char* const kRuntimeHeader;   // gen/atlas_scan_runtime.hpp
extern const char* const kMcpHeader;       // gen/mcp_stdio.hpp
extern const char* const kPluginSupport;   // body of gen/plugin.cpp after the tool table
extern const char* const kAgentSource;     // src/agent.cpp (user-owned)

}  // namespace atlas::scan::templates
