// Command-line front end. One file per subcommand (cmd_<name>.cpp); each parses its own
// options with Boost.Program_options (shared parsing and the storage options are in
// cli/options.hpp) and calls into a component. No business logic here.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace atlas::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;
// Records are still only in the local storage spool (the database was unreachable); they are
// replayed by the next `run` or by `db replay` (docs/storage.md).
inline constexpr int kExitSpooled = 3;

// Thrown for bad command-line usage; main prints it with a hint and exits 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

using Args = std::vector<std::string>;  // arguments after the subcommand name

struct Command {
  const char* name;
  const char* summary;
  int (*run)(const Args& args);
};

// Every registered subcommand, in the order `--help` lists them. Defined in commands.cpp.
const std::vector<Command>& commands();

// Entry point used by main().
int main(int argc, char** argv);

}  // namespace atlas::cli
