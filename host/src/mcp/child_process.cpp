#include "mcp/child_process.hpp"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>

extern char** environ;

namespace atlas::mcp {
namespace {

std::string errno_text(int err) { return std::string(strerror(err)); }

// Waits for `pid` to become reapable or `timeout_ms` to pass. Uses a pidfd when the kernel
// has one (no polling); otherwise a bounded WNOHANG loop.
bool wait_for_exit(pid_t pid, int timeout_ms, int* status) {
  pid_t r = waitpid(pid, status, WNOHANG);
  if (r == pid || (r < 0 && errno == ECHILD)) return true;
#ifdef SYS_pidfd_open
  int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    int pr;
    do {
      pr = poll(&p, 1, timeout_ms);
    } while (pr < 0 && errno == EINTR);
    close(pidfd);
    r = waitpid(pid, status, WNOHANG);
    return r == pid || (r < 0 && errno == ECHILD);
  }
#endif
  int64_t deadline = ChildProcess::now_ms() + timeout_ms;
  while (ChildProcess::now_ms() < deadline) {
    timespec ts{0, 5'000'000};
    nanosleep(&ts, nullptr);
    r = waitpid(pid, status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return true;
  }
  return false;
}

}  // namespace

int64_t ChildProcess::now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

ChildProcess::~ChildProcess() { stop(0); }

Status ChildProcess::start(const Options& options) {
  if (options.argv.empty() || options.argv[0].empty()) return invalid_argument("no command given");
  stderr_limit_ = options.stderr_limit;
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return internal_error("pipe2: " + errno_text(errno));
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]);
    return internal_error("pipe2: " + errno_text(errno));
  }
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    return internal_error("pipe2: " + errno_text(errno));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Own process group, so a timeout can signal grandchildren too; default signal handling.
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string_view entry(*e);
    std::string_view key = entry.substr(0, entry.find('='));
    if (options.env.count(std::string(key))) continue;
    env_strings.emplace_back(entry);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> args = options.argv;
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(in[0]), close(out[1]), close(err[1]);
  if (rc != 0) {
    close(in[1]), close(out[0]), close(err[0]);
    std::string hint = rc == ENOENT ? " (not found: check the path or PATH"
                                      + std::string(options.cwd.empty() ? "" : ", and that cwd '" + options.cwd + "' exists")
                                      + ")"
                                    : "";
    return unavailable("cannot start '" + options.argv[0] + "': " + errno_text(rc) + hint);
  }
  pid_ = pid;
  reaped_ = false;
  in_fd_ = in[1];
  out_fd_ = out[0];
  err_fd_ = err[0];
  out_buf_.clear();
  stderr_.clear();
  return Status::ok();
}

Status ChildProcess::write_all(std::string_view data) {
  if (in_fd_ < 0) return unavailable("the process's stdin is closed");
  // Block SIGPIPE for this thread while writing; consume one raised by our write.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  sigset_t pending;
  sigemptyset(&pending);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE) == 1;
  Status st;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(in_fd_, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      if (e == EPIPE && !was_pending) {
        timespec zero{0, 0};
        sigtimedwait(&block, nullptr, &zero);
      }
      st = unavailable(e == EPIPE ? "the process closed its stdin (it probably exited)"
                                  : "write to the process failed: " + errno_text(e));
      break;
    }
    off += static_cast<size_t>(n);
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  return st;
}

void ChildProcess::drain_stderr() {
  if (err_fd_ < 0) return;
  char buf[4096];
  for (;;) {
    pollfd p{err_fd_, POLLIN, 0};
    if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
    ssize_t n = ::read(err_fd_, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      close(err_fd_);
      err_fd_ = -1;
      return;
    }
    stderr_.append(buf, static_cast<size_t>(n));
    if (stderr_.size() > stderr_limit_) stderr_.erase(0, stderr_.size() - stderr_limit_);
  }
}

Status ChildProcess::fill(int64_t deadline_ms) {
  char buf[8192];
  for (;;) {
    if (out_fd_ < 0) return unavailable("the process closed its stdout");
    int64_t left = deadline_ms - now_ms();
    if (left <= 0) return deadline_exceeded("no answer from the process in time");
    pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
    int nfds = err_fd_ >= 0 ? 2 : 1;
    int pr = poll(fds, static_cast<nfds_t>(nfds), static_cast<int>(left > 1000 ? 1000 : left));
    if (pr < 0) {
      if (errno == EINTR) continue;
      return internal_error("poll: " + errno_text(errno));
    }
    if (nfds == 2 && fds[1].revents) drain_stderr();
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(out_fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(out_fd_);
        out_fd_ = -1;
        drain_stderr();
        return unavailable("the process closed its stdout");
      }
      out_buf_.append(buf, static_cast<size_t>(n));
      return Status::ok();
    }
  }
}

Result<std::string> ChildProcess::read_line(int64_t deadline_ms) {
  for (;;) {
    if (size_t nl = out_buf_.find('\n'); nl != std::string::npos) {
      std::string line = out_buf_.substr(0, nl);
      out_buf_.erase(0, nl + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    ATLAS_RETURN_IF_ERROR(fill(deadline_ms));
  }
}

Result<std::string> ChildProcess::read_exact(size_t n, int64_t deadline_ms) {
  while (out_buf_.size() < n) ATLAS_RETURN_IF_ERROR(fill(deadline_ms));
  std::string data = out_buf_.substr(0, n);
  out_buf_.erase(0, n);
  return data;
}

std::string ChildProcess::exit_description() {
  if (pid_ <= 0 && !reaped_) return "not started";
  if (!reaped_) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r != pid_) return "";
    wait_status_ = status;
    reaped_ = true;
  }
  if (WIFEXITED(wait_status_)) return "exit status " + std::to_string(WEXITSTATUS(wait_status_));
  if (WIFSIGNALED(wait_status_)) {
    int sig = WTERMSIG(wait_status_);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended";
}

bool ChildProcess::wait_exit(int64_t deadline_ms) {
  if (reaped_) return true;
  int64_t left = deadline_ms - now_ms();
  int status = 0;
  if (wait_for_exit(pid_, static_cast<int>(left < 0 ? 0 : left), &status)) {
    wait_status_ = status;
    reaped_ = true;
    return true;
  }
  return false;
}

void ChildProcess::close_fds() {
  for (int* fd : {&in_fd_, &out_fd_, &err_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

void ChildProcess::stop(int grace_ms) {
  if (pid_ <= 0) {
    close_fds();
    return;
  }
  if (in_fd_ >= 0) {
    close(in_fd_);
    in_fd_ = -1;
  }
  if (!reaped_ && grace_ms > 0) wait_exit(now_ms() + grace_ms);
  if (!reaped_) {
    kill(-pid_, SIGTERM);
    kill(pid_, SIGTERM);
    if (!wait_exit(now_ms() + (grace_ms > 0 ? grace_ms : 1000))) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      wait_exit(now_ms() + 10'000);
    }
  }
  drain_stderr();
  close_fds();
  if (!reaped_) {
    int status = 0;
    waitpid(pid_, &status, 0);
    wait_status_ = status;
    reaped_ = true;
  }
  pid_ = -1;
}

}  // namespace atlas::mcp
