// The capture gateway in-process: a real HTTP server on loopback, mock-llm upstream, real
// plugins (judge, probe, SQLite storage), calls made with cpp-httplib as a client would make them.
#include "serve/gateway.hpp"

#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "common/json.hpp"
#include "config/loader.hpp"
#include "data/store.hpp"
#include "runtime/runtime.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::serve {
namespace {

const char* kJudgeAndLearning = R"(
  {"name":"judge","match":{"system_contains":"impartial evaluator"},"response":{"json":{"score":0.9,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"arbiter","match":{"system_contains":"senior arbiter"},"response":{"json":{"score":0.9,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"learning","match":{"system_contains":"You maintain the playbook"},"response":{"json":{"student_pamphlet":"Always name the city.",
     "session_student_learning":"Name the city.","teacher_pamphlet":"Check the city.","playbook_entries":[]}}})";

std::string scenario(const std::string& rules) {
  return std::string(R"({"default":"echo","rules":[)") + rules + "," + kJudgeAndLearning + "]}";
}

// Runs a query and returns the first column of every row.
std::vector<std::string> sql(const fs::path& db, const std::string& query) {
  sqlite3* h = nullptr;
  std::vector<std::string> out;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    ADD_FAILURE() << "cannot open " << db;
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, query.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sqlite3_errmsg(h) << " in " << query;
  } else {
    while (sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

// Stands for the mock's OpenAI base URL in a fixture's extra TOML (the mock starts with it).
constexpr const char* kMockOpenAIBase = "@MOCK_OPENAI_BASE@";

// A gateway with its runtime, upstream mock-llm and SQLite database in a fresh folder.
class GatewayFixture {
 public:
  // `student_base`: the student's upstream when not the mock (a server of the test's own).
  GatewayFixture(const std::string& name, const std::string& scenario_json, const std::string& extra_toml,
                 bool with_upstream = true, double learning_cache_seconds = 10.0, const std::string& student_base = "")
      : mock_(scenario_json) {
    dir_ = fs::temp_directory_path() / ("atlas-serve-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::string base = with_upstream ? mock_.base_url() : "http://127.0.0.1:1";
    const std::string student = student_base.empty() ? base : student_base;
    auto model = [&](const std::string& section) {
      return "[" + section +
             "]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\n"
             "api_base = \"" +
             mock_.openai_base() + "\"\ntimeout_seconds = 30\n\n";
    };
    std::string toml = "[agent]\nadapter = \"openai\"\nname = \"captured\"\n\n";
    toml +=
        "[student.llm]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\n"
        "api_base = \"" +
        student + "/v1\"\ntimeout_seconds = 30\n\n";
    toml += model("teacher.llm") + model("rewards.small_model") + model("rewards.large_model") + model("learning.llm");
    toml += "[serve.anthropic]\nprovider = \"anthropic\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\napi_base = \"" +
            base +
            "\"\n\n[serve.gemini]\nprovider = \"gemini\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\napi_base = \"" +
            base + "\"\n\n";
    toml += "[storage]\ndatabase_url = \"sqlite://" + (dir_ / "atlas.db").string() + "\"\nspool_path = \"" +
            (dir_ / "spool.jsonl").string() + "\"\n\n";
    for (std::string extra = extra_toml;;) {
      size_t at = extra.find(kMockOpenAIBase);
      if (at == std::string::npos) {
        toml += extra;
        break;
      }
      extra.replace(at, std::string_view(kMockOpenAIBase).size(), mock_.openai_base());
    }
    auto cfg = config::parse_config(toml, "serve-test.toml");
    EXPECT_TRUE(cfg.is_ok()) << cfg.status().message();
    if (!cfg) return;
    runtime::RuntimeOptions ro;
    ro.use_default_plugin_dirs = false;
    ro.plugin_dirs = {ATLAS_TEST_PLUGIN_DIR};
    ro.learning_cache_seconds = learning_cache_seconds;
    auto rt = runtime::Runtime::create(std::move(*cfg), ro);
    EXPECT_TRUE(rt.is_ok()) << rt.status().to_string();
    if (!rt) return;
    rt_ = std::move(*rt);
    gateway_ = std::make_unique<Gateway>(rt_->config(), *rt_);
    GatewayOptions listen;
    listen.port = 0;  // any free port
    auto port = gateway_->start(listen);
    EXPECT_TRUE(port.is_ok()) << port.status().to_string();
    if (port) port_ = *port;
  }
  ~GatewayFixture() {
    gateway_.reset();
    rt_.reset();
    fs::remove_all(dir_);
  }

  bool ok() const { return port_ > 0; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(std::chrono::seconds(60));
    return c;
  }
  httplib::Result post(const std::string& path, const std::string& body, httplib::Headers headers = {}) const {
    return client().Post(path, headers, body, "application/json");
  }
  // Ends the episode and waits for it to be judged and stored; returns the report.
  json::Document end(const std::string& id, const std::string& body = "{}") const {
    auto r = post("/atlas/v1/sessions/" + id + "/end?wait=true", body);
    json::Document d;
    EXPECT_TRUE(r);
    if (!r) return d;
    EXPECT_EQ(r->status, 200) << r->body;
    auto parsed = json::parse(r->body);
    EXPECT_TRUE(parsed.is_ok()) << r->body;
    if (parsed) d = std::move(*parsed);
    return d;
  }
  std::vector<std::string> query(const std::string& q) const { return sql(dir_ / "atlas.db", q); }

  testing::MockLlm mock_;
  fs::path dir_;
  std::unique_ptr<runtime::Runtime> rt_;
  std::unique_ptr<Gateway> gateway_;
  int port_ = 0;
};

const char* kWeatherRules = R"(
  {"name":"answer","match":{"has_tools":true,"last_message_contains":"18C"},"response":{"text":"It is 18C in Paris.","usage":{"prompt_tokens":30,"completion_tokens":8}}},
  {"name":"call","match":{"has_tools":true},"response":{"tool_calls":[{"id":"call_1","name":"get_weather","arguments":{"city":"Paris"}}],"usage":{"prompt_tokens":20,"completion_tokens":5}}})";

const char* kTools =
    R"([{"type":"function","function":{"name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}},
  {"type":"function","function":{"name":"get_time","description":"Time now","parameters":{"type":"object","properties":{}}}}])";

TEST(Gateway, AToolUsingOpenAIEpisodeIsOneJudgedStoredSession) {
  GatewayFixture gw("tools", scenario(kWeatherRules), "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  // X-Atlas-Rollout-Group: the episode is stored as a sibling of that group (docs/serve.md).
  httplib::Headers h{{"X-Atlas-Session", "weather-1"}, {"X-Atlas-Rollout-Group", "grp-7"}};
  std::string first =
      std::string(
          R"({"model":"gpt-4o","messages":[{"role":"system","content":"You help."},{"role":"user","content":"Weather in Paris?"}],"tools":)") +
      kTools + "}";
  auto r1 = gw.post("/v1/chat/completions", first, h);
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(r1->get_header_value("X-Atlas-Session"), "weather-1");
  // X-Atlas-Session-Id: absent on this first call (the auto-lane episode opens off the request
  // path, docs/serve.md); the report below names the session.
  EXPECT_NE(r1->body.find("get_weather"), std::string::npos);
  std::string second =
      std::string(
          R"({"model":"gpt-4o","messages":[{"role":"system","content":"You help."},{"role":"user","content":"Weather in Paris?"},
    {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
    {"role":"tool","tool_call_id":"call_1","content":"18C"}],"tools":)") +
      kTools + "}";
  auto r2 = gw.post("/v1/chat/completions", second, h);
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_NE(r2->body.find("It is 18C in Paris."), std::string::npos);

  json::Document end =
      gw.end("weather-1", R"({"success":true,"feedback":{"metrics":{"correct":true},"comment":"fine"}})");
  ASSERT_TRUE(end.IsObject());
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "status"), "succeeded") << json::dump(report);
  EXPECT_EQ(json::get_string(report, "final_answer"), "It is 18C in Paris.");
  EXPECT_EQ(json::get_string(report, "lane"), "auto");
  ASSERT_TRUE(report["steps"].IsArray());
  EXPECT_EQ(report["steps"].Size(), 2u);
  EXPECT_TRUE(json::find(report, "reward") && report["reward"].IsNumber()) << "the judges scored the episode";
  std::string sid = json::get_string(report, "session_id");

  // Stored: one session with the episode id, both steps, the tool call with its result.
  auto meta = gw.query("SELECT metadata FROM sessions WHERE id = " + sid);
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_NE(meta[0].find("\"episode_id\":\"weather-1\""), std::string::npos) << meta[0];
  EXPECT_NE(meta[0].find("\"comment\":\"fine\""), std::string::npos) << meta[0];
  EXPECT_NE(meta[0].find("\"rollout_group\":\"grp-7\""), std::string::npos) << meta[0];
  EXPECT_EQ(json::get_string(report, "rollout_group"), "grp-7");
  EXPECT_EQ(gw.query("SELECT status FROM sessions WHERE id = " + sid), (std::vector<std::string>{"succeeded"}));
  EXPECT_EQ(gw.query("SELECT count(*) FROM step_results WHERE session_id = " + sid), (std::vector<std::string>{"2"}));
  auto tool_events = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                              " AND event LIKE '%\"type\":\"tool_call\"%'");
  ASSERT_EQ(tool_events.size(), 1u);
  EXPECT_NE(tool_events[0].find("18C"), std::string::npos);
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%' AND event LIKE '%openai.chat%'");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[0].find("\"offered_tools\":2"), std::string::npos) << calls[0];
  // What the student saw, for exports: the client's system prompt and both offered tools with
  // their schemas (docs/export-formats.md, "What the student saw").
  auto call_event = json::parse(calls[0]).value();
  const json::Value& data = call_event["data"];
  EXPECT_EQ(json::get_string(data, "system_prompt"), "You help.") << calls[0];
  ASSERT_TRUE(json::find(data, "tools") && data["tools"].IsArray()) << calls[0];
  ASSERT_EQ(data["tools"].Size(), 2u) << calls[0];
  auto offered = json::parse(kTools).value();
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    EXPECT_EQ(json::get_string(data["tools"][i], "name"), json::get_string(offered[i]["function"], "name"));
    EXPECT_TRUE(data["tools"][i]["parameters"] == offered[i]["function"]["parameters"]) << calls[0];
  }

  // The episode is over: more calls, a second end and unknown ids are refused with reasons.
  auto again = gw.post("/v1/chat/completions", first, h);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  auto end_again = gw.post("/atlas/v1/sessions/weather-1/end", "{}");
  ASSERT_TRUE(end_again);
  EXPECT_EQ(end_again->status, 409);
  auto unknown = gw.post("/atlas/v1/sessions/never-seen/end", "{}");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  auto status = gw.client().Get("/atlas/v1/sessions/weather-1");
  ASSERT_TRUE(status);
  EXPECT_NE(status->body.find("\"state\":\"ended\""), std::string::npos) << status->body;
}

TEST(Gateway, StreamingIsPassedThroughAndCaptured) {
  GatewayFixture gw(
      "stream",
      scenario(
          R"({"name":"s","match":{"last_user_contains":"count"},"response":{"text":"one two three four five six"}})"),
      "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  std::string pieces;
  int chunks = 0;
  auto res = gw.client().Post(
      "/s/stream-1/v1/chat/completions", httplib::Headers{},
      R"({"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"count"}]})",
      "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  pieces = res->body;
  for (size_t p = pieces.find("data:"); p != std::string::npos; p = pieces.find("data:", p + 1)) ++chunks;
  EXPECT_GT(chunks, 2) << pieces;
  EXPECT_NE(pieces.find("[DONE]"), std::string::npos);
  EXPECT_EQ(res->get_header_value("X-Atlas-Session"), "stream-1");
  json::Document end = gw.end("stream-1");
  EXPECT_EQ(json::get_string(end["report"], "final_answer"), "one two three four five six");
}

// An OpenAI-compatible upstream that streams a chat reply in two parts: the first SSE event,
// then, once `release()` is called (or after 10 s), the rest.
class PacedStreamUpstream {
 public:
  PacedStreamUpstream() {
    server_.Post("/v1/chat/completions", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [this, sent = 0](size_t, httplib::DataSink& sink) mutable {
        auto event = [](const std::string& text) {
          return "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"model\":\"m\",\"choices\":[{\"index\":0,"
                 "\"delta\":{\"content\":\"" +
                 text + "\"},\"finish_reason\":null}]}\n\n";
        };
        if (sent++ == 0) return sink.write(event("one ").data(), event("one ").size());
        if (released_.wait_for(std::chrono::seconds(10)) != std::future_status::ready) gave_up_waiting_ = true;
        for (const char* word : {"two ", "three ", "four ", "five ", "six"}) {
          const std::string e = event(word);
          if (!sink.write(e.data(), e.size())) return false;
        }
        const std::string end = "data: [DONE]\n\n";
        if (!sink.write(end.data(), end.size())) return false;
        sink.done();
        return true;
      });
    });
    port_ = server_.bind_to_any_port("127.0.0.1");  // listening from here: connections wait in the backlog
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~PacedStreamUpstream() {
    release();
    server_.stop();
    thread_.join();
  }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void release() {
    std::call_once(once_, [this] { release_.set_value(); });
  }
  bool released() const { return released_.wait_for(std::chrono::seconds(0)) == std::future_status::ready; }
  // The rest was sent because 10 s passed without release(), not because of it.
  bool gave_up_waiting() const { return gave_up_waiting_; }

 private:
  std::atomic<bool> gave_up_waiting_{false};
  httplib::Server server_;
  std::promise<void> release_;
  std::shared_future<void> released_{release_.get_future().share()};
  std::once_flag once_;
  int port_ = 0;
  std::thread thread_;
};

struct StreamingClient;

// A gateway whose student upstream is a PacedStreamUpstream (the mock serves the judges).
struct PacedGateway {
  explicit PacedGateway(const std::string& name)
      : gw(name, scenario(R"({"name":"x","match":{"last_user_contains":"zzz"},"response":{"text":"x"}})"),
           "[orchestration]\nforced_mode = \"auto\"\n", true, 10.0, upstream.base_url()) {}
  // A stream on episode `id` whose client has the first piece; the rest waits for upstream.release().
  std::unique_ptr<StreamingClient> stream_held_back(const std::string& id);
  PacedStreamUpstream upstream;  // declared first: it listens before the gateway that points at it
  GatewayFixture gw;
};

const char* kStreamBody = R"({"model":"m","stream":true,"messages":[{"role":"user","content":"count"}]})";

// A streamed chat call on episode `id`, for a client that reads the pieces as they come.
httplib::Request stream_request(const std::string& id) {
  httplib::Request req;
  req.method = "POST";
  req.path = "/s/" + id + "/v1/chat/completions";
  req.body = kStreamBody;
  req.set_header("Content-Type", "application/json");
  return req;
}

// The pieces after the first arrive once the client has seen the first: the connection's thread
// writes each as it reads it from the upstream, and the stream's end after recording the call
// (gateway.cpp, relay_stream).
TEST(Gateway, PiecesThatArriveAfterTheHeadReachTheClientInOrderAndTheCallIsRecordedFirst) {
  PacedGateway paced("paced");
  PacedStreamUpstream& upstream = paced.upstream;
  GatewayFixture& gw = paced.gw;
  ASSERT_TRUE(gw.ok());
  std::string received;
  bool first_seen_before_the_rest = false;
  httplib::Request req = stream_request("paced-2");
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    received.append(data, len);
    if (!first_seen_before_the_rest && received.find("one ") != std::string::npos) {
      first_seen_before_the_rest = !upstream.released();
      upstream.release();
    }
    return true;
  };
  httplib::Response out;
  httplib::Error err = httplib::Error::Success;
  auto client = gw.client();
  ASSERT_TRUE(client.send(req, out, err)) << httplib::to_string(err);
  EXPECT_EQ(out.status, 200);
  EXPECT_TRUE(first_seen_before_the_rest) << "the first piece was passed on before the upstream sent the rest";
  EXPECT_FALSE(upstream.gave_up_waiting())
      << "the first piece reached the client only after the upstream stopped waiting for the client to see it";
  size_t at = 0;
  for (const char* word : {"one ", "two ", "three ", "four ", "five ", "six", "[DONE]"}) {
    size_t next = received.find(word, at);
    ASSERT_NE(next, std::string::npos) << word << " missing or out of order in: " << received;
    at = next;
  }
  json::Document end = gw.end("paced-2");
  EXPECT_EQ(json::get_string(end["report"], "final_answer"), "one two three four five six") << json::dump(end);
}

// A client that leaves in the middle of a stream: the call is still recorded (whether the
// reader's write of a later piece fails or the rest went out before the client's reset came
// back), nothing hangs, and the gateway goes on serving streams.
TEST(Gateway, AClientThatLeavesMidStreamStopsTheUpstreamAndTheCallIsStillRecorded) {
  PacedGateway paced("leaves");
  PacedStreamUpstream& upstream = paced.upstream;
  GatewayFixture& gw = paced.gw;
  ASSERT_TRUE(gw.ok());
  httplib::Request req = stream_request("leaves-1");
  std::string received;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    received.append(data, len);
    return false;  // leaves after the first piece
  };
  {
    httplib::Response out;
    httplib::Error err = httplib::Error::Success;
    auto client = gw.client();
    EXPECT_FALSE(client.send(req, out, err));
    EXPECT_EQ(err, httplib::Error::Canceled);
  }  // the client's connection is closed here
  upstream.release();
  EXPECT_NE(received.find("one "), std::string::npos);
  json::Document end = gw.end("leaves-1");
  const json::Value& report = end["report"];
  ASSERT_TRUE(report["steps"].IsArray()) << json::dump(end);
  EXPECT_EQ(report["steps"].Size(), 1u) << "the call the client left is recorded";
  auto next = gw.post("/s/leaves-2/v1/chat/completions", kStreamBody);
  ASSERT_TRUE(next) << "the gateway goes on serving streams";
  EXPECT_EQ(next->status, 200);
  EXPECT_NE(next->body.find("[DONE]"), std::string::npos) << next->body;
}

TEST(Gateway, AnUpstreamThatBreaksOffMidStreamCutsTheClientsStreamAndTheCallIsRecordedAsFailed) {
  GatewayFixture gw("broken",
                    scenario(R"({"response":{"text":"one two three four five six","fault":"drop_connection"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  httplib::Request req = stream_request("broken-1");
  std::string received;
  req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
    received.append(data, len);
    return true;
  };
  httplib::Response out;
  httplib::Error err = httplib::Error::Success;
  auto client = gw.client();
  // Not a complete reply: what the upstream sent before it broke off, then the cut.
  EXPECT_FALSE(client.send(req, out, err)) << received;
  EXPECT_NE(err, httplib::Error::Success);
  EXPECT_NE(received.find("data:"), std::string::npos) << "the pieces before the break reach the client";
  EXPECT_EQ(received.find("[DONE]"), std::string::npos) << received;
  json::Document end = gw.end("broken-1");
  const json::Value& report = end["report"];
  ASSERT_TRUE(report["steps"].IsArray()) << json::dump(end);
  ASSERT_EQ(report["steps"].Size(), 1u) << json::dump(end);
  EXPECT_EQ(json::get_string(report, "status"), "failed") << json::dump(end);
}

// Streams `kStreamBody` on episode `id` from a thread of its own; `first_piece` is ready once the
// client has the first piece (the paced upstream holds the rest back until released).
struct StreamingClient {
  StreamingClient(const GatewayFixture& gw, const std::string& id) {
    thread = std::thread([&gw, id, this] {
      httplib::Request req = stream_request(id);
      bool told = false;
      req.content_receiver = [&](const char* data, size_t len, uint64_t, uint64_t) {
        received.append(data, len);
        if (!told) first_piece_seen.set_value();
        told = true;
        return true;
      };
      httplib::Response out;
      httplib::Error err = httplib::Error::Success;
      auto client = gw.client();
      completed = client.send(req, out, err) && out.status == 200;
      if (!told) first_piece_seen.set_value();
    });
    first_piece = first_piece_seen.get_future();
  }
  ~StreamingClient() {
    if (thread.joinable()) thread.join();
  }
  std::thread thread;
  std::promise<void> first_piece_seen;
  std::future<void> first_piece;
  std::string received;
  bool completed = false;
};

std::unique_ptr<StreamingClient> PacedGateway::stream_held_back(const std::string& id) {
  auto stream = std::make_unique<StreamingClient>(gw, id);
  stream->first_piece.wait();
  return stream;
}

// The client ends the episode while one of its streams is still running (the stream is recorded
// when it ends): the end waits for that record instead of storing the session without the call.
TEST(Gateway, AnEndThatOvertakesARunningStreamWaitsForItsRecord) {
  PacedGateway paced("overtake");
  ASSERT_TRUE(paced.gw.ok());
  auto stream = paced.stream_held_back("overtake-1");
  GatewayFixture& gw = paced.gw;
  std::future<json::Document> ended = std::async(std::launch::async, [&] { return gw.end("overtake-1"); });
  // The end request has reached the gateway once the episode reads as ending.
  for (int i = 0; i < 10000; ++i) {
    auto state = gw.client().Get("/atlas/v1/sessions/overtake-1");
    if (state && state->body.find("\"state\":\"ending\"") != std::string::npos) break;
  }
  paced.upstream.release();
  json::Document end = ended.get();
  stream->thread.join();
  EXPECT_TRUE(stream->completed);
  const json::Value& report = end["report"];
  ASSERT_TRUE(report.IsObject()) << json::dump(end);
  ASSERT_TRUE(report["steps"].IsArray()) << json::dump(end);
  EXPECT_EQ(report["steps"].Size(), 1u) << json::dump(end);
  EXPECT_EQ(json::get_string(report, "final_answer"), "one two three four five six");
}

// SIGTERM while a stream runs: the drain waits for the stream (not only for its handler, which
// returned when the head went out), then stores the episode with the call.
TEST(Gateway, ADrainWaitsForARunningStreamAndStoresItsCall) {
  PacedGateway paced("drainstream");
  ASSERT_TRUE(paced.gw.ok());
  auto stream = paced.stream_held_back("drain-1");
  GatewayFixture& gw = paced.gw;
  std::future<bool> drained = std::async(std::launch::async, [&] {
    return gw.gateway_->drain(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  });
  // With the stream still held back, the drain cannot be done: it waits for the stream's record.
  // (Were it to end the episode without waiting, it would be done well within this time.)
  EXPECT_EQ(drained.wait_for(std::chrono::milliseconds(500)), std::future_status::timeout)
      << "the drain ended the episode while its stream was running";
  paced.upstream.release();
  EXPECT_TRUE(drained.get());
  stream->thread.join();
  EXPECT_TRUE(stream->completed);
  auto steps = gw.query(
      "SELECT count(*) FROM step_results WHERE session_id = (SELECT id FROM sessions WHERE metadata LIKE "
      "'%\"episode_id\":\"drain-1\"%')");
  EXPECT_EQ(steps, (std::vector<std::string>{"1"})) << "the streamed call is in the stored session";
}

const char* kFlatTools =
    R"([{"type":"function","name":"get_weather","description":"Weather now","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}])";

TEST(Gateway, AToolUsingResponsesEpisodeIsOneStoredSession) {
  GatewayFixture gw("responses", scenario(kWeatherRules), "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  auto r1 =
      gw.post("/s/resp-1/v1/responses",
              std::string(R"({"model":"gpt-4.1","instructions":"You help.","input":"Weather in Paris?","tools":)") +
                  kFlatTools + "}");
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200) << r1->body;
  EXPECT_EQ(r1->get_header_value("X-Atlas-Session"), "resp-1");
  EXPECT_NE(r1->body.find("\"type\":\"function_call\""), std::string::npos) << r1->body;
  auto r2 = gw.post("/s/resp-1/v1/responses", std::string(R"({"model":"gpt-4.1","instructions":"You help.","input":[
      {"role":"user","content":"Weather in Paris?"},
      {"type":"function_call","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},
      {"type":"function_call_output","call_id":"call_1","output":"18C"}],"tools":)") +
                                                  kFlatTools + "}");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_NE(r2->body.find("It is 18C in Paris."), std::string::npos);
  ASSERT_EQ(gw.mock_.requests("openai.responses").size(), 2u) << "forwarded to the upstream's /v1/responses";

  json::Document end = gw.end("resp-1", R"({"success":true})");
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "status"), "succeeded") << json::dump(report);
  EXPECT_EQ(json::get_string(report, "final_answer"), "It is 18C in Paris.");
  ASSERT_TRUE(report["steps"].IsArray());
  EXPECT_EQ(report["steps"].Size(), 2u);
  std::string sid = json::get_string(report, "session_id");
  EXPECT_EQ(gw.query("SELECT count(*) FROM sessions"), (std::vector<std::string>{"1"}));
  auto tool_events = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                              " AND event LIKE '%\"type\":\"tool_call\"%'");
  ASSERT_EQ(tool_events.size(), 1u) << "the function_call and its function_call_output are one tool call";
  EXPECT_NE(tool_events[0].find("get_weather"), std::string::npos) << tool_events[0];
  EXPECT_NE(tool_events[0].find("18C"), std::string::npos) << tool_events[0];
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%' AND event LIKE '%openai.responses%'");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[0].find("\"offered_tools\":1"), std::string::npos) << calls[0];
}

// A Responses conversation continued by previous_response_id, with no episode header: every turn
// joins the first call's episode and is recorded with the earlier turns. The upstream (mock-llm,
// which like OpenAI keeps the responses it served and refuses ids it did not) gets the id as sent,
// or with expand_previous_response the earlier turns in "input" instead.
void continues_a_responses_conversation(bool expand) {
  const char* rules = R"(
    {"name":"remember","match":{"wire":"openai.responses","any_contains":"My name is Ada","last_message_contains":"my name?"},"response":{"text":"Your name is Ada."}})";
  GatewayFixture gw(expand ? "responses-chain-expand" : "responses-chain", scenario(rules),
                    std::string("[orchestration]\nforced_mode = \"auto\"\n[serve]\nexpand_previous_response = ") +
                        (expand ? "true\n" : "false\n"));
  ASSERT_TRUE(gw.ok());
  auto r1 =
      gw.post("/v1/responses", R"({"model":"gpt-4.1","instructions":"You are terse.","input":"My name is Ada."})");
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 200) << r1->body;
  const std::string episode = r1->get_header_value("X-Atlas-Session");
  auto d1 = json::parse(r1->body);
  ASSERT_TRUE(d1.is_ok());
  const std::string id1 = json::get_string(*d1, "id");
  ASSERT_FALSE(id1.empty()) << r1->body;

  auto r2 = gw.post("/v1/responses", R"({"model":"gpt-4.1","instructions":"You are terse.","input":"What is my name?",)"
                                     R"("previous_response_id":")" +
                                         id1 + "\"}");
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  EXPECT_EQ(r2->get_header_value("X-Atlas-Session"), episode) << "the continuation joins the episode";
  EXPECT_NE(r2->body.find("Your name is Ada."), std::string::npos) << r2->body;
  const std::string forwarded = gw.mock_.requests("openai.responses").back().body;
  if (expand) {
    EXPECT_EQ(forwarded.find("previous_response_id"), std::string::npos) << forwarded;
    EXPECT_NE(forwarded.find("My name is Ada."), std::string::npos) << forwarded;
    EXPECT_NE(forwarded.find("echo: My name is Ada."), std::string::npos) << "the first reply is an input item";
  } else {
    EXPECT_NE(forwarded.find("\"previous_response_id\":\"" + id1 + "\""), std::string::npos) << forwarded;
    EXPECT_EQ(forwarded.find("My name is Ada."), std::string::npos) << "forwarded as sent: " << forwarded;
  }
  auto d2 = json::parse(r2->body);
  ASSERT_TRUE(d2.is_ok());
  auto r3 = gw.post("/v1/responses", R"({"model":"gpt-4.1","input":"Thanks.","stream":true,"previous_response_id":")" +
                                         json::get_string(*d2, "id") + "\"}");
  ASSERT_TRUE(r3);
  ASSERT_EQ(r3->status, 200) << r3->body;
  EXPECT_EQ(r3->get_header_value("X-Atlas-Session"), episode);

  // An id the gateway never relayed is forwarded as sent (the upstream refuses it here) and
  // the call stays in its own episode.
  auto r4 = gw.post("/v1/responses", R"({"model":"gpt-4.1","input":"Again?","previous_response_id":"resp_elsewhere"})");
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->status, 400) << r4->body;
  EXPECT_NE(r4->body.find("resp_elsewhere"), std::string::npos) << r4->body;
  EXPECT_NE(r4->get_header_value("X-Atlas-Session"), episode);

  json::Document end = gw.end(episode, R"({"success":true})");
  const json::Value& report = end["report"];
  ASSERT_TRUE(report["steps"].IsArray()) << json::dump(end);
  EXPECT_EQ(report["steps"].Size(), 3u) << json::dump(report);
  const std::string sid = json::get_string(report, "session_id");
  // The last turn is stored with every earlier one: both user turns and both replies.
  auto traces = gw.query("SELECT trace FROM step_results WHERE session_id = " + sid + " ORDER BY step_id");
  ASSERT_EQ(traces.size(), 3u);
  const std::string& stored = traces[2];
  for (const char* turn :
       {"My name is Ada.", "echo: My name is Ada.", "What is my name?", "Your name is Ada.", "Thanks."})
    EXPECT_NE(stored.find(turn), std::string::npos) << turn << " missing from " << stored;
}

TEST(Gateway, AResponsesConversationContinuedByIdIsOneEpisodeWithEveryTurn) {
  continues_a_responses_conversation(false);
}

TEST(Gateway, ExpandPreviousResponseForwardsTheEarlierTurnsInsteadOfTheId) {
  continues_a_responses_conversation(true);
}

TEST(Gateway, AStreamedResponsesCallIsRelayedAndCaptured) {
  GatewayFixture gw(
      "resp-stream",
      scenario(
          R"({"name":"s","match":{"wire":"openai.responses","last_user_contains":"count"},"response":{"text":"one two three four five six seven","usage":{"prompt_tokens":7,"completion_tokens":5}}})"),
      "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  auto res = gw.post("/v1/responses", R"({"model":"m","stream":true,"input":"count"})",
                     {{"X-Atlas-Session", "resp-stream-1"}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  int deltas = 0;
  for (size_t p = res->body.find("event: response.output_text.delta"); p != std::string::npos;
       p = res->body.find("event: response.output_text.delta", p + 1))
    ++deltas;
  EXPECT_GT(deltas, 1) << res->body;
  EXPECT_NE(res->body.find("event: response.completed"), std::string::npos);
  json::Document end = gw.end("resp-stream-1");
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "final_answer"), "one two three four five six seven");
  std::string sid = json::get_string(report, "session_id");
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%' AND event LIKE '%openai.responses%'");
  ASSERT_EQ(calls.size(), 1u) << "the streamed call is one captured step";
  EXPECT_NE(calls[0].find("\"streamed\":true"), std::string::npos) << calls[0];
  EXPECT_NE(calls[0].find("\"total_tokens\":12"), std::string::npos) << "usage from response.completed: " << calls[0];
}

TEST(Gateway, AnthropicAndGeminiCallsAreEpisodesToo) {
  GatewayFixture gw("wires", scenario(R"({"name":"a","match":{"wire":"anthropic"},"response":{"text":"from claude"}},
                                       {"name":"g","match":{"wire":"gemini"},"response":{"text":"from gemini"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  auto a = gw.post(
      "/v1/messages",
      R"({"model":"claude-x","max_tokens":64,"system":"Be brief.","messages":[{"role":"user","content":"hi claude"}]})",
      {{"X-Atlas-Session", "anth-1"}, {"anthropic-version", "2023-06-01"}});
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 200) << a->body;
  EXPECT_NE(a->body.find("from claude"), std::string::npos);
  auto g = gw.post("/s/gem-1/v1beta/models/gemini-x:generateContent",
                   R"({"contents":[{"role":"user","parts":[{"text":"hi gemini"}]}]})");
  ASSERT_TRUE(g);
  ASSERT_EQ(g->status, 200) << g->body;
  auto gs = gw.post("/s/gem-1/v1beta/models/gemini-x:streamGenerateContent?alt=sse",
                    R"({"contents":[{"role":"user","parts":[{"text":"hi gemini"}]}]})");
  ASSERT_TRUE(gs);
  ASSERT_EQ(gs->status, 200) << gs->body;
  EXPECT_NE(gs->body.find("data:"), std::string::npos);
  EXPECT_EQ(json::get_string(gw.end("anth-1")["report"], "final_answer"), "from claude");
  json::Document ge = gw.end("gem-1");
  EXPECT_EQ(json::get_string(ge["report"], "final_answer"), "from gemini");
  EXPECT_EQ(ge["report"]["steps"].Size(), 2u);
}

TEST(Gateway, BadRequestsGetReasonsAndLeaveTheEpisodeAlone) {
  GatewayFixture gw(
      "bad", scenario(R"({"name":"boom","match":{"last_user_contains":"boom"},"response":{"fault":"server_error"}})"),
      "[orchestration]\nforced_mode = \"auto\"\n[serve]\nmax_request_bytes = 2048\nmax_calls_per_episode = 3\n");
  ASSERT_TRUE(gw.ok());
  httplib::Headers h{{"X-Atlas-Session", "bad-1"}};
  auto not_json = gw.post("/v1/chat/completions", "{nope", h);
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_NE(not_json->body.find("not valid JSON"), std::string::npos) << not_json->body;
  auto too_big = gw.post("/v1/chat/completions", std::string(4096, ' '), h);
  ASSERT_TRUE(too_big);
  EXPECT_EQ(too_big->status, 413);
  auto bad_id = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"x"}]})",
                        {{"X-Atlas-Session", "has space"}});
  ASSERT_TRUE(bad_id);
  EXPECT_EQ(bad_id->status, 400);
  // An upstream error reaches the client as the provider sent it and is recorded as a failed call.
  auto boom = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"boom"}]})", h);
  ASSERT_TRUE(boom);
  EXPECT_EQ(boom->status, 500);
  auto ok = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"fine"}]})", h);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  auto over = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"fine"}]})", h);
  auto over2 = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"fine"}]})", h);
  ASSERT_TRUE(over2);
  EXPECT_EQ(over2->status, 429) << "the fourth call passes max_calls_per_episode = 3";
  auto unknown = gw.client().Get("/v2/whatever");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_NE(unknown->body.find("/v1/chat/completions"), std::string::npos);
  json::Document end = gw.end("bad-1");
  const json::Value& report = end["report"];
  ASSERT_EQ(report["steps"].Size(), 3u);
  EXPECT_EQ(json::get_string(report["steps"][0], "status"), "failed");
  EXPECT_EQ(json::get_string(report, "status"), "succeeded") << "the last call succeeded";
}

// A 200 whose body is not the provider's reply shape reaches the client as it came (the gateway
// relays, it does not judge the wire), and the step records the call as failed, saying why.
TEST(Gateway, AnUnreadableReplyReachesTheClientAsSentAndTheCallIsRecordedAsFailed) {
  GatewayFixture gw("garbled", scenario(R"({"response":{"fault":"malformed_json"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                   {{"X-Atlas-Session", "garbled-1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(json::parse(r->body).is_ok()) << "the client should get the upstream's body unchanged: " << r->body;
  json::Document end = gw.end("garbled-1");
  const json::Value& report = end["report"];
  ASSERT_EQ(report["steps"].Size(), 1u) << json::dump(report);
  EXPECT_EQ(json::get_string(report["steps"][0], "status"), "failed");
  const std::string sid = json::get_string(report, "session_id");
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%'");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_NE(calls[0].find("the upstream's reply could not be read"), std::string::npos) << calls[0];
}

TEST(Gateway, AnUnreachableUpstreamIsA502AndTheCallIsRecorded) {
  GatewayFixture gw("down", scenario(R"({"response":{"text":"x"}})"), "[orchestration]\nforced_mode = \"auto\"\n",
                    /*with_upstream=*/false);
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                   {{"X-Atlas-Session", "down-1"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find("could not be reached"), std::string::npos) << r->body;
  json::Document end = gw.end("down-1");
  EXPECT_EQ(json::get_string(end["report"], "status"), "failed");
  EXPECT_NE(json::get_string(end["report"], "error").find("last model call failed"), std::string::npos);
}

TEST(Gateway, ClientKeysAreRequiredWhenConfigured) {
  ::setenv("ATLAS_TEST_GATEWAY_KEYS", "key-one, key-two", 1);
  GatewayFixture gw(
      "keys", scenario(R"({"response":{"text":"ok"}})"),
      "[orchestration]\nforced_mode = \"auto\"\n[serve]\nclient_keys_env = \"ATLAS_TEST_GATEWAY_KEYS\"\n");
  ASSERT_TRUE(gw.ok());
  std::string body = R"({"model":"m","messages":[{"role":"user","content":"hi"}]})";
  auto none = gw.post("/v1/chat/completions", body);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  auto wrong = gw.post("/v1/chat/completions", body, {{"Authorization", "Bearer key-three"}});
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto right = gw.post("/v1/chat/completions", body, {{"Authorization", "Bearer key-two"}});
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 200);
  auto anthropic =
      gw.post("/v1/messages", R"({"model":"c","max_tokens":5,"messages":[{"role":"user","content":"hi"}]})",
              {{"x-api-key", "key-one"}});
  ASSERT_TRUE(anthropic);
  EXPECT_EQ(anthropic->status, 200);
  // The key never reaches the upstream.
  for (const auto& q : gw.mock_.requests()) {
    for (const auto& [name, value] : q.headers) EXPECT_EQ(value.find("key-"), std::string::npos) << name;
  }
  ::unsetenv("ATLAS_TEST_GATEWAY_KEYS");
}

TEST(Gateway, PairedLaneRetriesWithTheTeachersGuidanceBeforeTheClientSeesTheReply) {
  GatewayFixture gw("paired", scenario(R"(
      {"name":"teacher-rejects","match":{"system_contains":"You are the teacher","last_user_contains":"draft answer"},"response":{"json":{"valid":false,"guidance":"Name the city."}}},
      {"name":"teacher-accepts","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
      {"name":"better","match":{"last_user_contains":"Name the city."},"response":{"text":"Paris is sunny."}},
      {"name":"draft","match":{"last_user_contains":"weather"},"response":{"text":"draft answer"}})"),
                    "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 2\n");
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"weather please"}]})",
                   {{"X-Atlas-Session", "paired-1"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("Paris is sunny."), std::string::npos) << "the client gets the accepted retry";
  EXPECT_EQ(r->body.find("draft answer"), std::string::npos);
  json::Document end = gw.end("paired-1");
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "lane"), "paired");
  ASSERT_EQ(report["steps"].Size(), 1u);
  EXPECT_EQ(json::get_int(report["steps"][0], "attempts"), 2);
  EXPECT_EQ(json::get_string(report["steps"][0], "status"), "passed");
  std::string sid = json::get_string(report, "session_id");
  auto attempts = gw.query("SELECT evaluation FROM step_attempts WHERE session_id = " + sid + " ORDER BY attempt");
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_NE(attempts[0].find("Name the city."), std::string::npos) << attempts[0];
}

TEST(Gateway, APairedStreamedCallCapturesTheTokensOfTheReplyTheClientGotAndShowsItNoneItDidNotAskFor) {
  GatewayFixture gw(
      "paired-tokens", scenario(R"(
      {"name":"teacher-rejects","match":{"system_contains":"You are the teacher","last_user_contains":"draft answer"},"response":{"json":{"valid":false,"guidance":"Name the city."}}},
      {"name":"teacher-accepts","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
      {"name":"better","match":{"last_user_contains":"Name the city."},"response":{"text":"Paris is sunny."}},
      {"name":"draft","match":{"last_user_contains":"weather"},"response":{"text":"draft answer"}})"),
      "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 2\n[serve.openai]\nprovider = \"openai\"\n"
      "api_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\ncapture_tokens = true\napi_base = \"" +
          std::string(kMockOpenAIBase) + "\"\n");
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/chat/completions",
                   R"({"model":"m","stream":true,"messages":[{"role":"user","content":"weather please"}]})",
                   {{"X-Atlas-Session", "paired-tokens-1"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("Paris"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("data: [DONE]"), std::string::npos) << "the buffered stream is whole";
  EXPECT_EQ(r->body.find("token_ids"), std::string::npos) << "no field the client did not ask for: " << r->body;
  EXPECT_EQ(r->body.find("\"logprob\""), std::string::npos) << r->body;
  json::Document end = gw.end("paired-tokens-1");
  std::string sid = json::get_string(end["report"], "session_id");
  auto tokens =
      gw.query("SELECT json_extract(event, '$.data.tokens') FROM trajectory_events WHERE session_id = " + sid +
               " AND json_extract(event, '$.type') = 'llm_call' AND json_extract(event, '$.role') = "
               "'student'");
  ASSERT_EQ(tokens.size(), 1u);
  auto capture = json::parse(tokens[0]);
  ASSERT_TRUE(capture.is_ok()) << tokens[0];
  EXPECT_EQ(json::get_string(*capture, "capture"), "token_exact") << tokens[0];
  // The ids of the reply the client got ("Paris is sunny.", one id per byte), and the request of
  // that attempt: the rejected draft and the guidance are in its conversation.
  std::vector<int64_t> completion;
  for (const auto& id : (*capture)["completion_ids"].GetArray()) completion.push_back(id.GetInt64());
  const std::string reply = "Paris is sunny.";
  EXPECT_EQ(completion, std::vector<int64_t>(reply.begin(), reply.end()));
  EXPECT_EQ((*capture)["logprobs"].Size(), reply.size());
  const std::string request = json::dump((*capture)["request"]);
  EXPECT_NE(request.find("draft answer"), std::string::npos) << request;
  EXPECT_NE(request.find("Name the city."), std::string::npos) << request;
}

TEST(Gateway, PairedLaneRetriesAResponsesCallWithTheRejectedReplyAndGuidanceInItsInput) {
  GatewayFixture gw("paired-resp", scenario(R"(
      {"name":"teacher-rejects","match":{"system_contains":"You are the teacher","last_user_contains":"draft answer"},"response":{"json":{"valid":false,"guidance":"Name the city."}}},
      {"name":"teacher-accepts","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
      {"name":"better","match":{"wire":"openai.responses","last_user_contains":"Name the city."},"response":{"text":"Paris is sunny."}},
      {"name":"draft","match":{"wire":"openai.responses","last_user_contains":"weather"},"response":{"text":"draft answer"}})"),
                    "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 2\n");
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/responses", R"({"model":"m","input":"weather please"})", {{"X-Atlas-Session", "paired-r1"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("Paris is sunny."), std::string::npos) << "the client gets the accepted retry";
  auto upstream = gw.mock_.requests("openai.responses");
  ASSERT_EQ(upstream.size(), 2u);
  auto retry = json::parse(upstream[1].body);
  ASSERT_TRUE(retry.is_ok());
  const json::Value& input = (*retry)["input"];
  ASSERT_TRUE(input.IsArray()) << upstream[1].body;
  ASSERT_EQ(input.Size(), 3u) << upstream[1].body;
  EXPECT_EQ(json::get_string(input[1], "role"), "assistant");
  EXPECT_EQ(json::get_string(input[1], "content"), "draft answer");
  json::Document end = gw.end("paired-r1");
  ASSERT_EQ(end["report"]["steps"].Size(), 1u);
  EXPECT_EQ(json::get_int(end["report"]["steps"][0], "attempts"), 2);
}

TEST(Gateway, ThePlaybookLearnedFromOneEpisodeIsInjectedIntoTheNext) {
  GatewayFixture gw(
      "learn",
      scenario(
          R"({"name":"s","match":{"system_contains":"You help.","last_user_contains":"weather"},"response":{"text":"sunny"}})"),
      "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n");
  ASSERT_TRUE(gw.ok());
  std::string body =
      R"({"model":"m","messages":[{"role":"system","content":"You help."},{"role":"user","content":"weather in Paris"}]})";
  ASSERT_EQ(gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", "learn-1"}})->status, 200);
  json::Document first = gw.end("learn-1");
  ASSERT_EQ(json::get_string(first["report"], "status"), "succeeded");
  gw.rt_->wait_for_background();  // the first episode's playbook is written
  ASSERT_EQ(gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", "learn-2"}})->status, 200);
  bool injected = false;
  for (const auto& q : gw.mock_.requests("openai.chat"))
    if (q.body.find("weather in Paris") != std::string::npos &&
        q.body.find("Always name the city.") != std::string::npos && q.body.find("You help.") != std::string::npos)
      injected = true;
  EXPECT_TRUE(injected) << "the second episode's upstream call carries the playbook in its system prompt";
  json::Document second = gw.end("learn-2");
  EXPECT_EQ(json::get_int(second["report"], "applied_playbook_version"), 1);
  // The stored call records the exact injected text and the system prompt the upstream received,
  // so an export can replay it or strip exactly the playbook.
  std::string sid = json::get_string(second["report"], "session_id");
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%' AND event LIKE '%system_injected%'");
  ASSERT_EQ(calls.size(), 1u);
  auto event = json::parse(calls[0]).value();
  const json::Value& data = event["data"];
  const std::string injected_text = json::get_string(data, "system_injected");
  EXPECT_EQ(injected_text.rfind(">>> Student Playbook >>>", 0), 0u) << injected_text;
  EXPECT_EQ(json::get_string(data, "system_prompt"), injected_text + "\n\nYou help.");
  std::string upstream_system;
  for (const auto& q : gw.mock_.requests("openai.chat"))
    if (q.body.find("weather in Paris") != std::string::npos &&
        q.body.find(injected_text.substr(0, 24)) != std::string::npos)
      upstream_system = json::get_string(json::parse(q.body).value()["messages"][0], "content");
  EXPECT_EQ(json::get_string(data, "system_prompt"), upstream_system) << "what is stored is what the model saw";
}

// A second connection to the fixture's SQLite database, standing for another writer.
class OtherConnection {
 public:
  explicit OtherConnection(const fs::path& db) {
    EXPECT_EQ(sqlite3_open(db.c_str(), &db_), SQLITE_OK);
    sqlite3_busy_timeout(db_, 30000);  // the gateway may be writing (its start, a checkpoint) when it begins
  }
  ~OtherConnection() { sqlite3_close(db_); }
  OtherConnection(const OtherConnection&) = delete;
  OtherConnection& operator=(const OtherConnection&) = delete;
  void exec(const char* sql) {
    EXPECT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(db_);
  }

 private:
  sqlite3* db_ = nullptr;
};

// Sends `body` as the first call of episode `id` while `other` holds the database's write lock,
// released once the reply came or after 20 s. First: whether the reply came under the lock.
std::pair<bool, httplib::Result> first_call_under_write_lock(const GatewayFixture& gw, OtherConnection& other,
                                                             const std::string& id, const std::string& body) {
  other.exec("BEGIN IMMEDIATE");
  auto call = std::async(std::launch::async, [&] {
    return gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", id}});
  });
  const bool under_lock = call.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  other.exec("COMMIT");
  return {under_lock, call.get()};
}

// The first call of an episode (of a learning key the gateway has not seen) must not wait for the
// database's write lock: only a read tells it the playbook; the session row is written off the
// request path. Another writer holds the lock for the whole call here.
TEST(Gateway, TheFirstCallOfAnEpisodeDoesNotWaitForTheDatabaseWriteLock) {
  GatewayFixture gw("writelock", scenario(R"({"response":{"text":"ok"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n"
                    "[plugins.soci]\nbusy_timeout_seconds = 120\n");
  ASSERT_TRUE(gw.ok());
  OtherConnection other(gw.dir_ / "atlas.db");
  auto [under_lock, r] = first_call_under_write_lock(
      gw, other, "writelock-1", R"({"model":"m","messages":[{"role":"user","content":"a task nobody asked before"}]})");
  EXPECT_TRUE(under_lock) << "the call waited for the database's write lock";
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  json::Document end = gw.end("writelock-1");
  ASSERT_EQ(json::get_string(end["report"], "status"), "succeeded") << json::dump(end);
  EXPECT_EQ(end["report"]["steps"].Size(), 1u) << "the call is recorded once the lock is released";
}

// When storage cannot tell the first call its key's playbook (the read fails), the episode still
// opens off the request path, without a playbook, rather than falling back to opening on it.
TEST(Gateway, AFailedPlaybookReadStillOpensTheEpisodeOffTheRequestPath) {
  GatewayFixture gw("readfail", scenario(R"({"response":{"text":"ok"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n"
                    "[learning]\nupdate_enabled = false\n[plugins.soci]\nbusy_timeout_seconds = 120\n");
  ASSERT_TRUE(gw.ok());
  OtherConnection other(gw.dir_ / "atlas.db");
  other.exec("ALTER TABLE learning_registry RENAME TO learning_registry_away");  // learning_get fails
  auto [under_lock, r] = first_call_under_write_lock(
      gw, other, "readfail-1", R"({"model":"m","messages":[{"role":"user","content":"unread key"}]})");
  EXPECT_TRUE(under_lock) << "the call opened its episode on the request path";
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  other.exec("ALTER TABLE learning_registry_away RENAME TO learning_registry");
  json::Document end = gw.end("readfail-1");
  ASSERT_EQ(json::get_string(end["report"], "status"), "succeeded") << json::dump(end);
  EXPECT_EQ(end["report"]["steps"].Size(), 1u);
  EXPECT_EQ(json::get_int(end["report"], "applied_playbook_version"), 0);
}

// Episodes open with the learning state the gateway last read for their key, so a playbook another
// process writes is picked up by a re-read off the request path once that state is stale (here at
// once: a cache of 0 s): the episode that re-reads still runs (and records) the state it opened
// with; the next one gets the new playbook.
TEST(Gateway, APlaybookWrittenElsewhereReachesTheEpisodesOpenedAfterTheCachedStateWentStale) {
  GatewayFixture gw("stale",
                    scenario(R"({"name":"s","match":{"system_contains":"You help."},"response":{"text":"sunny"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n"
                    "[learning]\nupdate_enabled = false\n",
                    true, /*learning_cache_seconds=*/0);
  ASSERT_TRUE(gw.ok());
  const std::string body =
      R"({"model":"m","messages":[{"role":"system","content":"You help."},{"role":"user","content":"weather in Oslo"}]})";
  auto call = [&](const std::string& id) {
    auto r = gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", id}, {"X-Atlas-Learning-Key", "weather"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  };
  // The n-th call the client made, as the upstream received it (the judges' calls use another model).
  auto carries_playbook = [&](size_t client_call) {
    std::vector<std::string> relayed;
    for (const auto& q : gw.mock_.requests("openai.chat"))
      if (q.body.find(R"("model":"m")") != std::string::npos) relayed.push_back(q.body);
    EXPECT_GT(relayed.size(), client_call);
    return relayed.size() > client_call && relayed[client_call].find("Always name the city.") != std::string::npos;
  };
  call("stale-1");
  EXPECT_FALSE(carries_playbook(0));
  json::Document first = gw.end("stale-1");
  EXPECT_EQ(json::get_int(first["report"], "applied_playbook_version"), 0) << json::dump(first);

  ASSERT_TRUE(gw.rt_->store()->learning_put("weather", "Always name the city.", "", "{}", 0).is_ok());
  call("stale-2");
  EXPECT_FALSE(carries_playbook(1)) << "opened with the state read before the write (and re-read it)";
  json::Document second = gw.end("stale-2");
  EXPECT_EQ(json::get_int(second["report"], "applied_playbook_version"), 0) << "what it recorded is what it sent";

  call("stale-3");
  EXPECT_TRUE(carries_playbook(2)) << "the re-read state reaches the next episode";
  json::Document third = gw.end("stale-3");
  EXPECT_EQ(json::get_int(third["report"], "applied_playbook_version"), 1) << json::dump(third);
}

TEST(Gateway, IdleEpisodesEndOnTheirOwn) {
  GatewayFixture gw("idle", scenario(R"({"response":{"text":"ok"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n[serve]\nidle_timeout_seconds = 0.2\n");
  ASSERT_TRUE(gw.ok());
  ASSERT_EQ(gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                    {{"X-Atlas-Session", "idle-1"}})
                ->status,
            200);
  // Waits for the state change itself, up to a deadline (the end is judged and stored by
  // low-priority workers, slow on a busy machine), not for a fixed time.
  std::string state;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && state.find("\"state\":\"ended\"") == std::string::npos) {
    auto r = gw.client().Get("/atlas/v1/sessions/idle-1");
    ASSERT_TRUE(r);
    state = r->body;
    if (state.find("\"state\":\"ended\"") == std::string::npos) std::this_thread::yield();
  }
  ASSERT_NE(state.find("\"state\":\"ended\""), std::string::npos) << state;
  auto meta = gw.query("SELECT metadata FROM sessions");
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_NE(meta[0].find("\"ended_by\":\"idle_timeout\""), std::string::npos) << meta[0];
}

TEST(Gateway, DrainStoresOpenEpisodesAsInterrupted) {
  GatewayFixture gw("drain", scenario(R"({"response":{"text":"ok"}})"), "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  for (const char* id : {"d-1", "d-2"})
    ASSERT_EQ(gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})",
                      {{"X-Atlas-Session", id}})
                  ->status,
              200);
  EXPECT_TRUE(gw.gateway_->drain(std::chrono::steady_clock::now() + std::chrono::seconds(60)));
  auto refused = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"hi"}]})");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(gw.query("SELECT status FROM sessions ORDER BY id"),
            (std::vector<std::string>{"interrupted", "interrupted"}));
}

TEST(Gateway, CallsPastTheEpisodesModelCallLimitAreRefusedAndTheLimitIsRecorded) {
  GatewayFixture gw("limit-calls",
                    scenario(R"({"name":"a","match":{"last_user_contains":"say hi"},"response":{"text":"hello"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n[limits]\nmax_model_calls_per_session = 2\n");
  ASSERT_TRUE(gw.ok());
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"say hi please"}]})";
  httplib::Headers h{{"X-Atlas-Session", "lim-1"}};
  ASSERT_EQ(gw.post("/v1/chat/completions", body, h)->status, 200);
  ASSERT_EQ(gw.post("/v1/chat/completions", body, h)->status, 200);
  auto refused = gw.post("/v1/chat/completions", body, h);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  // The OpenAI error shape, with a message that says which limit and what to do.
  auto err = json::parse(refused->body);
  ASSERT_TRUE(err.is_ok()) << refused->body;
  const std::string message = json::get_string((*err)["error"], "message");
  EXPECT_NE(message.find("max_model_calls_per_session = 2"), std::string::npos) << message;
  EXPECT_NE(message.find("/atlas/v1/sessions/lim-1/end"), std::string::npos) << message;
  EXPECT_EQ(json::get_string((*err)["error"], "type"), "invalid_request_error");
  int forwarded = 0;
  for (const auto& q : gw.mock_.requests("openai.chat"))
    if (q.body.find("say hi please") != std::string::npos) ++forwarded;
  EXPECT_EQ(forwarded, 2) << "the refused call never reached the upstream";

  json::Document end = gw.end("lim-1");
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "status"), "failed") << json::dump(report);
  EXPECT_NE(json::get_string(report, "error").find("max_model_calls_per_session"), std::string::npos)
      << json::dump(report);
  EXPECT_EQ(report["steps"].Size(), 2u);
  std::string sid = json::get_string(report, "session_id");
  auto limit_events = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                               " AND event LIKE '%\"limit\"%' AND event LIKE '%max_model_calls_per_session%'");
  EXPECT_EQ(limit_events.size(), 1u) << "the limit is recorded once";
}

TEST(Gateway, CallsPastTheEpisodesTokenLimitAreRefusedInTheAnthropicShape) {
  GatewayFixture gw(
      "limit-tokens",
      scenario(
          R"({"name":"a","match":{"wire":"anthropic"},"response":{"text":"from claude","usage":{"prompt_tokens":20,"completion_tokens":7}}})"),
      "[orchestration]\nforced_mode = \"auto\"\n[limits]\nmax_tokens_per_session = 30\n");
  ASSERT_TRUE(gw.ok());
  const std::string body = R"({"model":"claude-x","max_tokens":64,"messages":[{"role":"user","content":"hi claude"}]})";
  httplib::Headers h{{"X-Atlas-Session", "lim-2"}, {"anthropic-version", "2023-06-01"}};
  ASSERT_EQ(gw.post("/v1/messages", body, h)->status, 200);  // 27 tokens
  ASSERT_EQ(gw.post("/v1/messages", body, h)->status, 200);  // 54: over
  auto refused = gw.post("/v1/messages", body, h);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 400) << refused->body;
  auto err = json::parse(refused->body);
  ASSERT_TRUE(err.is_ok()) << refused->body;
  EXPECT_EQ(json::get_string(*err, "type"), "error") << refused->body;
  EXPECT_EQ(json::get_string((*err)["error"], "type"), "invalid_request_error");
  EXPECT_NE(json::get_string((*err)["error"], "message").find("max_tokens_per_session = 30"), std::string::npos)
      << refused->body;
  json::Document end = gw.end("lim-2");
  EXPECT_NE(json::get_string(end["report"], "error").find("tokens"), std::string::npos) << json::dump(end["report"]);
}

TEST(Gateway, CoachLaneGivesTheTeachersGuidanceBeforeEveryCallAndStoresIt) {
  GatewayFixture gw("coach", scenario(R"(
      {"name":"before","match":{"system_contains":"about to make its next model call"},"response":{"json":{"guidance":"Answer with the city name first."}}},
      {"name":"teacher-accepts","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
      {"name":"guided","match":{"last_user_contains":"Answer with the city name first."},"response":{"text":"Paris: sunny."}},
      {"name":"unguided","match":{"last_user_contains":"weather"},"response":{"text":"no guidance seen"}})"),
                    "[orchestration]\nforced_mode = \"coach\"\n");
  ASSERT_TRUE(gw.ok());
  auto r = gw.post("/v1/chat/completions", R"({"model":"m","messages":[{"role":"user","content":"weather please"}]})",
                   {{"X-Atlas-Session", "coach-1"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_NE(r->body.find("Paris: sunny."), std::string::npos) << r->body;
  // The upstream saw the guidance as a user turn after the client's conversation.
  bool seen = false;
  for (const auto& q : gw.mock_.requests("openai.chat")) {
    auto d = json::parse(q.body);
    if (!d || !d->IsObject() || !json::find(*d, "messages")) continue;
    const json::Value& msgs = (*d)["messages"];
    if (msgs.Size() == 2 && json::get_string(msgs[0], "content") == "weather please" &&
        json::get_string(msgs[1], "role") == "user" &&
        json::get_string(msgs[1], "content").find("Answer with the city name first.") != std::string::npos)
      seen = true;
  }
  EXPECT_TRUE(seen) << "the student call carries the teacher's guidance";
  json::Document end = gw.end("coach-1");
  const json::Value& report = end["report"];
  EXPECT_EQ(json::get_string(report, "lane"), "coach");
  std::string sid = json::get_string(report, "session_id");
  auto guidance = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                           " AND event LIKE '%\"type\":\"guidance\"%' AND event LIKE '%before_call%'");
  ASSERT_EQ(guidance.size(), 1u);
  EXPECT_NE(guidance[0].find("Answer with the city name first."), std::string::npos) << guidance[0];
  auto calls = gw.query("SELECT event FROM trajectory_events WHERE session_id = " + sid +
                        " AND event LIKE '%\"type\":\"llm_call\"%' AND event LIKE '%guidance_before_call%'");
  EXPECT_EQ(calls.size(), 1u) << "the stored call says what guidance the student got";
}

TEST(Gateway, AnAutoLaneEpisodeOpensOffTheRequestPathAndIsStoredWhole) {
  GatewayFixture gw("async-open", scenario(R"({"response":{"text":"ok"}})"),
                    "[orchestration]\nforced_mode = \"auto\"\n");
  ASSERT_TRUE(gw.ok());
  const std::string body = R"({"model":"m","messages":[{"role":"user","content":"same task"}]})";
  // The first episode of a learning key reads its learning state (a read, no session row yet);
  // the next ones use what it read. Neither waits for its session row: the reply does not carry
  // X-Atlas-Session-Id unless a storage worker happened to open the episode before it went out
  // (not asserted: a timing; TheFirstCallOfAnEpisodeDoesNotWaitForTheDatabaseWriteLock shows the
  // call does not wait, with the write lock held by another connection).
  auto first = gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", "a-1"}});
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 200);
  for (int i = 0; i < 3; ++i) {
    auto r = gw.post("/v1/chat/completions", body, {{"X-Atlas-Session", "a-2"}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  json::Document e1 = gw.end("a-1");
  json::Document e2 = gw.end("a-2");
  EXPECT_EQ(e2["report"]["steps"].Size(), 3u) << "every call recorded, in order, after the episode opened";
  EXPECT_EQ(json::get_string(e2["report"], "lane"), "auto");
  EXPECT_EQ(gw.query("SELECT count(*) FROM sessions"), (std::vector<std::string>{"2"}));
}

}  // namespace
}  // namespace atlas::serve
