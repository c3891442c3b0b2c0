// atlas/child_process.hpp — a child program on pipes, for plugins that speak a line or
// length-framed protocol with another process (the host's MCP client and the `command`
// adapter use it too). Header-only C++17.
//
// A LINUX UTILITY, not part of the plugin ABI: it needs Linux with glibc >= 2.32
// (posix_spawn_file_actions_addchdir_np, sigabbrev_np; pidfd_open when the kernel has it).
// plugin_abi.h and sdk.hpp stay portable; a plugin that includes this header is Linux-only.
//
// - posix_spawnp with O_CLOEXEC pipes for stdin/stdout/stderr, default signal handling, in
//   its own process group, so stopping it also stops whatever it started;
// - writes never raise SIGPIPE (a closed stdin is an error string);
// - reads take a deadline (steady-clock ms, now_ms()) and an optional cancellation check;
//   stderr is drained while waiting and kept as a bounded tail;
// - stop(): close stdin, grace period, SIGTERM to the group, grace, SIGKILL; always reaps.
//
// Not thread-safe: the owner serialises use. Errors are plain strings so that the header
// needs nothing but the C++ and POSIX libraries.
#ifndef ATLAS_CHILD_PROCESS_HPP
#define ATLAS_CHILD_PROCESS_HPP

#if !defined(__linux__)
#error "atlas/child_process.hpp is a Linux utility (glibc >= 2.32); plugin_abi.h and sdk.hpp are portable"
#endif

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

namespace atlas::sdk {

// Bounded text buffer that keeps the newest bytes and says how many it dropped.
class TailBuffer {
 public:
  explicit TailBuffer(size_t limit) : limit_(limit) {}
  void append(const char* p, size_t n) {
    data_.append(p, n);
    if (data_.size() > limit_) {
      dropped_ += data_.size() - limit_;
      data_.erase(0, data_.size() - limit_);
    }
  }
  std::string text() const {
    return dropped_ ? "[" + std::to_string(dropped_) + " earlier bytes dropped]\n" + data_ : data_;
  }
  void clear() {
    data_.clear();
    dropped_ = 0;
  }
  bool empty() const { return data_.empty(); }

 private:
  size_t limit_;
  std::string data_;
  size_t dropped_ = 0;
};

class ChildProcess {
 public:
  struct Spec {
    std::vector<std::string> argv;           // argv[0] is looked up on PATH when it has no '/'
    std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
    std::string cwd;                         // empty: the parent's
    size_t stderr_limit = 16 * 1024;         // bytes of stderr kept (the newest)
  };
  enum class Read { kOk, kEof, kTimeout, kCancelled };
  using CancelCheck = std::function<bool()>;

  ChildProcess() = default;
  ~ChildProcess() { stop(0); }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  // "" once the program runs, else why it could not start.
  std::string start(const Spec& spec) {
    if (spec.argv.empty() || spec.argv[0].empty()) return "no command given";
    stop(0);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) {
      std::string e = std::string("pipe2: ") + strerror(errno);
      for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]})
        if (fd >= 0) close(fd);
      return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    if (!spec.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, spec.cwd.c_str());
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults, empty;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGINT);
    sigemptyset(&empty);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

    std::vector<std::string> env_strings;
    for (char** e = environ; e && *e; ++e) {
      std::string_view entry(*e);
      if (spec.env.count(std::string(entry.substr(0, entry.find('='))))) continue;
      env_strings.emplace_back(entry);
    }
    for (const auto& kv : spec.env) env_strings.push_back(kv.first + "=" + kv.second);
    std::vector<char*> envp;
    envp.reserve(env_strings.size() + 1);
    for (auto& s : env_strings) envp.push_back(&s[0]);
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
    argv.reserve(args.size() + 1);
    for (auto& a : args) argv.push_back(&a[0]);
    argv.push_back(nullptr);

    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in[0]);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
      close(in[1]);
      close(out[0]);
      close(err[0]);
      std::string hint;
      if (rc == ENOENT)
        hint = " (not found: check the path or PATH" +
               (spec.cwd.empty() ? std::string() : ", and that cwd '" + spec.cwd + "' exists") + ")";
      return "cannot start '" + spec.argv[0] + "': " + strerror(rc) + hint;
    }
    pid_ = pid;
    reaped_ = false;
    status_ = 0;
    in_fd_ = in[1];
    out_fd_ = out[0];
    err_fd_ = err[0];
    out_buf_.clear();
    stderr_ = TailBuffer(spec.stderr_limit);
    return "";
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // "" when all of `data` was written, else why not. Never raises SIGPIPE.
  std::string write_all(std::string_view data) {
    if (in_fd_ < 0) return "the process's stdin is closed";
    // Block SIGPIPE for this thread while writing; consume one our write raised.
    sigset_t block, old, pending;
    sigemptyset(&block);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    std::string error;
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
        error = e == EPIPE ? "the process closed its stdin (it probably exited)"
                           : std::string("write to the process failed: ") + strerror(e);
        break;
      }
      off += static_cast<size_t>(n);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return error;
  }

  // The next stdout line, without its "\n" (and a "\r" before it). kEof when stdout closed
  // first (an unterminated last line is not a line), kTimeout at `deadline_ms`, kCancelled
  // once `cancelled()` says so (checked every 100 ms).
  Read read_line(int64_t deadline_ms, std::string& line, const CancelCheck& cancelled = {}) {
    for (;;) {
      if (size_t nl = out_buf_.find('\n'); nl != std::string::npos) {
        line = out_buf_.substr(0, nl);
        out_buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return Read::kOk;
      }
      if (Read r = fill(deadline_ms, cancelled); r != Read::kOk) return r;
    }
  }

  // Exactly `n` bytes of stdout (length-framed protocols); same results as read_line.
  Read read_exact(size_t n, int64_t deadline_ms, std::string& data, const CancelCheck& cancelled = {}) {
    while (out_buf_.size() < n)
      if (Read r = fill(deadline_ms, cancelled); r != Read::kOk) return r;
    data = out_buf_.substr(0, n);
    out_buf_.erase(0, n);
    return Read::kOk;
  }

  // Reads whatever stderr has ready, without blocking.
  void drain_stderr() {
    char buf[4096];
    while (err_fd_ >= 0) {
      pollfd p{err_fd_, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) return;
      ssize_t n = ::read(err_fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        close(err_fd_);
        err_fd_ = -1;
        return;
      }
      stderr_.append(buf, static_cast<size_t>(n));
    }
  }
  TailBuffer& stderr_tail() { return stderr_; }
  const TailBuffer& stderr_tail() const { return stderr_; }

  // True once the process has exited (it is reaped then); true when it never ran.
  bool exited() {
    if (pid_ <= 0 || reaped_) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) {
      status_ = r == pid_ ? status : 0;
      reaped_ = true;
    }
    return reaped_;
  }

  // How it ended ("exit status 3", "killed by signal 9 (SIGKILL)"); "" while it runs.
  std::string exit_description() {
    if (pid_ <= 0 && !reaped_) return ended_.empty() ? "not started" : ended_;
    if (!exited()) return "";
    return describe(status_);
  }

  // Waits up to `ms` for the process to exit on its own (a pidfd when the kernel has one,
  // else a bounded WNOHANG loop).
  bool wait_exit(int ms) {
    if (exited()) return true;
#ifdef SYS_pidfd_open
    int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
    if (pidfd >= 0) {
      pollfd p{pidfd, POLLIN, 0};
      int pr;
      do {
        pr = poll(&p, 1, ms);
      } while (pr < 0 && errno == EINTR);
      close(pidfd);
      return exited();
    }
#endif
    int64_t deadline = now_ms() + ms;
    while (now_ms() < deadline) {
      timespec ts{0, 5 * 1000 * 1000};
      nanosleep(&ts, nullptr);
      if (exited()) return true;
    }
    return exited();
  }

  // Closes stdin, waits `grace_ms`, SIGTERM to the group, waits again, SIGKILL; reaps.
  // Returns how it ended ("exit status 0", "exit status 143 after SIGTERM", ...).
  std::string stop(int grace_ms) {
    if (pid_ <= 0) {
      close_fds();
      return ended_;
    }
    if (in_fd_ >= 0) {
      close(in_fd_);
      in_fd_ = -1;
    }
    if (grace_ms > 0) wait_exit(grace_ms);
    std::string how;
    if (!exited()) {
      kill(-pid_, SIGTERM);
      kill(pid_, SIGTERM);  // in case it left its process group
      if (!wait_exit(grace_ms > 0 ? grace_ms : 1000)) {
        kill(-pid_, SIGKILL);
        kill(pid_, SIGKILL);
        if (!wait_exit(10000)) {
          int status = 0;
          waitpid(pid_, &status, 0);
          status_ = status;
          reaped_ = true;
        }
        how = " after SIGKILL";
      } else {
        how = " after SIGTERM";
      }
    }
    drain_stderr();
    close_fds();
    ended_ = describe(status_);
    if (!WIFSIGNALED(status_)) ended_ += how;  // "killed by signal" already says it
    pid_ = -1;
    return ended_;
  }

 private:
  static std::string describe(int status) {
    if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
      int sig = WTERMSIG(status);
      const char* name = sigabbrev_np(sig);
      return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : std::string());
    }
    return "ended";
  }

  // Reads more stdout into out_buf_ (draining stderr meanwhile).
  Read fill(int64_t deadline_ms, const CancelCheck& cancelled) {
    char buf[8192];
    for (;;) {
      if (out_fd_ < 0) return Read::kEof;
      int64_t left = deadline_ms - now_ms();
      if (left <= 0) return Read::kTimeout;
      if (cancelled && cancelled()) return Read::kCancelled;
      const int64_t slice = cancelled ? 100 : 1000;
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      nfds_t nfds = err_fd_ >= 0 ? 2 : 1;
      int pr = poll(fds, nfds, static_cast<int>(left < slice ? left : slice));
      if (pr < 0 && errno != EINTR) return Read::kEof;
      if (pr <= 0) continue;
      if (nfds == 2 && fds[1].revents) drain_stderr();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = ::read(out_fd_, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          close(out_fd_);
          out_fd_ = -1;
          drain_stderr();
          return Read::kEof;
        }
        out_buf_.append(buf, static_cast<size_t>(got));
        return Read::kOk;
      }
    }
  }

  void close_fds() {
    for (int* fd : {&in_fd_, &out_fd_, &err_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_;
  TailBuffer stderr_{16 * 1024};
  int status_ = 0;
  bool reaped_ = false;
  std::string ended_;  // how the last run ended, once stopped
};

}  // namespace atlas::sdk

#endif
