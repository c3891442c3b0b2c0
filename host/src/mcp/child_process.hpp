// A child process with its stdin/stdout/stderr on pipes, for line-based protocols (MCP).
// Not thread-safe: the owner serialises use. stderr is drained whenever stdout is read and
// kept in a bounded tail buffer.
#pragma once

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

  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  Status start(const Options& options);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Writes all of `data`; a closed pipe is UNAVAILABLE (never SIGPIPE).
  Status write_all(std::string_view data);
  // Next line from stdout without the newline. DEADLINE_EXCEEDED at `deadline_ms`
  // (monotonic ms, see now_ms()); UNAVAILABLE on EOF.
  Result<std::string> read_line(int64_t deadline_ms);
  // Exactly `n` bytes from stdout (for Content-Length framed input), same errors.
  Result<std::string> read_exact(size_t n, int64_t deadline_ms);
  // Exit description once the child is gone ("exit status 3", "killed by signal 9"),
  // reaping it if it has exited; "" while it runs.
  std::string exit_description();
  std::string stderr_tail() const { return stderr_; }
  // Closes stdin, waits up to `grace_ms` for exit, then SIGTERM, then SIGKILL; reaps.
  void stop(int grace_ms = 2000);

  static int64_t now_ms();

 private:
  void drain_stderr();
  // Reads more stdout into out_buf_; errors as read_line.
  Status fill(int64_t deadline_ms);
  bool wait_exit(int64_t deadline_ms);
  void close_fds();

  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_;
  std::string stderr_;
  size_t stderr_limit_ = 16 * 1024;
  int wait_status_ = 0;
  bool reaped_ = false;
};

}  // namespace atlas::mcp
