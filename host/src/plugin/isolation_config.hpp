// [plugins] isolation settings -> RegistryOptions. Every place that builds RegistryOptions
// from a config calls this (plugin::registry_options once it exists).
#pragma once

#include "config/config.hpp"
#include "plugin/registry.hpp"

namespace atlas::plugin {

// Copies `isolation` and the per-plugin `isolation` keys into `options` (the loader has
// already refused values other than auto / in-process / process).
void apply_isolation_config(const config::PluginsConfig& plugins, RegistryOptions& options);

}  // namespace atlas::plugin
