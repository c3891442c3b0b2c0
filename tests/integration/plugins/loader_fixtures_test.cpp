// Loads the real fixture plugin libraries (tests/plugins/) through the Registry, one
// failure mode per test, and checks what a user would see: which plugins are usable and
// what each refusal says.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"
#include "plugin/registry.hpp"
#include "test_support.hpp"

namespace atlas::plugin {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using test::fixture;

RegistryOptions only(const std::filesystem::path& file) {
  RegistryOptions o;
  o.use_default_dirs = false;
  o.files = {file};
  return o;
}

std::vector<std::string> errors_of(const Registry& r) {
  std::vector<std::string> out;
  for (const auto& d : r.diagnostics()) {
    if (d.severity == Severity::kError) out.push_back(d.message);
  }
  return out;
}

// Loads one fixture and expects it to be refused as a whole; returns the message.
std::string refusal_for(const std::string& name) {
  Registry r;
  EXPECT_TRUE(r.discover(only(fixture(name))).is_ok());
  EXPECT_TRUE(r.plugins().empty()) << name << " should not register any plugin";
  auto errors = errors_of(r);
  EXPECT_EQ(errors.size(), 1u) << name;
  return errors.empty() ? std::string() : errors.front();
}

json::Document parse(const std::string& text) {
  auto d = json::parse(text);
  EXPECT_TRUE(d.is_ok()) << text;
  return d.is_ok() ? std::move(d).value() : json::Document();
}

// ---- whole-library refusals ----------------------------------------------------------

TEST(LoaderFixtures, TextFileNamedSoIsNotAPlugin) {
  std::string msg = refusal_for("text_file");
  EXPECT_THAT(msg, AllOf(HasSubstr("fixture_text_file.so: refused: not a loadable plugin library"),
                         HasSubstr("a text file starting with \"This is a text file"),
                         HasSubstr("remove it from the plugin folder")));
}

TEST(LoaderFixtures, SharedLibraryWithoutEntrySymbolIsRefused) {
  std::string msg = refusal_for("no_entry");
  EXPECT_THAT(msg, AllOf(HasSubstr("fixture_no_entry.so"), HasSubstr("does not export atlas_plugin_manifest_v1"),
                         HasSubstr("fixture_unrelated_function"), HasSubstr("ATLAS_PLUGIN")));
}

TEST(LoaderFixtures, AbiMajorMismatchIsRefused) {
  std::string msg = refusal_for("abi_major");
  EXPECT_THAT(msg, AllOf(HasSubstr("fixture_abi_major.so"), HasSubstr("built for plugin ABI 2.0"),
                         HasSubstr("major version must match"), HasSubstr("rebuild the plugin against AtlasSDK 1.x")));
}

TEST(LoaderFixtures, NewerMinorThanHostIsRefused) {
  std::string msg = refusal_for("newer_minor");
  std::string plugin_abi = "1." + std::to_string(ATLAS_ABI_MINOR + 1);
  EXPECT_THAT(msg, AllOf(HasSubstr("built for plugin ABI " + plugin_abi), HasSubstr("newer than this host"),
                         HasSubstr("upgrade atlas-host")));
}

TEST(LoaderFixtures, VtableSmallerThanV10LayoutIsRefused) {
  std::string msg = refusal_for("short_struct");
  EXPECT_THAT(msg, AllOf(HasSubstr("short_vtable"), HasSubstr("struct_size 16"),
                         HasSubstr("expected at least " + std::to_string(ATLAS_VTABLE_V1_0_SIZE))));
}

// ---- accepted libraries --------------------------------------------------------------

TEST(LoaderFixtures, OlderMinorIsAcceptedAndCancelReadsAsAbsent) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("old_minor"))).is_ok());
  EXPECT_TRUE(errors_of(r).empty());
  const PluginInfo* info = r.find(Kind::kAdapter, "old_minor");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->abi_major, 1);
  EXPECT_EQ(info->abi_minor, 0);
  EXPECT_FALSE(info->has_cancel);
  EXPECT_EQ(info->build_tag, "fixture-abi-1.0");

  auto adapter = r.create_adapter("old_minor", "{}");
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  auto out = adapter->invoke(CallContext{}, R"({"messages":[]})");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(json::get_string(parse(*out), "abi"), "1.0");
  Status cancel = adapter->cancel(CallContext{});
  EXPECT_EQ(cancel.code(), StatusCode::kUnimplemented);
  EXPECT_THAT(cancel.message(), HasSubstr("does not support cancel"));
}

TEST(LoaderFixtures, OneLibraryWithAdapterAndJudge) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("good_multi"))).is_ok());
  EXPECT_TRUE(r.diagnostics().empty());
  ASSERT_EQ(r.plugins().size(), 2u);
  const PluginInfo* echo = r.find(Kind::kAdapter, "fixture_echo");
  const PluginInfo* judge = r.find(Kind::kJudge, "fixture_judge");
  ASSERT_NE(echo, nullptr);
  ASSERT_NE(judge, nullptr);
  EXPECT_EQ(r.find(Kind::kJudge, "fixture_echo"), nullptr) << "names are looked up per kind";
  EXPECT_EQ(echo->version, "1.2.3");
  EXPECT_EQ(echo->vendor, "atlas tests");
  EXPECT_TRUE(echo->has_cancel);
  EXPECT_FALSE(echo->thread_safe());
  EXPECT_TRUE(judge->thread_safe());
  EXPECT_EQ(echo->abi_minor, ATLAS_ABI_MINOR);
  EXPECT_EQ(echo->file, std::filesystem::canonical(fixture("good_multi")));

  auto adapter = r.create_adapter("fixture_echo", R"({"prefix":"hi-"})");
  ASSERT_TRUE(adapter.is_ok()) << adapter.status().to_string();
  CallContext call;
  call.session_id = "42";
  auto out = adapter->invoke(call, R"({"messages":[{"role":"user","content":"x"}]})");
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  auto doc = parse(*out);
  EXPECT_EQ(json::get_string(doc, "content"), "hi-echo");
  EXPECT_EQ(json::get_string(doc, "session_id"), "42");

  auto j = r.create_judge("fixture_judge", "");
  ASSERT_TRUE(j.is_ok()) << j.status().to_string();
  auto verdict = j->judge(CallContext{}, R"({"level":"session"})");
  ASSERT_TRUE(verdict.is_ok());
  EXPECT_DOUBLE_EQ(json::get_double(parse(*verdict), "score"), 0.75);
}

TEST(LoaderFixtures, BrokenDescriptorsAreRefusedOneByOneAndTheGoodOneStays) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("bad_descriptors"))).is_ok());
  ASSERT_EQ(r.plugins().size(), 1u);
  EXPECT_EQ(r.plugins()[0].name, "bd_ok");
  EXPECT_NE(r.find(Kind::kJudge, "bd_ok"), nullptr);

  auto errors = errors_of(r);
  auto has = [&](std::initializer_list<std::string> parts) {
    return std::any_of(errors.begin(), errors.end(), [&](const std::string& e) {
      return std::all_of(parts.begin(), parts.end(), [&](const std::string& p) { return e.find(p) != std::string::npos; });
    });
  };
  EXPECT_EQ(errors.size(), 9u) << ::testing::PrintToString(errors);
  EXPECT_TRUE(has({"'bd_kind'", "unknown kind 99"}));
  EXPECT_TRUE(has({"plugin #1", "name \"\" is not valid"}));
  EXPECT_TRUE(has({"name \"Bad Name!\" is not valid", "[a-z0-9_-]"}));
  EXPECT_TRUE(has({"'bd_null_vtable'", "vtable pointer is NULL"}));
  EXPECT_TRUE(has({"'bd_no_call'", "no judge function"}));
  EXPECT_TRUE(has({"'bd_bad_schema'", "config schema is not usable"}));
  EXPECT_TRUE(has({"plugin #6", "descriptor struct_size is 8"}));
  EXPECT_TRUE(has({"plugin #7", "descriptor pointer is NULL"}));
  EXPECT_TRUE(has({"'bd_ok'", "twice"}));
  bool warned = std::any_of(r.diagnostics().begin(), r.diagnostics().end(), [](const Diagnostic& d) {
    return d.severity == Severity::kWarning && d.message.find("/properties/level/const") != std::string::npos;
  });
  EXPECT_TRUE(warned) << "a schema keyword the validator ignores must be reported";
}

// ---- failures at create and call time -----------------------------------------------

TEST(LoaderFixtures, ThrowInCreateBecomesAnErrorNamingThePlugin) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("throws_in_create"))).is_ok());
  auto a = r.create_adapter("throws_in_create", "{}");
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), StatusCode::kInternal);
  EXPECT_THAT(a.status().message(), AllOf(HasSubstr("adapter 'throws_in_create'"), HasSubstr("failed to start"),
                                          HasSubstr("cannot reach the agent backend at 127.0.0.1:9")));
}

TEST(LoaderFixtures, InvalidJsonOutputIsAnInternalError) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("invalid_json"))).is_ok());
  auto a = r.create_adapter("invalid_json", "{}");
  ASSERT_TRUE(a.is_ok());
  auto out = a->invoke(CallContext{}, "{}");
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kInternal);
  EXPECT_THAT(out.status().message(), AllOf(HasSubstr("'invalid_json'"), HasSubstr("returned invalid JSON"),
                                            HasSubstr("line 1, column 1"), HasSubstr("Sure! Here is")));
}

TEST(LoaderFixtures, ErrorStatusAndMessageArePassedThrough) {
  Registry r;
  ASSERT_TRUE(r.discover(only(fixture("error_status"))).is_ok());
  auto a = r.create_adapter("error_status", "{}");
  ASSERT_TRUE(a.is_ok());
  auto out = a->invoke(CallContext{}, "{}");
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(out.status().retryable());
  EXPECT_THAT(out.status().message(), AllOf(HasSubstr("'error_status'"), HasSubstr("UNAVAILABLE"),
                                            HasSubstr("the agent backend is down (HTTP 503)")));
}

// ---- config validation ---------------------------------------------------------------

class EchoConfig : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(r_.discover(only(fixture("good_multi"))).is_ok()); }
  std::string error_for(const std::string& config) {
    auto a = r_.create_adapter("fixture_echo", config);
    EXPECT_FALSE(a.is_ok()) << config;
    if (a.is_ok()) return "";
    EXPECT_EQ(a.status().code(), StatusCode::kInvalidArgument);
    return a.status().message();
  }
  Registry r_;
};

TEST_F(EchoConfig, WrongTypeNamesPointerKeywordAndFix) {
  EXPECT_THAT(error_for(R"({"prefix":5})"),
              AllOf(HasSubstr("config of adapter 'fixture_echo'"), HasSubstr("/prefix"), HasSubstr("expected string"),
                    HasSubstr("found integer 5"), HasSubstr("keyword 'type'"), HasSubstr("fix [plugins.fixture_echo]")));
}

TEST_F(EchoConfig, MissingRequiredProperty) {
  EXPECT_THAT(error_for("{}"), AllOf(HasSubstr("missing required property \"prefix\""), HasSubstr("'required'")));
}

TEST_F(EchoConfig, UnknownPropertyIsNamed) {
  EXPECT_THAT(error_for(R"({"prefix":"a","prefx":1})"),
              AllOf(HasSubstr("unknown property \"prefx\""), HasSubstr("additionalProperties"), HasSubstr("prefix")));
}

TEST_F(EchoConfig, EnumAndRange) {
  EXPECT_THAT(error_for(R"({"prefix":"a","mode":"quiet"})"),
              AllOf(HasSubstr("/mode"), HasSubstr("one of [\"plain\",\"loud\"]"), HasSubstr("'enum'")));
  EXPECT_THAT(error_for(R"({"prefix":"a","retries":9})"),
              AllOf(HasSubstr("/retries"), HasSubstr("<= 5"), HasSubstr("found integer 9")));
}

TEST_F(EchoConfig, NotJsonAtAll) {
  EXPECT_THAT(error_for(R"({"prefix":)"), AllOf(HasSubstr("fixture_echo"), HasSubstr("line 1, column")));
}

TEST_F(EchoConfig, PluginWithoutSchemaAcceptsOnlyAnEmptyObject) {
  EXPECT_TRUE(r_.create_judge("fixture_judge", "{}").is_ok());
  auto j = r_.create_judge("fixture_judge", R"({"temperature":1})");
  ASSERT_FALSE(j.is_ok());
  EXPECT_THAT(j.status().message(), AllOf(HasSubstr("unknown property \"temperature\""), HasSubstr("allowed: none")));
}

TEST_F(EchoConfig, UnknownPluginListsTheAvailableOnes) {
  auto a = r_.create_adapter("fixture_ech", "{}");
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(a.status().message(), AllOf(HasSubstr("'fixture_ech'"), HasSubstr("available: fixture_echo")));
}

// ---- services and threading ----------------------------------------------------------

TEST_F(EchoConfig, EventsReachTheCallContextWithThePluginName) {
  auto a = r_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  std::vector<std::string> events;
  CallContext call;
  call.on_event = [&](std::string_view e) { events.emplace_back(e); };
  ASSERT_TRUE(a->invoke(call, R"({"emit":true})").is_ok());
  ASSERT_EQ(events.size(), 1u);
  auto ev = parse(events[0]);
  EXPECT_EQ(json::get_string(ev, "type"), "fixture.event");
  EXPECT_EQ(json::get_string(ev, "plugin"), "fixture_echo");
  EXPECT_FALSE(json::get_string(ev, "timestamp").empty());
}

TEST_F(EchoConfig, DefaultLlmServiceIsUnimplementedAndACustomOneIsUsed) {
  auto a = r_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  auto out = a->invoke(CallContext{}, R"({"llm":true})");
  ASSERT_FALSE(out.is_ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnimplemented);
  EXPECT_THAT(out.status().message(), HasSubstr("llm_complete"));

  struct Canned : HostServices {
    Result<std::string> llm_complete(std::string_view plugin, const CallContext* call, std::string_view req) override {
      seen_plugin = std::string(plugin);
      seen_session = call ? call->session_id : "";
      return std::string(R"({"content":"from the host","usage":{"total_tokens":3}})");
    }
    std::string seen_plugin, seen_session;
  };
  auto canned = std::make_shared<Canned>();
  r_.set_services(canned);
  auto b = r_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(b.is_ok());
  CallContext call;
  call.session_id = "s-7";
  auto reply = b->invoke(call, R"({"llm":true})");
  ASSERT_TRUE(reply.is_ok()) << reply.status().to_string();
  auto doc = parse(*reply);
  ASSERT_NE(json::find(doc, "llm"), nullptr);
  EXPECT_EQ(json::get_string(*json::find(doc, "llm"), "content"), "from the host");
  EXPECT_EQ(canned->seen_plugin, "fixture_echo");
  EXPECT_EQ(canned->seen_session, "s-7");
}

TEST_F(EchoConfig, CancellationIsVisibleToThePlugin) {
  auto a = r_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  CallContext call;
  EXPECT_FALSE(json::get_bool(parse(*a->invoke(call, "{}")), "cancelled"));
  call.cancelled = [] { return true; };
  EXPECT_TRUE(json::get_bool(parse(*a->invoke(call, "{}")), "cancelled"));
  CallContext past_deadline;
  past_deadline.deadline_unix_ms = 1;  // 1970
  EXPECT_TRUE(json::get_bool(parse(*a->invoke(past_deadline, "{}")), "cancelled"));
  ASSERT_TRUE(a->cancel(call).is_ok());
  EXPECT_EQ(json::get_int(parse(*a->invoke(CallContext{}, "{}")), "cancels"), 1);
}

TEST_F(EchoConfig, CallsOnANonThreadSafeInstanceAreSerialised) {
  auto a = r_.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok());
  constexpr int kThreads = 4, kCalls = 40;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(a->invoke(CallContext{}, R"({"concurrency":1})").is_ok());
    });
  }
  for (auto& t : threads) t.join();
  auto last = parse(*a->invoke(CallContext{}, "{}"));
  EXPECT_EQ(json::get_int(last, "calls"), kThreads * kCalls + 1);
  EXPECT_EQ(json::get_int(last, "violations"), 0) << "two calls overlapped on one instance";
}

TEST_F(EchoConfig, HandleOutlivesTheRegistry) {
  AdapterHandle kept;
  {
    Registry r;
    ASSERT_TRUE(r.discover(only(fixture("good_multi"))).is_ok());
    auto a = r.create_adapter("fixture_echo", R"({"prefix":"late-"})");
    ASSERT_TRUE(a.is_ok());
    kept = *a;
  }
  auto out = kept.invoke(CallContext{}, "{}");
  ASSERT_TRUE(out.is_ok());
  EXPECT_EQ(json::get_string(parse(*out), "content"), "late-echo");
  EXPECT_EQ(kept.info().name, "fixture_echo");
}

}  // namespace
}  // namespace atlas::plugin
