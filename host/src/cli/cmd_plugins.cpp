// atlas-host plugins list|inspect|verify — placeholder until the loader lands (issue 2).
#include <iostream>

#include "cli/commands.hpp"

namespace atlas::cli {

int run_plugins(const Args& args) {
  throw UsageError("the plugin loader is not built yet");
}

}  // namespace atlas::cli
