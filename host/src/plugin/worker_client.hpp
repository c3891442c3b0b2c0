// The host side of process isolation: an Instance whose plugin runs in a child process
// (`atlas-host plugin-worker`, worker_server.hpp), spoken to over a socketpair
// (worker_protocol.hpp). Calls run one at a time per instance. The host services the plugin
// calls are answered here, by the registry's HostServices, with the calling CallContext.
//
// Failures stay inside the call that hit them:
//   - the worker dies (signal, exit(), abort) -> that call fails with UNAVAILABLE naming the
//     signal or exit status and the worker's last stderr lines;
//   - the call's deadline passes -> the worker is killed and the call fails with
//     DEADLINE_EXCEEDED;
// and the next call starts a fresh worker (load + create with the same config).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

#include "plugin/instance.hpp"
#include "plugin/worker_protocol.hpp"

namespace atlas::plugin {

class StderrTail;  // the worker's stderr: forwarded, last lines kept

struct WorkerSpec {
  PluginInfo info;
  std::string config_json;
  std::string sha256;                  // the file's digest when discovered (checked again by the worker)
  std::filesystem::path executable;    // atlas-host
  std::shared_ptr<HostServices> services;
};

class WorkerInstance final : public Instance {
 public:
  // Starts the worker and creates the plugin's instance in it.
  static Result<std::shared_ptr<WorkerInstance>> create(WorkerSpec spec);
  ~WorkerInstance() override;
  WorkerInstance(const WorkerInstance&) = delete;
  WorkerInstance& operator=(const WorkerInstance&) = delete;

  const PluginInfo& info() const override { return spec_.info; }
  Result<std::string> call(const CallContext& ctx, std::string_view request_json) override;
  Result<std::string> execute(const CallContext& ctx, std::string_view op, std::string_view request_json) override;
  Status cancel(const CallContext& ctx) override;

  // The worker's process id (-1 when none is running); for tests.
  pid_t worker_pid() const;

 private:
  explicit WorkerInstance(WorkerSpec spec);
  Status start();
  void stop();
  Result<std::string> run(const CallContext& ctx, std::string_view op, std::string_view request_json);
  // Answers one service request of the worker; `ctx` is the call it belongs to (or null).
  bool serve(wire::Reader& frame, const CallContext* ctx, uint64_t current_seq);
  // The worker is gone or must go: kills it, reaps it and says what happened.
  Status lost(StatusCode code, const std::string& what);
  bool send(std::string_view frame);
  std::string who() const;

  WorkerSpec spec_;
  std::mutex call_mutex_;   // one call (or start) at a time
  std::mutex write_mutex_;  // frames from call() and cancel()
  std::atomic<pid_t> pid_{-1};
  int sock_ = -1;
  int pidfd_ = -1;
  std::shared_ptr<StderrTail> stderr_;
  uint64_t next_seq_ = 1;
  std::atomic<uint64_t> active_seq_{0};
};

// The atlas-host executable that runs plugin workers: `configured` when not empty, else
// this process when it is atlas-host, else atlas-host next to this executable.
Result<std::filesystem::path> worker_executable(const std::filesystem::path& configured);

}  // namespace atlas::plugin
