// Where the gateway forwards a wire's calls: one provider endpoint (a [serve.<wire>] or the
// [student.llm] model block), its key (kept here, never sent by or to clients), and a pool of
// keep-alive connections. Calls are forwarded byte for byte; streaming replies are handed on
// piece by piece as they arrive.
#pragma once

#include <httplib.h>

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/model_config.hpp"
#include "serve/upstream_client.hpp"
#include "serve/wire_capture.hpp"

namespace atlas::serve {

struct UpstreamReply {
  int status = 0;
  std::string content_type;
  std::string retry_after;
  std::string body;
};

class Upstream {
 public:
  // Reads the key from the block's api_key_env; FAILED_PRECONDITION when a public endpoint has
  // no key, INVALID_ARGUMENT for an unusable api_base.
  static Result<std::unique_ptr<Upstream>> create(ClientWire wire, const config::ModelConfig& model);

  // The upstream path for a client path: OpenAI bases carry /v1 already (".../v1" + "/chat/completions",
  // ".../v1" + "/responses").
  std::string path_for(std::string_view client_path) const;
  std::string describe() const { return origin_ + base_path_; }
  // The block sets capture_tokens (docs/serve.md, "Token-level capture").
  bool capture_tokens() const { return capture_tokens_; }
  // The block names its own api_base (a local server), not the provider's default.
  bool custom_base() const { return custom_base_; }

  // UNAVAILABLE (connection refused, reset, timed out) with the reason.
  Result<UpstreamReply> post(const std::string& path, const std::string& body, const httplib::Headers& client_headers);
  // Streams the reply: `on_head(status, content_type, retry_after)` once, then `on_piece` per
  // piece as it arrives (return false to stop). Error bodies (status >= 400) arrive as pieces too.
  // `on_wait` runs whenever the reply's next bytes are not here yet, before waiting for them (a
  // relay passes on what it holds then: pieces read together leave together); for an https
  // upstream, whose reads it cannot see, after every piece.
  Status post_streaming(const std::string& path, const std::string& body, const httplib::Headers& client_headers,
                        const std::function<void(int, const std::string&, const std::string&)>& on_head,
                        const std::function<bool(const char*, size_t)>& on_piece,
                        const std::function<void()>& on_wait = {});

 private:
  Upstream() = default;
  // A kept-alive connection from the pool (`*reused` true) or, when none is idle or `fresh`, a new one.
  std::unique_ptr<httplib::ClientImpl> acquire(bool fresh, bool* reused);
  void release(std::unique_ptr<httplib::ClientImpl> client);
  enum class Sent { kOk, kFailed, kNoReply };
  // Runs `send` on a pooled connection; when that connection turns out dead (the upstream
  // closed it while it sat in the pool, so nothing of a reply reached the client) it runs once
  // more on a new connection, as curl does. A connection goes back to the pool only after kOk.
  bool send_with_retry(const std::function<Sent(httplib::ClientImpl&)>& send);
  httplib::Headers headers_for(const httplib::Headers& client_headers) const;

  ClientWire wire_ = ClientWire::kOpenAIChat;
  std::string origin_;              // scheme://host:port
  Origin endpoint_;                 // origin_, parsed
  std::string base_path_;           // "" or "/v1", no trailing slash
  httplib::Headers fixed_headers_;  // auth and the block's additional headers
  double timeout_seconds_ = 60;
  double connect_timeout_seconds_ = 10;
  bool capture_tokens_ = false;
  bool custom_base_ = false;
  std::mutex mu_;
  std::vector<std::unique_ptr<httplib::ClientImpl>> idle_;
};

}  // namespace atlas::serve
