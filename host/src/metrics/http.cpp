#include "metrics/http.hpp"

#include <httplib.h>

#include "metrics/metrics.hpp"

namespace atlas::metrics {

void mount(httplib::Server& server) {
  server.Get("/metrics",
             [](const httplib::Request&, httplib::Response& res) { res.set_content(global().render(), kContentType); });
}

MetricsServer::MetricsServer() : server_(std::make_unique<httplib::Server>()) {}

MetricsServer::~MetricsServer() {
  stop();
}

Result<int> MetricsServer::start(const std::string& host, int port) {
  mount(*server_);
  server_->Get("/healthz",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("ok\n", "text/plain"); });
  int bound = port == 0 ? server_->bind_to_any_port(host) : (server_->bind_to_port(host, port) ? port : -1);
  if (bound < 0)
    return Status(StatusCode::kUnavailable, "cannot listen on " + host + ":" + std::to_string(port) +
                                                " (in use, or not an address of this machine)");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  return bound;
}

void MetricsServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace atlas::metrics
