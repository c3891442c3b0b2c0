// `atlas-host serve`: the capture gateway (docs/serve.md). It speaks the providers' own wire
// formats (OpenAI Chat Completions and Responses, Anthropic Messages, Gemini generateContent), forwards each
// call to the configured upstream, groups calls into episodes (X-Atlas-Session header or a
// /s/<id>/ path prefix), supervises them (playbook in the system prompt; in the paired and coach
// lanes the teacher checks a reply before it goes out and the call is retried with guidance),
// and stores each episode as a session through the runtime's own capture path.
//
//   serve::Gateway gw(config.serve, runtime);
//   auto port = gw.start();      // binds [serve] listen
//   ... gw.drain(deadline) on SIGTERM: in-flight calls finish, open episodes are stored ...
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.hpp"
#include "config/config.hpp"
#include "runtime/runtime.hpp"

namespace httplib {
class Server;
}

namespace atlas::serve {

struct GatewayOptions {
  std::string host = "127.0.0.1";
  int port = 8787;
  // More routes on the same server (the review UI, [serve] ui), added before the catch-all.
  std::function<void(httplib::Server&)> extra_routes;
};

// Splits "HOST:PORT" ([serve] listen, --listen).
Result<GatewayOptions> parse_listen(std::string_view listen);

class Gateway {
 public:
  Gateway(const config::Config& config, runtime::Runtime& runtime);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Checks the upstreams and client keys, binds and starts serving. Returns the bound port.
  Result<int> start(const GatewayOptions& options);
  // SIGTERM: refuse new calls (503), let in-flight calls finish, end every open episode
  // (stored as interrupted) and wait for storage, all within `deadline`. Returns false when the
  // deadline passed first (what was not stored is logged).
  bool drain(std::chrono::steady_clock::time_point deadline);
  void stop();

  struct Counters {
    int64_t calls = 0, episodes_opened = 0, episodes_ended = 0, rejected = 0, upstream_errors = 0;
    size_t open_episodes = 0, storage_queue = 0;
  };
  Counters counters() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace atlas::serve
