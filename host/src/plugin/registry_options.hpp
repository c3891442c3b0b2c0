// The one place a command's plugin registry settings come from: [plugins] dirs, allow_unsafe,
// lock_file and isolation, plus the folders given on the command line (--plugin-dir). Every command that
// loads plugins for a configuration (run, quickstart, eval, db, review, export, report, train)
// discovers with these, so the lock file pins and the trust checks cannot differ between them.
#pragma once

#include <filesystem>
#include <vector>

#include "config/config.hpp"
#include "plugin/registry.hpp"

namespace atlas::plugin {

// Folders: the config's [plugins] dirs, then `cli_dirs`; the default folders are searched too
// (RegistryOptions::use_default_dirs).
RegistryOptions registry_options(const config::Config& config, const std::vector<std::filesystem::path>& cli_dirs = {});

}  // namespace atlas::plugin
