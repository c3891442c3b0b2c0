#include "command_check.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

extern char** environ;

namespace atlas_judge_verifiable {
namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Pipe {
  int fd[2] = {-1, -1};
  ~Pipe() { close_all(); }
  bool open() { return ::pipe2(fd, O_CLOEXEC) == 0; }
  void close_end(int i) {
    if (fd[i] >= 0) ::close(fd[i]);
    fd[i] = -1;
  }
  void close_all() {
    close_end(0);
    close_end(1);
  }
};

void append_capped(std::string& out, const char* data, size_t n, size_t cap, size_t& dropped) {
  const size_t room = out.size() < cap ? cap - out.size() : 0;
  const size_t take = n < room ? n : room;
  out.append(data, take);
  dropped += n - take;
}

// Blocks SIGPIPE for this thread while we write to the child's stdin, so a child that exits
// without reading cannot kill the host; a pending SIGPIPE is consumed afterwards.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE)) {
      timespec zero{0, 0};
      sigtimedwait(&set_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t set_, old_;
};

}  // namespace

CommandResult run_command(const std::vector<std::string>& argv, const std::string& stdin_text, double timeout_seconds,
                          size_t max_capture, const std::string& cwd) {
  CommandResult r;
  if (argv.empty() || argv[0].empty()) {
    r.start_error = "the command is empty";
    return r;
  }
  Pipe in, out, err;
  if (!in.open() || !out.open() || !err.open()) {
    r.start_error = std::string("cannot create pipes: ") + std::strerror(errno);
    return r;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in.fd[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out.fd[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err.fd[1], 2);
  if (!cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t empty, defaults;
  sigemptyset(&empty);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);  // own process group: a timeout kills its children too
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const double start = now_seconds();
  const int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    r.start_error = "cannot start \"" + argv[0] + "\": " + std::strerror(rc);
    return r;
  }
  r.started = true;
  in.close_end(0);
  out.close_end(1);
  err.close_end(1);
  for (int fd : {in.fd[1], out.fd[0], err.fd[0]}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);

  SigpipeGuard guard;
  size_t written = 0, dropped_out = 0, dropped_err = 0;
  if (stdin_text.empty()) in.close_end(1);
  const double deadline = start + (timeout_seconds > 0 ? timeout_seconds : 1e9);
  char buf[8192];
  while (out.fd[0] >= 0 || err.fd[0] >= 0) {
    pollfd fds[3];
    nfds_t n = 0;
    int idx_in = -1, idx_out = -1, idx_err = -1;
    if (in.fd[1] >= 0) {
      idx_in = static_cast<int>(n);
      fds[n++] = {in.fd[1], POLLOUT, 0};
    }
    if (out.fd[0] >= 0) {
      idx_out = static_cast<int>(n);
      fds[n++] = {out.fd[0], POLLIN, 0};
    }
    if (err.fd[0] >= 0) {
      idx_err = static_cast<int>(n);
      fds[n++] = {err.fd[0], POLLIN, 0};
    }
    const double remaining = deadline - now_seconds();
    if (remaining <= 0) {
      r.timed_out = true;
      break;
    }
    const int ready = ::poll(fds, n, static_cast<int>(remaining * 1000) + 1);
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) break;
    if (idx_in >= 0 && fds[idx_in].revents) {
      if (fds[idx_in].revents & (POLLERR | POLLHUP)) {
        in.close_end(1);  // the child closed its stdin: it does not want the rest
      } else {
        ssize_t w = ::write(in.fd[1], stdin_text.data() + written, stdin_text.size() - written);
        if (w > 0) written += static_cast<size_t>(w);
        if ((w < 0 && errno != EAGAIN && errno != EINTR) || written == stdin_text.size()) in.close_end(1);
      }
    }
    struct Reader {
      int idx;
      Pipe* pipe;
      std::string* text;
      size_t* dropped;
    };
    for (const Reader& rd : {Reader{idx_out, &out, &r.stdout_text, &dropped_out},
                             Reader{idx_err, &err, &r.stderr_text, &dropped_err}}) {
      if (rd.idx < 0 || !fds[rd.idx].revents) continue;
      ssize_t got = ::read(rd.pipe->fd[0], buf, sizeof buf);
      if (got > 0) append_capped(*rd.text, buf, static_cast<size_t>(got), max_capture, *rd.dropped);
      else if (got == 0 || (errno != EAGAIN && errno != EINTR)) rd.pipe->close_end(0);
    }
  }
  in.close_end(1);
  // The outputs are closed (or time ran out). Wait for the exit without reaping, so the pid
  // (= process group id) cannot be reused before we kill what is left of the group.
  while (!r.timed_out) {
    siginfo_t info{};
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid != 0) break;
    if (now_seconds() >= deadline) {
      r.timed_out = true;
      break;
    }
    ::poll(nullptr, 0, 10);  // bounded wait: the child closed its outputs but has not exited yet
  }
  ::kill(-pid, SIGKILL);  // the timed-out program, or children it left behind
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.seconds = now_seconds() - start;
  if (WIFEXITED(status)) {
    r.exited = true;
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  if (dropped_out) r.stdout_text += "...[" + std::to_string(dropped_out) + " bytes truncated]";
  if (dropped_err) r.stderr_text += "...[" + std::to_string(dropped_err) + " bytes truncated]";
  return r;
}

}  // namespace atlas_judge_verifiable
