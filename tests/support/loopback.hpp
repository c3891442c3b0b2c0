// Plain sockets on the loopback interface for tests that must see the bytes and the connection
// itself (what an HTTP client library would hide): a listening socket for hand-written servers,
// and a client connection that sends raw text and reads until it sees what it waits for.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <thread>
#include <utility>

namespace atlas::testing {

// A socket listening on 127.0.0.1 at a free port (written to `*port`); -1 when that failed.
inline int listen_on_loopback(int* port, int backlog = 8) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, backlog) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    return -1;
  }
  *port = ntohs(addr.sin_port);
  return fd;
}

// A hand-written server: `serve(listening_fd)` runs on a thread of its own from construction (the
// socket listens already, so clients may connect at once); the destructor shuts the listening
// socket down, which ends a blocked accept(), and joins the thread. A class holding one declares
// it after the members `serve` uses.
class LoopbackServer {
 public:
  explicit LoopbackServer(std::function<void(int)> serve) {
    listen_fd_ = listen_on_loopback(&port_);
    if (listen_fd_ >= 0) thread_ = std::thread([fd = listen_fd_, serve = std::move(serve)] { serve(fd); });
  }
  ~LoopbackServer() {
    if (listen_fd_ >= 0) {
      ::shutdown(listen_fd_, SHUT_RDWR);
      ::close(listen_fd_);
    }
    if (thread_.joinable()) thread_.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;
  int port() const { return port_; }

 private:
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

class LoopbackConnection {
 public:
  explicit LoopbackConnection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~LoopbackConnection() { ::close(fd_); }
  LoopbackConnection(const LoopbackConnection&) = delete;
  LoopbackConnection& operator=(const LoopbackConnection&) = delete;

  bool connected() const { return connected_; }

  bool send_all(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }

  // Reads until `text` has arrived, the peer closes, or `timeout_ms` pass without data; returns
  // everything read.
  std::string read_until(const std::string& text, int timeout_ms = 10000) {
    std::string got;
    while (got.find(text) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) break;
      char buf[8192];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) break;
      got.append(buf, static_cast<size_t>(n));
    }
    return got;
  }

  // true when the peer has already closed the connection (EOF waiting, no data before it).
  bool closed_already() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    char byte;
    return ::recv(fd_, &byte, 1, MSG_PEEK) == 0;
  }

  // true when the peer closes the connection (EOF) within 10 s, with no data before it.
  bool closed_by_peer() {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char byte;
    return ::recv(fd_, &byte, 1, 0) == 0;
  }

  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

}  // namespace atlas::testing
