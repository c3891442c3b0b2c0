#include "mock/mock_server.hpp"

#include <httplib.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>


#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <deque>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "mock/http_server.hpp"
#include "mock/mock_tokens.hpp"
#include "mock/mock_wire.hpp"

namespace atlas::mock {
namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_auth_header(const std::string& lower_name) {
  return lower_name == "authorization" || lower_name == "x-api-key" || lower_name == "x-goog-api-key" ||
         lower_name == "api-key" || lower_name == "proxy-authorization";
}

// Removes the value of a ?key=... query parameter (Gemini's alternative to the header).
std::string redact_query_key(std::string target) {
  for (const char* needle : {"?key=", "&key="}) {
    size_t pos = target.find(needle);
    if (pos == std::string::npos) continue;
    size_t start = pos + 5;
    size_t end = target.find('&', start);
    target.replace(start, end == std::string::npos ? std::string::npos : end - start, "[redacted]");
  }
  return target;
}

bool model_matches(const std::string& pattern, const std::string& model) {
  if (pattern.empty()) return true;
  if (pattern.back() == '*') return model.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
  return pattern == model;
}

bool matches(const Match& m, const IncomingCall& c) {
  if (!wire_matches(m.wire, c.wire)) return false;
  if (!model_matches(m.model, c.model)) return false;
  if (!m.last_user_contains.empty() && c.last_user.find(m.last_user_contains) == std::string::npos) return false;
  if (m.last_user_regex && !std::regex_search(c.last_user, *m.last_user_regex)) return false;
  if (!m.last_message_contains.empty() && c.last_message.find(m.last_message_contains) == std::string::npos)
    return false;
  if (!m.system_contains.empty() && c.system.find(m.system_contains) == std::string::npos) return false;
  if (m.system_regex && !std::regex_search(c.system, *m.system_regex)) return false;
  if (!m.any_contains.empty() && c.all_text.find(m.any_contains) == std::string::npos) return false;
  if (m.has_tools && *m.has_tools != c.has_tools) return false;
  if (!m.role.empty() && m.role != c.role) return false;
  return true;
}

std::string openai_style_error(const std::string& message) {
  return "{\"error\":{\"message\":" + json::quote("mock-llm: " + message) +
         ",\"type\":\"BadRequestError\",\"code\":400}}";
}

std::string malformed(const std::string& body) {
  // A body cut in the middle: what a proxy or a crashing server produces.
  return body.substr(0, std::max<size_t>(1, body.size() / 2));
}

}  // namespace

struct MockLlmServer::State {
  mutable std::mutex mu;
  Scenario scenario;
  std::vector<int> rule_uses;
  // A deque: growing a vector moves every recorded request into a new block twice their size
  // while `mu`, which every request takes, is held (in a load test, tens of thousands).
  std::deque<RecordedRequest> requests;
  mutable std::condition_variable recorded;  // a request was added to `requests`
  int64_t seq = 0;
  std::ofstream log;
  // Responses API: the conversation text of every response served (id -> text), so that a call
  // naming previous_response_id is matched against the whole conversation, as the provider
  // would continue it; an id the mock did not serve is refused as OpenAI refuses it.
  std::map<std::string, std::string> responses;

  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;

  // Waits `ms` milliseconds or until the server stops. False when stopping.
  bool wait_ms(int ms) {
    std::unique_lock<std::mutex> lock(stop_mu);
    return !stop_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }

  void record(const RecordedRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    requests.push_back(r);
    if (log.is_open()) {
      log << recorded_request_json(r) << '\n';
      log.flush();
    }
    recorded.notify_all();
  }

  RecordedRequest begin(const httplib::Request& req, std::string route) {
    RecordedRequest r;
    r.received_unix_us = clock::now_unix_us();
    r.received_monotonic = clock::monotonic_seconds();
    {
      std::lock_guard<std::mutex> lock(mu);
      r.seq = ++seq;
    }
    r.route = std::move(route);
    r.method = req.method;
    r.path = redact_query_key(req.target.empty() ? req.path : req.target);
    for (const auto& [name, value] : req.headers) {
      std::string n = lower(name);
      r.headers[n] = is_auth_header(n) ? "[redacted]" : value;
    }
    r.body = req.body;
    r.remote_port = req.remote_port;
    return r;
  }

  // Picks the reply for a call: the first rule that matches and still has uses left.
  std::optional<Reply> select(const IncomingCall& call, std::string* rule_name) {
    std::lock_guard<std::mutex> lock(mu);
    for (size_t i = 0; i < scenario.rules.size(); ++i) {
      Rule& rule = scenario.rules[i];
      int& uses = rule_uses[i];
      if (rule.times > 0 && uses >= rule.times) continue;
      size_t n = rule.replies.size();
      size_t index = static_cast<size_t>(uses);
      if (index >= n) {
        if (rule.after == After::kFallThrough) continue;
        index = rule.after == After::kRepeatLast ? n - 1 : index % n;
      }
      if (!matches(rule.match, call)) continue;
      ++uses;
      *rule_name = rule.name.empty() ? "rules[" + std::to_string(i) + "]" : rule.name;
      Reply reply = rule.replies[index];
      if (!reply.latency_ms) reply.latency_ms = scenario.latency_ms;
      return reply;
    }
    if (!scenario.default_echo) return std::nullopt;
    *rule_name = "echo";
    Reply echo;
    echo.echo = true;
    echo.latency_ms = scenario.latency_ms;
    return echo;
  }

  void handle_call(Wire wire, const httplib::Request& req, httplib::Response& res, const std::string& route,
                   std::string model_from_path, bool stream_route);
};

void MockLlmServer::State::handle_call(Wire wire, const httplib::Request& req, httplib::Response& res,
                                       const std::string& route, std::string model_from_path, bool stream_route) {
  RecordedRequest rec = begin(req, route);
  auto send = [&](const Outgoing& out) {
    res.status = out.status;
    for (const auto& [k, v] : out.headers) res.set_header(k, v);
    res.set_content(out.body, out.content_type);
  };
  auto parsed = parse_incoming(wire, req.body, std::move(model_from_path), stream_route);
  if (!parsed) {
    Outgoing out = render_error(wire, 400, "mock-llm: " + parsed.status().message(), -1, false, rec.seq);
    rec.rule = "bad-request";
    rec.fault = "none";
    rec.status = 400;
    record(rec);
    send(out);
    return;
  }
  IncomingCall& call = *parsed;
  call.role = req.get_header_value("X-Atlas-Role");  // what "match.role" compares against
  if (!call.previous_response_id.empty()) {
    std::string earlier;
    {
      std::lock_guard<std::mutex> lock(mu);
      auto it = responses.find(call.previous_response_id);
      if (it != responses.end()) earlier = it->second;
    }
    if (earlier.empty()) {
      rec.rule = "previous-response-not-found";
      rec.fault = "none";
      rec.status = 400;
      record(rec);
      send(render_error(wire, 400, "Previous response with id '" + call.previous_response_id + "' not found.", -1,
                        false, rec.seq));
      return;
    }
    call.all_text = earlier + "\n" + call.all_text;
  }
  rec.model = call.model;
  rec.stream = call.stream;
  std::string rule_name;
  std::optional<Reply> chosen = select(call, &rule_name);
  if (!chosen) {
    std::string msg = "mock-llm: no scenario rule matched this request (wire " + std::string(wire_name(wire)) +
                      ", model \"" + call.model + "\", last user message \"" + call.last_user.substr(0, 80) +
                      "\"); add a rule or set \"default\": \"echo\"";
    rec.rule = "default-error";
    rec.fault = "none";
    rec.status = 400;
    record(rec);
    send(render_error(wire, 400, msg, -1, false, rec.seq));
    return;
  }
  const Reply& reply = *chosen;
  rec.rule = rule_name;
  rec.fault = std::string(fault_name(reply.fault));

  int status = 200;
  switch (reply.fault) {
    case Fault::kRateLimit: status = reply.status ? reply.status : 429; break;
    case Fault::kServerError: status = reply.status ? reply.status : 500; break;
    case Fault::kOverloaded: status = reply.status ? reply.status : (wire == Wire::kAnthropic ? 529 : 503); break;
    case Fault::kHttpError: status = reply.status; break;
    case Fault::kTimeout: status = 0; break;
    default: break;
  }
  rec.status = status;
  record(rec);

  if (reply.fault == Fault::kTimeout) {
    // Hold the request without answering; the client's timeout is what is being tested.
    wait_ms(reply.hang_ms);
    res.status = 504;
    res.set_content("{\"error\":{\"message\":\"mock-llm: timeout fault released\"}}", "application/json");
    return;
  }
  if (reply.latency_ms && *reply.latency_ms > 0 && !wait_ms(*reply.latency_ms)) {
    res.status = 503;
    return;
  }
  if (status >= 400) {
    send(render_error(wire, status, reply.error_message, reply.retry_after_seconds, reply.retry_after_in_ms, rec.seq));
    return;
  }
  Outgoing out = render_reply(call, reply, rec.seq);
  if (wire == Wire::kOpenAIResponses) {
    std::lock_guard<std::mutex> lock(mu);
    if (responses.size() >= 100000) responses.clear();  // bounded: a long run forgets, like a provider's TTL
    responses["resp_mock_" + std::to_string(rec.seq)] =
        call.all_text + "\n" + (reply.echo ? "echo: " + call.last_user : reply.text);
  }
  if (wire == Wire::kOpenAI) {  // vLLM's token ids and logprobs, when asked for (docs/mock-llm.md, "Token ids")
    if (Status added = add_token_fields(out, req.body, reply); !added.is_ok()) {
      send(render_error(wire, 400, "mock-llm: " + added.message(), -1, false, rec.seq));
      return;
    }
  }
  if (reply.fault == Fault::kMidStreamError && !out.streaming) {
    // A non-streaming call cannot fail mid-stream; send the provider's error object with 200.
    std::string ev = render_stream_error_event(wire, reply.error_message);
    size_t start = ev.find("data: ") + 6;
    res.status = 200;
    res.set_content(ev.substr(start, ev.size() - start - 2), "application/json");
    return;
  }
  if (!out.streaming) {
    if (reply.fault == Fault::kMalformedJson) {
      res.status = 200;
      res.set_content(malformed(out.body), out.content_type);
      return;
    }
    if (reply.fault == Fault::kDropConnection) {
      auto body = std::make_shared<std::string>(out.body);
      res.status = 200;
      res.set_content_provider(body->size(), out.content_type, [body](size_t, size_t, httplib::DataSink& sink) {
        sink.write(body->data(), body->size() / 2);
        return false;  // httplib closes the connection mid-body
      });
      return;
    }
    send(out);
    return;
  }
  // Streaming.
  auto events = std::make_shared<std::vector<std::string>>(std::move(out.events));
  Fault fault = reply.fault;
  std::string error_message = reply.error_message;
  if (fault == Fault::kMalformedJson && !events->empty()) {
    std::string& ev = (*events)[events->size() / 2];
    ev = malformed(ev.substr(0, ev.size() - 2)) + "\n\n";
  }
  res.status = 200;
  res.set_header("cache-control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [events, fault, wire, error_message](size_t, httplib::DataSink& sink) {
        size_t n = events->size();
        size_t cut = (fault == Fault::kMidStreamError || fault == Fault::kDropConnection) ? std::max<size_t>(1, n / 2)
                                                                                          : n;
        for (size_t i = 0; i < cut; ++i)
          if (!sink.write((*events)[i].data(), (*events)[i].size())) return false;
        if (fault == Fault::kDropConnection) return false;  // no terminator, connection closed
        if (fault == Fault::kMidStreamError) {
          std::string ev = render_stream_error_event(wire, error_message);
          sink.write(ev.data(), ev.size());
        }
        sink.done();
        return true;
      });
}

std::string recorded_request_json(const RecordedRequest& r) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("seq");
  w.Int64(r.seq);
  w.Key("received_at");
  w.String(clock::iso8601_utc(r.received_unix_us).c_str());
  w.Key("received_unix_us");
  w.Int64(r.received_unix_us);
  w.Key("route");
  w.String(r.route.c_str());
  w.Key("method");
  w.String(r.method.c_str());
  w.Key("path");
  w.String(r.path.c_str());
  w.Key("headers");
  w.StartObject();
  for (const auto& [k, v] : r.headers) {
    w.Key(k.c_str());
    w.String(v.c_str());
  }
  w.EndObject();
  w.Key("body");
  json::Document doc;
  sdk::parse_json(doc, r.body, json::kMaxInputDepth);
  if (!r.body.empty() && !doc.HasParseError()) {
    doc.Accept(w);
  } else {
    w.String(r.body.data(), static_cast<rapidjson::SizeType>(r.body.size()));
  }
  w.Key("model");
  w.String(r.model.c_str());
  w.Key("stream");
  w.Bool(r.stream);
  w.Key("rule");
  w.String(r.rule.c_str());
  w.Key("fault");
  w.String(r.fault.c_str());
  w.Key("status");
  w.Int(r.status);
  w.EndObject();
  return sb.GetString();
}

MockLlmServer::MockLlmServer() : state_(std::make_unique<State>()) {}

MockLlmServer::~MockLlmServer() { stop(); }

Result<int> MockLlmServer::start_json(std::string_view scenario_json, const MockOptions& options) {
  ATLAS_ASSIGN_OR_RETURN(Scenario s, parse_scenario(scenario_json));
  return start(std::move(s), options);
}

void MockLlmServer::set_scenario(Scenario scenario) {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->rule_uses.assign(scenario.rules.size(), 0);
  state_->scenario = std::move(scenario);
}

Result<int> MockLlmServer::start(Scenario scenario, const MockOptions& options) {
  if (server_) return failed_precondition("mock-llm is already running on port " + std::to_string(port_));
  set_scenario(std::move(scenario));
  {
    std::lock_guard<std::mutex> lock(state_->stop_mu);
    state_->stopping = false;
  }
  if (!options.request_log_path.empty()) {
    state_->log.open(options.request_log_path, std::ios::app);
    if (!state_->log)
      return invalid_argument("mock-llm: cannot open request log " + options.request_log_path +
                              " for writing; check the directory exists and is writable");
  }
  auto server = std::make_unique<HttpServer>();
  size_t threads = static_cast<size_t>(std::max(4, options.threads));
  server->set_worker_threads(threads);
  server->set_tcp_nodelay(true);  // no Nagle + delayed-ACK stall (40 ms) between header and body writes
  server->set_keep_alive_max_count(100000);
  server->set_keep_alive_timeout(5);
  server->set_payload_max_length(64u << 20);
  State* st = state_.get();

  server->Post("/v1/chat/completions", [st](const httplib::Request& req, httplib::Response& res) {
    st->handle_call(Wire::kOpenAI, req, res, "openai.chat", "", false);
  });
  server->Post("/chat/completions", [st](const httplib::Request& req, httplib::Response& res) {
    st->handle_call(Wire::kOpenAI, req, res, "openai.chat", "", false);
  });
  server->Post("/v1/responses", [st](const httplib::Request& req, httplib::Response& res) {
    st->handle_call(Wire::kOpenAIResponses, req, res, "openai.responses", "", false);
  });
  server->Post("/responses", [st](const httplib::Request& req, httplib::Response& res) {
    st->handle_call(Wire::kOpenAIResponses, req, res, "openai.responses", "", false);
  });
  server->Post("/v1/messages", [st](const httplib::Request& req, httplib::Response& res) {
    st->handle_call(Wire::kAnthropic, req, res, "anthropic.messages", "", false);
  });
  server->Post(R"(/v1(?:beta)?/models/([^/:]+):generateContent)",
               [st](const httplib::Request& req, httplib::Response& res) {
                 st->handle_call(Wire::kGemini, req, res, "gemini.generate", req.matches[1], false);
               });
  server->Post(R"(/v1(?:beta)?/models/([^/:]+):streamGenerateContent)",
               [st](const httplib::Request& req, httplib::Response& res) {
                 st->handle_call(Wire::kGemini, req, res, "gemini.stream", req.matches[1], true);
               });
  server->Get("/v1/models", [st](const httplib::Request& req, httplib::Response& res) {
    RecordedRequest rec = st->begin(req, "models");
    rapidjson::StringBuffer sb;
    rapidjson::Writer<rapidjson::StringBuffer> w(sb);
    w.StartObject();
    w.Key("object");
    w.String("list");
    w.Key("data");
    w.StartArray();
    std::vector<std::string> models;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      models = st->scenario.models;
    }
    std::sort(models.begin(), models.end());
    models.erase(std::unique(models.begin(), models.end()), models.end());
    for (const auto& m : models) {
      w.StartObject();
      w.Key("id");
      w.String(m.c_str());
      w.Key("object");
      w.String("model");
      w.Key("created");
      w.Int64(0);
      w.Key("owned_by");
      w.String("mock-llm");
      w.EndObject();
    }
    w.EndArray();
    w.EndObject();
    rec.status = 200;
    rec.fault = "none";
    st->record(rec);
    res.set_content(sb.GetString(), "application/json");
  });
  // vLLM's tokenizer endpoint (at the server root, not under /v1), with the mock's tokenizer.
  auto tokenize = [st](const httplib::Request& req, httplib::Response& res) {
    RecordedRequest rec = st->begin(req, "tokenize");
    int64_t drift_at = -1;
    {
      std::lock_guard<std::mutex> lock(st->mu);
      drift_at = st->scenario.tokenize_drift_at;
    }
    auto body = tokenize_body(req.body, drift_at);
    rec.fault = "none";
    rec.status = body ? 200 : 400;
    st->record(rec);
    res.status = rec.status;
    res.set_content(body ? *body : openai_style_error(body.status().message()), "application/json");
  };
  server->Post("/tokenize", tokenize);
  server->Post("/v1/tokenize", tokenize);
  server->Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"status\":\"ok\"}", "application/json");
  });
  auto unknown = [st](const httplib::Request& req, httplib::Response& res) {
    RecordedRequest rec = st->begin(req, "unknown");
    rec.status = 404;
    rec.fault = "none";
    st->record(rec);
    res.status = 404;
    res.set_content(
        "{\"error\":{\"message\":\"mock-llm: no route " + req.method + " " + json::quote(req.path).substr(1) +
            ",\"hint\":\"served: POST /v1/chat/completions, POST /v1/responses, POST /v1/messages, POST "
            "/v1beta/models/{model}:generateContent, POST /v1beta/models/{model}:streamGenerateContent?alt=sse, "
            "POST /tokenize, GET /v1/models, GET /healthz\"}}",
        "application/json");
  };
  server->Post(R"(/.*)", unknown);
  server->Get(R"(/.*)", unknown);

  int port = options.port == 0 ? server->bind_to_any_port(options.host)
                               : (server->bind_to_port(options.host, options.port) ? options.port : -1);
  if (port <= 0)
    return unavailable("mock-llm: cannot listen on " + options.host + ":" + std::to_string(options.port) +
                       " (address in use or not local?); pick another --port or use --port 0");
  server->raise_listen_backlog();
  port_ = port;
  host_ = options.host;
  server_ = std::move(server);
  HttpServer* raw = server_.get();
  auto done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([raw, done] {
    raw->listen_after_bind();
    done->store(true);
  });
  // The socket already listens (connections queue in the backlog). Wait, bounded, until the
  // accept loop runs so that stop() right after start() is well-defined.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!raw->is_running() && !done->load() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  if (!raw->is_running()) {
    raw->stop();
    if (done->load()) {
      thread_.join();
      server_.reset();
    } else {
      thread_.detach();            // listen_after_bind never reached its loop in 10 s;
      (void)server_.release();     // the detached thread still owns the server object
    }
    return unavailable("mock-llm: the HTTP server did not start on " + options.host + ":" + std::to_string(port));
  }
  return port;
}

void MockLlmServer::stop() {
  if (!server_) return;
  {
    std::lock_guard<std::mutex> lock(state_->stop_mu);
    state_->stopping = true;
  }
  state_->stop_cv.notify_all();
  server_->stop();
  server_->shutdown_connections();
  if (thread_.joinable()) thread_.join();
  server_.reset();
  if (state_->log.is_open()) state_->log.close();
}

bool MockLlmServer::running() const { return server_ && server_->is_running(); }

std::string MockLlmServer::base_url() const {
  std::string host = host_ == "0.0.0.0" || host_.empty() ? "127.0.0.1" : host_;
  return "http://" + host + ":" + std::to_string(port_);
}

std::vector<RecordedRequest> MockLlmServer::requests() const {
  std::lock_guard<std::mutex> lock(state_->mu);
  return {state_->requests.begin(), state_->requests.end()};
}

bool MockLlmServer::wait_for_requests(size_t n, double timeout_seconds) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  return state_->recorded.wait_for(lock, std::chrono::duration<double>(timeout_seconds),
                                   [&] { return state_->requests.size() >= n; });
}

void MockLlmServer::clear_requests() {
  std::lock_guard<std::mutex> lock(state_->mu);
  state_->requests.clear();
}

}  // namespace atlas::mock
