// MockLlmServer: the provider test double behind `atlas-host mock-llm` (docs/mock-llm.md).
// Serves the OpenAI Chat Completions, Anthropic Messages and Gemini generateContent wire
// formats on loopback from a Scenario, injects faults, and records every request.
//
//   mock::MockLlmServer server;
//   auto port = server.start(scenario);            // binds 127.0.0.1:0 by default
//   ... base URL: server.base_url() ("http://127.0.0.1:PORT") ...
//   server.requests();                             // what it received, in arrival order
//   server.stop();                                 // also done by the destructor
#pragma once

#include <condition_variable>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/status.hpp"
#include "mock/scenario.hpp"

namespace atlas::mock {

class HttpServer;

// One request as the mock received it.
struct RecordedRequest {
  int64_t seq = 0;                // 1, 2, ... in arrival order
  int64_t received_unix_us = 0;   // wall clock when the request was read
  double received_monotonic = 0;  // clock::monotonic_seconds() at the same moment
  std::string route;              // openai.chat, openai.responses, anthropic.messages, gemini.generate,
                                  // gemini.stream, models, tokenize, healthz
  std::string method;
  std::string path;  // including the query string
  std::map<std::string, std::string> headers;  // lower-case names; auth header values replaced by "[redacted]"
  std::string body;
  std::string model;  // requested model
  bool stream = false;
  std::string rule;  // name (or "rules[i]") of the matched rule, "echo", or "default-error"
  std::string fault;  // fault served, "none" otherwise
  int status = 0;     // HTTP status sent
  int remote_port = 0;  // the client's source port (same port = same reused connection)
};

struct MockOptions {
  std::string host = "127.0.0.1";
  int port = 0;                  // 0 = any free port
  std::string request_log_path;  // JSONL, appended; empty = memory only
  int threads = 96;              // worker threads (each open connection holds one)
};

class MockLlmServer {
 public:
  MockLlmServer();
  ~MockLlmServer();
  MockLlmServer(const MockLlmServer&) = delete;
  MockLlmServer& operator=(const MockLlmServer&) = delete;

  // Binds and starts serving on a background thread; returns the bound port.
  Result<int> start(Scenario scenario, const MockOptions& options = {});
  // Parses `scenario_json` (docs/mock-llm.md) and starts.
  Result<int> start_json(std::string_view scenario_json, const MockOptions& options = {});
  // Stops serving; requests still hanging (timeout faults, latency) are released. Idempotent.
  void stop();

  int port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:PORT"
  bool running() const;

  std::vector<RecordedRequest> requests() const;
  // Waits until at least `n` requests were received (recorded before any fault or latency is
  // served); false after `timeout_seconds`.
  bool wait_for_requests(size_t n, double timeout_seconds) const;
  void clear_requests();
  // Replaces the scenario (rule use counters start again).
  void set_scenario(Scenario scenario);

 private:
  struct State;
  std::unique_ptr<State> state_;
  std::unique_ptr<HttpServer> server_;
  std::thread thread_;
  int port_ = 0;
  std::string host_;
};

// JSON line for the request log (also used by the CLI).
std::string recorded_request_json(const RecordedRequest& r);

}  // namespace atlas::mock
