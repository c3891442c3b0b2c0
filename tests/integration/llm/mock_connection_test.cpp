// mock-llm's connection handling (mock/http_server.*), seen from a plain socket client: a reply
// goes out in one TCP segment, "100 Continue" is not held back, and a kept-alive connection
// serves request after request.
#include <arpa/inet.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/mock_llm_fixture.hpp"

namespace atlas::mock {
namespace {

class Connection {
 public:
  explicit Connection(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Connection() { ::close(fd_); }
  bool connected() const { return connected_; }

  bool send_all(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }

  // Reads until `text` has arrived (or 10 s pass without data); returns everything read.
  std::string read_until(const std::string& text) {
    std::string got;
    while (got.find(text) == std::string::npos) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 10000) <= 0) break;
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

  // TCP segments carrying data that this socket has received so far.
  unsigned data_segments_in() const {
    tcp_info info{};
    socklen_t len = sizeof info;
    if (getsockopt(fd_, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
    return info.tcpi_data_segs_in;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

std::string chat_post(const std::string& body, const std::string& extra_headers = "") {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
         extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
}

const std::string kChat = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";

TEST(MockConnection, EachReplyArrivesInOneSegmentOnAKeptAliveConnection) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"one piece"}}]})");
  ASSERT_TRUE(mock.ok());
  Connection c(mock.port());
  ASSERT_TRUE(c.connected());
  for (int i = 1; i <= 3; ++i) {
    ASSERT_TRUE(c.send_all(chat_post(kChat)));
    std::string reply = c.read_until("one piece");
    ASSERT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply;
    // Headers and body written separately would be two segments per reply (two wake-ups for
    // a client waiting on it).
    EXPECT_EQ(c.data_segments_in(), static_cast<unsigned>(i)) << "reply " << i;
  }
  ASSERT_EQ(mock.requests().size(), 3u);
  EXPECT_EQ(mock.requests()[0].remote_port, mock.requests()[2].remote_port);
}

TEST(MockConnection, HundredContinueIsSentBeforeTheBodyIsRead) {
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"after continue"}}]})");
  ASSERT_TRUE(mock.ok());
  Connection c(mock.port());
  ASSERT_TRUE(c.connected());
  std::string request = chat_post(kChat, "Expect: 100-continue\r\n");
  std::string head = request.substr(0, request.find("\r\n\r\n") + 4);
  ASSERT_TRUE(c.send_all(head));
  // The server must answer "100 Continue" while it waits for the body.
  EXPECT_NE(c.read_until("\r\n\r\n").find("HTTP/1.1 100 Continue"), std::string::npos);
  ASSERT_TRUE(c.send_all(kChat));
  EXPECT_NE(c.read_until("after continue").find("HTTP/1.1 200"), std::string::npos);
}

TEST(MockConnection, StopClosesIdleKeptAliveConnections) {
  auto mock = std::make_unique<testing::MockLlm>(R"({"rules":[{"response":{"text":"bye"}}]})");
  ASSERT_TRUE(mock->ok());
  Connection c(mock->port());
  ASSERT_TRUE(c.send_all(chat_post(kChat)));
  ASSERT_NE(c.read_until("bye").find("200"), std::string::npos);
  mock.reset();  // stop(): the worker idling on this connection must not keep it open
  EXPECT_TRUE(c.closed_by_peer());
}

// Every worker thread holds a kept-alive connection (idle, its client done for now) and a new
// client arrives: it must be served at once, by closing one idle connection (the one idle
// longest among those already waiting), not after a keep-alive timeout. The others stay open
// and keep serving their clients.
TEST(MockConnection, ANewClientIsServedWhenIdleConnectionsHoldEveryThread) {
  mock::MockOptions options;
  options.threads = 4;
  testing::MockLlm mock(R"({"rules":[{"response":{"text":"served"}}]})", options);
  ASSERT_TRUE(mock.ok());
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Connection>(mock.port()));
    ASSERT_TRUE(held.back()->send_all(chat_post(kChat)));
    ASSERT_NE(held.back()->read_until("served").find("HTTP/1.1 200"), std::string::npos) << "connection " << i;
  }
  Connection newcomer(mock.port());
  ASSERT_TRUE(newcomer.send_all(chat_post(kChat)));
  EXPECT_NE(newcomer.read_until("served").find("HTTP/1.1 200"), std::string::npos);
  // The worker that serves the newcomer was freed by closing one held connection first, so its
  // end of stream is already here. (The keep-alive timeout, 5 s, closes the others only if this
  // test took that long.)
  std::vector<size_t> open;
  for (size_t i = 0; i < held.size(); ++i)
    if (!held[i]->closed_already()) open.push_back(i);
  EXPECT_EQ(open.size(), 3u) << "exactly one idle connection should have made room";
  for (size_t i : open) {
    ASSERT_TRUE(held[i]->send_all(chat_post(kChat)));
    EXPECT_NE(held[i]->read_until("served").find("HTTP/1.1 200"), std::string::npos) << "connection " << i;
  }
}

}  // namespace
}  // namespace atlas::mock
