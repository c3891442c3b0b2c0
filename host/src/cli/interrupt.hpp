// SIGINT/SIGTERM during a long command (run): the signal handler only records the signal and
// writes one byte to a pipe (async-signal-safe); a watcher thread reads it and calls
// `on_signal` on an ordinary thread, where it may take locks and wake I/O threads (e.g.
// Runtime::cancel). The first signal restores the default action, so a second Ctrl-C ends the
// process at once. One InterruptWatch at a time.
#pragma once

#include <functional>
#include <thread>

namespace atlas::cli {

class InterruptWatch {
 public:
  explicit InterruptWatch(std::function<void(int signo)> on_signal);
  ~InterruptWatch();  // stops the watcher, restores the previous handlers
  InterruptWatch(const InterruptWatch&) = delete;
  InterruptWatch& operator=(const InterruptWatch&) = delete;

  // The first signal received (SIGINT or SIGTERM), 0 while none.
  int signal() const;
  // The shell's convention for a command ended by `signo`: 130 for SIGINT, 143 for SIGTERM.
  static int exit_code(int signo) { return 128 + signo; }

 private:
  std::function<void(int)> on_signal_;
  std::thread watcher_;
};

}  // namespace atlas::cli
