// The table of subcommands. Register only commands that work.
#include "cli/cli.hpp"
#include "cli/commands.hpp"

namespace atlas::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      // name, one-line summary, entry point
      {"plugins", "List, inspect and verify plugins (list|inspect|verify)", &run_plugins},
  };
  return table;
}

}  // namespace atlas::cli
