#include <atlas/plugin_abi.h>
#include <curl/curl.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <iostream>

#include "cli/cli.hpp"
#include "cli/commands.hpp"
#include "common/build_info.hpp"
#include "common/secrets.hpp"

namespace atlas::cli {
namespace {

void print_help() {
  std::cout << "atlas-host " << build_info::kVersion
            << " — continual learning from agent workflows\n\n"
               "Usage: atlas-host <command> [options]\n\nCommands:\n";
  for (const auto& c : commands()) std::printf("  %-12s %s\n", c.name, c.summary);
  std::cout << "\nRun 'atlas-host <command> --help' (or 'atlas-host help <command>') for a command's options.\n"
               "Exit codes: 0 ok, 1 failure, 2 usage error.\n";
}

// Output a command could not write (a full disk, a closed pipe with SIGPIPE ignored) means the
// command did not do its job, whatever it returned.
int with_output_written(int rc, const std::string& name) {
  std::cout.flush();
  if (std::cout || rc != kExitOk) return rc;
  std::cerr << "atlas-host " << name << ": error: could not write to standard output (" << std::strerror(errno)
            << ")\n";
  return kExitFailure;
}

}  // namespace

int main(int argc, char** argv) {
  // libcurl must be initialised once before any thread starts.
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (argc < 2) {
    print_help();
    return kExitUsage;
  }
  std::string name = argv[1];
  Args args(argv + 2, argv + argc);
  if (name == "--help" || name == "-h" || name == "help") {
    if (name == "help" && !args.empty()) {
      // `help run` is `run --help`.
      name = args[0];
      args = {"--help"};
    } else {
      print_help();
      return with_output_written(kExitOk, "help");
    }
  }
  if (name == "--version" || name == "-V") {
    std::cout << "atlas-host " << build_info::kVersion << " (plugin ABI " << ATLAS_ABI_MAJOR << "."
              << ATLAS_ABI_MINOR << ")\n";
    return with_output_written(kExitOk, "--version");
  }
  if (name == "plugin-worker") {  // internal, started by the host for process-isolated plugins
    try {
      return run_plugin_worker(Args(argv + 2, argv + argc));
    } catch (const std::exception& e) {
      std::cerr << "atlas-host plugin-worker: " << e.what() << "\n";
      return kExitUsage;
    }
  }
  for (const auto& c : commands()) {
    if (name != c.name) continue;
    try {
      return with_output_written(c.run(args), name);
    } catch (const UsageError& e) {
      std::cerr << "atlas-host " << name << ": " << secrets::redact(e.what()) << "\n"
                << "Run 'atlas-host " << name << " --help' for usage.\n";
      return kExitUsage;
    } catch (const std::exception& e) {
      std::cerr << "atlas-host " << name << ": error: " << secrets::redact(e.what()) << "\n";
      return kExitFailure;
    }
  }
  std::cerr << "atlas-host: unknown command '" << name << "'. Run 'atlas-host --help' for the list.\n";
  return kExitUsage;
}

}  // namespace atlas::cli
