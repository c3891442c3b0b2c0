// A child process with its stdin/stdout/stderr on pipes, for line-based protocols (MCP).
// The process handling itself is the SDK's atlas::sdk::ChildProcess (shared with the
// `command` adapter plugin); this class only turns its results into Status values.
// Not thread-safe: the owner serialises use.
#pragma once

#include <atlas/child_process.hpp>
#include <sys/types.h>

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::mcp {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;  // argv[0] is looked up on PATH when it has no '/'
    std::map<std::string, std::string> env;  // added to the parent's environment
    std::string cwd;
    size_t stderr_limit = 16 * 1024;
  };

  Status start(const Options& options);
  bool running() const { return child_.running(); }
  pid_t pid() const { return child_.pid(); }

  // Writes all of `data`; a closed pipe is UNAVAILABLE (never SIGPIPE).
  Status write_all(std::string_view data);
  // Next line from stdout without the newline. DEADLINE_EXCEEDED at `deadline_ms`
  // (monotonic ms, see now_ms()); UNAVAILABLE on EOF.
  Result<std::string> read_line(int64_t deadline_ms);
  // Exactly `n` bytes from stdout (for Content-Length framed input), same errors.
  Result<std::string> read_exact(size_t n, int64_t deadline_ms);
  // Exit description once the child is gone ("exit status 3", "killed by signal 9"),
  // reaping it if it has exited; "" while it runs.
  std::string exit_description() { return child_.exit_description(); }
  std::string stderr_tail() const { return child_.stderr_tail().text(); }
  // Closes stdin, waits up to `grace_ms` for exit, then SIGTERM, then SIGKILL; reaps.
  void stop(int grace_ms = 2000) { child_.stop(grace_ms); }

  static int64_t now_ms() { return sdk::ChildProcess::now_ms(); }

 private:
  Status read_status(sdk::ChildProcess::Read r) const;

  sdk::ChildProcess child_;
};

}  // namespace atlas::mcp
