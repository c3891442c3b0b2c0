// A response a handler writes itself as it goes (mock/http_server.hpp, DirectResponse: how the
// gateway relays a stream from the connection's own thread), read from a plain socket: the bytes
// on the wire, the connection afterwards, and a response cut short.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "mock/http_server.hpp"
#include "support/loopback.hpp"

namespace atlas::mock {
namespace {

class Server {
 public:
  Server() {
    server_.set_keep_alive_timeout(60);  // a connection that closes did so on purpose, not idle
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });  // the socket listens already: connects queue
  }
  ~Server() {
    server_.stop();
    server_.shutdown_connections();
    thread_.join();
  }
  HttpServer& http() { return server_; }
  int port() const { return port_; }

 private:
  HttpServer server_;
  int port_ = 0;
  std::thread thread_;
};

using Connection = testing::LoopbackConnection;

std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra + "\r\n";
}

std::string body_of(const std::string& reply) {
  size_t at = reply.find("\r\n\r\n");
  return at == std::string::npos ? std::string() : reply.substr(at + 4);
}

TEST(DirectResponse, PiecesReachTheClientAsOneChunkedReplyAndTheConnectionServesTheNextRequest) {
  Server s;
  s.http().Get("/stream", [](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    ASSERT_NE(out, nullptr);
    res.set_header("X-Session", "ep-1");
    res.set_header("Content-Length", "99");  // not this response's framing: dropped
    out->begin(req, 200, res.headers, "text/event-stream");
    EXPECT_TRUE(out->write("a"));
    EXPECT_TRUE(out->write(""));  // not sent: an empty chunk would end the stream
    EXPECT_TRUE(out->write("bc"));
    EXPECT_TRUE(out->end());
    res.set_content("left in the response: never sent", "text/plain");
  });
  s.http().Get("/plain",
               [](const httplib::Request&, httplib::Response& res) { res.set_content("plain", "text/plain"); });
  Connection c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(get("/stream")));
  std::string reply = c.read_until("0\r\n\r\n");
  ASSERT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  std::string head = reply.substr(0, reply.find("\r\n\r\n") + 2);
  EXPECT_NE(head.find("X-Session: ep-1\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Content-Type: text/event-stream\r\n"), std::string::npos) << head;
  EXPECT_NE(head.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << head;
  EXPECT_EQ(head.find("Content-Length"), std::string::npos) << head;
  EXPECT_EQ(head.find("Connection: close"), std::string::npos) << head;
  EXPECT_EQ(body_of(reply), "1\r\na\r\n2\r\nbc\r\n0\r\n\r\n");
  // The same connection: the next reply is the next request's, with nothing of httplib's
  // response to the first in front of it.
  ASSERT_TRUE(c.send_all(get("/plain")));
  std::string next = c.read_until("\r\n\r\nplain");
  ASSERT_EQ(next.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << next;
  EXPECT_EQ(next.find("never sent"), std::string::npos) << next;
  EXPECT_EQ(body_of(next), "plain") << next;
  EXPECT_FALSE(c.closed_already());
}

// Appended pieces stay in memory until a flush, which sends them (and the head) in one go: how
// the relay passes on pieces that arrived together.
TEST(DirectResponse, AppendedPiecesWaitForTheFlushThatSendsThemTogether) {
  Server s;
  std::promise<void> appended, checked;
  std::shared_future<void> checked_done = checked.get_future().share();
  s.http().Get("/gather", [&](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    out->begin(req, 200, res.headers, "text/event-stream");
    EXPECT_TRUE(out->append("x"));
    EXPECT_TRUE(out->append("yz"));
    appended.set_value();
    checked_done.wait();
    EXPECT_TRUE(out->flush());
    EXPECT_TRUE(out->end());
  });
  Connection c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(get("/gather")));
  appended.get_future().wait();
  char byte;
  EXPECT_LT(::recv(c.fd(), &byte, 1, MSG_DONTWAIT), 0) << "an appended piece (or the head) went out before the flush";
  checked.set_value();
  std::string reply = c.read_until("0\r\n\r\n");
  EXPECT_EQ(body_of(reply), "1\r\nx\r\n2\r\nyz\r\n0\r\n\r\n") << reply;
}

TEST(DirectResponse, AResponseLeftUnendedClosesItsConnection) {
  Server s;
  s.http().Get("/cut", [](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    out->begin(req, 200, res.headers, "text/event-stream");
    EXPECT_TRUE(out->write("partial"));
    // The upstream broke: no end.
  });
  Connection c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(get("/cut")));
  // Everything the server sends, until it closes (the keep-alive timeout is 60 s: a close
  // within the 10-s read bound is the cut, not idleness).
  std::string reply = c.read_until("never arrives");
  EXPECT_TRUE(c.closed_by_peer()) << reply;
  EXPECT_EQ(body_of(reply), "7\r\npartial\r\n") << reply;
}

TEST(DirectResponse, AClientThatAskedToCloseIsToldSoAndTheConnectionCloses) {
  Server s;
  s.http().Get("/stream", [](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    out->begin(req, 429, res.headers, "application/json");
    EXPECT_TRUE(out->write("{}"));
    EXPECT_TRUE(out->end());
  });
  Connection c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(get("/stream", "Connection: close\r\n")));
  std::string reply = c.read_until("never arrives");
  ASSERT_EQ(reply.rfind("HTTP/1.1 429 Too Many Requests\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("Connection: close\r\n"), std::string::npos) << reply;
  EXPECT_EQ(body_of(reply), "2\r\n{}\r\n0\r\n\r\n");
  EXPECT_TRUE(c.closed_by_peer());
}

TEST(DirectResponse, WritesFailOnceTheClientIsGone) {
  Server s;
  struct Seen {
    bool failed = false, later_write_refused = false;
  };
  std::promise<Seen> seen;
  s.http().Get("/stream", [&](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    out->begin(req, 200, res.headers, "text/event-stream");
    const std::string piece(16384, 'x');
    // The client reads the first piece and leaves; a send to it fails within a few pieces
    // (the kernel answers the first with a reset). Bounded so a bug cannot loop forever.
    Seen r;
    for (int i = 0; i < 100000 && !r.failed; ++i) r.failed = !out->write(piece);
    r.later_write_refused = !out->write("more") && !out->end();
    seen.set_value(r);
  });
  {
    Connection c(s.port());
    ASSERT_TRUE(c.connected());
    ASSERT_TRUE(c.send_all(get("/stream")));
    ASSERT_NE(c.read_until("xxxx").find("HTTP/1.1 200"), std::string::npos);
  }
  auto result = seen.get_future();
  ASSERT_EQ(result.wait_for(std::chrono::seconds(30)), std::future_status::ready);
  Seen r = result.get();
  EXPECT_TRUE(r.failed);
  EXPECT_TRUE(r.later_write_refused);
}

TEST(DirectResponse, AHeaderThatWouldSplitTheHeadIsNotSent) {
  Server s;
  s.http().Get("/stream", [](const httplib::Request& req, httplib::Response& res) {
    DirectResponse* out = HttpServer::direct_response();
    httplib::Headers headers = {{"X-Kept", "yes"}, {"X-Bad", "a\rX-Injected: 1"}, {"X-Bad-Too", "b\nX-Injected: 2"}};
    // As an upstream could send it: a bare CR survives httplib's line split.
    out->begin(req, 200, headers, std::string("text/event-stream\rX-Injected: 3"));
    EXPECT_TRUE(out->end());
  });
  Connection c(s.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send_all(get("/stream")));
  std::string reply = c.read_until("0\r\n\r\n");
  ASSERT_EQ(reply.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << reply;
  EXPECT_NE(reply.find("X-Kept: yes\r\n"), std::string::npos) << reply;
  EXPECT_EQ(reply.find("X-Injected"), std::string::npos) << reply;
  EXPECT_NE(reply.find("Content-Type: application/octet-stream\r\n"), std::string::npos) << reply;
}

TEST(DirectResponse, NoneOutsideARequestOfTheServer) {
  EXPECT_EQ(HttpServer::direct_response(), nullptr);
}

}  // namespace
}  // namespace atlas::mock
