// http adapter against a real HTTP server on loopback (cpp-httplib).
#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "adapter_fixture.hpp"

namespace atlas::testing {
namespace {

// An agent service on 127.0.0.1:<random port>, stopped in the destructor.
class AgentService {
 public:
  explicit AgentService(std::function<void(const httplib::Request&, httplib::Response&)> handler) {
    server_.Post("/agent", [this, handler](const httplib::Request& req, httplib::Response& res) {
      {
        std::lock_guard lock(mu_);
        bodies_.push_back(req.body);
        headers_.push_back(req.get_header_value("Authorization"));
      }
      ++hits_;
      handler(req, res);
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // The socket already listens (connections queue); wait until the accept loop runs so that
    // stop() in the destructor cannot race its start.
    while (!server_.is_running()) std::this_thread::yield();
  }
  ~AgentService() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/agent"; }
  int hits() const { return hits_; }
  std::string body(size_t i) {
    std::lock_guard lock(mu_);
    return bodies_.at(i);
  }
  std::string auth(size_t i) {
    std::lock_guard lock(mu_);
    return headers_.at(i);
  }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  std::atomic<int> hits_{0};
  std::mutex mu_;
  std::vector<std::string> bodies_, headers_;
};

constexpr const char* kRequest = R"({"role": "executor", "task": "add 2 and 3", "step_id": "7",
  "messages": [{"role": "user", "content": "add 2 and 3"}], "tools": []})";

TEST(HttpAdapter, FillsThePayloadTemplateAndReadsTheResultPath) {
  AgentService svc([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"data": {"answers": [{"text": "5"}]}})", "application/json");
  });
  setenv("ATLAS_TEST_AGENT_TOKEN", "tok-123456789", 1);
  std::string config = R"({"url": ")" + svc.url() + R"(",
      "headers": {"Authorization": "Bearer ${ATLAS_TEST_AGENT_TOKEN}"},
      "payload_template": {"input": {"question": "{{task}}", "history": "{{messages}}", "who": "{{role}}",
                                     "note": "step {{step_id}} of {{task}}"}},
      "result_path": ["data", "answers", 0, "text"]})";
  auto adapter = load_adapter("http", config, std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(json::get_string(parse_or_fail(reply.value()), "content"), "5");

  auto sent = parse_or_fail(svc.body(0));
  const auto& input = sent["input"];
  EXPECT_EQ(json::get_string(input, "question"), "add 2 and 3");
  ASSERT_TRUE(input["history"].IsArray()) << svc.body(0);  // a JSON value, not a string
  EXPECT_EQ(json::get_string(input["history"][0], "content"), "add 2 and 3");
  EXPECT_EQ(json::get_string(input, "who"), "executor");
  EXPECT_EQ(json::get_string(input, "note"), "step 7 of add 2 and 3");
  EXPECT_EQ(svc.auth(0), "Bearer tok-123456789");
}

TEST(HttpAdapter, ObjectResultsCarryToolCalls) {
  AgentService svc([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"output": {"content": null, "tool_calls": [{"id": "a", "name": "calc",
        "arguments": "{\"x\": 1}"}], "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}}})",
                    "application/json");
  });
  auto adapter = load_adapter("http", R"({"url": ")" + svc.url() + R"("})", std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  auto got = parse_or_fail(reply.value());
  EXPECT_EQ(json::get_string(got, "content"), "");
  ASSERT_EQ(got["tool_calls"].Size(), 1u);
  EXPECT_EQ(json::get_int(got["tool_calls"][0]["arguments"], "x"), 1);
  EXPECT_EQ(json::get_int(got["usage"], "total_tokens"), 3);
  // Without a template the adapter request itself is the body.
  EXPECT_EQ(json::get_string(parse_or_fail(svc.body(0)), "task"), "add 2 and 3");
}

TEST(HttpAdapter, RetriesServerErrorsThenSucceeds) {
  std::atomic<int> calls{0};
  AgentService svc([&](const httplib::Request&, httplib::Response& res) {
    int n = ++calls;
    if (n == 1) {
      res.status = 503;
      res.set_content("warming up", "text/plain");
    } else if (n == 2) {
      res.status = 429;
      res.set_header("Retry-After", "0");
      res.set_content("slow down", "text/plain");
    } else {
      res.set_content(R"({"output": "third time lucky"})", "application/json");
    }
  });
  auto adapter = load_adapter(
      "http", R"({"url": ")" + svc.url() + R"(", "retry": {"attempts": 3, "backoff_seconds": 0.01}})",
      std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  EXPECT_EQ(json::get_string(parse_or_fail(reply.value()), "content"), "third time lucky");
  EXPECT_EQ(svc.hits(), 3);
}

TEST(HttpAdapter, ClientErrorsAreNotRetriedAndNameUrlStatusAndBody) {
  AgentService svc([](const httplib::Request&, httplib::Response& res) {
    res.status = 422;
    res.set_content(R"({"detail": "field 'question' is required"})", "application/json");
  });
  auto adapter = load_adapter(
      "http", R"({"url": ")" + svc.url() + R"(", "retry": {"attempts": 5, "backoff_seconds": 0.01}})",
      std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_FALSE(reply.is_ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kInvalidArgument);
  const std::string& msg = reply.status().message();
  EXPECT_NE(msg.find(svc.url()), std::string::npos) << msg;
  EXPECT_NE(msg.find("HTTP 422"), std::string::npos) << msg;
  EXPECT_NE(msg.find("field 'question' is required"), std::string::npos) << msg;
  EXPECT_EQ(svc.hits(), 1);
}

TEST(HttpAdapter, PersistentServerErrorIsUnavailableAfterAllAttempts) {
  AgentService svc([](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
    res.set_content("boom", "text/plain");
  });
  auto adapter = load_adapter(
      "http", R"({"url": ")" + svc.url() + R"(", "retry": {"attempts": 2, "backoff_seconds": 0.01}})",
      std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok());
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_FALSE(reply.is_ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(reply.status().message().find("after 2 attempts"), std::string::npos) << reply.status().message();
  EXPECT_EQ(svc.hits(), 2);
}

TEST(HttpAdapter, WrongResultPathSaysWhereItStopped) {
  AgentService svc([](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"result": {"answer": "5"}})", "application/json");
  });
  auto adapter = load_adapter("http", R"({"url": ")" + svc.url() + R"(", "result_path": ["result", "text"]})",
                              std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok());
  auto reply = adapter->invoke({}, kRequest);
  ASSERT_FALSE(reply.is_ok());
  EXPECT_NE(reply.status().message().find("no key 'text' at '.result.text'"), std::string::npos)
      << reply.status().message();
}

TEST(HttpAdapter, TimeoutAndRefusedConnectionAreReported) {
  std::mutex gate;
  gate.lock();  // the handler blocks until the test is done with it
  AgentService slow([&](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(gate);
    res.set_content(R"({"output": "late"})", "application/json");
  });
  auto adapter = load_adapter("http", R"({"url": ")" + slow.url() + R"(", "timeout_seconds": 0.3,
      "retry": {"attempts": 1}})", std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok());
  auto reply = adapter->invoke({}, kRequest);
  gate.unlock();
  ASSERT_FALSE(reply.is_ok());
  EXPECT_EQ(reply.status().code(), StatusCode::kDeadlineExceeded) << reply.status().to_string();

  // Port 1 on loopback: nothing listens there.
  auto refused = load_adapter("http", R"({"url": "http://127.0.0.1:1/agent", "retry": {"attempts": 2,
      "backoff_seconds": 0.01}})", std::make_shared<RecordingServices>());
  ASSERT_TRUE(refused.is_ok());
  auto r2 = refused->invoke({}, kRequest);
  ASSERT_FALSE(r2.is_ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r2.status().message().find("127.0.0.1:1"), std::string::npos) << r2.status().message();
}

TEST(HttpAdapter, MissingHeaderVariableFailsAtCreate) {
  unsetenv("ATLAS_TEST_SURELY_UNSET_VAR");
  auto adapter = load_adapter("http", R"({"url": "http://127.0.0.1:1/x",
      "headers": {"X-Key": "${ATLAS_TEST_SURELY_UNSET_VAR}"}})", std::make_shared<RecordingServices>());
  ASSERT_FALSE(adapter.is_ok());
  EXPECT_NE(adapter.status().message().find("ATLAS_TEST_SURELY_UNSET_VAR"), std::string::npos)
      << adapter.status().message();
}

}  // namespace
}  // namespace atlas::testing
