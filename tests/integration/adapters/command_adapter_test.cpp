// command adapter with real python3 child processes.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "adapter_fixture.hpp"

namespace atlas::testing {
namespace {

const std::string kAgent = std::string(ATLAS_TEST_SOURCE_DIR) + "/tests/integration/adapters/agents/scripted_agent.py";
const std::string kEcho = std::string(ATLAS_TEST_SOURCE_DIR) + "/plugins/adapters/command/examples/echo_agent.py";

bool have_python() { return std::system("python3 -c 'pass' >/dev/null 2>&1") == 0; }

std::string config_for(const std::string& script, double timeout = 20.0, bool restart = true) {
  return R"({"command": ["python3", ")" + script + R"("], "timeout_seconds": )" + std::to_string(timeout) +
         R"(, "restart_on_failure": )" + (restart ? "true" : "false") + R"(, "kill_grace_seconds": 0.5})";
}

std::string task_request(const std::string& task) {
  return R"({"role": "executor", "task": ")" + task + R"(", "step_id": "1", "messages": [{"role": "user",
      "content": ")" + task + R"("}]})";
}

int pid_of(const std::string& content) {
  std::smatch m;
  std::regex re("pid=(\\d+)");
  return std::regex_search(content, m, re) ? std::stoi(m[1]) : -1;
}

class CommandAdapterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_python()) GTEST_SKIP() << "python3 is not installed; the command adapter tests need it";
  }
};

TEST_F(CommandAdapterTest, ExampleEchoAgentAnswersAndItsStderrLandsInTheTrace) {
  auto adapter = load_adapter("command", config_for(kEcho), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto reply = adapter->invoke({}, task_request("hello there"));
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  auto got = parse_or_fail(reply.value());
  EXPECT_EQ(json::get_string(got, "content"), "echo: hello there");
  EXPECT_EQ(json::get_int(got["usage"], "total_tokens"), 4);
  EXPECT_NE(json::get_string(got, "trace").find("echo_agent: role=executor step=1"), std::string::npos)
      << json::get_string(got, "trace");
}

TEST_F(CommandAdapterTest, OneChildServesManyCallsAndShellStringsWork) {
  auto adapter = load_adapter("command", R"({"command": "exec python3 )" + kAgent + R"("})",
                              std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto r1 = adapter->invoke({}, task_request("one"));
  auto r2 = adapter->invoke({}, task_request("tool"));
  ASSERT_TRUE(r1.is_ok() && r2.is_ok()) << r1.status().to_string() << r2.status().to_string();
  auto g1 = parse_or_fail(r1.value()), g2 = parse_or_fail(r2.value());
  EXPECT_EQ(pid_of(json::get_string(g1, "content")), pid_of(json::get_string(g2, "content")));
  EXPECT_NE(json::get_string(g2, "content").find("calls=2"), std::string::npos);
  ASSERT_EQ(g2["tool_calls"].Size(), 1u);
  EXPECT_EQ(json::get_string(g2["tool_calls"][0]["arguments"], "q"), "x");
  // The agent's own trace comes first, then its stderr of this call only.
  std::string trace = json::get_string(g2, "trace");
  EXPECT_EQ(trace.rfind("agent-side trace", 0), 0u) << trace;
  EXPECT_NE(trace.find("got task 'tool'"), std::string::npos) << trace;
  EXPECT_EQ(trace.find("got task 'one'"), std::string::npos) << trace;
}

TEST_F(CommandAdapterTest, HungChildIsKilledOnTimeoutAndRestartedForTheNextCall) {
  // 3 s: generous enough for python3 to start on a loaded CI machine (the timeout covers the
  // agent's start-up on its first call).
  auto adapter = load_adapter("command", config_for(kAgent, 3.0), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto first = adapter->invoke({}, task_request("before"));
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  int old_pid = pid_of(json::get_string(parse_or_fail(first.value()), "content"));
  ASSERT_GT(old_pid, 0);

  auto t0 = std::chrono::steady_clock::now();
  auto hung = adapter->invoke({}, task_request("hang"));
  double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_FALSE(hung.is_ok());
  EXPECT_EQ(hung.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(hung.status().message().find("did not answer within 3000 ms"), std::string::npos)
      << hung.status().message();
  EXPECT_NE(hung.status().message().find("got task 'hang'"), std::string::npos) << hung.status().message();
  EXPECT_LT(took, 10.0);
  // The old child is gone (reaped: kill(pid, 0) fails).
  EXPECT_NE(kill(old_pid, 0), 0);

  auto after = adapter->invoke({}, task_request("after"));
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  int new_pid = pid_of(json::get_string(parse_or_fail(after.value()), "content"));
  EXPECT_NE(new_pid, old_pid);
  EXPECT_NE(json::get_string(parse_or_fail(after.value()), "content").find("calls=1"), std::string::npos);
}

TEST_F(CommandAdapterTest, CrashMidCallIsUnavailableWithExitStatusAndStderrThenRestarts) {
  auto adapter = load_adapter("command", config_for(kAgent), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto crash = adapter->invoke({}, task_request("crash"));
  ASSERT_FALSE(crash.is_ok());
  EXPECT_EQ(crash.status().code(), StatusCode::kUnavailable);
  const std::string& msg = crash.status().message();
  EXPECT_NE(msg.find("exit status 3"), std::string::npos) << msg;
  EXPECT_NE(msg.find("fatal: simulated crash in the agent"), std::string::npos) << msg;
  EXPECT_NE(msg.find("restarted"), std::string::npos) << msg;

  auto next = adapter->invoke({}, task_request("next"));
  ASSERT_TRUE(next.is_ok()) << next.status().to_string();
  EXPECT_NE(json::get_string(parse_or_fail(next.value()), "content").find("task=next"), std::string::npos);
}

TEST_F(CommandAdapterTest, WithoutRestartAFailedChildStaysFailed) {
  auto adapter = load_adapter("command", config_for(kAgent, 20.0, false), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  ASSERT_FALSE(adapter->invoke({}, task_request("crash")).is_ok());
  auto next = adapter->invoke({}, task_request("next"));
  ASSERT_FALSE(next.is_ok());
  EXPECT_EQ(next.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(next.status().message().find("restart_on_failure"), std::string::npos) << next.status().message();
}

// A timeout of 1e30 s used to be converted to milliseconds with undefined behaviour; absurd or
// non-positive durations are a config error that names the key.
TEST_F(CommandAdapterTest, DurationsOutsideADayAreRefusedWithTheKeyNamed) {
  for (const char* bad : {R"("timeout_seconds": 1e30)", R"("timeout_seconds": 0)", R"("kill_grace_seconds": -1)",
                          R"("kill_grace_seconds": 100000)"}) {
    auto adapter = load_adapter("command", R"({"command": ["python3", ")" + kAgent + R"("], )" + bad + "}",
                                std::make_shared<RecordingServices>());
    ASSERT_FALSE(adapter.is_ok()) << bad;
    EXPECT_EQ(adapter.status().code(), StatusCode::kInvalidArgument) << bad;
    std::string key = std::string(bad).substr(1, std::string(bad).find('"', 1) - 1);
    EXPECT_NE(adapter.status().message().find(key), std::string::npos) << adapter.status().message();
  }
}

TEST_F(CommandAdapterTest, NonJsonStdoutIsSkippedAndAgentErrorsAreReported) {
  auto adapter = load_adapter("command", config_for(kAgent), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto noisy = adapter->invoke({}, task_request("noise"));
  ASSERT_TRUE(noisy.is_ok()) << noisy.status().to_string();
  EXPECT_NE(json::get_string(parse_or_fail(noisy.value()), "trace").find("debug print that is not JSON"),
            std::string::npos);

  auto err = adapter->invoke({}, task_request("error"));
  ASSERT_FALSE(err.is_ok());
  EXPECT_EQ(err.status().code(), StatusCode::kUnavailable);  // the agent said retryable
  EXPECT_NE(err.status().message().find("model quota exhausted"), std::string::npos);
  // The child survived its own error report.
  EXPECT_TRUE(adapter->invoke({}, task_request("still here")).is_ok());
}

TEST_F(CommandAdapterTest, MissingProgramIsAClearError) {
  auto adapter = load_adapter("command", R"({"command": ["/nonexistent/agent-binary"]})",
                              std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();  // started lazily on the first call
  auto r = adapter->invoke({}, task_request("x"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("/nonexistent/agent-binary"), std::string::npos) << r.status().message();
}

TEST_F(CommandAdapterTest, CancellationStopsTheCall) {
  auto adapter = load_adapter("command", config_for(kAgent, 60.0), std::make_shared<RecordingServices>());
  ASSERT_TRUE(adapter.is_ok());
  plugin::CallContext ctx;
  auto start = std::chrono::steady_clock::now();
  ctx.cancelled = [start] { return std::chrono::steady_clock::now() - start > std::chrono::milliseconds(300); };
  auto r = adapter->invoke(ctx, task_request("hang"));
  ASSERT_FALSE(r.is_ok());
  EXPECT_EQ(r.status().code(), StatusCode::kCancelled);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(), 10.0);
}

}  // namespace
}  // namespace atlas::testing
