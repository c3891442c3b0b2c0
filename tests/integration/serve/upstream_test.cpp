// The gateway's upstream connections (serve/upstream.*, serve/upstream_client.*) against raw
// socket servers: one that drops a kept-alive connection the moment the next request arrives on
// it, as providers' load balancers do with connections idle for a while (the call must go out
// again on a new connection, and the client must never see the dead one), and one that never
// answers. Also the stream under the client (mock/gathering_stream.hpp): a request written in
// pieces leaves in one send.
#include "serve/upstream.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "mock/gathering_stream.hpp"
#include "support/loopback.hpp"

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
  int port() const { return server_.port(); }
  int connections() const { return connections_.load(); }
  int requests() const { return requests_.load(); }

 private:
  void serve(int listen_fd) {
    for (int n = 1; n <= 2; ++n) {
      int fd = ::accept(listen_fd, nullptr, nullptr);
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

  std::atomic<int> connections_{0}, requests_{0};
  testing::LoopbackServer server_{[this](int listen_fd) { serve(listen_fd); }};
};

// An OpenAI upstream's model settings at 127.0.0.1:`port`.
config::ModelConfig openai_at(int port, const std::string& scheme = "http") {
  config::ModelConfig model;
  model.provider = "openai";
  model.model = "m";
  model.api_base = scheme + "://127.0.0.1:" + std::to_string(port) + "/v1";
  return model;
}

std::unique_ptr<Upstream> upstream_for(int port) {
  auto up = Upstream::create(ClientWire::kOpenAIChat, openai_at(port));
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

// Accepts one connection, reads its request and never answers.
// Streams a chunked reply: pieces "A" and "B" in one send, then, once release() is called (or
// after 10 s), "C" and the end.
class PacedChunkServer {
 public:
  int port() const { return server_.port(); }
  void release() {
    std::call_once(once_, [this] { release_.set_value(); });
  }
  bool gave_up_waiting() const { return gave_up_waiting_; }

 private:
  void serve(int listen_fd) {
    int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) return;
    std::string buffered;
    if (read_request(fd, buffered)) {
      const std::string first =
          "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
          "1\r\nA\r\n1\r\nB\r\n";
      (void)::send(fd, first.data(), first.size(), MSG_NOSIGNAL);
      if (released_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) gave_up_waiting_ = true;
      const std::string rest = "1\r\nC\r\n0\r\n\r\n";
      (void)::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
      std::string more;
      (void)read_request(fd, more);  // until the client closes
    }
    ::close(fd);
  }

  std::promise<void> release_;
  std::shared_future<void> released_{release_.get_future().share()};
  std::once_flag once_;
  std::atomic<bool> gave_up_waiting_{false};
  testing::LoopbackServer server_{[this](int listen_fd) { serve(listen_fd); }};
};

// A relay is told when the upstream has nothing more for now (it sends its client what it holds
// then), not between pieces that arrived together, and not only once the rest has come.
TEST(Upstream, AStreamSaysWhenItWaitsForMoreAndNotBetweenPiecesReadTogether) {
  PacedChunkServer server;
  ASSERT_NE(server.port(), 0);
  auto up = upstream_for(server.port());
  ASSERT_TRUE(up);
  std::string pieces;
  std::vector<std::string> seen_at_wait;
  Status streamed = up->post_streaming(
      "/v1/chat/completions", kBody, {}, [](int, const std::string&, const std::string&) {},
      [&](const char* data, size_t len) {
        pieces.append(data, len);
        return true;
      },
      [&] {
        seen_at_wait.push_back(pieces);
        if (pieces == "AB") server.release();
      });
  ASSERT_TRUE(streamed.is_ok()) << streamed.to_string();
  EXPECT_EQ(pieces, "ABC");
  EXPECT_FALSE(server.gave_up_waiting()) << "the relay was not told the upstream was waiting after \"AB\"";
  for (const std::string& at : seen_at_wait) EXPECT_NE(at, "A") << "told to send between two pieces read together";
}

class SilentServer {
 public:
  int port() const { return server_.port(); }
  int requests() const { return requests_.load(); }

 private:
  std::atomic<int> requests_{0};
  testing::LoopbackServer server_{[this](int listen_fd) {
    int fd = ::accept(listen_fd, nullptr, nullptr);
    if (fd < 0) return;
    std::string buffered;
    if (read_request(fd, buffered)) ++requests_;
    pollfd p{fd, POLLIN, 0};
    (void)::poll(&p, 1, 30000);  // until the client gives up and closes
    ::close(fd);
  }};
};

TEST(Upstream, AnUpstreamThatNeverAnswersFailsTheCallAtItsReadTimeout) {
  SilentServer server;
  ASSERT_NE(server.port(), 0);
  config::ModelConfig model;
  model.provider = "openai";
  model.model = "m";
  model.api_base = "http://127.0.0.1:" + std::to_string(server.port()) + "/v1";
  model.timeout_seconds = 0.3;
  auto up = Upstream::create(ClientWire::kOpenAIChat, model);
  ASSERT_TRUE(up.is_ok()) << up.status().to_string();
  const auto start = std::chrono::steady_clock::now();
  auto reply = (*up)->post("/v1/chat/completions", kBody, {});
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_FALSE(reply.is_ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable) << reply.status().to_string();
  EXPECT_NE(reply.status().message().find("could not be reached"), std::string::npos) << reply.status().message();
  EXPECT_EQ(server.requests(), 1) << "the whole request reached the upstream before the wait";
  EXPECT_GE(waited, 0.25) << "the call gave up before its read timeout";
  EXPECT_LT(waited, 15.0) << "the read timeout was not applied";
}

TEST(UpstreamOrigin, HostsPortsAndSchemesAreReadAndBadOnesSayWhy) {
  auto plain = parse_origin("http://127.0.0.1:8080");
  ASSERT_TRUE(plain.is_ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->host, "127.0.0.1");
  EXPECT_EQ(plain->port, 8080);
  auto tls = parse_origin("https://api.openai.com");
  ASSERT_TRUE(tls.is_ok());
  EXPECT_TRUE(tls->tls);
  EXPECT_EQ(tls->host, "api.openai.com");
  EXPECT_EQ(tls->port, 443);
  auto v6 = parse_origin("http://[::1]:9000");
  ASSERT_TRUE(v6.is_ok());
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 9000);
  EXPECT_EQ(parse_origin("http://localhost")->port, 80);
  for (const char* bad :
       {"ftp://x", "http://", "http://h:0", "http://h:70000", "http://h:8o", "http://[::1", "http://[::1]x"}) {
    auto r = parse_origin(bad);
    EXPECT_FALSE(r.is_ok()) << bad;
    if (!r.is_ok()) {
      EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
    }
  }
}

// SOCK_SEQPACKET keeps each send a record of its own, so the records the peer receives count the sends.
TEST(GatheringStream, AMessageWrittenInPiecesLeavesInOneSendWhenItsAnswerIsAwaited) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
  {
    mock::GatheringStream stream(fds[0], 5000);
    const std::string pieces[] = {"POST /v1/chat/completions HTTP/1.1\r\n", "Content-Length: 2\r\n\r\n", "{}"};
    for (const std::string& piece : pieces)
      ASSERT_EQ(stream.write(piece.data(), piece.size()), static_cast<ssize_t>(piece.size()));
    char probe[256];
    EXPECT_LT(::recv(fds[1], probe, sizeof probe, MSG_DONTWAIT), 0) << "nothing may leave before the writer waits";
    ASSERT_EQ(::send(fds[1], "ok", 2, 0), 2);
    char reply[8] = {0};
    ASSERT_EQ(stream.read(reply, sizeof reply), 2);  // sends what was gathered, then reads
    EXPECT_EQ(std::string(reply, 2), "ok");
    char got[256];
    ssize_t n = ::recv(fds[1], got, sizeof got, MSG_DONTWAIT);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(got, static_cast<size_t>(n)), pieces[0] + pieces[1] + pieces[2]);
    EXPECT_LT(::recv(fds[1], got, sizeof got, MSG_DONTWAIT), 0) << "a second send went out";
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

// A self-signed certificate for 127.0.0.1 (subjectAltName IP), written as PEM files in a fresh
// directory; the directory is empty when generation failed.
struct SelfSignedCertificate {
  std::filesystem::path dir, cert, key;
  SelfSignedCertificate() {
    char tmpl[] = "/tmp/atlas-upstream-tls.XXXXXX";
    if (!mkdtemp(tmpl)) return;
    dir = tmpl;
    cert = dir / "cert.pem";
    key = dir / "key.pem";
    EVP_PKEY* pkey = EVP_EC_gen("P-256");
    X509* x = X509_new();
    bool ok = pkey && x;
    if (ok) {
      X509_set_version(x, 2);
      ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
      X509_gmtime_adj(X509_getm_notBefore(x), -60);
      X509_gmtime_adj(X509_getm_notAfter(x), 3600);
      X509_set_pubkey(x, pkey);
      X509_NAME* name = X509_get_subject_name(x);
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("127.0.0.1"), -1, -1,
                                 0);
      X509_set_issuer_name(x, name);
      X509V3_CTX ctx;
      X509V3_set_ctx_nodb(&ctx);
      X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
      X509_EXTENSION* san = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
      ok = san && X509_add_ext(x, san, -1) == 1 && X509_sign(x, pkey, EVP_sha256()) > 0;
      X509_EXTENSION_free(san);
    }
    if (ok) {
      FILE* c = std::fopen(cert.c_str(), "w");
      FILE* k = std::fopen(key.c_str(), "w");
      ok = c && k && PEM_write_X509(c, x) == 1 &&
           PEM_write_PrivateKey(k, pkey, nullptr, nullptr, 0, nullptr, nullptr) == 1;
      if (c) std::fclose(c);
      if (k) std::fclose(k);
    }
    X509_free(x);
    EVP_PKEY_free(pkey);
    if (!ok) cert.clear();
  }
  ~SelfSignedCertificate() {
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Sets an environment variable for one scope.
struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const std::string& value) : name(n) { ::setenv(n, value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// An https:// upstream goes through httplib's TLS client, which checks the server's certificate
// against the system's trust store (OpenSSL's default paths; SSL_CERT_FILE overrides them).
TEST(Upstream, AnHttpsUpstreamIsReachedOverTlsOnlyWithATrustedCertificate) {
  SelfSignedCertificate pem;
  ASSERT_FALSE(pem.cert.empty()) << "could not make a test certificate";
  httplib::SSLServer server(pem.cert.c_str(), pem.key.c_str());
  ASSERT_TRUE(server.is_valid());
  server.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
    if (req.body.find("\"stream\":true") != std::string::npos) {
      res.set_content("data: {\"object\":\"chat.completion.chunk\",\"tls\":true}\n\ndata: [DONE]\n\n",
                      "text/event-stream");
    } else {
      res.set_content(R"({"object":"chat.completion","tls":true})", "application/json");
    }
  });
  const int port = server.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { server.listen_after_bind(); });  // bound and listening: calls queue until it accepts

  const config::ModelConfig model = openai_at(port, "https");
  {
    auto untrusted = Upstream::create(ClientWire::kOpenAIChat, model);
    ASSERT_TRUE(untrusted.is_ok()) << untrusted.status().to_string();
    auto refused = (*untrusted)->post("/v1/chat/completions", kBody, {});
    EXPECT_FALSE(refused.is_ok()) << "a certificate nobody trusts was accepted";
    if (!refused.is_ok()) {
      EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
      EXPECT_NE(refused.status().message().find("https://127.0.0.1"), std::string::npos) << refused.status().message();
    }
  }
  {
    ScopedEnv trust("SSL_CERT_FILE", pem.cert.string());
    auto trusted = Upstream::create(ClientWire::kOpenAIChat, model);
    ASSERT_TRUE(trusted.is_ok()) << trusted.status().to_string();
    auto reply = (*trusted)->post("/v1/chat/completions", kBody, {});
    ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
    EXPECT_EQ(reply->status, 200);
    EXPECT_NE(reply->body.find("\"tls\":true"), std::string::npos) << reply->body;
    std::string pieces;
    int status = 0, piece_count = 0, passed_on = 0;
    Status streamed = (*trusted)->post_streaming(
        "/v1/chat/completions", R"({"model":"m","stream":true,"messages":[]})", {},
        [&](int s, const std::string&, const std::string&) { status = s; },
        [&](const char* data, size_t len) {
          pieces.append(data, len);
          ++piece_count;
          return true;
        },
        [&] { passed_on = piece_count; });
    ASSERT_TRUE(streamed.is_ok()) << streamed.to_string();
    EXPECT_EQ(status, 200);
    // TLS reads are httplib's own: the relay is told after every piece instead.
    EXPECT_EQ(passed_on, piece_count);
    EXPECT_NE(pieces.find("data: [DONE]"), std::string::npos) << pieces;
  }
  server.stop();
  serving.join();
}

}  // namespace
}  // namespace atlas::serve
