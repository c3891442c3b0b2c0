// The worker side of process isolation: `atlas-host plugin-worker` loads one plugin library,
// creates one instance and serves the host's calls over the socket `fd` (worker_protocol.hpp).
// Host services the plugin calls are forwarded to the host. The worker exits when the host
// closes the socket, which the kernel also does when the host dies. (Not PR_SET_PDEATHSIG:
// it fires when the host *thread* that started the worker ends.)
#pragma once

#include <filesystem>
#include <string>

#include "plugin/handles.hpp"

namespace atlas::plugin {

struct WorkerTarget {
  std::filesystem::path file;
  Kind kind = Kind::kAdapter;
  std::string name;
  std::string sha256;  // the file's digest when the host checked it; "" = not checked
};

// Runs until the host goes away, then ends the process (_exit).
[[noreturn]] void serve_plugin_worker(int fd, const WorkerTarget& target);

}  // namespace atlas::plugin
