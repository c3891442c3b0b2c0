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

}  // namespace
}  // namespace atlas::mock
