// HTTP for the provider clients. The calling thread performs its own transfer (no hand-off to
// an I/O thread: that hand-off was most of the host's per-call cost). Easy handles are pooled;
// each keeps its keep-alive connection, so calls reuse connections and concurrent calls use
// separate ones (parallel steps and judge samples never serialise on one connection).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

namespace atlas::llm {

struct HttpRequest {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;                  // POST body; empty = GET
  long connect_timeout_ms = 10000;
  long total_timeout_ms = 60000;
};

struct HttpResponse {
  int curl_code = 0;       // CURLcode; 0 = the transfer completed
  std::string curl_error;  // curl's message when curl_code != 0
  long status = 0;         // HTTP status (0 when nothing was received)
  std::map<std::string, std::string> headers;  // retry-after(-ms), (x-)request-id, content-type; lower-case
  std::string body;
  bool connected = false;  // a connection was established (distinguishes connect failures)
  double seconds = 0.0;    // total transfer time
};

class HttpTransport {
 public:
  HttpTransport();
  // Aborts transfers still running (they fail with a curl error) and waits for them to return.
  ~HttpTransport();
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  // Blocks the calling thread until the transfer ends; safe from any number of threads.
  HttpResponse perform(const HttpRequest& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atlas::llm
