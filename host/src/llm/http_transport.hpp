// HTTP for the provider clients: one I/O thread owns a libcurl multi handle; callers submit
// requests from any thread and wait on a future. Connections are reused across calls (the
// multi handle's connection cache), and many transfers run at once.
#pragma once

#include <future>
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
  ~HttpTransport();  // fails requests still in flight with a curl error
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  std::future<HttpResponse> submit(HttpRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace atlas::llm
