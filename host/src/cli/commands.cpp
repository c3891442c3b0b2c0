// The table of subcommands. Register only commands that work.
#include "cli/cli.hpp"
#include "cli/commands.hpp"

namespace atlas::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      // name, one-line summary, entry point
      {"plugins", "List, inspect and verify plugins (list|inspect|verify)", &run_plugins},
      {"config", "Validate configuration files and print the effective config (check|show)", &run_config},
  };
  return table;
}

}  // namespace atlas::cli
