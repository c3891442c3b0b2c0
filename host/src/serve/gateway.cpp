#include "serve/gateway.hpp"

#include <openssl/crypto.h>

#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "common/scheduling_class.hpp"
#include "common/secrets.hpp"
#include "common/worker_pool.hpp"
#include "data/review.hpp"
#include "data/store.hpp"
#include "llm/wire.hpp"
#include "metrics/http.hpp"
#include "mock/http_server.hpp"
#include "runtime/rollout.hpp"
#include "serve/episodes.hpp"
#include "serve/response_chain.hpp"
#include "serve/responses_wire.hpp"
#include "serve/shared_episodes.hpp"
#include "serve/token_fields.hpp"
#include "serve/upstream.hpp"
#include "serve/wire_capture.hpp"

namespace atlas::serve {

using json::Value;

namespace {

constexpr const char* kSessionHeader = "X-Atlas-Session";
constexpr const char* kLearningKeyHeader = "X-Atlas-Learning-Key";

bool is_loopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

// A token bucket per client key.
class RateLimiter {
 public:
  RateLimiter(double per_second, int burst)
      : rate_(per_second), burst_(burst > 0 ? burst : std::max(1.0, per_second)) {}
  // 0 when allowed, else the seconds to wait.
  double take(const std::string& key) {
    if (rate_ <= 0) return 0;
    double now = clock::monotonic_seconds();
    std::lock_guard<std::mutex> g(mu_);
    Bucket& b = buckets_[key];
    if (b.at == 0) b = {burst_, now};
    b.tokens = std::min(burst_, b.tokens + (now - b.at) * rate_);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return (1 - b.tokens) / rate_;
  }

 private:
  struct Bucket {
    double tokens = 0, at = 0;
  };
  double rate_, burst_;
  std::mutex mu_;
  std::map<std::string, Bucket> buckets_;
};

// The key a client presented, wherever its SDK puts the provider key.
std::string presented_key(const httplib::Request& req) {
  std::string auth = req.get_header_value("Authorization");
  if (auth.rfind("Bearer ", 0) == 0) return auth.substr(7);
  for (const char* h : {"x-api-key", "x-goog-api-key"}) {
    std::string v = req.get_header_value(h);
    if (!v.empty()) return v;
  }
  return req.get_param_value("key");
}

bool same_secret(const std::string& a, const std::string& b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

void json_reply(httplib::Response& res, int status, const std::string& body) {
  res.status = status;
  res.set_content(body, "application/json");
}

std::string gateway_error(std::string_view message) {
  return "{\"error\":{\"message\":" + json::quote(message) + ",\"type\":\"atlas_gateway_error\"}}";
}

void reject_max_calls(ClientWire wire, const std::string& id, int max_calls, httplib::Response& res) {
  json_reply(res, 429,
             error_body(wire, 429, "rate_limit_error",
                        "episode " + id + " reached [serve] max_calls_per_episode = " + std::to_string(max_calls) +
                            "; end it and start a new one"));
}

void reject_limit(ClientWire wire, const std::string& id, const std::string& limit, httplib::Response& res) {
  // 400, not 429: waiting does not help, and SDKs retry a 429 on their own.
  json_reply(res, 400,
             error_body(wire, 400, "invalid_request_error",
                        "episode " + id + " reached its limit: " + limit +
                            "; the call was not forwarded. End the episode (POST /atlas/v1/sessions/" + id +
                            "/end) and start a new one, or raise the limit in [limits]"));
}

// A repeated end: 409, with the stored report once the episode has ended.
void already_ended(httplib::Response& res, const std::string& id, const EndedEpisode& e) {
  std::string body = gateway_error("episode " + id + " has already ended (state: " + e.state + ")");
  body.pop_back();
  body += ",\"episode\":" + json::quote(id) + ",\"state\":" + json::quote(e.state) +
          ",\"session_id\":" + (e.session_id.empty() ? "null" : json::quote(e.session_id)) +
          (e.report_json.empty() ? "" : ",\"report\":" + e.report_json) + "}";
  json_reply(res, 409, body);
}

void reject_ended(ClientWire wire, const std::string& id, httplib::Response& res) {
  json_reply(res, 409,
             error_body(wire, 409, "invalid_request_error",
                        "episode " + id + " has ended; start a new episode with a new X-Atlas-Session id"));
}

}  // namespace

Result<GatewayOptions> parse_listen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= listen.size())
    return invalid_argument("expected HOST:PORT, e.g. 127.0.0.1:8787, got \"" + std::string(listen) + "\"");
  GatewayOptions o;
  o.host = std::string(listen.substr(0, colon));
  if (o.host.size() > 2 && o.host.front() == '[' && o.host.back() == ']') o.host = o.host.substr(1, o.host.size() - 2);
  int port = 0;
  for (char c : listen.substr(colon + 1)) {
    if (c < '0' || c > '9' || port > 65535)
      return invalid_argument("the port in \"" + std::string(listen) + "\" is not 0..65535");
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return invalid_argument("the port in \"" + std::string(listen) + "\" is not 0..65535");
  o.port = port;
  return o;
}

// ------------------------------------------------------------------------------------ Impl

class Gateway::Impl {
 public:
  Impl(const config::Config& config, runtime::Runtime& rt)
      : config_(config),
        serve_(config.serve),
        rt_(rt),
        limiter_(config.serve.rate_limit_per_second, config.serve.rate_limit_burst),
        queue_(static_cast<size_t>(config.serve.storage_queue), 4) {}

  ~Impl() { stop(); }

  Result<int> start(const GatewayOptions& options);
  bool drain(std::chrono::steady_clock::time_point deadline);
  void stop();
  Counters counters() const {
    Counters c;
    c.calls = calls_;
    c.episodes_opened = episodes_opened_;
    c.episodes_ended = episodes_ended_;
    c.rejected = rejected_;
    c.upstream_errors = upstream_errors_;
    c.open_episodes = table_.open_count();
    c.storage_queue = queue_.depth();
    return c;
  }

 private:
  Status configure_upstreams();
  Status load_client_keys(const GatewayOptions& options);
  // Auth, drain and rate limit: false (with the reply written) when the request may not go on.
  bool admit(ClientWire wire, const httplib::Request& req, httplib::Response& res);
  void handle_call(ClientWire wire, const httplib::Request& req, httplib::Response& res, const std::string& path_id,
                   const std::string& path_model, bool path_streams, const std::string& client_path);
  // What a call forwards with: its episode, call number, lane and playbook.
  struct CallPlan {
    std::shared_ptr<OpenEpisode> ep;
    int call_number = 0;
    std::shared_ptr<runtime::Episode> episode;  // null: not opened yet (off the path) or not taken up here
    config::Lane lane = config::Lane::kAuto;
    std::string playbook;
    std::string session_id;   // "" until the session row exists
    bool supervised = false;  // playbook injection (and, in paired/coach with `episode`, the teacher's checks)
  };
  // The episode of a call in this process (EpisodeTable), or in the database (shared episodes).
  // nullopt when the call may not go on (the reply is written).
  std::optional<CallPlan> start_local_call(ClientWire wire, const std::string& id, const ClientRequest& creq,
                                           const httplib::Request& req, httplib::Response& res);
  std::optional<CallPlan> start_shared_call(ClientWire wire, const std::string& id, const ClientRequest& creq,
                                            const httplib::Request& req, httplib::Response& res);
  // The task and metadata a new episode's session opens with.
  runtime::TaskSpec episode_task(const std::string& id, const ClientRequest& creq, const httplib::Request& req);
  // Opens the episode on its first call (under ep->mu): off the request path when the lane and
  // playbook are known without storage (see episodes.hpp), else at once.
  void open_episode(const std::shared_ptr<OpenEpisode>& ep, const ClientRequest& creq, const httplib::Request& req);
  // One upstream call, buffered (the reply body whole). Streaming requests are read as a stream.
  Result<UpstreamReply> call_buffered(Upstream& up, const std::string& path, const ClientRequest& creq,
                                      const httplib::Request& req);
  // A Responses call's own input items and the response it continues, remembered with its reply
  // so that a later call can continue it (serve/response_chain.hpp).
  struct ResponsesTurn {
    bool responses = false;
    std::string previous_id, input_items;
  };
  // Responses calls: reads the turn; when it continues a response this gateway relayed, the
  // captured messages get the earlier turns, an episode-less call joins that response's episode
  // (`id`), and with expand_previous_response the forwarded body carries the turns instead of the id.
  ResponsesTurn continue_conversation(ClientRequest& creq, std::string& id);
  void remember_turn(const ResponsesTurn& turn, const std::string& id, std::string_view reply_body, bool stream,
                     const llm::Response& reply);
  // `added`: the token fields the gateway asked for, taken out of what the client receives.
  void relay_stream(const std::shared_ptr<OpenEpisode>& ep, Upstream& up, const std::string& path, ClientRequest creq,
                    runtime::CapturedCall call, AddedTokenFields added, ResponsesTurn turn, const httplib::Request& req,
                    httplib::Response& res);
  // Keeps a served call: queued for the episode's session, or (shared episodes) stored in the
  // database before this returns. Not OK when a shared episode could not keep it.
  Status record(const std::shared_ptr<OpenEpisode>& ep, runtime::CapturedCall call);
  // The [limits] bound the episode went past ("" = within them). Under ep.mu.
  std::string limit_reached(OpenEpisode& ep) const;
  void end_episode(const std::shared_ptr<OpenEpisode>& ep, runtime::EpisodeOutcome outcome,
                   const std::shared_ptr<std::promise<std::string>>& done);
  // Shared episodes: ends an episode this replica claimed (open -> ending), on the storage queue.
  void end_claimed(const data::GatewayEndClaim& claim, runtime::EpisodeOutcome outcome,
                   const std::shared_ptr<std::promise<std::string>>& done);
  void handle_end(const httplib::Request& req, httplib::Response& res, const std::string& id);
  void handle_shared_end(const httplib::Request& req, httplib::Response& res, const std::string& id,
                         runtime::EpisodeOutcome outcome);
  void handle_feedback(const httplib::Request& req, httplib::Response& res, const std::string& id);
  void handle_get(httplib::Response& res, const std::string& id);
  void reap_idle();
  // Shared episodes: every replica's reaper looks for idle episodes in the database (on its
  // clock); the one whose claim wins ends each.
  void reap_shared_idle(int64_t local_idle_before_ms);

  const config::Config& config_;
  const config::ServeConfig& serve_;
  runtime::Runtime& rt_;
  // The upstream of a call's provider wire: both OpenAI APIs share the OpenAI one.
  Upstream* upstream_for(ClientWire wire) const { return upstreams_[static_cast<int>(provider_wire(wire))].get(); }
  std::unique_ptr<Upstream> upstreams_[3];  // indexed by llm::WireKind
  std::vector<std::string> client_keys_;
  RateLimiter limiter_;
  EpisodeTable table_;
  StorageQueue queue_;
  ResponseChain responses_;
  std::unique_ptr<SharedEpisodes> shared_;  // [serve] shared_episodes
  mock::HttpServer server_;
  std::thread listener_, reaper_;
  std::mutex reaper_mu_;
  std::condition_variable reaper_cv_;
  bool reaper_stop_ = false;
  std::chrono::steady_clock::time_point next_heartbeat_{};  // shared_episodes: when the reaper renews leases
  std::atomic<bool> draining_{false};
  std::atomic<int> in_flight_{0};
  std::atomic<int64_t> calls_{0}, episodes_opened_{0}, episodes_ended_{0}, rejected_{0}, upstream_errors_{0};
  bool started_ = false;
};

Status Gateway::Impl::configure_upstreams() {
  const std::optional<config::ModelConfig>* blocks[3] = {&serve_.openai, &serve_.anthropic, &serve_.gemini};
  for (int i = 0; i < 3; ++i) {
    auto wire = static_cast<ClientWire>(i);
    const config::ModelConfig* model = blocks[i]->has_value() ? &**blocks[i] : nullptr;
    if (!model && config_.student.llm.configured()) {
      auto kind = llm::wire_for_provider(config_.student.llm.provider);
      if (kind && *kind == provider_wire(wire)) model = &config_.student.llm;
    }
    if (!model) continue;
    auto up = Upstream::create(wire, *model);
    if (!up) return up.status();
    upstreams_[static_cast<int>(provider_wire(wire))] = std::move(*up);
    log::info("serve", std::string(wire == ClientWire::kOpenAIChat ? "openai.chat and openai.responses"
                                                                   : client_wire_name(wire)) +
                           " calls go to " + upstream_for(wire)->describe());
  }
  for (const auto& u : upstreams_)
    if (u) return Status::ok();
  return failed_precondition(
      "no upstream: set [student.llm] (its provider's wire is served) or [serve.openai] / [serve.anthropic] / "
      "[serve.gemini] with api_base and api_key_env");
}

Status Gateway::Impl::load_client_keys(const GatewayOptions& options) {
  if (!serve_.client_keys_env.empty()) {
    auto keys = secrets::read_env_secret(serve_.client_keys_env);
    if (!keys)
      return failed_precondition("[serve] client_keys_env names " + serve_.client_keys_env +
                                 ", which is not set; export it (comma-separated gateway keys) or remove the setting");
    size_t start = 0;
    while (start <= keys->size()) {
      size_t comma = keys->find(',', start);
      if (comma == std::string::npos) comma = keys->size();
      std::string key = keys->substr(start, comma - start);
      key.erase(0, key.find_first_not_of(" \t"));
      key.erase(key.find_last_not_of(" \t") + 1);
      if (!key.empty()) {
        secrets::register_secret(serve_.client_keys_env, key);
        client_keys_.push_back(std::move(key));
      }
      start = comma + 1;
    }
    if (client_keys_.empty()) return failed_precondition(serve_.client_keys_env + " holds no key");
  }
  if (client_keys_.empty() && !is_loopback(options.host))
    return failed_precondition("the gateway would listen on " + options.host +
                               " without client keys: anyone who reaches it could spend your provider keys; set "
                               "[serve] client_keys_env (gateway keys clients send as their API key) or listen on "
                               "127.0.0.1");
  return Status::ok();
}

Result<int> Gateway::Impl::start(const GatewayOptions& options) {
  if (serve_.shared_episodes) {
    if (!rt_.store())
      return failed_precondition(
          "[serve] shared_episodes = true keeps the gateway's episodes in the database, and storage is off; set "
          "[storage] database_url (PostgreSQL for replicas on several machines) or set shared_episodes = false");
    shared_ = std::make_unique<SharedEpisodes>(rt_, *rt_.store(), serve_.episode_lease_seconds);
  }
  if (Status st = configure_upstreams(); !st.is_ok()) return st;
  if (Status st = load_client_keys(options); !st.is_ok()) return st;
  server_.set_payload_max_length(static_cast<size_t>(serve_.max_request_bytes));
  server_.set_worker_threads(static_cast<size_t>(serve_.threads));
  server_.set_keep_alive_max_count(100000);
  server_.set_read_timeout(std::chrono::seconds(300));
  server_.set_write_timeout(std::chrono::seconds(300));
  server_.set_tcp_nodelay(true);  // replies go out in several writes: no Nagle + delayed-ACK stall (~40 ms)

  const std::string id_re = "(?:/s/([^/]+))?";
  auto call_route = [this](ClientWire wire) {
    return [this, wire](const httplib::Request& req, httplib::Response& res) {
      std::string suffix = req.matches.size() > 2 ? std::string(req.matches[2]) : "";
      handle_call(wire, req, res, req.matches[1], "", false, suffix);
    };
  };
  server_.Post(id_re + "(/v1/chat/completions)", call_route(ClientWire::kOpenAIChat));
  server_.Post(id_re + "(/v1/responses)", call_route(ClientWire::kOpenAIResponses));
  server_.Post(id_re + "(/v1/messages)", call_route(ClientWire::kAnthropicMessages));
  server_.Post(id_re + R"((/v1(?:beta)?/models/([^/:]+):(generateContent|streamGenerateContent)))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 handle_call(ClientWire::kGeminiGenerate, req, res, req.matches[1], req.matches[3],
                             req.matches[4] == "streamGenerateContent", req.matches[2]);
               });
  server_.Get(id_re + "/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
    if (!admit(ClientWire::kOpenAIChat, req, res)) return;
    Upstream* up = upstream_for(ClientWire::kOpenAIChat);
    if (!up) return json_reply(res, 404, gateway_error("no OpenAI upstream is configured"));
    auto client = httplib::Client(up->describe());  // model lists are rare: no pooling
    auto r = client.Get(up->path_for("/v1/models"));
    if (!r) return json_reply(res, 502, gateway_error("the upstream could not be reached"));
    res.status = r->status;
    res.set_content(r->body, r->get_header_value("Content-Type"));
  });
  server_.Post(R"(/atlas/v1/sessions/([^/]+)/end)", [this](const httplib::Request& req, httplib::Response& res) {
    if (admit(ClientWire::kOpenAIChat, req, res)) handle_end(req, res, req.matches[1]);
  });
  server_.Post(R"(/atlas/v1/sessions/([^/]+)/feedback)", [this](const httplib::Request& req, httplib::Response& res) {
    if (admit(ClientWire::kOpenAIChat, req, res)) handle_feedback(req, res, req.matches[1]);
  });
  server_.Get(R"(/atlas/v1/sessions/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
    if (admit(ClientWire::kOpenAIChat, req, res)) handle_get(res, req.matches[1]);
  });
  metrics::mount(server_);  // GET /metrics (Prometheus text format, docs/metrics.md)
  server_.Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    Counters c = counters();
    json_reply(res, draining_ ? 503 : 200,
               std::string("{\"status\":") + (draining_ ? "\"draining\"" : "\"ok\"") + ",\"open_episodes\":" +
                   std::to_string(c.open_episodes) + ",\"storage_queue\":" + std::to_string(c.storage_queue) +
                   ",\"calls\":" + std::to_string(c.calls) + "}");
  });
  auto unknown = [](const httplib::Request& req, httplib::Response& res) {
    json_reply(res, 404,
               gateway_error("atlas-host serve has no route " + req.method + " " + req.path +
                             "; it serves POST /v1/chat/completions, POST /v1/responses, POST /v1/messages, POST "
                             "/v1beta/models/{model}:generateContent|streamGenerateContent, GET /v1/models and "
                             "/atlas/v1/sessions/{id}/end|feedback (docs/serve.md)"));
  };
  if (options.extra_routes) options.extra_routes(server_);
  server_.Post(R"(/.*)", unknown);
  server_.Get(R"(/.*)", unknown);

  int port = options.port;
  if (port == 0) {
    port = server_.bind_to_any_port(options.host);
    if (port < 0) return unavailable("could not bind " + options.host + ":0");
  } else if (!server_.bind_to_port(options.host, port)) {
    return unavailable("could not bind " + options.host + ":" + std::to_string(port) +
                       " (in use, or not an address of this machine); choose another with --listen");
  }
  server_.raise_listen_backlog();
  listener_ = std::thread([this] { server_.listen_after_bind(); });
  reaper_ = std::thread([this] { reap_idle(); });
  started_ = true;
  return port;
}

bool Gateway::Impl::admit(ClientWire wire, const httplib::Request& req, httplib::Response& res) {
  if (draining_) {
    res.set_header("Retry-After", "1");
    json_reply(res, 503, error_body(wire, 503, "overloaded_error", "the gateway is shutting down; retry elsewhere"));
    return false;
  }
  std::string key;
  if (!client_keys_.empty()) {
    key = presented_key(req);
    bool ok = false;
    for (const auto& k : client_keys_) ok |= same_secret(key, k);  // no early exit: constant time per key
    if (!ok) {
      ++rejected_;
      json_reply(res, 401,
                 error_body(wire, 401, "authentication_error",
                            key.empty() ? "no gateway key: send one of the gateway's client keys as your API key"
                                        : "this key is not one of the gateway's client keys"));
      return false;
    }
  }
  if (double wait = limiter_.take(key); wait > 0) {
    ++rejected_;
    res.set_header("Retry-After", std::to_string(static_cast<int>(wait) + 1));
    json_reply(res, 429,
               error_body(wire, 429, "rate_limit_error", "the gateway's rate limit for this key was reached"));
    return false;
  }
  return true;
}

runtime::TaskSpec Gateway::Impl::episode_task(const std::string& id, const ClientRequest& creq,
                                              const httplib::Request& req) {
  runtime::TaskSpec task;
  task.task = first_user_text(creq.messages);
  if (task.task.empty()) task.task = "(the first call of the episode had no user message)";
  json::Document meta(rapidjson::kObjectType);
  auto& a = meta.GetAllocator();
  json::set(meta, "source", "atlas-host serve", a);
  json::set(meta, "episode_id", id, a);
  json::set(meta, "wire", std::string(client_wire_name(creq.wire)), a);
  std::string key_override = req.get_header_value(kLearningKeyHeader);
  if (!key_override.empty()) json::set(meta, "learning_key_override", key_override, a);
  // A sibling of a rollout group (docs/serve.md, "Rollout groups").
  if (std::string group = req.get_header_value("X-Atlas-Rollout-Group"); !group.empty()) {
    if (std::string why = runtime::rollout_group_id_error(group); why.empty())
      json::set(meta, "rollout_group", group, a);
    else
      log::warn("serve", "episode " + id + ": X-Atlas-Rollout-Group ignored: " + why);
  }
  task.metadata_json = json::dump(meta);
  return task;
}

void Gateway::Impl::open_episode(const std::shared_ptr<OpenEpisode>& ep, const ClientRequest& creq,
                                 const httplib::Request& req) {
  runtime::TaskSpec task = episode_task(ep->id, creq, req);
  ++episodes_opened_;
  auto prepared = rt_.prepare_episode(task);
  const bool off_path =
      prepared && (!serve_.supervise || (prepared->lane == config::Lane::kAuto && prepared->playbook_known));
  if (off_path) {
    ep->episode = prepared->episode;
    ep->lane = prepared->lane.value_or(config::Lane::kAuto);
    if (serve_.supervise) ep->playbook_block = prepared->playbook_block;
    // The strand's first job: every record and the end of this episode run after it.
    queue_.submit(ep, [ep, episode = prepared->episode] {
      runtime::SessionReport at_once;
      if (episode->begin(&at_once)) {
        ep->opened = true;
      } else {
        ep->open_failed = true;
        log::warn("serve", "episode " + ep->id + " could not be recorded: " + at_once.error);
      }
    });
    return;
  }
  runtime::SessionReport at_once;
  std::shared_ptr<runtime::Episode> episode;
  if (prepared) {
    if (prepared->episode->begin(&at_once)) episode = prepared->episode;
  } else {
    episode = rt_.begin_episode(task, &at_once);
  }
  if (!episode) {
    ep->open_failed = true;
    log::warn("serve", "episode " + ep->id + " could not be recorded: " + at_once.error);
    return;
  }
  ep->episode = episode;
  ep->opened = true;
  ep->lane = episode->lane();
  ep->playbook_block = episode->playbook_block();
}

std::optional<Gateway::Impl::CallPlan> Gateway::Impl::start_local_call(ClientWire wire, const std::string& id,
                                                                       const ClientRequest& creq,
                                                                       const httplib::Request& req,
                                                                       httplib::Response& res) {
  std::optional<EndedEpisode> ended;
  auto ep = table_.open(id, &ended);
  if (!ep) {
    reject_ended(wire, id, res);
    return std::nullopt;
  }
  CallPlan plan;
  plan.ep = ep;
  std::lock_guard<std::mutex> g(ep->mu);
  if (ep->calls >= serve_.max_calls_per_episode) {
    ++rejected_;
    reject_max_calls(wire, id, serve_.max_calls_per_episode, res);
    return std::nullopt;
  }
  if (std::string limit = limit_reached(*ep); !limit.empty()) {
    ++rejected_;
    if (!ep->limit_noted && ep->episode) {  // recorded once, in order with the episode's calls
      ep->limit_noted = true;
      queue_.submit(ep, [ep, episode = ep->episode, limit] {
        if (ep->opened) episode->note_limit(limit);
      });
    }
    reject_limit(wire, id, limit, res);
    return std::nullopt;
  }
  plan.call_number = ++ep->calls;
  ep->last_activity_ms = clock::now_unix_ms();
  if (!ep->episode && !ep->open_failed) open_episode(ep, creq, req);
  if (!ep->open_failed) {
    plan.episode = ep->episode;
    plan.lane = ep->lane;
    plan.playbook = ep->playbook_block;
    if (ep->opened) plan.session_id = ep->episode->session_id();
  }
  plan.supervised = serve_.supervise && plan.episode;
  return plan;
}

std::optional<Gateway::Impl::CallPlan> Gateway::Impl::start_shared_call(ClientWire wire, const std::string& id,
                                                                        const ClientRequest& creq,
                                                                        const httplib::Request& req,
                                                                        httplib::Response& res) {
  // The session opens at once on the replica that takes the first call: the others need its
  // resume state before they can serve the episode's next call.
  auto open_session = [&](std::string* error) -> std::shared_ptr<runtime::Episode> {
    ++episodes_opened_;
    runtime::SessionReport at_once;
    auto episode = rt_.begin_episode(episode_task(id, creq, req), &at_once);
    if (!episode) *error = at_once.error;
    return episode;
  };
  std::shared_ptr<runtime::Episode> opened_here;
  auto row = shared_->start_call(id, open_session, &opened_here);
  if (!row) {
    res.set_header("Retry-After", "1");
    json_reply(
        res, 503,
        error_body(wire, 503, "overloaded_error",
                   "the gateway could not read episode " + id + " from its database: " + row.status().message()));
    return std::nullopt;
  }
  if (row->state != "open") {
    reject_ended(wire, id, res);
    return std::nullopt;
  }
  auto ep = table_.open(id, nullptr);  // this replica's cache: the session taken up here, if any
  if (!ep) {
    reject_ended(wire, id, res);
    return std::nullopt;
  }
  CallPlan plan;
  plan.ep = ep;
  std::lock_guard<std::mutex> g(ep->mu);
  ep->calls = static_cast<int>(row->calls);
  ep->model_calls = row->model_calls;
  ep->tokens = row->tokens;
  ep->last_activity_ms = clock::now_unix_ms();
  ep->open_failed = !row->recorded;
  ep->lane = config::parse_lane(row->lane).value_or(config::Lane::kAuto);
  ep->playbook_block = row->playbook_block;
  if (opened_here) {
    ep->episode = opened_here;
    ep->opened = true;
  }
  if (ep->calls >= serve_.max_calls_per_episode) {
    ++rejected_;
    reject_max_calls(wire, id, serve_.max_calls_per_episode, res);
    return std::nullopt;
  }
  if (std::string limit = limit_reached(*ep); !limit.empty()) {
    ++rejected_;
    if (row->limit_note.empty() && row->recorded) {  // the first refusal, recorded when the episode ends
      if (Status st = shared_->note_limit(id, limit); !st.is_ok())
        log::warn("serve", "episode " + id + ": the limit refusal could not be stored: " + st.message());
    }
    reject_limit(wire, id, limit, res);
    return std::nullopt;
  }
  plan.call_number = ep->calls + 1;
  plan.lane = ep->lane;
  plan.session_id = row->session_id;
  plan.supervised = serve_.supervise && row->recorded;
  if (plan.supervised) plan.playbook = row->playbook_block;
  // The teacher checks paired/coach calls through the session, taken up once per replica.
  if (plan.supervised && plan.lane != config::Lane::kAuto && !ep->episode) {
    ep->episode = shared_->resume(*row);
    ep->opened = ep->episode != nullptr;
    if (!ep->episode)
      log::warn("serve", "episode " + id + ": its session could not be taken up; the call goes out unchecked");
  }
  plan.episode = ep->episode;
  return plan;
}

Result<UpstreamReply> Gateway::Impl::call_buffered(Upstream& up, const std::string& path, const ClientRequest& creq,
                                                   const httplib::Request& req) {
  std::string body = json::dump(creq.body);
  if (!creq.stream) return up.post(path, body, req.headers);
  UpstreamReply reply;
  Status st = up.post_streaming(
      path, body, req.headers,
      [&](int status, const std::string& ct, const std::string& retry) {
        reply.status = status;
        reply.content_type = ct;
        reply.retry_after = retry;
      },
      [&](const char* data, size_t len) {
        reply.body.append(data, len);
        return true;
      });
  if (!st.is_ok()) return st;
  return reply;
}

std::string Gateway::Impl::limit_reached(OpenEpisode& ep) const {
  const config::LimitsConfig& lim = config_.limits;
  if (lim.max_model_calls_per_session > 0 && ep.model_calls >= lim.max_model_calls_per_session)
    return "the episode made " + std::to_string(ep.model_calls) +
           " model calls, the most [limits] max_model_calls_per_session = " +
           std::to_string(lim.max_model_calls_per_session) + " allows";
  if (lim.max_tokens_per_session > 0 && ep.tokens >= lim.max_tokens_per_session)
    return "the episode used " + std::to_string(ep.tokens) +
           " tokens, [limits] max_tokens_per_session = " + std::to_string(lim.max_tokens_per_session);
  // The session's own count: every role (teacher checks too), as `run` counts it.
  if (ep.opened) return ep.episode->limit_reason();
  return "";
}

Status Gateway::Impl::record(const std::shared_ptr<OpenEpisode>& ep, runtime::CapturedCall call) {
  if (shared_) {
    std::shared_ptr<runtime::Episode> local;
    {
      std::lock_guard<std::mutex> g(ep->mu);
      if (ep->open_failed) return Status::ok();  // forwarded, not recorded (the session ended at once)
      local = ep->episode;
    }
    Status kept = shared_->append(ep->id, call, local.get());
    if (!kept.is_ok()) log::warn("serve", "episode " + ep->id + ": a call was not stored: " + kept.message());
    return kept;
  }
  std::shared_ptr<runtime::Episode> episode;
  {
    std::lock_guard<std::mutex> g(ep->mu);
    ep->model_calls += 1 + static_cast<int64_t>(call.rejected.size());
    const llm::Usage& u = call.reply.usage;
    ep->tokens += u.total_tokens > 0 ? u.total_tokens : u.prompt_tokens + u.completion_tokens;
    if (ep->open_failed) return Status::ok();
    episode = ep->episode;
  }
  if (!episode) return Status::ok();
  // On the strand, after the episode's begin(): `opened` is final by then.
  queue_.submit(ep, [ep, episode, call = std::move(call)] {
    if (ep->opened) episode->record(call);
  });
  return Status::ok();
}

void Gateway::Impl::handle_call(ClientWire wire, const httplib::Request& req, httplib::Response& res,
                                const std::string& path_id, const std::string& path_model, bool path_streams,
                                const std::string& client_path) {
  if (!admit(wire, req, res)) return;
  struct InFlight {
    std::atomic<int>& n;
    explicit InFlight(std::atomic<int>& c) : n(c) { ++n; }
    ~InFlight() { --n; }
  } in_flight(in_flight_);
  ++calls_;
  Upstream* up = upstream_for(wire);
  if (!up)
    return json_reply(
        res, 404,
        error_body(wire, 404, "not_found_error",
                   "this gateway has no upstream for " + std::string(client_wire_name(wire)) + " calls; add [serve." +
                       std::string(client_wire_name(wire).substr(0, client_wire_name(wire).find('.'))) +
                       "] with api_base and api_key_env (docs/serve.md)"));
  if (!queue_.has_room()) {
    ++rejected_;
    res.set_header("Retry-After", "1");
    return json_reply(
        res, 429,
        error_body(wire, 429, "rate_limit_error",
                   "the gateway's storage is falling behind ([serve] storage_queue is full); retry shortly"));
  }
  std::string id = path_id.empty() ? req.get_header_value(kSessionHeader) : path_id;
  if (!id.empty() && !valid_episode_id(id))
    return json_reply(res, 400,
                      error_body(wire, 400, "invalid_request_error",
                                 "the episode id must be 1-128 characters of A-Z a-z 0-9 . _ : - (X-Atlas-Session or "
                                 "/s/<id>/)"));
  auto creq = read_client_request(wire, req.body, path_model, path_streams);
  if (!creq) return json_reply(res, 400, error_body(wire, 400, "invalid_request_error", creq.status().message()));
  ResponsesTurn turn = wire == ClientWire::kOpenAIResponses ? continue_conversation(*creq, id) : ResponsesTurn{};
  if (id.empty()) id = new_episode_id();
  res.set_header(kSessionHeader, id);

  auto plan = shared_ ? start_shared_call(wire, id, *creq, req, res) : start_local_call(wire, id, *creq, req, res);
  if (!plan) return;
  const std::shared_ptr<OpenEpisode>& ep = plan->ep;
  const int call_number = plan->call_number;
  const std::shared_ptr<runtime::Episode>& episode = plan->episode;
  const config::Lane lane = plan->lane;
  std::string playbook = std::move(plan->playbook);
  // Known once the session row exists (the first call of an episode opened off the request
  // path goes out before it does).
  if (!plan->session_id.empty()) res.set_header("X-Atlas-Session-Id", plan->session_id);

  runtime::CapturedCall call;
  call.wire = std::string(client_wire_name(wire));
  call.model = creq->model;
  call.messages = std::move(creq->messages);  // not read again: the body is what is forwarded
  call.tools = std::move(creq->tools);
  call.streamed = creq->stream;
  const bool supervised = plan->supervised;
  if (supervised && !playbook.empty()) {
    call.system_injected = std::move(playbook);
    prepend_system_text(*creq, call.system_injected);
  }
  // Token-level capture (docs/serve.md, "Token-level capture"): asked for on Chat Completions calls.
  AddedTokenFields added_fields;
  if (up->capture_tokens() && wire == ClientWire::kOpenAIChat)
    added_fields = request_token_fields(creq->body, creq->body.GetAllocator(), up->custom_base());
  const std::string path =
      up->path_for(client_path) + (req.params.count("alt") ? "?alt=" + req.get_param_value("alt") : "");
  // Validation lanes always open at once (open_episode), so `episode` is begun here (a shared
  // episode's is taken up from the database; without it the call goes out unchecked).
  const bool validate = supervised && lane != config::Lane::kAuto && episode;
  call.started_us = clock::now_unix_us();
  double t0 = clock::monotonic_seconds();

  if (creq->stream && !validate) {
    relay_stream(ep, *up, path, std::move(*creq), std::move(call), added_fields, std::move(turn), req, res);
    return;
  }

  // Buffered: the reply is complete before it goes out (the teacher may check it first).
  std::vector<std::string> guidance;
  if (validate && lane == config::Lane::kCoach) {
    // Coach: the teacher's guidance before every call, added to the request as a user turn.
    std::string before = episode->guidance_before_call(call.messages, call_number, guidance);
    if (!before.empty()) {
      append_guidance_before_call(*creq, before);
      guidance.push_back(before);
      call.guidance_before_call = std::move(before);
    }
  }
  const int max_attempts = validate ? config_.orchestration.max_retries + 1 : 1;
  Result<UpstreamReply> reply = unavailable("no call made");
  Status unreadable;  // why the last reply could not be read
  for (int attempt = 1; attempt <= max_attempts; ++attempt) {
    reply = call_buffered(*up, path, *creq, req);
    if (!reply || reply->status >= 400) break;
    auto parsed = read_reply(wire, reply->body, creq->stream);
    if (!parsed) {
      unreadable = parsed.status();
      break;
    }
    call.reply = std::move(*parsed);
    // Paired checks the answers; coach checks every reply, tool calls included.
    bool check = validate && (lane == config::Lane::kCoach || call.reply.tool_calls.empty());
    if (!check) break;
    std::string output = call.reply.content;
    for (const auto& tc : call.reply.tool_calls) output += "\n[tool call] " + tc.name + " " + tc.arguments_json;
    runtime::ReplyCheck verdict = episode->check_reply(output, guidance, attempt, call_number);
    call.final_verdict_json = verdict.verdict_json;
    call.final_accepted = verdict.accepted;
    if (verdict.accepted || attempt == max_attempts) break;
    call.rejected.push_back({output, verdict.verdict_json, verdict.guidance});
    append_guidance(*creq, output, verdict.guidance);
    guidance.push_back(verdict.guidance);
  }
  call.ended_us = clock::now_unix_us();
  call.latency_seconds = clock::monotonic_seconds() - t0;
  if (!reply) {
    ++upstream_errors_;
    call.ok = false;
    call.error = reply.status().message();
    (void)record(ep, std::move(call));  // the client gets the upstream's failure either way
    return json_reply(res, 502, error_body(wire, 502, "api_error", reply.status().message()));
  }
  if (reply->status >= 400) {
    ++upstream_errors_;
    call.ok = false;
    call.error = "upstream HTTP " + std::to_string(reply->status) + ": " +
                 llm::parse_error_body(provider_wire(wire), reply->body).message;
  } else if (!unreadable.is_ok()) {
    call.ok = false;
    call.error = "the upstream's reply could not be read: " + unreadable.message();
  } else {
    // The request as sent, serialised only when it is recorded (it can be a long conversation).
    const bool capture = up->capture_tokens();
    note_token_capture(wire, capture, capture ? json::dump(creq->body) : std::string(), call.reply.tokens);
    remember_turn(turn, id, reply->body, creq->stream, call.reply);
  }
  // Shared episodes: the reply goes out only once the call is stored, so the episode's next call,
  // on whichever replica, finds it (docs/serve.md, "Several gateway replicas").
  if (Status kept = record(ep, std::move(call)); !kept.is_ok()) {
    const bool ended = kept.code() == StatusCode::kFailedPrecondition;
    if (!ended) res.set_header("Retry-After", "1");
    return json_reply(res, ended ? 409 : 503,
                      error_body(wire, ended ? 409 : 503, ended ? "invalid_request_error" : "overloaded_error",
                                 "the call was made but could not be stored with its episode: " + kept.message()));
  }
  if (!reply->retry_after.empty()) res.set_header("Retry-After", reply->retry_after);
  res.status = reply->status;
  std::string body = reply->status < 400 ? without_added_fields(std::move(reply->body), creq->stream, added_fields)
                                         : std::move(reply->body);
  res.set_content(body, reply->content_type.empty() ? "application/json" : reply->content_type);
}

Gateway::Impl::ResponsesTurn Gateway::Impl::continue_conversation(ClientRequest& creq, std::string& id) {
  ResponsesTurn turn;
  turn.responses = true;
  const Value* input = json::find(creq.body, "input");
  turn.input_items = input ? responses_input_items(*input) : "[]";
  turn.previous_id = json::get_string(creq.body, "previous_response_id");
  if (turn.previous_id.empty()) return turn;
  auto chain = responses_.resolve(turn.previous_id);
  if (!chain) {
    log::warn("serve", "episode " + (id.empty() ? std::string("(new)") : id) + ": " + chain.status().message() +
                           "; forwarded as sent, and the step holds only this call's input");
    return turn;
  }
  // Shared episodes: the chain is this replica's, so an episode is never joined on its word.
  if (id.empty() && !shared_ && !table_.ended(chain->episode_id)) id = chain->episode_id;
  json::Document whole_body;
  auto& a = whole_body.GetAllocator();
  whole_body.CopyFrom(creq.body, a);
  append_items(chain->items_json, turn.input_items);
  Value items = json::parsed_or_null(chain->items_json, a);
  if (!items.IsArray()) items.SetArray();
  if (whole_body.HasMember("input"))
    whole_body["input"] = items;
  else
    whole_body.AddMember("input", items, a);
  whole_body.RemoveMember("previous_response_id");
  ClientRequest whole;
  whole.wire = creq.wire;
  whole.body.Swap(whole_body);
  if (Status st = read_responses_request(whole); !st.is_ok()) {
    log::warn("serve", "episode " + id + ": the conversation before " + turn.previous_id + " could not be read (" +
                           st.message() + "); the step holds only this call's input");
    return turn;
  }
  creq.messages = std::move(whole.messages);
  if (serve_.expand_previous_response) creq.body.Swap(whole.body);
  return turn;
}

void Gateway::Impl::remember_turn(const ResponsesTurn& turn, const std::string& id, std::string_view reply_body,
                                  bool stream, const llm::Response& reply) {
  if (turn.responses)
    responses_.remember(responses_reply_id(reply_body, stream), id, turn.previous_id, turn.input_items, reply);
}

// Streams the upstream's reply to the client as it arrives, on the connection's own thread: it
// reads the upstream and writes each piece to the client at once as a chunk of a direct response
// (mock/http_server.hpp). Handing pieces, or the client's stream, to another thread cost a thread
// wake-up each on the relay's path (each waiting for a CPU at load).
void Gateway::Impl::relay_stream(const std::shared_ptr<OpenEpisode>& ep, Upstream& up, const std::string& path,
                                 ClientRequest creq, runtime::CapturedCall call, AddedTokenFields added,
                                 ResponsesTurn turn, const httplib::Request& req, httplib::Response& res) {
  mock::DirectResponse* client = mock::HttpServer::direct_response();  // every handler here runs on server_
  {  // the episode's end waits for it (handle_call counts it in flight for the drain)
    std::lock_guard<std::mutex> g(ep->mu);
    ++ep->streams_in_flight;
  }
  const double t0 = clock::monotonic_seconds();
  const std::string body = json::dump(creq.body);
  StreamFieldStripper stripper(added);  // error bodies (status >= 400) pass as they came
  int status = 0;
  std::string captured;  // the whole stream, as the upstream sent it
  bool client_gone = false;
  Status result = up.post_streaming(
      path, body, req.headers,
      [&](int upstream_status, const std::string& ct, const std::string& retry_after) {
        status = upstream_status;
        res.status = status;  // for whatever reads the response after the handler (not sent again)
        if (status >= 400) stripper = StreamFieldStripper(AddedTokenFields{});
        if (!retry_after.empty()) res.set_header("Retry-After", retry_after);
        client->begin(req, status, res.headers, ct.empty() ? "text/event-stream" : ct);
      },
      [&](const char* data, size_t len) {
        captured.append(data, len);
        // Gathered; sent when the upstream has nothing more for now (below) or with the end.
        if (stripper.active()) {
          client_gone = !client->append(stripper.feed(std::string_view(data, len)));
        } else {
          client_gone = !client->append(std::string_view(data, len));
        }
        return !client_gone;  // the client left: stop reading the upstream
      },
      [&] {
        // Nothing is held while the relay waits: what came so far goes out in one send.
        if (client->begun() && !client->flush()) client_gone = true;
      });
  if (!client_gone && client->begun()) client_gone = !client->append(stripper.finish());

  const ClientWire wire = creq.wire;
  call.ended_us = clock::now_unix_us();
  call.latency_seconds = clock::monotonic_seconds() - t0;
  if (!result.is_ok()) {
    ++upstream_errors_;
    call.ok = false;
    call.error = result.message();
  } else if (status >= 400) {
    ++upstream_errors_;
    call.ok = false;
    call.error =
        "upstream HTTP " + std::to_string(status) + ": " + llm::parse_error_body(provider_wire(wire), captured).message;
  } else if (auto parsed = read_reply(wire, captured, true)) {
    call.reply = std::move(*parsed);
    note_token_capture(wire, up.capture_tokens(), body, call.reply.tokens);
    remember_turn(turn, ep->id, captured, true, call.reply);
  } else {
    call.ok = false;
    call.error = "the upstream's stream could not be read: " + parsed.status().message();
  }
  if (client_gone) call.error += call.error.empty() ? "the client left before the stream ended" : "";
  // Recorded before the client sees the end of the stream (a client that ends the episode right
  // after must find this call in it). A shared episode's call that could not be stored ends the
  // stream without its end, so the client sees a failed call rather than one its episode lacks.
  const Status kept = record(ep, std::move(call));
  std::function<void()> end;
  {
    std::lock_guard<std::mutex> g(ep->mu);
    if (--ep->streams_in_flight == 0) end.swap(ep->end_after_streams);
  }
  if (end) end();          // queued behind this call's record
  if (!client->begun()) {  // the upstream could not be reached at all
    return json_reply(res, 502, error_body(wire, 502, "api_error", result.message()));
  }
  // An upstream that broke off mid-stream is not passed on as a complete reply: the client's
  // stream is cut the same way (its client library reports the error), after what did arrive.
  if (kept.is_ok() && !client_gone && result.is_ok()) {
    (void)client->end();
  } else if (!client_gone) {
    (void)client->flush();
  }
}

void Gateway::Impl::end_episode(const std::shared_ptr<OpenEpisode>& ep, runtime::EpisodeOutcome outcome,
                                const std::shared_ptr<std::promise<std::string>>& done) {
  std::shared_ptr<runtime::Episode> episode;
  std::vector<std::string> feedback;
  {
    std::lock_guard<std::mutex> g(ep->mu);
    episode = ep->episode;
    feedback = ep->feedback;
  }
  if (!outcome.feedback_json.empty()) feedback.push_back(outcome.feedback_json);
  outcome.feedback_json = feedback_array(feedback);
  const std::string id = ep->id;
  auto end = [this, ep, episode, outcome, id, done] {
    queue_.submit(ep, [this, ep, episode, outcome, id, done] {
      EndedEpisode e;
      e.state = "ended";
      if (episode && ep->opened) {
        runtime::SessionReport report = episode->end(outcome);
        e.session_id = report.session_id;
        e.report_json = report.to_json();
      } else {
        e.report_json = "{\"error\":\"the episode was not recorded\"}";
      }
      ++episodes_ended_;
      table_.set_ended(id, e);
      if (done) done->set_value(e.report_json);
    });
  };
  {
    // A stream of this episode still running is recorded when it ends: the end follows it.
    std::lock_guard<std::mutex> g(ep->mu);
    if (ep->streams_in_flight > 0) {
      ep->end_after_streams = std::move(end);
      return;
    }
  }
  end();
}

void Gateway::Impl::handle_end(const httplib::Request& req, httplib::Response& res, const std::string& id) {
  runtime::EpisodeOutcome outcome;
  if (!req.body.empty()) {
    auto body = json::parse(req.body, "end request");
    if (!body || !body->IsObject())
      return json_reply(res, 400,
                        gateway_error("the body must be a JSON object {\"final_answer\"?, \"success\"?, "
                                      "\"feedback\"?}: " +
                                      (body ? std::string("not an object") : body.status().message())));
    outcome.final_answer = json::get_string(*body, "final_answer");
    if (const Value* s = json::find(*body, "success")) {
      if (!s->IsBool()) return json_reply(res, 400, gateway_error("\"success\" must be true or false"));
      outcome.success = s->GetBool();
    }
    if (const Value* fb = json::find(*body, "feedback")) {
      if (!fb->IsObject()) return json_reply(res, 400, gateway_error("\"feedback\" must be an object"));
      outcome.feedback_json = json::dump(*fb);
    }
  }
  if (shared_) return handle_shared_end(req, res, id, std::move(outcome));
  std::string session_id;
  if (auto open = table_.find(id)) {
    std::lock_guard<std::mutex> g(open->mu);
    if (open->opened) session_id = open->episode->session_id();
  }
  auto ep = table_.take_for_end(id, session_id);
  if (!ep) {
    if (auto e = table_.ended(id)) return already_ended(res, id, *e);
    return json_reply(res, 404,
                      gateway_error("no open episode " + id + "; an episode begins with its first model call"));
  }
  const bool wait = req.get_param_value("wait") == "true" || req.get_param_value("wait") == "1";
  auto done = wait ? std::make_shared<std::promise<std::string>>() : nullptr;
  end_episode(ep, outcome, done);
  if (wait) {
    std::string report = done->get_future().get();
    return json_reply(res, 200, "{\"episode\":" + json::quote(id) + ",\"state\":\"ended\",\"report\":" + report + "}");
  }
  json_reply(res, 202,
             "{\"episode\":" + json::quote(id) + ",\"state\":\"ending\",\"session_id\":" +
                 (session_id.empty() ? "null" : json::quote(session_id)) + "}");
}

void Gateway::Impl::end_claimed(const data::GatewayEndClaim& claim, runtime::EpisodeOutcome outcome,
                                const std::shared_ptr<std::promise<std::string>>& done) {
  const std::string id = claim.episode->episode_id;
  table_.evict(id);
  // A strand of its own: the judges and learning run on the storage queue's threads, as in the
  // default mode, and a drain waits for them.
  auto strand = std::make_shared<OpenEpisode>(id);
  queue_.submit(strand, [this, claim, outcome = std::move(outcome), done] {
    SharedEpisodes::Ended e = shared_->finish_end(claim, outcome);
    ++episodes_ended_;
    if (done) done->set_value(e.report_json);
  });
}

void Gateway::Impl::handle_shared_end(const httplib::Request& req, httplib::Response& res, const std::string& id,
                                      runtime::EpisodeOutcome outcome) {
  auto claim = shared_->claim_end(id, outcome);
  if (!claim) {
    res.set_header("Retry-After", "1");
    return json_reply(res, 503, gateway_error("the episode store could not be reached: " + claim.status().message()));
  }
  if (!claim->claimed) {
    if (!claim->episode)
      return json_reply(res, 404,
                        gateway_error("no open episode " + id + "; an episode begins with its first model call"));
    const data::GatewayEpisode& row = *claim->episode;
    if (row.state == "opening")
      return json_reply(res, 409, gateway_error("episode " + id + " is still being opened by its first call; retry"));
    return already_ended(res, id, EndedEpisode{row.state, row.session_id, row.report_json});
  }
  const std::string session_id = claim->episode->session_id;
  const bool wait = req.get_param_value("wait") == "true" || req.get_param_value("wait") == "1";
  auto done = wait ? std::make_shared<std::promise<std::string>>() : nullptr;
  end_claimed(*claim, std::move(outcome), done);
  if (wait) {
    std::string report = done->get_future().get();
    return json_reply(res, 200, "{\"episode\":" + json::quote(id) + ",\"state\":\"ended\",\"report\":" + report + "}");
  }
  json_reply(res, 202,
             "{\"episode\":" + json::quote(id) + ",\"state\":\"ending\",\"session_id\":" +
                 (session_id.empty() ? "null" : json::quote(session_id)) + "}");
}

void Gateway::Impl::handle_feedback(const httplib::Request& req, httplib::Response& res, const std::string& id) {
  auto body = json::parse(req.body, "feedback");
  if (!body || !body->IsObject())
    return json_reply(res, 400,
                      gateway_error("the body must be a JSON object, e.g. {\"metrics\": {\"passed\": true}, "
                                    "\"comment\": \"...\"}"));
  std::string text = json::dump(*body);
  std::optional<EndedEpisode> ended;
  if (shared_) {
    auto added = shared_->add_feedback(id, text);
    if (!added)
      return json_reply(res, 503, gateway_error("the feedback could not be stored: " + added.status().message()));
    if (added->first)
      return json_reply(res, 202, "{\"episode\":" + json::quote(id) + ",\"stored_with\":\"the episode's end\"}");
    if (added->second == "missing") return json_reply(res, 404, gateway_error("no episode " + id));
    auto row = shared_->get(id);
    if (!row || !*row) return json_reply(res, 503, gateway_error("episode " + id + " could not be read; retry"));
    ended = EndedEpisode{(*row)->state, (*row)->session_id, (*row)->report_json};
  } else if (auto ep = table_.find(id)) {
    std::lock_guard<std::mutex> g(ep->mu);
    ep->feedback.push_back(text);
    return json_reply(res, 202, "{\"episode\":" + json::quote(id) + ",\"stored_with\":\"the episode's end\"}");
  }
  auto e = shared_ ? ended : table_.ended(id);
  if (!e) return json_reply(res, 404, gateway_error("no episode " + id));
  if (e->state != "ended" || e->session_id.empty() || !rt_.store())
    return json_reply(res, 409, gateway_error("episode " + id + " is still being stored, or was not stored; retry"));
  Status st = data::add_review_note(*rt_.store(), e->session_id, "feedback: " + text, "serve:feedback");
  if (!st.is_ok()) return json_reply(res, 503, gateway_error("the feedback could not be stored: " + st.message()));
  json_reply(res, 200, "{\"episode\":" + json::quote(id) + ",\"session_id\":" + json::quote(e->session_id) + "}");
}

void Gateway::Impl::handle_get(httplib::Response& res, const std::string& id) {
  if (shared_) {
    auto row = shared_->get(id);
    if (!row)
      return json_reply(res, 503, gateway_error("the episode store could not be read: " + row.status().message()));
    if (!*row) return json_reply(res, 404, gateway_error("no episode " + id));
    const data::GatewayEpisode& e = **row;
    const bool open = e.state == "open" || e.state == "opening";
    return json_reply(res, 200,
                      "{\"episode\":" + json::quote(id) + ",\"state\":" + json::quote(e.state) +
                          ",\"calls\":" + std::to_string(e.calls) +
                          ",\"session_id\":" + (e.session_id.empty() ? "null" : json::quote(e.session_id)) +
                          ",\"lane\":" + (e.lane.empty() ? "null" : json::quote(e.lane)) +
                          (open || e.report_json.empty() ? "" : ",\"report\":" + e.report_json) + "}");
  }
  if (auto ep = table_.find(id)) {
    std::lock_guard<std::mutex> g(ep->mu);
    return json_reply(res, 200,
                      "{\"episode\":" + json::quote(id) + ",\"state\":\"open\",\"calls\":" + std::to_string(ep->calls) +
                          ",\"session_id\":" + (ep->opened ? json::quote(ep->episode->session_id()) : "null") +
                          ",\"lane\":" + (ep->episode ? json::quote(config::lane_name(ep->lane)) : "null") + "}");
  }
  auto e = table_.ended(id);
  if (!e) return json_reply(res, 404, gateway_error("no episode " + id));
  json_reply(res, 200,
             "{\"episode\":" + json::quote(id) + ",\"state\":" + json::quote(e->state) +
                 ",\"session_id\":" + (e->session_id.empty() ? "null" : json::quote(e->session_id)) +
                 (e->report_json.empty() ? "" : ",\"report\":" + e->report_json) + "}");
}

void Gateway::Impl::reap_idle() {
  const auto period =
      std::chrono::milliseconds(std::clamp<int64_t>(static_cast<int64_t>(serve_.idle_timeout_seconds * 250), 10, 1000));
  std::unique_lock<std::mutex> lk(reaper_mu_);
  while (!reaper_cv_.wait_for(lk, period, [this] { return reaper_stop_; })) {
    lk.unlock();
    int64_t before = clock::now_unix_ms() - static_cast<int64_t>(serve_.idle_timeout_seconds * 1000);
    if (shared_) {
      reap_shared_idle(before);
      lk.lock();
      continue;
    }
    for (auto& ep : table_.take_idle(before)) {
      runtime::EpisodeOutcome outcome;
      outcome.ended_by = "idle_timeout";
      end_episode(ep, outcome, nullptr);
    }
    lk.lock();
  }
}

void Gateway::Impl::reap_shared_idle(int64_t local_idle_before_ms) {
  table_.evict_idle(local_idle_before_ms);
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_heartbeat_) {
    // Renews the leases of the episodes this replica is opening or ending, so no other replica
    // takes them over while it is alive.
    next_heartbeat_ = now + std::chrono::milliseconds(static_cast<int64_t>(shared_->lease_seconds() * 250));
    if (auto renewed = shared_->heartbeat(); !renewed)
      log::warn("serve", "the episode leases could not be renewed: " + renewed.status().message());
  }
  auto idle = shared_->idle(serve_.idle_timeout_seconds);
  if (!idle) {
    log::warn("serve", "idle episodes could not be read: " + idle.status().message());
    return;
  }
  for (const std::string& id : idle->idle) {
    if (!queue_.has_room()) return;  // the next round takes the rest
    runtime::EpisodeOutcome outcome;
    outcome.ended_by = "idle_timeout";
    auto claim = shared_->claim_end(id, outcome);
    if (!claim || !claim->claimed) continue;  // another replica's reaper (or /end) was first
    end_claimed(*claim, outcome, nullptr);
  }
  // Ends whose replica died (kill -9, lost node) before storing them: ended here, with the
  // outcome the client's /end gave.
  for (const std::string& id : idle->stale_ending) {
    if (!queue_.has_room()) return;
    runtime::EpisodeOutcome outcome;
    auto claim = shared_->take_over_end(id, &outcome);
    if (!claim || !claim->claimed) continue;
    end_claimed(*claim, outcome, nullptr);
  }
}

bool Gateway::Impl::drain(std::chrono::steady_clock::time_point deadline) {
  draining_ = true;
  // The relay is over, so the end-of-episode work no longer yields the CPU to it: at idle
  // priority, on a machine other processes keep busy, it would not finish before the deadline.
  if (RaisedThreads r = raise_background_threads_of_this_process(); r.refused > 0)
    log::warn("serve", std::to_string(r.refused) +
                           " background threads could not be raised to normal priority for the drain (it needs "
                           "CAP_SYS_NICE or RLIMIT_NICE 20); on a busy machine it may not finish before "
                           "[serve] drain_seconds");
  // In-flight calls finish and record; nothing new is admitted.
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::unique_lock<std::mutex> lk(reaper_mu_);
    reaper_cv_.wait_for(lk, std::chrono::milliseconds(5));
  }
  bool calls_done = in_flight_.load() == 0;
  // Shared episodes stay open in the database: another replica (or this one after a restart)
  // serves their next calls, and an idle timeout ends them.
  for (auto& ep : shared_ ? std::vector<std::shared_ptr<OpenEpisode>>{} : table_.take_idle(-1)) {
    runtime::EpisodeOutcome outcome;
    outcome.ended_by = "shutdown";
    end_episode(ep, outcome, nullptr);
  }
  bool stored = queue_.wait_idle(deadline);
  if (!calls_done)
    log::error("serve", std::to_string(in_flight_.load()) + " calls were still running at the drain deadline");
  if (!stored)
    log::error("serve", std::to_string(queue_.depth()) + " storage jobs were still queued at the drain deadline");
  return calls_done && stored;
}

void Gateway::Impl::stop() {
  if (!started_) return;
  started_ = false;
  {
    std::lock_guard<std::mutex> g(reaper_mu_);
    reaper_stop_ = true;
  }
  reaper_cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  server_.stop();
  server_.shutdown_connections();
  if (listener_.joinable()) listener_.join();
}

// ------------------------------------------------------------------------------------ Gateway

Gateway::Gateway(const config::Config& config, runtime::Runtime& runtime)
    : impl_(std::make_unique<Impl>(config, runtime)) {}
Gateway::~Gateway() = default;
Result<int> Gateway::start(const GatewayOptions& options) {
  return impl_->start(options);
}
bool Gateway::drain(std::chrono::steady_clock::time_point deadline) {
  return impl_->drain(deadline);
}
void Gateway::stop() {
  impl_->stop();
}
Gateway::Counters Gateway::counters() const {
  return impl_->counters();
}

}  // namespace atlas::serve
