// The agent child process of the command adapter: stdin/stdout/stderr on O_CLOEXEC pipes,
// started with posix_spawnp in its own process group (so a timeout also stops whatever the
// agent started), SIGPIPE-safe writes, bounded stderr capture. Not thread-safe; the adapter
// serialises calls.
#ifndef ATLAS_COMMAND_ADAPTER_CHILD_HPP
#define ATLAS_COMMAND_ADAPTER_CHILD_HPP

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
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
#include <map>
#include <string>
#include <vector>

extern char** environ;

namespace command_adapter {

inline int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Bounded text buffer that keeps the newest bytes.
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

enum class ReadResult { kLine, kEof, kTimeout, kCancelled };

class Child {
 public:
  struct Spec {
    std::vector<std::string> argv;
    std::map<std::string, std::string> env;
    std::string cwd;
  };

  explicit Child(size_t stderr_limit) : stderr_(stderr_limit) {}
  ~Child() { stop(0); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // Returns "" on success, else an error message.
  std::string start(const Spec& spec) {
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
      std::string entry(*e);
      if (spec.env.count(entry.substr(0, entry.find('=')))) continue;
      env_strings.push_back(entry);
    }
    for (const auto& kv : spec.env) env_strings.push_back(kv.first + "=" + kv.second);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(&s[0]);
    envp.push_back(nullptr);
    std::vector<std::string> args = spec.argv;
    std::vector<char*> argv;
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
      return "cannot start '" + spec.argv[0] + "': " + strerror(rc) +
             (rc == ENOENT ? std::string(" (check the path, PATH and cwd)") : std::string());
    }
    pid_ = pid;
    reaped_ = false;
    in_fd_ = in[1];
    out_fd_ = out[0];
    err_fd_ = err[0];
    out_buf_.clear();
    stderr_.clear();
    return "";
  }

  bool started() const { return pid_ > 0; }

  // True when the process has exited (and reaps it).
  bool exited() {
    if (pid_ <= 0) return true;
    if (reaped_) return true;
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      status_ = status;
      reaped_ = true;
    }
    return reaped_;
  }

  // "" on success, else why the write failed. Never raises SIGPIPE.
  std::string write_all(const std::string& data) {
    if (in_fd_ < 0) return "the agent's stdin is closed";
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
        error = e == EPIPE ? "the agent closed its stdin" : std::string("write failed: ") + strerror(e);
        break;
      }
      off += static_cast<size_t>(n);
    }
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
    return error;
  }

  // Reads one stdout line (without '\n') into `line`, draining stderr meanwhile. Checks
  // `cancelled()` every 100 ms.
  template <typename CancelFn>
  ReadResult read_line(int64_t deadline_ms, std::string& line, CancelFn&& cancelled) {
    char buf[8192];
    for (;;) {
      size_t nl = out_buf_.find('\n');
      if (nl != std::string::npos) {
        line = out_buf_.substr(0, nl);
        out_buf_.erase(0, nl + 1);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        return ReadResult::kLine;
      }
      if (out_fd_ < 0) return ReadResult::kEof;
      int64_t left = deadline_ms - now_ms();
      if (left <= 0) return ReadResult::kTimeout;
      if (cancelled()) return ReadResult::kCancelled;
      pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
      nfds_t n = err_fd_ >= 0 ? 2 : 1;
      int pr = poll(fds, n, static_cast<int>(left < 100 ? left : 100));
      if (pr < 0 && errno != EINTR) return ReadResult::kEof;
      if (pr <= 0) continue;
      if (n == 2 && fds[1].revents) drain_stderr();
      if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t got = ::read(out_fd_, buf, sizeof buf);
        if (got < 0 && errno == EINTR) continue;
        if (got <= 0) {
          close(out_fd_);
          out_fd_ = -1;
          drain_stderr();
          continue;  // deliver a last unterminated line? no: the protocol needs '\n'
        }
        out_buf_.append(buf, static_cast<size_t>(got));
      }
    }
  }

  // Reads whatever stderr has ready (non-blocking).
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

  TailBuffer& stderr_buffer() { return stderr_; }

  // Waits up to `ms` for the child to exit on its own (it usually does right after EOF).
  bool wait_exit(int ms) {
    if (exited()) return true;
    int status = 0;
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
    while (now_ms() < deadline) {  // bounded poll loop for kernels without pidfd
      timespec ts{0, 5 * 1000 * 1000};
      nanosleep(&ts, nullptr);
      if (exited()) return true;
    }
    (void)status;
    return exited();
  }

  // Closes stdin, waits `grace_ms`, SIGTERM to the group, waits `grace_ms`, SIGKILL; reaps.
  // Returns a description of how it ended.
  std::string stop(int grace_ms) {
    if (pid_ <= 0) return description_;
    if (in_fd_ >= 0) {
      close(in_fd_);
      in_fd_ = -1;
    }
    if (grace_ms > 0) wait_exit(grace_ms);
    std::string how;
    if (!exited()) {
      kill(-pid_, SIGTERM);
      if (!wait_exit(grace_ms > 0 ? grace_ms : 1000)) {
        kill(-pid_, SIGKILL);
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
    for (int* fd : {&in_fd_, &out_fd_, &err_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
    description_ = describe_status();
    if (!(reaped_ && WIFSIGNALED(status_))) description_ += how;  // "killed by signal" says it already
    pid_ = -1;
    return description_;
  }

  std::string describe_status() const {
    if (!reaped_) return "still running";
    if (WIFEXITED(status_)) return "exit status " + std::to_string(WEXITSTATUS(status_));
    if (WIFSIGNALED(status_)) {
      int sig = WTERMSIG(status_);
      const char* name = sigabbrev_np(sig);
      return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : std::string());
    }
    return "ended";
  }

 private:
  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
  std::string out_buf_;
  TailBuffer stderr_;
  int status_ = 0;
  bool reaped_ = false;
  std::string description_;
};

}  // namespace command_adapter

#endif
