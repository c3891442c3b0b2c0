#include "cli/interrupt.hpp"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <stdexcept>

namespace atlas::cli {
namespace {

int g_pipe[2] = {-1, -1};
std::atomic<int> g_signo{0};
struct sigaction g_old_int, g_old_term;

extern "C" void on_interrupt(int signo) {
  int none = 0;
  g_signo.compare_exchange_strong(none, signo);
  const int saved = errno;
  char byte = static_cast<char>(signo);
  (void)!::write(g_pipe[1], &byte, 1);
  errno = saved;
}

}  // namespace

InterruptWatch::InterruptWatch(std::function<void(int)> on_signal) : on_signal_(std::move(on_signal)) {
  if (::pipe(g_pipe) != 0) throw std::runtime_error("cannot create the signal pipe");
  g_signo.store(0);
  watcher_ = std::thread([this] {
    char byte = 0;
    for (;;) {
      ssize_t n = ::read(g_pipe[0], &byte, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || byte == 0) return;  // 0: the destructor asks the watcher to end
      if (on_signal_) on_signal_(static_cast<unsigned char>(byte));
    }
  });
  struct sigaction sa {};
  sa.sa_handler = &on_interrupt;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND | SA_RESTART;  // a second signal gets the default action: exit now
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

InterruptWatch::~InterruptWatch() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
  char stop = 0;
  (void)!::write(g_pipe[1], &stop, 1);
  if (watcher_.joinable()) watcher_.join();
  ::close(g_pipe[0]);
  ::close(g_pipe[1]);
  g_pipe[0] = g_pipe[1] = -1;
}

int InterruptWatch::signal() const { return g_signo.load(); }

}  // namespace atlas::cli
