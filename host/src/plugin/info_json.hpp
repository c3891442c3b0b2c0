// JSON form of PluginInfo and Diagnostic: `plugins list --json` output and the wire format
// between an isolated probe child and its parent.
#pragma once

#include "common/json.hpp"
#include "plugin/handles.hpp"
#include "plugin/registry.hpp"

namespace atlas::plugin {

// {"kind","name","version","vendor","license","description","capabilities":[...],
//  "capability_bits","config_schema":{...}|null,"file","abi":"1.1","build_tag","has_cancel"}
json::Value to_json(const PluginInfo& info, json::Allocator& a);
PluginInfo plugin_info_from_json(const json::Value& v);

// {"path","severity","message"}
json::Value to_json(const Diagnostic& d, json::Allocator& a);
Diagnostic diagnostic_from_json(const json::Value& v);

// Names of the capability bits set in `bits` ("thread_safe", "cancel", "tools", "uses_llm",
// "needs_network", "bit<N>" for unknown ones).
std::vector<std::string> capability_names(uint64_t bits);

}  // namespace atlas::plugin
