#include "serve/upstream_client.hpp"

#include <algorithm>
#include <cstdlib>
#include <limits>

#include "mock/gathering_stream.hpp"

namespace atlas::serve {

namespace {

class GatheringClient final : public httplib::ClientImpl {
 public:
  GatheringClient(const std::string& host, int port) : httplib::ClientImpl(host, port) {}

 private:
  // httplib calls this once per request on the connected socket; the stream lives for that
  // request (nothing is left buffered after a complete reply).
  bool process_socket(const Socket& socket, std::function<bool(httplib::Stream& strm)> callback) override {
    const double ms =
        static_cast<double>(read_timeout_sec_) * 1000.0 + static_cast<double>(read_timeout_usec_) / 1000.0;
    const int read_timeout_ms = static_cast<int>(std::min(ms, static_cast<double>(std::numeric_limits<int>::max())));
    mock::GatheringStream stream(socket.sock, read_timeout_ms);
    // The request's writes go out together when httplib first reads the reply.
    return callback(stream);
  }
};

}  // namespace

Result<Origin> parse_origin(const std::string& origin) {
  Origin o;
  std::string rest;
  if (origin.rfind("http://", 0) == 0) {
    rest = origin.substr(7);
  } else if (origin.rfind("https://", 0) == 0) {
    o.tls = true;
    rest = origin.substr(8);
  } else {
    return invalid_argument("\"" + origin + "\" is not an http:// or https:// origin");
  }
  std::string port;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) return invalid_argument("\"" + origin + "\": an IPv6 address needs its closing ]");
    o.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':')
      return invalid_argument("\"" + origin + "\": expected :port after the IPv6 address");
    if (!rest.empty()) port = rest.substr(1);
  } else {
    size_t colon = rest.find(':');
    o.host = rest.substr(0, colon);
    if (colon != std::string::npos) port = rest.substr(colon + 1);
  }
  if (o.host.empty()) return invalid_argument("\"" + origin + "\" names no host");
  if (port.empty()) {
    o.port = o.tls ? 443 : 80;
  } else {
    char* end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535)
      return invalid_argument("\"" + origin + "\": the port must be a number from 1 to 65535");
    o.port = static_cast<int>(p);
  }
  return o;
}

std::unique_ptr<httplib::ClientImpl> make_upstream_client(const Origin& origin) {
  if (origin.tls) return std::make_unique<httplib::SSLClient>(origin.host, origin.port);
  return std::make_unique<GatheringClient>(origin.host, origin.port);
}

}  // namespace atlas::serve
