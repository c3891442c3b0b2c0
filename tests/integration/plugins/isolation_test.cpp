// Process isolation through the Registry: plugins running in `atlas-host plugin-worker`
// children, with the host services answered by the host, crashes and hangs contained to
// the call that hit them, and a fresh worker for the next call.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "plugin/registry.hpp"
#include "test_support.hpp"

namespace atlas::plugin {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

RegistryOptions isolated(const std::filesystem::path& file, Isolation isolation = Isolation::kProcess) {
  RegistryOptions o;
  o.use_default_dirs = false;
  o.files = {file};
  o.isolation = isolation;
  o.worker_executable = test::atlas_host();
  return o;
}

int64_t pid_in(const std::string& reply) {
  auto doc = json::parse(reply);
  return doc.is_ok() ? json::get_int(*doc, "pid", -1) : -1;
}

class CrashingAdapter : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(registry_.discover(isolated(test::fixture("crash_invoke"))).is_ok());
    auto a = registry_.create_adapter("crash_invoke", "{}");
    ASSERT_TRUE(a.is_ok()) << a.status().to_string();
    adapter_ = *a;
  }
  Registry registry_;
  AdapterHandle adapter_;
};

TEST_F(CrashingAdapter, CallsRunInAWorkerProcess) {
  auto out = adapter_.invoke(CallContext{}, "{}");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_GT(pid_in(*out), 0);
  EXPECT_NE(pid_in(*out), ::getpid());
  auto again = adapter_.invoke(CallContext{}, "{}");
  ASSERT_TRUE(again.is_ok());
  EXPECT_EQ(pid_in(*again), pid_in(*out)) << "one worker serves the instance while it is healthy";
}

TEST_F(CrashingAdapter, SegfaultFailsTheCallWithUnavailableAndTheNextCallGetsANewWorker) {
  auto before = adapter_.invoke(CallContext{}, "{}");
  ASSERT_TRUE(before.is_ok());
  auto crashed = adapter_.invoke(CallContext{}, R"({"task":"crash-segv"})");
  ASSERT_FALSE(crashed.is_ok());
  EXPECT_EQ(crashed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(crashed.status().message(),
              AllOf(HasSubstr("adapter 'crash_invoke' (fixture_crash_invoke.so)"), HasSubstr("crashed during invoke"),
                    HasSubstr("killed by signal 11 (SIGSEGV)"), HasSubstr("a new worker process is started")));
  auto after = adapter_.invoke(CallContext{}, "{}");
  ASSERT_TRUE(after.is_ok()) << after.status().to_string();
  EXPECT_NE(pid_in(*after), pid_in(*before));
}

TEST_F(CrashingAdapter, AbortNamesTheSignalAndTheLastStderrLines) {
  auto crashed = adapter_.invoke(CallContext{}, R"({"task":"crash-abort"})");
  ASSERT_FALSE(crashed.is_ok());
  EXPECT_EQ(crashed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(crashed.status().message(), AllOf(HasSubstr("killed by signal 6 (SIGABRT)"),
                                                HasSubstr("last stderr lines: crash_invoke: giving up on purpose")));
  EXPECT_TRUE(adapter_.invoke(CallContext{}, "{}").is_ok());
}

TEST_F(CrashingAdapter, ExitInsideTheCallIsReportedWithItsStatus) {
  auto crashed = adapter_.invoke(CallContext{}, R"({"task":"crash-exit"})");
  ASSERT_FALSE(crashed.is_ok());
  EXPECT_EQ(crashed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(crashed.status().message(), HasSubstr("exited with status 3"));
  EXPECT_TRUE(adapter_.invoke(CallContext{}, "{}").is_ok());
}

TEST_F(CrashingAdapter, ACallThatNeverReturnsIsKilledAtItsDeadline) {
  CallContext ctx;
  ctx.deadline_unix_ms = clock::now_unix_ms() + 1500;
  auto hung = adapter_.invoke(ctx, R"({"task":"crash-hang"})");
  ASSERT_FALSE(hung.is_ok());
  EXPECT_EQ(hung.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_THAT(hung.status().message(),
              AllOf(HasSubstr("invoke did not return before the call's deadline"), HasSubstr("killed by atlas-host")));
  EXPECT_TRUE(adapter_.invoke(CallContext{}, "{}").is_ok());
}

TEST_F(CrashingAdapter, ConcurrentCallersOnlyLoseTheCallsThatCrashed) {
  constexpr int kThreads = 4, kCalls = 6;
  std::atomic<int> ok{0}, crashed{0}, wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kCalls; ++i) {
        bool crash = t == 0 && i % 2 == 1;  // thread 0 crashes its worker every other call
        auto out = adapter_.invoke(CallContext{}, crash ? R"({"task":"crash-segv"})" : "{}");
        if (crash && !out.is_ok() && out.status().code() == StatusCode::kUnavailable) ++crashed;
        else if (!crash && out.is_ok() && pid_in(*out) > 0) ++ok;
        else ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(crashed.load(), kCalls / 2);
  EXPECT_EQ(ok.load(), kThreads * kCalls - kCalls / 2);
}

// The services table reaches the host through the worker: events, logs, model calls and
// cancellation behave as they do in process.
class WorkerServices : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(registry_.discover(isolated(test::fixture("good_multi"))).is_ok()); }
  Registry registry_;
};

TEST_F(WorkerServices, EventsCarryThePluginNameAndReachTheCallContext) {
  auto a = registry_.create_adapter("fixture_echo", R"({"prefix":"w-"})");
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  std::vector<std::string> events;
  CallContext ctx;
  ctx.session_id = "s-1";
  ctx.on_event = [&](std::string_view e) { events.emplace_back(e); };
  auto out = a->invoke(ctx, R"({"x":"emit"})");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_THAT(*out, AllOf(HasSubstr("\"content\":\"w-echo\""), HasSubstr("\"session_id\":\"s-1\"")));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_THAT(events[0], AllOf(HasSubstr("\"type\":\"fixture.event\""), HasSubstr("\"plugin\":\"fixture_echo\"")));
}

class CannedLlm : public HostServices {
 public:
  Result<std::string> llm_complete(std::string_view plugin, const CallContext* call, std::string_view) override {
    return std::string(R"({"content":"from host for )") + std::string(plugin) + " in " +
           (call ? call->session_id : std::string("none")) + R"("})";
  }
};

TEST_F(WorkerServices, ModelCallsAreAnsweredByTheHostsServices) {
  registry_.set_services(std::make_shared<CannedLlm>());
  auto a = registry_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  CallContext ctx;
  ctx.session_id = "s-7";
  auto out = a->invoke(ctx, R"({"x":"llm"})");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_THAT(*out, HasSubstr("from host for fixture_echo in s-7"));
}

TEST_F(WorkerServices, CancellationAndErrorsBehaveAsInProcess) {
  auto a = registry_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  CallContext ctx;
  ctx.cancelled = [] { return true; };
  auto out = a->invoke(ctx, "{}");
  ASSERT_TRUE(out.is_ok());
  EXPECT_THAT(*out, HasSubstr("\"cancelled\":true"));
  EXPECT_TRUE(a->cancel(ctx).is_ok());
  // A plugin's own error status and message come back unchanged.
  Registry errors;
  ASSERT_TRUE(errors.discover(isolated(test::fixture("error_status"))).is_ok());
  auto e = errors.create_adapter("error_status", "{}");
  ASSERT_TRUE(e.is_ok());
  auto failed = e->invoke(CallContext{}, "{}");
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  EXPECT_THAT(failed.status().message(), HasSubstr("the agent backend is down (HTTP 503)"));
}

TEST_F(WorkerServices, TheReplyLimitIsEnforcedInTheWorker) {
  auto a = registry_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  CallContext ctx;
  ctx.max_output_bytes = 10;
  auto out = a->invoke(ctx, "{}");
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kResourceExhausted);
  EXPECT_THAT(out.status().message(), HasSubstr("max_reply_bytes"));
  EXPECT_TRUE(a->invoke(CallContext{}, "{}").is_ok());
}

TEST_F(WorkerServices, ACreateFailureInTheWorkerIsTheCreateError) {
  Registry r;
  ASSERT_TRUE(r.discover(isolated(test::fixture("throws_in_create"))).is_ok());
  ASSERT_FALSE(r.plugins().empty());
  auto a = r.create_adapter(r.plugins()[0].name, "{}");
  ASSERT_FALSE(a.is_ok());
  EXPECT_THAT(a.status().message(), HasSubstr("failed to start"));
}

TEST(IsolationChoice, ThirdPartyPluginsDefaultToAWorkerAndSettingsOverride) {
  RegistryOptions o;
  o.use_default_dirs = false;
  o.files = {test::fixture("good_multi")};
  o.dirs = {ATLAS_TEST_PLUGIN_DIR};
  Registry r;
  ASSERT_TRUE(r.discover(o).is_ok());
  ASSERT_NE(r.find(Kind::kAdapter, "openai"), nullptr);
  EXPECT_EQ(r.isolation_of(Kind::kAdapter, "fixture_echo"), Isolation::kProcess);
  EXPECT_EQ(r.isolation_of(Kind::kAdapter, "openai"), Isolation::kInProcess) << "first-party plugins stay in process";

  o.plugin_isolation["fixture_echo"] = Isolation::kInProcess;
  o.plugin_isolation["openai"] = Isolation::kProcess;
  Registry overridden;
  ASSERT_TRUE(overridden.discover(o).is_ok());
  EXPECT_EQ(overridden.isolation_of(Kind::kAdapter, "fixture_echo"), Isolation::kInProcess);
  EXPECT_EQ(overridden.isolation_of(Kind::kAdapter, "openai"), Isolation::kProcess);

  o.plugin_isolation.clear();
  o.isolation = Isolation::kProcess;
  Registry all;
  ASSERT_TRUE(all.discover(o).is_ok());
  EXPECT_EQ(all.isolation_of(Kind::kAdapter, "openai"), Isolation::kProcess);
}

}  // namespace
}  // namespace atlas::plugin
