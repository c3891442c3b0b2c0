// mock-llm's connection handling (mock/http_server.*), seen from a plain socket client: a reply
// goes out in one TCP segment, "100 Continue" is not held back, and a kept-alive connection
// serves request after request.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "support/loopback.hpp"
#include "support/mock_llm_fixture.hpp"

namespace atlas::mock {
namespace {

using Connection = testing::LoopbackConnection;

// TCP segments carrying data that the connection has received so far.
unsigned data_segments_in(const Connection& c) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (getsockopt(c.fd(), IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return 0;
  return info.tcpi_data_segs_in;
}

std::string chat_post(const std::string& body, const std::string& extra_headers = "") {
  return "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers +
         "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
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
    EXPECT_EQ(data_segments_in(c), static_cast<unsigned>(i)) << "reply " << i;
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
