#include "plugin/worker_server.hpp"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "plugin/instance.hpp"
#include "plugin/isolated_probe.hpp"
#include "plugin/loader.hpp"
#include "plugin/trust.hpp"
#include "plugin/worker_protocol.hpp"

namespace atlas::plugin {

namespace {

namespace fs = std::filesystem;

// The CallContext the worker builds for each call: carries the host's call number so the
// services the plugin calls are attributed to the right call on the host.
struct WorkerCall : CallContext {
  uint64_t seq = 0;
};

uint64_t seq_of(const CallContext* call) { return call ? static_cast<const WorkerCall*>(call)->seq : 0; }

// The worker's end of the socket: serialised writes, and service requests waiting for
// the host's reply.
class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {}

  bool send(std::string_view frame) {
    std::lock_guard lock(write_mutex_);
    return wire::write_frame(fd_, frame);
  }

  // Sends a service request (built by `make(id)`) and waits for the host's reply.
  template <typename Make>
  std::optional<wire::Reader> ask(Make make) {
    std::unique_lock lock(mutex_);
    uint64_t id = next_id_++;
    pending_[id];
    lock.unlock();
    wire::Writer w = make(id);
    if (!send(w.bytes())) return std::nullopt;
    lock.lock();
    replied_.wait(lock, [&] { return closed_ || pending_[id].has_value(); });
    std::optional<wire::Reader> out = std::move(pending_[id]);
    pending_.erase(id);
    return out;
  }

  void deliver(uint64_t id, wire::Reader reply) {
    std::lock_guard lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    it->second = std::move(reply);
    replied_.notify_all();
  }

  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    replied_.notify_all();
  }

  int fd() const { return fd_; }

 private:
  int fd_;
  std::mutex write_mutex_;
  std::mutex mutex_;
  std::condition_variable replied_;
  std::map<uint64_t, std::optional<wire::Reader>> pending_;
  uint64_t next_id_ = 1;
  bool closed_ = false;
};

// Host services of the worker: every request goes to the host over the connection.
class RemoteServices final : public HostServices {
 public:
  explicit RemoteServices(Connection& conn) : conn_(conn) {}

  void log(std::string_view, const CallContext* call, int32_t level, std::string_view message) override {
    wire::Writer w(wire::Type::kLog);
    w.u64(seq_of(call)).i32(level).str(message);
    conn_.send(w.bytes());
  }

  Status emit_event(std::string_view, const CallContext* call, std::string_view event_json) override {
    auto reply = conn_.ask([&](uint64_t id) {
      wire::Writer w(wire::Type::kEmit);
      w.u64(id).u64(seq_of(call)).str(event_json);
      return w;
    });
    if (!reply) return unavailable("the host went away");
    auto code = static_cast<StatusCode>(reply->i32());
    std::string message = reply->str();
    return code == StatusCode::kOk ? Status::ok() : Status(code, message);
  }

  Result<std::string> llm_complete(std::string_view, const CallContext* call, std::string_view request_json) override {
    auto reply = conn_.ask([&](uint64_t id) {
      wire::Writer w(wire::Type::kLlm);
      w.u64(id).u64(seq_of(call)).str(request_json);
      return w;
    });
    if (!reply) return unavailable("the host went away");
    auto code = static_cast<StatusCode>(reply->i32());
    std::string payload = reply->str();
    if (code != StatusCode::kOk) return Status(code, payload);
    return payload;
  }

  std::vector<Result<std::string>> llm_complete_many(std::string_view, const CallContext* call,
                                                     const std::vector<std::string_view>& requests) override {
    auto reply = conn_.ask([&](uint64_t id) {
      wire::Writer w(wire::Type::kLlmMany);
      w.u64(id).u64(seq_of(call)).u64(requests.size());
      for (auto r : requests) w.str(r);
      return w;
    });
    std::vector<Result<std::string>> out;
    if (reply) {
      reply->i32();
      uint64_t n = reply->u64();
      for (uint64_t i = 0; i < n && !reply->failed(); ++i) {
        auto code = static_cast<StatusCode>(reply->i32());
        std::string payload = reply->str();
        if (code == StatusCode::kOk) out.emplace_back(std::move(payload));
        else out.emplace_back(Status(code, payload));
      }
    }
    while (out.size() < requests.size()) out.emplace_back(unavailable("the host went away"));
    return out;
  }

  bool is_cancelled(const CallContext* call) override {
    auto reply = conn_.ask([&](uint64_t id) {
      wire::Writer w(wire::Type::kIsCancelled);
      w.u64(id).u64(seq_of(call));
      return w;
    });
    if (!reply) return true;  // the host is gone: nobody wants the result
    return reply->i32() != 0;
  }

 private:
  Connection& conn_;
};

// Jobs for the executor thread: create, then calls, one at a time.
struct Job {
  wire::Type type;
  std::string config;  // kCreate
  WorkerCall call;     // kCall
  std::string op, request;
};

class Worker {
 public:
  Worker(int fd, WorkerTarget target)
      : conn_(fd), target_(std::move(target)), services_(std::make_shared<RemoteServices>(conn_)) {}

  int run() {
    std::thread executor([this] { execute_jobs(); });
    executor.detach();  // the process ends with _exit; the executor may be stuck in plugin code
    for (;;) {
      auto frame = wire::read_frame(conn_.fd());
      if (!frame.is_ok()) break;
      wire::Reader& r = *frame;
      switch (r.type()) {
        case wire::Type::kCreate: {
          Job job{wire::Type::kCreate, r.str(), {}, {}, {}};
          post(std::move(job));
          break;
        }
        case wire::Type::kCall: {
          Job job{wire::Type::kCall, {}, {}, {}, {}};
          job.call.seq = r.u64();
          job.call.session_id = r.str();
          job.call.step_id = r.str();
          job.call.deadline_unix_ms = r.i64();
          job.call.max_output_bytes = r.u64();  // enforced by the instance, as in process
          job.op = r.str();
          job.request = r.str();
          post(std::move(job));
          break;
        }
        case wire::Type::kCancel: cancel(r); break;
        case wire::Type::kServiceReply: {
          uint64_t id = r.u64();  // the rest is read by the thread that asked
          conn_.deliver(id, std::move(r));
          break;
        }
        default: break;
      }
    }
    conn_.close();
    return 0;
  }

 private:
  void post(Job job) {
    std::lock_guard lock(jobs_mutex_);
    jobs_.push_back(std::move(job));
    jobs_ready_.notify_one();
  }

  void cancel(wire::Reader& r) {
    WorkerCall call;
    call.seq = r.u64();
    call.session_id = r.str();
    call.step_id = r.str();
    call.deadline_unix_ms = r.i64();
    std::shared_ptr<InProcessInstance> inst;
    {
      std::lock_guard lock(jobs_mutex_);
      inst = instance_;
    }
    if (inst) (void)inst->cancel(call);
  }

  void execute_jobs() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(jobs_mutex_);
        jobs_ready_.wait(lock, [&] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      if (job.type == wire::Type::kCreate) {
        Status st = create(job.config);
        wire::Writer w(wire::Type::kCreated);
        w.i32(static_cast<int32_t>(st.code())).str(st.message());
        conn_.send(w.bytes());
        continue;
      }
      Result<std::string> out = instance_ ? (job.op.empty() ? instance_->call(job.call, job.request)
                                                             : instance_->execute(job.call, job.op, job.request))
                                          : Result<std::string>(failed_precondition("the plugin instance was not created"));
      wire::Writer w(wire::Type::kResult);
      w.u64(job.call.seq);
      if (out.is_ok()) {
        w.i32(0).str(*out);
      } else {
        w.i32(static_cast<int32_t>(out.status().code())).str(out.status().message());
      }
      conn_.send(w.bytes());
    }
  }

  Status create(const std::string& config) {
    const fs::path& file = target_.file;
    if (!target_.sha256.empty()) {
      auto digest = sha256_file(file);
      if (!digest.is_ok()) return digest.status();
      if (*digest != target_.sha256) {
        return failed_precondition(file.string() + ": refused: the file changed after the host checked it (SHA-256 " +
                                   *digest + ", expected " + target_.sha256 + "); run the command again");
      }
    }
    auto loaded = load_library(file, file);
    if (!loaded.is_ok()) return loaded.status();
    for (auto& p : loaded->plugins) {
      if (p->info.kind != target_.kind || p->info.name != target_.name) continue;
      auto inst = InProcessInstance::create(p, services_, config);
      if (!inst.is_ok()) return inst.status();
      std::lock_guard lock(jobs_mutex_);
      instance_ = std::move(inst).value();
      return Status::ok();
    }
    return not_found(file.string() + " does not declare " + std::string(kind_name(target_.kind)) + " '" +
                     target_.name + "'");
  }

  Connection conn_;
  WorkerTarget target_;
  std::shared_ptr<RemoteServices> services_;
  std::mutex jobs_mutex_;
  std::condition_variable jobs_ready_;
  std::deque<Job> jobs_;
  std::shared_ptr<InProcessInstance> instance_;
};

}  // namespace

[[noreturn]] void serve_plugin_worker(int fd, const WorkerTarget& target) {
  // Die of a crash with the real signal, not via a handler (sanitizers install one), so the
  // host can name it.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
  ::signal(SIGPIPE, SIG_IGN);
  mark_plugin_code_process();
  // Leaked on purpose: the executor thread may still be inside plugin code when the host
  // goes away, and the process ends with _exit right after.
  auto* worker = new Worker(fd, target);
  int code = worker->run();
  std::fflush(nullptr);
  ::_exit(code);  // no static destructors or atexit handlers while plugin code may still run
}

}  // namespace atlas::plugin
