#include "plugin/worker_client.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "plugin/discovery.hpp"

extern char** environ;

namespace atlas::plugin {

namespace fs = std::filesystem;

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);  // load + create; sanitizer builds start slowly
constexpr auto kExitGrace = std::chrono::seconds(2);      // for a dying worker to finish dying
constexpr size_t kStderrLinesKept = 8;
constexpr int64_t kKillGraceMs = 1000;  // after a call's deadline
constexpr uint64_t kMaxBatch = 100000;

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

// Waits until the process behind `pidfd` has ended, at most `timeout`. False on timeout.
bool wait_exit(int pidfd, std::chrono::milliseconds timeout) {
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  for (;;) {
    int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (r < 0 && errno == EINTR) continue;
    return r > 0;
  }
}

int dup_high(int fd) {
  int out = ::fcntl(fd, F_DUPFD_CLOEXEC, 10);
  ::close(fd);
  return out;
}

}  // namespace

// Reads the worker's stderr on its own thread: each line goes to our stderr, prefixed with
// the plugin's name, and the last few are kept for crash reports.
class StderrTail : public std::enable_shared_from_this<StderrTail> {
 public:
  StderrTail(int fd, std::string prefix) : fd_(fd), prefix_(std::move(prefix)) {}

  void start() {
    std::thread([self = shared_from_this()] { self->drain(); }).detach();
  }

  // The last lines, after waiting up to `timeout` for the worker's end of the pipe to close.
  std::string last_lines(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    closed_.wait_for(lock, timeout, [&] { return eof_; });
    std::string out;
    for (const auto& l : lines_) out += (out.empty() ? "" : " | ") + l;
    return out;
  }

 private:
  void drain() {
    std::string partial;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fd_, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      partial.append(buf, static_cast<size_t>(n));
      size_t nl;
      while ((nl = partial.find('\n')) != std::string::npos) {
        add_line(partial.substr(0, nl));
        partial.erase(0, nl + 1);
      }
    }
    if (!partial.empty()) add_line(partial);
    ::close(fd_);
    std::lock_guard lock(mutex_);
    eof_ = true;
    closed_.notify_all();
  }

  void add_line(std::string line) {
    std::string out = prefix_ + line + "\n";
    (void)!::write(STDERR_FILENO, out.data(), out.size());
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
    if (lines_.size() > kStderrLinesKept) lines_.pop_front();
  }

  int fd_;
  std::string prefix_;
  std::mutex mutex_;
  std::condition_variable closed_;
  std::deque<std::string> lines_;
  bool eof_ = false;
};

Result<fs::path> worker_executable(const fs::path& configured) {
  if (!configured.empty()) return configured;
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && self.filename() == "atlas-host") return self;
  fs::path next = executable_dir() / "atlas-host";
  if (fs::is_regular_file(next, ec)) return next;
  return failed_precondition("cannot find the atlas-host executable that runs plugin workers (looked at " +
                             next.string() +
                             "); install atlas-host next to this program, or set isolation = "
                             "\"in-process\" for the plugin in [plugins]");
}

WorkerInstance::WorkerInstance(WorkerSpec spec) : spec_(std::move(spec)) {}

WorkerInstance::~WorkerInstance() {
  stop();
}

std::string WorkerInstance::who() const {
  return std::string(kind_name(spec_.info.kind)) + " '" + spec_.info.name + "' (" +
         spec_.info.file.filename().string() + ")";
}

pid_t WorkerInstance::worker_pid() const {
  return pid_.load();
}

Result<std::shared_ptr<WorkerInstance>> WorkerInstance::create(WorkerSpec spec) {
  std::shared_ptr<WorkerInstance> inst(new WorkerInstance(std::move(spec)));
  std::lock_guard lock(inst->call_mutex_);
  ATLAS_RETURN_IF_ERROR(inst->start());
  return inst;
}

bool WorkerInstance::send(std::string_view frame) {
  std::lock_guard lock(write_mutex_);
  return sock_ >= 0 && wire::write_frame(sock_, frame);
}

Status WorkerInstance::start() {
  int sv[2], ep[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    return unavailable(who() + ": cannot create a socket for its worker process: " + ::strerror(errno));
  }
  if (::pipe2(ep, O_CLOEXEC) != 0) {
    ::close(sv[0]);
    ::close(sv[1]);
    return unavailable(who() + ": cannot create a pipe for its worker process: " + ::strerror(errno));
  }
  // Above the fds the child's file actions write to (2 and 3).
  int child_sock = dup_high(sv[1]);
  int child_err = dup_high(ep[1]);
  std::string kind(kind_name(spec_.info.kind));
  std::vector<std::string> args = {spec_.executable.string(),
                                   "plugin-worker",
                                   "--fd",
                                   "3",
                                   "--kind",
                                   kind,
                                   "--name",
                                   spec_.info.name,
                                   "--sha256",
                                   spec_.sha256,
                                   "--",
                                   spec_.info.file.string()};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_sock, 3);
  posix_spawn_file_actions_adddup2(&actions, child_err, STDERR_FILENO);
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(child_sock);
  ::close(child_err);
  if (rc != 0) {
    ::close(sv[0]);
    ::close(ep[0]);
    return unavailable(who() + ": cannot start its worker process " + args[0] + ": " + ::strerror(rc));
  }
  {
    std::lock_guard lock(write_mutex_);
    sock_ = sv[0];
  }
  pid_ = pid;
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  stderr_ = std::make_shared<StderrTail>(ep[0], "[plugin " + spec_.info.name + "] ");
  stderr_->start();

  wire::Writer w(wire::Type::kCreate);
  w.str(spec_.config_json);
  if (!send(w.bytes())) return lost(StatusCode::kUnavailable, "its worker process ended while starting");
  auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return lost(StatusCode::kUnavailable, "its worker process did not start within 60 s");
    pollfd p{sock_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;
    auto frame = wire::read_frame(sock_);
    if (!frame.is_ok()) return lost(StatusCode::kUnavailable, "its worker process ended while starting");
    if (frame->type() == wire::Type::kCreated) {
      auto code = static_cast<StatusCode>(frame->i32());
      std::string message = frame->str();
      if (code == StatusCode::kOk) return Status::ok();
      stop();
      return Status(code, message);
    }
    if (!serve(*frame, nullptr, 0)) return lost(StatusCode::kInternal, "its worker process sent a malformed message");
  }
}

void WorkerInstance::stop() {
  pid_t pid = pid_.load();
  if (pid < 0) return;
  {
    std::lock_guard lock(write_mutex_);
    if (sock_ >= 0) ::close(sock_);
    sock_ = -1;
  }
  // The worker exits when its socket closes; one stuck in plugin code is killed.
  if (!wait_exit(pidfd_, kExitGrace)) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  pid_ = -1;
}

Status WorkerInstance::lost(StatusCode code, const std::string& what) {
  pid_t pid = pid_.load();
  {
    std::lock_guard lock(write_mutex_);
    if (sock_ >= 0) ::close(sock_);
    sock_ = -1;
  }
  std::string how;
  if (pid >= 0) {
    // A crashing worker may still be writing its last words; a hung one is killed now.
    if (code == StatusCode::kDeadlineExceeded || !wait_exit(pidfd_, kExitGrace)) ::kill(pid, SIGKILL);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (code == StatusCode::kDeadlineExceeded) {
      how = "killed by atlas-host";
    } else if (WIFSIGNALED(status)) {
      how = "killed by " + signal_text(WTERMSIG(status));
    } else if (WIFEXITED(status)) {
      how = "exited with status " + std::to_string(WEXITSTATUS(status));
    }
    if (pidfd_ >= 0) ::close(pidfd_);
    pidfd_ = -1;
    pid_ = -1;
  }
  std::string tail = stderr_ ? stderr_->last_lines(std::chrono::seconds(1)) : std::string();
  active_seq_ = 0;
  metrics::observe_plugin_crash(spec_.info.name);
  return Status(code, who() + ": " + what + (how.empty() ? "" : " (" + how + ")") +
                          (tail.empty() ? "" : "; last stderr lines: " + tail) +
                          "; a new worker process is started for the next call");
}

bool WorkerInstance::serve(wire::Reader& frame, const CallContext* ctx, uint64_t current_seq) {
  auto reply = [&](uint64_t id, StatusCode code, std::string_view payload) {
    wire::Writer w(wire::Type::kServiceReply);
    w.u64(id).i32(static_cast<int32_t>(code)).str(payload);
    send(w.bytes());
  };
  const std::string& name = spec_.info.name;
  HostServices& services = *spec_.services;
  try {
    switch (frame.type()) {
      case wire::Type::kLog: {
        uint64_t seq = frame.u64();
        int32_t level = frame.i32();
        std::string message = frame.str();
        if (frame.failed()) return false;
        services.log(name, seq == current_seq ? ctx : nullptr, level, message);
        return true;
      }
      case wire::Type::kEmit: {
        uint64_t id = frame.u64(), seq = frame.u64();
        std::string event = frame.str();
        if (frame.failed()) return false;
        Status st = services.emit_event(name, seq == current_seq ? ctx : nullptr, event);
        reply(id, st.code(), st.message());
        return true;
      }
      case wire::Type::kLlm: {
        uint64_t id = frame.u64(), seq = frame.u64();
        std::string request = frame.str();
        if (frame.failed()) return false;
        auto r = services.llm_complete(name, seq == current_seq ? ctx : nullptr, request);
        if (r.is_ok())
          reply(id, StatusCode::kOk, *r);
        else
          reply(id, r.status().code(), r.status().message());
        return true;
      }
      case wire::Type::kLlmMany: {
        uint64_t id = frame.u64(), seq = frame.u64(), n = frame.u64();
        if (frame.failed() || n > kMaxBatch) return false;
        std::vector<std::string> requests;
        for (uint64_t i = 0; i < n; ++i) requests.push_back(frame.str());
        if (frame.failed()) return false;
        std::vector<std::string_view> views(requests.begin(), requests.end());
        auto results = services.llm_complete_many(name, seq == current_seq ? ctx : nullptr, views);
        wire::Writer w(wire::Type::kServiceReply);
        w.u64(id).i32(0).u64(results.size());
        for (const auto& r : results) {
          if (r.is_ok())
            w.i32(0).str(*r);
          else
            w.i32(static_cast<int32_t>(r.status().code())).str(r.status().message());
        }
        send(w.bytes());
        return true;
      }
      case wire::Type::kIsCancelled: {
        uint64_t id = frame.u64(), seq = frame.u64();
        if (frame.failed()) return false;
        bool cancelled = services.is_cancelled(seq == current_seq ? ctx : nullptr);
        reply(id, static_cast<StatusCode>(cancelled ? 1 : 0), "");
        return true;
      }
      default:
        return false;
    }
  } catch (const std::exception& e) {
    return false;
  }
}

Result<std::string> WorkerInstance::run(const CallContext& ctx, std::string_view op, std::string_view request_json) {
  std::lock_guard lock(call_mutex_);
  if (pid_.load() >= 0 && wait_exit(pidfd_, std::chrono::milliseconds(0))) {
    // Died between calls (a thread of the plugin crashed): say so, then start afresh.
    log::warn("plugins", lost(StatusCode::kUnavailable, "its worker process ended between calls").message());
  }
  if (pid_.load() < 0) ATLAS_RETURN_IF_ERROR(start());  // the previous worker crashed or was killed
  const std::string what = op.empty() ? std::string(spec_.info.kind == Kind::kAdapter ? "invoke"
                                                    : spec_.info.kind == Kind::kJudge ? "judge"
                                                                                      : "probe")
                                      : "execute(" + std::string(op) + ")";
  uint64_t seq = next_seq_++;
  wire::Writer w(wire::Type::kCall);
  w.u64(seq)
      .str(ctx.session_id)
      .str(ctx.step_id)
      .i64(ctx.deadline_unix_ms)
      .u64(ctx.max_output_bytes)
      .str(op)
      .str(request_json);
  active_seq_ = seq;
  if (!send(w.bytes())) return lost(StatusCode::kUnavailable, "its worker process ended before " + what);
  // The plugin sees the deadline itself (is_cancelled) and may answer DEADLINE_EXCEEDED in
  // its own words; one still busy a moment after the deadline (or after the call started,
  // for a deadline already past) is killed.
  const int64_t kill_at =
      ctx.deadline_unix_ms > 0 ? std::max(ctx.deadline_unix_ms, clock::now_unix_ms()) + kKillGraceMs : 0;
  for (;;) {
    int timeout_ms = -1;
    if (kill_at > 0) {
      int64_t left = kill_at - clock::now_unix_ms();
      if (left <= 0) {
        return lost(StatusCode::kDeadlineExceeded,
                    what + " did not return before the call's deadline, so its worker process was killed");
      }
      timeout_ms = static_cast<int>(std::min<int64_t>(left, 1 << 30));
    }
    pollfd p{sock_, POLLIN, 0};
    int r = ::poll(&p, 1, timeout_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) continue;  // the deadline check above fires
    auto frame = wire::read_frame(sock_);
    if (!frame.is_ok()) return lost(StatusCode::kUnavailable, "crashed during " + what);
    if (frame->type() == wire::Type::kResult) {
      uint64_t got = frame->u64();
      auto code = static_cast<StatusCode>(frame->i32());
      std::string payload = frame->str();
      if (frame->failed() || got != seq)
        return lost(StatusCode::kInternal, "its worker process sent a malformed result");
      active_seq_ = 0;
      if (code != StatusCode::kOk) return Status(code, payload);
      return payload;
    }
    if (!serve(*frame, &ctx, seq)) return lost(StatusCode::kInternal, "its worker process sent a malformed message");
  }
}

Result<std::string> WorkerInstance::call(const CallContext& ctx, std::string_view request_json) {
  return run(ctx, "", request_json);
}

Result<std::string> WorkerInstance::execute(const CallContext& ctx, std::string_view op,
                                            std::string_view request_json) {
  if (op.empty()) return invalid_argument(who() + ": execute needs an operation name");
  return run(ctx, op, request_json);
}

Status WorkerInstance::cancel(const CallContext& ctx) {
  if (!spec_.info.has_cancel) {
    return unimplemented(who() + " does not support cancel (built for ABI " + std::to_string(spec_.info.abi_major) +
                         "." + std::to_string(spec_.info.abi_minor) + " or no cancel entry)");
  }
  // Forwarded even between calls, as in process: the plugin matches it by session and step.
  uint64_t seq = active_seq_.load();
  wire::Writer w(wire::Type::kCancel);
  w.u64(seq).str(ctx.session_id).str(ctx.step_id).i64(ctx.deadline_unix_ms);
  send(w.bytes());
  return Status::ok();
}

}  // namespace atlas::plugin
