#include "plugin/isolation_config.hpp"

namespace atlas::plugin {

void apply_isolation_config(const config::PluginsConfig& plugins, RegistryOptions& options) {
  if (auto i = parse_isolation(plugins.isolation)) options.isolation = *i;
  for (const auto& [name, text] : plugins.plugin_isolation) {
    if (auto i = parse_isolation(text)) options.plugin_isolation[name] = *i;
  }
}

}  // namespace atlas::plugin
