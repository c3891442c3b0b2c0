// GET /metrics over HTTP: a route for an existing cpp-httplib server (`serve`'s gateway) and a
// small standalone server (`worker --metrics-listen HOST:PORT`).
#pragma once

#include <memory>
#include <string>
#include <thread>

#include "common/status.hpp"

namespace httplib {
class Server;
}

namespace atlas::metrics {

// Adds GET /metrics (the global registry's page) to `server`.
void mount(httplib::Server& server);

class MetricsServer {
 public:
  MetricsServer();
  ~MetricsServer();  // stops
  // Binds host:port (0 = any free port) and serves GET /metrics and GET /healthz on a thread.
  // Returns the bound port.
  Result<int> start(const std::string& host, int port);
  void stop();

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace atlas::metrics
