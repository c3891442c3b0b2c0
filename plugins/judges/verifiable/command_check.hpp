// Runs a program with the judged output on stdin, captures stdout/stderr, kills it (and its
// process group) when the timeout passes. posix_spawn: no fork of a multi-threaded host.
#ifndef ATLAS_JUDGE_VERIFIABLE_COMMAND_CHECK_HPP
#define ATLAS_JUDGE_VERIFIABLE_COMMAND_CHECK_HPP

#include <string>
#include <vector>

namespace atlas_judge_verifiable {

struct CommandResult {
  bool started = false;
  std::string start_error;  // why the program could not be started
  bool timed_out = false;
  bool exited = false;      // normal exit (exit_code valid)
  int exit_code = -1;
  int signal = 0;           // terminating signal when !exited
  std::string stdout_text;  // at most max_capture bytes (+ marker)
  std::string stderr_text;
  double seconds = 0.0;
};

// argv[0] is looked up in PATH. `cwd` empty = inherit.
CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text, double timeout_seconds,
                          size_t max_capture, const std::string& cwd = {});

}  // namespace atlas_judge_verifiable

#endif
