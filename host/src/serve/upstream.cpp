#include "serve/upstream.hpp"

#include <strings.h>

#include <chrono>

#include "common/secrets.hpp"
#include "llm/wire.hpp"
#include "mock/gathering_stream.hpp"

namespace atlas::serve {

namespace {

std::chrono::microseconds micros(double seconds) {
  return std::chrono::microseconds(static_cast<int64_t>(seconds * 1e6));
}

// Client headers the upstream needs to read the request as the client meant it; everything
// else (the client's own key first of all) stays at the gateway.
bool forwarded(const std::string& name) {
  static const char* const kNames[] = {"anthropic-version", "anthropic-beta", "openai-beta", "accept"};
  for (const char* n : kNames)
    if (strcasecmp(name.c_str(), n) == 0) return true;
  return false;
}

}  // namespace

Result<std::unique_ptr<Upstream>> Upstream::create(ClientWire wire, const config::ModelConfig& model) {
  std::unique_ptr<Upstream> u(new Upstream());
  u->wire_ = wire;
  u->timeout_seconds_ = model.timeout_seconds > 0 ? model.timeout_seconds : 600.0;
  u->connect_timeout_seconds_ = model.connect_timeout_seconds > 0 ? model.connect_timeout_seconds : 10.0;
  u->capture_tokens_ = model.capture_tokens;
  u->custom_base_ = !model.api_base.empty();
  std::string base =
      model.api_base.empty() ? llm::default_base_url(provider_wire(wire), model.provider) : model.api_base;
  size_t scheme_end = base.find("://");
  if (scheme_end == std::string::npos || (base.rfind("http://", 0) != 0 && base.rfind("https://", 0) != 0))
    return invalid_argument("the upstream base URL \"" + base + "\" is not an http:// or https:// URL");
  size_t path_start = base.find('/', scheme_end + 3);
  u->origin_ = base.substr(0, path_start);
  auto endpoint = parse_origin(u->origin_);
  if (!endpoint) return invalid_argument("the upstream base URL \"" + base + "\": " + endpoint.status().message());
  u->endpoint_ = *endpoint;
  u->base_path_ = path_start == std::string::npos ? "" : base.substr(path_start);
  while (!u->base_path_.empty() && u->base_path_.back() == '/') u->base_path_.pop_back();

  std::optional<std::string> key;
  if (!model.api_key_env.empty()) key = secrets::read_env_secret(model.api_key_env);
  if (!key && model.api_base.empty())
    return failed_precondition("the " + std::string(client_wire_name(wire)) + " upstream (" + base + ") needs a key: " +
                               (model.api_key_env.empty() ? std::string("set api_key_env") : model.api_key_env) +
                               " is not set; export it, or set api_base to a local server that needs no key");
  if (key) {
    switch (provider_wire(wire)) {
      case llm::WireKind::kOpenAI:
        u->fixed_headers_.emplace("Authorization", "Bearer " + *key);
        break;
      case llm::WireKind::kAnthropic:
        u->fixed_headers_.emplace("x-api-key", *key);
        break;
      case llm::WireKind::kGemini:
        u->fixed_headers_.emplace("x-goog-api-key", *key);
        break;
    }
  }
  if (!model.organization.empty()) u->fixed_headers_.emplace("OpenAI-Organization", model.organization);
  for (const auto& [name, value] : model.additional_headers) u->fixed_headers_.emplace(name, value);
  return u;
}

std::string Upstream::path_for(std::string_view client_path) const {
  std::string_view rest = client_path;
  if (provider_wire(wire_) == llm::WireKind::kOpenAI && rest.rfind("/v1/", 0) == 0) rest.remove_prefix(3);
  return base_path_ + std::string(rest);
}

std::unique_ptr<httplib::ClientImpl> Upstream::acquire(bool fresh, bool* reused) {
  *reused = false;
  if (!fresh) {
    std::lock_guard<std::mutex> g(mu_);
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      *reused = true;
      return c;
    }
  }
  auto c = make_upstream_client(endpoint_);
  c->set_keep_alive(true);
  c->set_connection_timeout(micros(connect_timeout_seconds_));
  c->set_read_timeout(micros(timeout_seconds_));
  c->set_write_timeout(micros(timeout_seconds_));
  c->set_decompress(false);  // bytes are forwarded as they came
  c->set_tcp_nodelay(true);  // the request goes out in two writes: no Nagle + delayed-ACK stall (~40 ms)
  return c;
}

void Upstream::release(std::unique_ptr<httplib::ClientImpl> client) {
  std::lock_guard<std::mutex> g(mu_);
  if (idle_.size() < 256) idle_.push_back(std::move(client));
}

httplib::Headers Upstream::headers_for(const httplib::Headers& client_headers) const {
  httplib::Headers h = fixed_headers_;
  for (const auto& [name, value] : client_headers)
    if (forwarded(name)) h.emplace(name, value);
  return h;
}

bool Upstream::send_with_retry(const std::function<Sent(httplib::ClientImpl&)>& send) {
  bool reused = false;
  auto client = acquire(/*fresh=*/false, &reused);
  Sent sent = send(*client);
  if (sent == Sent::kNoReply && reused) {
    client = acquire(/*fresh=*/true, &reused);
    sent = send(*client);
  }
  if (sent != Sent::kOk) return false;
  release(std::move(client));
  return true;
}

Result<UpstreamReply> Upstream::post(const std::string& path, const std::string& body,
                                     const httplib::Headers& client_headers) {
  UpstreamReply reply;
  httplib::Error failure = httplib::Error::Success;
  const bool ok = send_with_retry([&](httplib::ClientImpl& client) {
    // Buffered: whatever failed, the client has seen nothing of this reply yet.
    auto res = client.Post(path, headers_for(client_headers), body, "application/json");
    if (!res) {
      failure = res.error();
      return Sent::kNoReply;
    }
    reply.status = res->status;
    reply.content_type = res->get_header_value("Content-Type");
    reply.retry_after = res->get_header_value("Retry-After");
    reply.body = std::move(res->body);
    return Sent::kOk;
  });
  if (!ok) return unavailable("the upstream " + origin_ + " could not be reached: " + httplib::to_string(failure));
  return reply;
}

Status Upstream::post_streaming(const std::string& path, const std::string& body,
                                const httplib::Headers& client_headers,
                                const std::function<void(int, const std::string&, const std::string&)>& on_head,
                                const std::function<bool(const char*, size_t)>& on_piece,
                                const std::function<void()>& on_wait) {
  // A plain upstream is read through GatheringStream (upstream_client.hpp), which says when it
  // is about to wait; TLS reads are httplib's own.
  const bool reads_are_seen = !endpoint_.tls;
  std::optional<mock::BeforeWaitingForInput> waiting;
  if (on_wait && reads_are_seen) waiting.emplace(on_wait);
  httplib::Request req;
  req.method = "POST";
  req.path = path;
  req.headers = headers_for(client_headers);
  req.body = body;
  req.set_header("Content-Type", "application/json");
  bool head_sent = false;
  req.response_handler = [&](const httplib::Response& r) {
    head_sent = true;
    on_head(r.status, r.get_header_value("Content-Type"), r.get_header_value("Retry-After"));
    return true;
  };
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    const bool more = on_piece(data, len);
    if (on_wait && !reads_are_seen) on_wait();
    return more;
  };
  httplib::Response res;
  httplib::Error err = httplib::Error::Success;
  bool ok = false;
  send_with_retry([&](httplib::ClientImpl& client) {
    res = httplib::Response();
    ok = client.send(req, res, err);
    if (ok) return Sent::kOk;
    // Sent again only when nothing of a reply came back (no head, nothing passed on).
    return head_sent || err == httplib::Error::Canceled ? Sent::kFailed : Sent::kNoReply;
  });
  if (!head_sent && ok) on_head(res.status, res.get_header_value("Content-Type"), res.get_header_value("Retry-After"));
  if (!ok) {
    if (err == httplib::Error::Canceled) return cancelled("the client went away during the stream");
    return unavailable("the upstream " + origin_ + " stream failed: " + httplib::to_string(err));
  }
  return Status::ok();
}

}  // namespace atlas::serve
