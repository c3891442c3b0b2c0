#include "plugin/registry_options.hpp"

#include "plugin/isolation_config.hpp"

namespace atlas::plugin {

RegistryOptions registry_options(const config::Config& config, const std::vector<std::filesystem::path>& cli_dirs) {
  RegistryOptions options;
  for (const auto& d : config.plugins.dirs) options.dirs.emplace_back(d);
  for (const auto& d : cli_dirs) options.dirs.push_back(d);
  options.allow_unsafe = config.plugins.allow_unsafe;
  if (!config.plugins.lock_file.empty()) options.lock_file = config.plugins.lock_file;
  apply_isolation_config(config.plugins, options);
  return options;
}

}  // namespace atlas::plugin
