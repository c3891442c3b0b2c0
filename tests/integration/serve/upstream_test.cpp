// The gateway's upstream connections (serve/upstream.*) against a raw socket server that drops a
// kept-alive connection the moment the next request arrives on it, as providers' load balancers
// do with connections idle for a while: the call must go out again on a new connection, and the
// client must never see the dead one.
#include "serve/upstream.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <string>
#include <thread>

namespace atlas::serve {
namespace {

// Reads one HTTP request (head and Content-Length body); false on EOF or after 10 s of silence.
bool read_request(int fd, std::string& buffered) {
  for (;;) {
    size_t head_end = buffered.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      size_t at = buffered.find("Content-Length: ");
      if (at != std::string::npos && at < head_end) length = std::strtoul(buffered.c_str() + at + 16, nullptr, 10);
      if (buffered.size() >= head_end + 4 + length) {
        buffered.erase(0, head_end + 4 + length);
        return true;
      }
    }
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10000) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffered.append(buf, static_cast<size_t>(n));
  }
}

void answer(int fd, const std::string& body) {
  std::string reply =
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  (void)::send(fd, reply.data(), reply.size(), MSG_NOSIGNAL);
}

// Connection 1 answers its first request and closes unanswered when its second arrives; every
// later connection answers all its requests.
class DroppingServer {
 public:
  DroppingServer() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 8) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~DroppingServer() {
    ::shutdown(listen_fd_, SHUT_RDWR);
    ::close(listen_fd_);
    if (thread_.joinable()) thread_.join();
  }
  int port() const { return port_; }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void serve() {
    for (int n = 1; n <= 2; ++n) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      ++connections_;
      std::string buffered;
      for (int on_this = 1; read_request(fd, buffered); ++on_this) {
        ++requests_;
        if (n == 1 && on_this == 2) break;  // dropped as the request arrives
        answer(fd, R"({"object":"chat.completion","n":)" + std::to_string(requests_.load()) + "}");
      }
      ::close(fd);
    }
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> connections_{0}, requests_{0};
};

std::unique_ptr<Upstream> upstream_for(int port) {
  config::ModelConfig model;
  model.provider = "openai";
  model.model = "m";
  model.api_base = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  auto up = Upstream::create(ClientWire::kOpenAIChat, model);
  EXPECT_TRUE(up.is_ok()) << up.status().to_string();
  return up.is_ok() ? std::move(*up) : nullptr;
}

const std::string kBody = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

TEST(Upstream, ABufferedCallOnADroppedKeptAliveConnectionGoesOutAgainOnANewOne) {
  DroppingServer server;
  ASSERT_NE(server.port(), 0);
  auto up = upstream_for(server.port());
  ASSERT_TRUE(up);
  auto first = up->post("/v1/chat/completions", kBody, {});
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  auto second = up->post("/v1/chat/completions", kBody, {});  // on connection 1, which drops it
  ASSERT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(second->status, 200);
  EXPECT_NE(second->body.find("\"n\":3"), std::string::npos) << second->body;  // answered on connection 2
  EXPECT_EQ(server.connections(), 2);
}

TEST(Upstream, AStreamedCallOnADroppedKeptAliveConnectionGoesOutAgainOnANewOne) {
  DroppingServer server;
  ASSERT_NE(server.port(), 0);
  auto up = upstream_for(server.port());
  ASSERT_TRUE(up);
  ASSERT_TRUE(up->post("/v1/chat/completions", kBody, {}).is_ok());
  int heads = 0, status = 0;
  std::string pieces;
  Status streamed = up->post_streaming(
      "/v1/chat/completions", kBody, {},
      [&](int s, const std::string&, const std::string&) {
        ++heads;
        status = s;
      },
      [&](const char* data, size_t len) {
        pieces.append(data, len);
        return true;
      });
  ASSERT_TRUE(streamed.is_ok()) << streamed.to_string();
  EXPECT_EQ(heads, 1) << "the client must see one reply head, from the call that answered";
  EXPECT_EQ(status, 200);
  EXPECT_NE(pieces.find("\"n\":3"), std::string::npos) << pieces;
  EXPECT_EQ(server.connections(), 2);
}

}  // namespace
}  // namespace atlas::serve
