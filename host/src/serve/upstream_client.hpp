// The connection to an upstream origin. Over http:// it is httplib's client with the request
// gathered into one send and the reply read through a buffer (mock/gathering_stream.hpp):
// httplib 0.11 polls before every read and write and sends a request's head and body as two
// TCP segments, so the upstream woke twice per call and the relay thread made ~10 system calls
// per call where 3 do (send, poll, recv). https:// keeps httplib's TLS client.
#pragma once

#include <httplib.h>

#include <memory>
#include <string>

#include "common/status.hpp"

namespace atlas::serve {

// The scheme, host and port of an origin ("http://127.0.0.1:8080", "https://api.openai.com",
// "http://[::1]:9000"); INVALID_ARGUMENT when it is not an http(s) origin.
struct Origin {
  bool tls = false;
  std::string host;  // without IPv6 brackets
  int port = 0;
};
Result<Origin> parse_origin(const std::string& origin);

// A new client for `origin` (parse_origin's result), not connected yet.
std::unique_ptr<httplib::ClientImpl> make_upstream_client(const Origin& origin);

}  // namespace atlas::serve
