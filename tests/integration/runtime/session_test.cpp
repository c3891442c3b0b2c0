// Sessions through the real loop: real plugins (openai adapter, llm judge, probes, soci
// storage) loaded from the build tree, model replies from mock-llm over loopback.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.hpp"
#include "config/loader.hpp"
#include "data/store.hpp"
#include "plugin/registry.hpp"
#include "runtime/learning.hpp"
#include "runtime/learning_key.hpp"
#include "runtime/runtime.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::runtime {
namespace {

const char* kJudgeAndLearningRules = R"(
  {"name":"judge","match":{"system_contains":"impartial evaluator"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"arbiter","match":{"system_contains":"senior arbiter"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"name":"learning","match":{"system_contains":"You maintain the playbook"},"response":{"json":{"student_pamphlet":"Always cite the line.",
     "session_student_learning":"Findings need line numbers.",
     "teacher_pamphlet":"Ask for lines.","playbook_entries":[{"audience":"student","cue":{"type":"keyword","pattern":"review"},
     "action":{"imperative":"Cite the line of each finding"},"expected_effect":"precise answers",
     "scope":{"category":"reinforcement","constraints":"reviews"}}]}}})";

std::string scenario(const std::string& rules) {
  return std::string(R"({"default":"echo","rules":[)") + rules + "," + kJudgeAndLearningRules + "]}";
}

fs::path temp_dir(const std::string& name) {
  fs::path p = fs::temp_directory_path() / ("atlas-rt-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(p);
  fs::create_directories(p);
  return p;
}

std::string config_text(const testing::MockLlm& mock, const std::string& extra, const std::string& storage_url = "") {
  std::string base = mock.openai_base();
  auto model = [&](const std::string& section) {
    return "[" + section + "]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\napi_base = \"" +
           base + "\"\ntimeout_seconds = 30\n\n";
  };
  std::string t = "[agent]\nadapter = \"openai\"\nname = \"reviewer\"\nsystem_prompt = \"You review code.\"\n\n";
  t += model("student.llm") + model("teacher.llm") + model("rewards.small_model") + model("rewards.large_model") +
       model("learning.llm") + model("routing.probe_llm");
  t += extra + "\n";
  if (storage_url.empty()) t += "[storage]\nenabled = false\n";
  else t += "[storage]\ndatabase_url = \"" + storage_url + "\"\n";
  return t;
}

std::unique_ptr<Runtime> make_runtime(const std::string& toml, std::vector<Event>* events = nullptr,
                                      std::mutex* mu = nullptr) {
  auto cfg = config::parse_config(toml, "test.toml");
  EXPECT_TRUE(cfg.is_ok()) << cfg.status().message();
  if (!cfg) return nullptr;
  RuntimeOptions ro;
  ro.use_default_plugin_dirs = false;
  ro.plugin_dirs = {ATLAS_TEST_PLUGIN_DIR};
  if (events) ro.on_event = [events, mu](const Event& e) {
    std::lock_guard<std::mutex> g(*mu);
    events->push_back(e);
  };
  auto rt = Runtime::create(std::move(*cfg), ro);
  EXPECT_TRUE(rt.is_ok()) << rt.status().to_string();
  if (!rt) return nullptr;
  return std::move(*rt);
}

std::string role_of(const mock::RecordedRequest& r) {
  auto it = r.headers.find("x-atlas-role");
  return it == r.headers.end() ? "" : it->second;
}

// Roles of the requests, judges (reward phase) and learning left out.
std::vector<std::string> lane_roles(const testing::MockLlm& mock) {
  std::vector<std::string> out;
  for (const auto& r : mock.requests("openai.chat")) {
    std::string role = role_of(r);
    if (role == "judge" || role == "arbiter" || role == "learning") continue;
    out.push_back(role);
  }
  return out;
}

std::vector<mock::RecordedRequest> requests_with_role(const testing::MockLlm& mock, const std::string& role) {
  std::vector<mock::RecordedRequest> out;
  for (const auto& r : mock.requests("openai.chat"))
    if (role_of(r) == role) out.push_back(r);
  return out;
}

TEST(RuntimeSession, AutoLaneCallsOnlyTheStudent) {
  testing::MockLlm mock(scenario(R"({"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"answer A","usage":{"prompt_tokens":11,"completion_tokens":7}}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"auto\"\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_EQ(r.lane, "auto");
  EXPECT_EQ(r.final_answer, "answer A");
  EXPECT_EQ(lane_roles(mock), (std::vector<std::string>{"student"}));
  EXPECT_EQ(r.tokens["student"].total_tokens, 18);
  EXPECT_EQ(r.tokens.count("teacher"), 0u);
  ASSERT_TRUE(r.reward.has_value());
  EXPECT_NEAR(*r.reward, 0.8, 1e-9);
  EXPECT_GT(r.tokens["judge"].calls, 0);
}

TEST(RuntimeSession, PairedLaneRetriesWithTheTeachersGuidance) {
  testing::MockLlm mock(scenario(R"(
    {"name":"retry","match":{"system_contains":"You are the student agent","last_user_contains":"MENTION-LINE-7"},"response":{"text":"line 7 builds SQL from input"}},
    {"name":"first","match":{"system_contains":"You are the student agent"},"response":{"text":"draft answer"}},
    {"name":"reject","match":{"system_contains":"You are the teacher","last_user_contains":"draft answer"},"response":{"json":{"valid":false,"guidance":"MENTION-LINE-7"}}},
    {"name":"accept","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true,"guidance":null}}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 3\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_EQ(lane_roles(mock), (std::vector<std::string>{"student", "teacher", "student", "teacher"}));
  EXPECT_EQ(r.final_answer, "line 7 builds SQL from input");
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.steps[0].attempts, 2);
  EXPECT_EQ(r.steps[0].status, StepStatus::kPassed);
  EXPECT_GT(r.tokens["teacher"].calls, 1);
}

TEST(RuntimeSession, PairedLaneValidatesEveryAttemptUpToMaxRetries) {
  testing::MockLlm mock(scenario(R"(
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"never good"}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":false,"guidance":"try harder"}}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 2\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  // 3 attempts, and the last one is validated too (Atlas never validates its last attempt).
  EXPECT_EQ(lane_roles(mock),
            (std::vector<std::string>{"student", "teacher", "student", "teacher", "student", "teacher"}));
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.steps[0].status, StepStatus::kFailed);
  EXPECT_EQ(r.final_answer, "never good");  // kept for review
  // An answer the teacher rejected every time is not a success (docs/runtime.md, training-data rules).
  EXPECT_EQ(r.status, SessionStatus::kFailed);
  EXPECT_NE(r.error.find("the teacher rejected every attempt of step 1"), std::string::npos) << r.error;
  EXPECT_FALSE(r.reward.has_value()) << "a failed session is not judged";
}

TEST(RuntimeSession, UnparsableTeacherReplyIsAnInvalidVerdictNotACrash) {
  testing::MockLlm mock(scenario(R"(
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"an answer"}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"text":"I cannot decide, sorry."}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 1\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  // The unreadable verdict counts as invalid on every attempt, so the session is not a success
  // (docs/runtime.md, training-data rules) — but it completes and keeps the answer for review.
  EXPECT_EQ(r.status, SessionStatus::kFailed);
  EXPECT_NE(r.error.find("the teacher rejected every attempt of step 1"), std::string::npos) << r.error;
  EXPECT_EQ(r.final_answer, "an answer");
  EXPECT_EQ(r.steps[0].attempts, 2);
}

const char* kDiamondPlan = R"({"name":"plan","match":{"system_contains":"must plan"},"response":{"json":{"steps":[
   {"id":1,"description":"collect inputs","depends_on":[]},
   {"id":2,"description":"check branch B","depends_on":[1]},
   {"id":3,"description":"check branch C","depends_on":[1]},
   {"id":4,"description":"combine","depends_on":[2,3]}]}}})";

TEST(RuntimeSession, CoachDiamondRunsItsMiddleStepsConcurrently) {
  const int latency = 400;
  std::string rules = std::string(kDiamondPlan) + R"(,
    {"name":"synth","match":{"system_contains":"writing the final answer"},"response":{"text":"FINAL"}},
    {"name":"s2","match":{"system_contains":"You are the student agent","last_user_contains":"Step 2:"},"response":{"text":"result B","latency_ms":)" +
                      std::to_string(latency) + R"(}},
    {"name":"s3","match":{"system_contains":"You are the student agent","last_user_contains":"Step 3:"},"response":{"text":"result C","latency_ms":)" +
                      std::to_string(latency) + R"(}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"step done"}},
    {"name":"review","match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[],"concerns":null}}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})";
  testing::MockLlm mock(scenario(rules));
  std::vector<Event> events;
  std::mutex mu;
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\nmax_parallel_steps = 4\n"), &events, &mu);
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  ASSERT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_EQ(r.lane, "coach");
  EXPECT_EQ(r.final_answer, "FINAL");
  ASSERT_EQ(r.steps.size(), 4u);
  for (const auto& s : r.steps) EXPECT_EQ(s.status, StepStatus::kPassed) << s.id << " " << s.reason;
  // Both middle requests reached the mock before either could have been answered.
  double t2 = -1, t3 = -1;
  std::string step4_body, synth_body;
  for (const auto& q : requests_with_role(mock, "student")) {
    if (q.body.find("Step 2:") != std::string::npos) t2 = q.received_monotonic;
    if (q.body.find("Step 3:") != std::string::npos) t3 = q.received_monotonic;
    if (q.body.find("Step 4:") != std::string::npos) step4_body = q.body;
    if (q.body.find("writing the final answer") != std::string::npos) synth_body = q.body;
  }
  ASSERT_GE(t2, 0);
  ASSERT_GE(t3, 0);
  EXPECT_LT(std::abs(t2 - t3), latency / 1000.0 * 0.9) << "steps 2 and 3 were serialised";
  // Step start/end events overlap too.
  auto find_us = [&](std::string_view type, const std::string& step) {
    std::lock_guard<std::mutex> g(mu);
    for (const auto& e : events)
      if (e.type == type && e.step_id == step) return e.timestamp_us;
    return int64_t{-1};
  };
  EXPECT_LT(find_us(event_type::kStepStart, "3"), find_us(event_type::kStepEnd, "2"));
  EXPECT_LT(find_us(event_type::kStepStart, "2"), find_us(event_type::kStepEnd, "3"));
  // Step 4 sees the validated results of its dependencies; the synthesis sees all results.
  EXPECT_NE(step4_body.find("result B"), std::string::npos);
  EXPECT_NE(step4_body.find("result C"), std::string::npos);
  EXPECT_NE(synth_body.find("result B"), std::string::npos);
  // Sequence: plan, review, then steps; the teacher validated every step.
  auto roles = lane_roles(mock);
  ASSERT_GE(roles.size(), 2u);
  EXPECT_EQ(roles[0], "student");
  EXPECT_EQ(roles[1], "teacher");
  EXPECT_EQ(requests_with_role(mock, "teacher").size(), 1u + 4u);
}

TEST(RuntimeSession, StepTimeoutFailsTheStepAndSkipsItsDependents) {
  std::string rules = std::string(kDiamondPlan) + R"(,
    {"name":"synth","match":{"system_contains":"writing the final answer"},"response":{"text":"PARTIAL"}},
    {"name":"slow","match":{"system_contains":"You are the student agent","last_user_contains":"Step 2:"},"response":{"text":"late","latency_ms":5000}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"step done"}},
    {"name":"review","match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[]}}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})";
  testing::MockLlm mock(scenario(rules));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\nstep_timeout_seconds = 0.6\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  ASSERT_EQ(r.steps.size(), 4u);
  EXPECT_EQ(r.steps[0].status, StepStatus::kPassed);
  EXPECT_EQ(r.steps[1].status, StepStatus::kTimeout) << r.steps[1].reason;
  EXPECT_NE(r.steps[1].reason.find("timeout"), std::string::npos);
  EXPECT_EQ(r.steps[2].status, StepStatus::kPassed);
  EXPECT_EQ(r.steps[3].status, StepStatus::kSkipped);
  EXPECT_NE(r.steps[3].reason.find("dependency step 2"), std::string::npos);
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_EQ(r.final_answer, "PARTIAL");
  EXPECT_LT(r.seconds, 4.5) << "the session waited for the hung step";
}

TEST(RuntimeSession, CyclicPlanFallsBackToOneStep) {
  testing::MockLlm mock(scenario(R"(
    {"name":"plan","match":{"system_contains":"must plan"},"response":{"json":{"steps":[
       {"id":1,"description":"a","depends_on":[2]},{"id":2,"description":"b","depends_on":[1]}]}}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"whole task done"}},
    {"name":"review","match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[]}}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  std::vector<Event> events;
  std::mutex mu;
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\n"), &events, &mu);
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_TRUE(r.plan_fallback);
  EXPECT_NE(r.plan_fallback_reason.find("cycle"), std::string::npos) << r.plan_fallback_reason;
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.final_answer, "whole task done");
  bool fallback_event = false;
  for (const auto& e : events) fallback_event |= e.type == event_type::kPlan && e.name == "fallback";
  EXPECT_TRUE(fallback_event);
}

TEST(RuntimeSession, StorageHistoryPlaybookAndProbeFailingOpen) {
  fs::path dir = temp_dir("probe");
  std::string url = "sqlite://" + (dir / "atlas.db").string();
  testing::MockLlm mock(scenario(R"(
    {"name":"probe","match":{"system_contains":"You decide how much supervision"},"response":{"fault":"server_error"}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"an answer"}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  auto rt = make_runtime(config_text(mock, "[routing]\nprobe = \"llm\"\nfallback_mode = \"paired\"\n[review]\nrequire_approval = false\n", url));
  ASSERT_TRUE(rt);
  std::string md = R"({"learning_key_override":"shared-key"})";
  SessionReport first = rt->run({"Review this code", md, ""});
  ASSERT_EQ(first.status, SessionStatus::kSucceeded) << first.error;
  EXPECT_TRUE(first.stored);
  EXPECT_EQ(first.lane_source, "no_learning_history");
  EXPECT_EQ(first.review_status, ReviewStatus::kApproved);
  rt->wait_for_background();  // the playbook of the first session is written
  SessionReport second = rt->run({"Review other code", md, ""});
  ASSERT_EQ(second.status, SessionStatus::kSucceeded) << second.error;
  EXPECT_EQ(second.learning_key, "shared-key");
  EXPECT_EQ(second.lane, "paired");
  EXPECT_EQ(second.lane_source, "probe_fallback") << "the probe's failure must fail open";
  EXPECT_FALSE(requests_with_role(mock, "probe").empty());
  EXPECT_EQ(second.applied_playbook_version, 1);
  bool injected = false;
  for (const auto& q : requests_with_role(mock, "student"))
    if (q.body.find("Review other code") != std::string::npos &&
        q.body.find(">>> Student Playbook >>>") != std::string::npos && q.body.find("Always cite the line.") != std::string::npos)
      injected = true;
  EXPECT_TRUE(injected) << "the learnt playbook was not injected into the next session's prompt";
  rt.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "atlas.db").string().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*), sum(status='succeeded') FROM sessions", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 2);
  EXPECT_EQ(sqlite3_column_int(st, 1), 2);
  sqlite3_finalize(st);
  // Each session keeps its own synthesis (Atlas's sessions.student_learning), not just the playbook.
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT student_learning FROM sessions ORDER BY id", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  ASSERT_NE(sqlite3_column_text(st, 0), nullptr);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "Findings need line numbers.");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT count(*) FROM trajectory_events", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_GT(sqlite3_column_int(st, 0), 10);
  sqlite3_finalize(st);
  sqlite3_close(db);
  fs::remove_all(dir);
}

TEST(RuntimeLearning, ConcurrentSynthesesLoseNoEntries) {
  fs::path dir = temp_dir("learn");
  plugin::Registry reg;
  plugin::RegistryOptions ro;
  ro.use_default_dirs = false;
  ro.dirs = {ATLAS_TEST_PLUGIN_DIR};
  ASSERT_TRUE(reg.discover(ro).is_ok());
  auto handle = reg.create_storage("soci", R"({"database_url":"sqlite://)" + (dir / "l.db").string() + "\"}");
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  data::StoreOptions so;
  so.spool_path = dir / "spool.jsonl";
  auto store = data::Store::open(*handle, so);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  config::LearningConfig cfg;
  const int kWriters = 6;
  std::vector<std::thread> threads;
  std::vector<int> attempts(kWriters, 0);
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      SynthesisRequest req;
      req.learning_key = "k";
      req.session_id = std::to_string(i);
      json::Document syn;
      std::string text = R"({"playbook_entries":[{"id":"entry-)" + std::to_string(i) +
                         R"(","cue":{"type":"keyword","pattern":"p"},"action":{"imperative":"do )" + std::to_string(i) + R"("}}]})";
      syn.Parse(text.c_str());
      auto out = store_synthesis(**store, cfg, req, syn);
      EXPECT_TRUE(out.is_ok()) << out.status().to_string();
      if (out) attempts[i] = out->write_attempts;
    });
  }
  for (auto& t : threads) t.join();
  auto state = (*store)->learning_get("k");
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state->version, kWriters);
  for (int i = 0; i < kWriters; ++i)
    EXPECT_NE(state->metadata_json.find("\"entry-" + std::to_string(i) + "\""), std::string::npos) << "entry " << i << " lost";
  store->reset();
  fs::remove_all(dir);
}

TEST(RuntimeLearning, SessionNoteDisabledKeepsTheSessionsOwnLearningOutOfItsRow) {
  fs::path dir = temp_dir("note");
  plugin::Registry reg;
  plugin::RegistryOptions ro;
  ro.use_default_dirs = false;
  ro.dirs = {ATLAS_TEST_PLUGIN_DIR};
  ASSERT_TRUE(reg.discover(ro).is_ok());
  auto handle = reg.create_storage("soci", R"({"database_url":"sqlite://)" + (dir / "n.db").string() + "\"}");
  ASSERT_TRUE(handle.is_ok()) << handle.status().to_string();
  data::StoreOptions so;
  so.spool_path = dir / "spool.jsonl";
  auto store = data::Store::open(*handle, so);
  ASSERT_TRUE(store.is_ok()) << store.status().to_string();
  json::Document syn;
  syn.Parse(R"({"student_pamphlet":"Cite lines.","session_student_learning":"This one needed line numbers."})");
  auto learning_of = [&](bool note_enabled) {
    auto id = (*store)->begin_session("t", R"({"learning_key":"kn"})");
    EXPECT_TRUE(id.is_ok());
    EXPECT_TRUE((*store)->finish_session(R"({"session_id":")" + *id + R"(","status":"succeeded","final_answer":"a",
        "metadata":{"learning_key":"kn"},"reward":{"score":0.9},"steps":[]})").is_ok());
    config::LearningConfig cfg;
    cfg.session_note_enabled = note_enabled;
    SynthesisRequest req;
    req.learning_key = "kn";
    req.session_id = *id;
    auto out = store_synthesis(**store, cfg, req, syn);
    EXPECT_TRUE(out.is_ok()) << out.status().to_string();
    auto text = (*store)->execute("read_session", R"({"session_id":")" + *id + "\"}");
    EXPECT_TRUE(text.is_ok());
    auto doc = json::parse(*text);
    return json::get_string(*doc, "student_learning");
  };
  EXPECT_EQ(learning_of(true), "This one needed line numbers.");
  EXPECT_EQ(learning_of(false), "");
  auto state = (*store)->learning_get("kn");
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state->student_learning, "Cite lines.");  // the playbook itself is still updated
  store->reset();
  fs::remove_all(dir);
}

TEST(Quickstart, RunsEndToEndAgainstTheBundledScenario) {
  fs::path dir = temp_dir("quickstart");
  std::string cmd = "cd '" + dir.string() + "' && env -u OPENAI_API_KEY -u OPENAI_BASE_URL -u ANTHROPIC_API_KEY -u GEMINI_API_KEY '" +
                    std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' quickstart 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << out;
  EXPECT_NE(out.find("SCRIPTED"), std::string::npos) << out;
  EXPECT_NE(out.find("Learning progression"), std::string::npos) << out;
  EXPECT_NE(out.find("playbook"), std::string::npos) << out;
  EXPECT_TRUE(fs::exists(dir / ".atlas" / "atlas.db"));
  fs::remove_all(dir);
}


// Runs atlas-host with `args` in `cwd`; returns {exit code, stdout+stderr}.
std::pair<int, std::string> run_cli(const fs::path& cwd, const std::string& args, const std::string& env = "") {
  std::string cmd = "cd '" + cwd.string() + "' && env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY " + env +
                    " '" + std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host' " + args + " 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  if (!p) return {-1, out};
  std::array<char, 4096> buf;
  while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  int status = ::pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(Cli, EvalProbeReportsAccuracyAndConfusionMatrix) {
  fs::path dir = temp_dir("eval");
  std::ofstream(dir / "atlas.toml") << "[agent]\nadapter = \"openai\"\n[student.llm]\nmodel = \"m\"\n[teacher.llm]\nmodel = \"m\"\n[rewards.small_model]\nmodel = \"m\"\n[routing]\nprobe = \"history\"\n"
                                       "[storage]\nenabled = false\n[plugins]\ndirs = [\"" << ATLAS_TEST_PLUGIN_DIR << "\"]\n";
  auto [code, out] = run_cli(dir, "eval probe --config atlas.toml --dataset '" + std::string(ATLAS_TEST_SOURCE_DIR) +
                                      "/tests/data/probe_eval.jsonl'");
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("cases: 36"), std::string::npos) << out;
  EXPECT_NE(out.find("accuracy: "), std::string::npos) << out;
  EXPECT_NE(out.find("expected \\ predicted"), std::string::npos) << out;
  auto [bad, msg] = run_cli(dir, "eval probe --config atlas.toml");
  EXPECT_EQ(bad, 2) << msg;
  fs::remove_all(dir);
}

TEST(Cli, RunManyTasksConcurrentlyPrintsASummaryTable) {
  testing::MockLlm mock(scenario(R"({"match":{"system_contains":"You are the student agent"},"response":{"text":"fine"}},
    {"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  fs::path dir = temp_dir("runmany");
  std::string toml = config_text(mock, "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n",
                                 "sqlite://" + (dir / "a.db").string());
  std::ofstream(dir / "atlas.toml") << toml;
  std::ofstream(dir / "tasks.jsonl") << "\"first task\"\n{\"task\":\"second task\",\"metadata\":{\"tags\":[\"x\"]}}\n"
                                        "{\"task\":\"third task\"}\n";
  auto [code, out] = run_cli(dir, "run --config atlas.toml --tasks tasks.jsonl --concurrency 3");
  EXPECT_EQ(code, 0) << out;
  for (const char* t : {"first task", "second task", "third task", "lane", "reward", "tokens", "succeeded"})
    EXPECT_NE(out.find(t), std::string::npos) << t << "\n" << out;
  auto [one, single] = run_cli(dir, "run --config atlas.toml --task 'only task' --json");
  EXPECT_EQ(one, 0) << single;
  EXPECT_NE(single.find("\"final_answer\":\"fine\""), std::string::npos) << single;
  auto [usage, msg] = run_cli(dir, "run --config atlas.toml");
  EXPECT_EQ(usage, 2) << msg;
  fs::remove_all(dir);
}

TEST(RuntimeSession, ConfigMetadataAndDefaultTagsDoNotChangeTheLearningKey) {
  // Atlas's vector: agent example-openai-agent, no tenant/tags, task "Summarize the incident".
  const std::string atlas_key = "c80ca2f10300a66f1c9e56e4ab8a23687d1a9d0d819fb5f43ca791a971c2dd59";
  testing::MockLlm mock(scenario(R"({"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"ok"}})"));
  std::string toml = config_text(mock, "[orchestration]\nforced_mode = \"auto\"\n[routing]\ndefault_tags = [\"ops\"]\n"
                                       "[metadata]\ntenant_id = \"acme\"\ntags = [\"deploy\"]\n");
  toml.replace(toml.find("name = \"reviewer\""), 17, "name = \"example-openai-agent\"");
  auto rt = make_runtime(toml);
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Summarize the incident", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_EQ(r.learning_key, atlas_key);
  // The caller's own metadata still keys as Atlas does.
  SessionReport tagged = rt->run({"Summarize the incident", R"({"tags":["b","a"]})", ""});
  EXPECT_EQ(tagged.learning_key, derive_learning_key("example-openai-agent", "Summarize the incident",
                                                     &*json::parse(R"({"tags":["a","b"]})")));
  EXPECT_NE(tagged.learning_key, atlas_key);
}

// A reply nested 200,000 levels deep (~400 KB) from any role fails that one call with a clear
// message (docs/json-limits.md); the session completes and the process survives.
std::string deep_reply(const std::string& key) {
  return "{\"" + key + "\": " + std::string(200000, '[') + std::string(200000, ']') + "}";
}

std::string deep_rule(const std::string& system_contains, const std::string& key) {
  return R"({"match":{"system_contains":")" + system_contains + R"("},"response":{"text":)" +
         json::quote(deep_reply(key)) + "}}";
}

::testing::AssertionResult some_event_mentions(const std::vector<Event>& events, std::mutex& mu, const std::string& role,
                                               const std::string& needle) {
  std::lock_guard<std::mutex> g(mu);
  std::string seen;
  for (const auto& e : events) {
    if (e.role != role) continue;
    if (e.data_json.find(needle) != std::string::npos) return ::testing::AssertionSuccess();
    seen += e.type + "/" + e.name + ": " + e.data_json.substr(0, 600) + "\n";
  }
  return ::testing::AssertionFailure() << "no " << role << " event mentions \"" << needle << "\"; seen:\n" << seen;
}

const char* kStudentRule = R"({"match":{"system_contains":"You are the student agent"},"response":{"text":"an answer"}})";

TEST(RuntimeDeepJson, TeacherReplyNestedTooDeeplyFailsThatVerdict) {
  testing::MockLlm mock(scenario(std::string(kStudentRule) + "," + deep_rule("You are the teacher", "valid")));
  std::vector<Event> events;
  std::mutex mu;
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 1\n"), &events, &mu);
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.final_answer, "an answer") << r.error;
  EXPECT_TRUE(some_event_mentions(events, mu, "teacher", "teacher reply is not JSON: model reply: line 1, column"));
  EXPECT_TRUE(some_event_mentions(events, mu, "teacher", "nested deeper than 128 levels of arrays/objects"));
}

TEST(RuntimeDeepJson, PlannerReplyNestedTooDeeplyFallsBackToOneStep) {
  testing::MockLlm mock(scenario(deep_rule("must plan", "steps") + "," + kStudentRule +
                                 R"(,{"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_TRUE(r.plan_fallback);
  EXPECT_NE(r.plan_fallback_reason.find("nested deeper than 128 levels"), std::string::npos) << r.plan_fallback_reason;
}

TEST(RuntimeDeepJson, JudgeReplyNestedTooDeeplyFailsThatJudgement) {
  testing::MockLlm mock(scenario(deep_rule("impartial evaluator", "score") + "," + deep_rule("senior arbiter", "score") +
                                 "," + kStudentRule +
                                 R"(,{"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  fs::path dir = temp_dir("deep-judge");
  auto rt = make_runtime(config_text(mock, "", "sqlite://" + (dir / "a.db").string()));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  rt->wait_for_background();
  EXPECT_EQ(r.final_answer, "an answer") << r.error;
  EXPECT_TRUE(r.stored);
  EXPECT_FALSE(requests_with_role(mock, "judge").empty());
  rt.reset();
  // Every judge sample was refused (the plugin's reason is tested in judge_reply_test.cpp).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "a.db").c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "SELECT reward, metadata FROM sessions", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  // No verdict: the reward is NULL with the reason, never a 0.0 score (docs/runtime.md).
  EXPECT_EQ(sqlite3_column_type(st, 0), SQLITE_NULL);
  const unsigned char* meta = sqlite3_column_text(st, 1);
  std::string meta_json = meta ? reinterpret_cast<const char*>(meta) : "";
  sqlite3_finalize(st);
  sqlite3_close(db);
  EXPECT_NE(meta_json.find("\"reward_unavailable\""), std::string::npos) << meta_json.substr(0, 2000);
  fs::remove_all(dir);
}

TEST(RuntimeDeepJson, LearningReplyNestedTooDeeplyLeavesThePlaybookAlone) {
  testing::MockLlm mock(scenario(deep_rule("You maintain the playbook", "student_pamphlet") + "," + kStudentRule +
                                 R"(,{"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  fs::path dir = temp_dir("deep-learning");
  std::vector<Event> events;
  std::mutex mu;
  auto rt = make_runtime(config_text(mock, "", "sqlite://" + (dir / "a.db").string()), &events, &mu);
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  rt->wait_for_background();
  EXPECT_EQ(r.final_answer, "an answer") << r.error;
  EXPECT_TRUE(r.stored);
  EXPECT_FALSE(requests_with_role(mock, "learning").empty());
  EXPECT_TRUE(some_event_mentions(events, mu, "learning", "the learning model's reply is not JSON"));
  EXPECT_TRUE(some_event_mentions(events, mu, "learning", "nested deeper than 128 levels of arrays/objects"));
  rt.reset();
  fs::remove_all(dir);
}

TEST(Cli, RunTasksFailsOnlyTheTaskWhoseMetadataNestsTooDeeply) {
  testing::MockLlm mock(scenario(std::string(R"({"match":{"system_contains":"You are the student agent"},"response":{"text":"fine"}},
    {"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})")));
  fs::path dir = temp_dir("deep-tasks");
  std::ofstream(dir / "atlas.toml") << config_text(mock, "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n",
                                                   "sqlite://" + (dir / "a.db").string());
  std::ofstream(dir / "tasks.jsonl") << "\"first task\"\n{\"task\":\"deep task\",\"metadata\":{\"x\":"
                                     << std::string(100000, '[') << std::string(100000, ']') << "}}\n\"third task\"\n";
  auto [code, out] = run_cli(dir, "run --config atlas.toml --tasks tasks.jsonl");
  EXPECT_EQ(code, 1) << out.substr(0, 4000);
  EXPECT_NE(out.find("task 2 failed: tasks.jsonl:2: line 1, column 163: nested deeper than 128 levels of arrays/objects"),
            std::string::npos)
      << out.substr(0, 4000);
  EXPECT_EQ(out.find("task 1 failed"), std::string::npos) << out.substr(0, 4000);
  EXPECT_EQ(out.find("task 3 failed"), std::string::npos) << out.substr(0, 4000);
  // One argument may hold at most 128 KiB, so 50,000 levels here.
  auto [one, single] = run_cli(dir, "run --config atlas.toml --task t --metadata '{\"x\":" + std::string(50000, '[') +
                                        std::string(50000, ']') + "}'");
  EXPECT_EQ(one, 2) << single.substr(0, 4000);
  EXPECT_NE(single.find("--metadata: line 1, column 133: nested deeper than 128 levels"), std::string::npos)
      << single.substr(0, 4000);
  fs::remove_all(dir);
}


// ------------------------------------------------------------------ training-data rules, limits, deadline

// The first column of the first row of `sql` ("<null>" for NULL, "<none>" without a row).
std::string db_text(const fs::path& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  std::string out = "<none>";
  if (sqlite3_open_v2(db_path.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* t = sqlite3_column_text(st, 0);
      out = t ? reinterpret_cast<const char*>(t) : "<null>";
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

const char* kStudentAndTeacherReject = R"(
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"never good"}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":false,"guidance":"try harder"}}})";

TEST(TrainingData, ATeacherRejectedSessionIsFailedNeverAutoApprovedAndExportedOnlyWhenAsked) {
  fs::path dir = temp_dir("rejected");
  std::string url = "sqlite://" + (dir / "atlas.db").string();
  testing::MockLlm mock(scenario(kStudentAndTeacherReject));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 1\n"
                                           "[review]\nrequire_approval = false\n", url));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kFailed);
  EXPECT_EQ(r.review_status, ReviewStatus::kPending) << "a rejected answer must never be auto-approved";
  rt.reset();
  EXPECT_EQ(db_text(dir / "atlas.db", "SELECT status || '/' || review_status FROM sessions"), "failed/pending");
  EXPECT_EQ(db_text(dir / "atlas.db", "SELECT reward_stats FROM sessions"), "<null>");
  EXPECT_NE(db_text(dir / "atlas.db", "SELECT json_extract(metadata, '$.reward_unavailable') FROM sessions")
                .find("not judged: the session failed"),
            std::string::npos);
  // Exported only when asked for, whatever the review status.
  std::string export_args = "export --database-url '" + url + "' --format atlas-jsonl --include-all-statuses --output '" +
                            (dir / "out.jsonl").string() + "'";
  auto [plain, plain_out] = run_cli(dir, export_args);
  EXPECT_EQ(plain, 1) << plain_out;
  EXPECT_FALSE(fs::exists(dir / "out.jsonl"));
  auto [asked, asked_out] = run_cli(dir, export_args + " --include-failed");
  EXPECT_EQ(asked, 0) << asked_out;
  EXPECT_TRUE(fs::exists(dir / "out.jsonl"));
  fs::remove_all(dir);
}

// An export carries the conversation the student saw: the system prompt the adapter sent and
// every [agent] tool it offered, with the schema from the config (docs/export-formats.md).
TEST(TrainingData, ARunSessionExportsTheStudentsSystemPromptAndEveryOfferedToolWithItsSchema) {
  fs::path dir = temp_dir("offered");
  std::string url = "sqlite://" + (dir / "atlas.db").string();
  testing::MockLlm mock(scenario(
      R"({"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"answer A"}})"));
  const std::string tools =
      "[[agent.tools]]\nname = \"read_file\"\ndescription = \"Read a file\"\n"
      "parameters = { type = \"object\", properties = { path = { type = \"string\" } }, required = [\"path\"] }\n"
      "[[agent.tools]]\nname = \"list_dir\"\ndescription = \"List a directory\"\n"
      "parameters = { type = \"object\", properties = { dir = { type = \"string\" } } }\n"
      "[[agent.tools]]\nname = \"search\"\ndescription = \"Search the code\"\n"
      "parameters = { type = \"object\", properties = { query = { type = \"string\" }, limit = { type = \"integer\" } }, "
      "required = [\"query\"] }\n";
  auto rt = make_runtime(config_text(mock,
                                     "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n" +
                                         tools,
                                     url));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  ASSERT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  rt.reset();
  auto student = requests_with_role(mock, "student");
  ASSERT_EQ(student.size(), 1u);
  auto sent = json::parse(student[0].body).value();
  const std::string sent_system = json::get_string(sent["messages"][0], "content");
  ASSERT_NE(sent_system.find("You review code."), std::string::npos) << sent_system;
  for (const char* format : {"trl-sft", "openai-ft"}) {
    fs::path out = dir / (std::string(format) + ".jsonl");
    auto [code, text] = run_cli(dir, "export --database-url '" + url + "' --format " + format +
                                         " --include-all-statuses --output '" + out.string() + "'");
    ASSERT_EQ(code, 0) << text;
    std::ifstream in(out);
    std::string line;
    ASSERT_TRUE(static_cast<bool>(std::getline(in, line))) << format;
    auto row = json::parse(line).value();
    EXPECT_EQ(json::get_string(row["messages"][0], "role"), "system") << format;
    EXPECT_EQ(json::get_string(row["messages"][0], "content"), sent_system) << format;
    ASSERT_TRUE(row.HasMember("tools")) << line;
    ASSERT_EQ(row["tools"].Size(), 3u) << line;
    const char* names[] = {"read_file", "list_dir", "search"};
    for (rapidjson::SizeType i = 0; i < 3; ++i)
      EXPECT_EQ(json::get_string(row["tools"][i]["function"], "name"), names[i]) << line;
    auto search = json::parse(R"({"type":"object","properties":{"query":{"type":"string"},"limit":{"type":"integer"}},
                                  "required":["query"]})")
                      .value();
    EXPECT_TRUE(row["tools"][2]["function"]["parameters"] == search) << line;
  }
  fs::remove_all(dir);
}

TEST(TrainingData, AJudgeOutageStoresNoRewardWithTheReasonNotAZeroScore) {
  fs::path dir = temp_dir("judgedown");
  std::string url = "sqlite://" + (dir / "atlas.db").string();
  testing::MockLlm mock(scenario(R"(
    {"name":"down","match":{"system_contains":"impartial evaluator"},"response":{"fault":"http_error","status":400,"error_message":"judge model gone"}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"answer A"}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n", url));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_FALSE(r.reward.has_value()) << "a judge outage is not a score of " << r.reward.value_or(-1);
  rt.reset();
  EXPECT_EQ(db_text(dir / "atlas.db", "SELECT reward_stats FROM sessions"), "<null>");
  EXPECT_EQ(db_text(dir / "atlas.db", "SELECT reward FROM sessions"), "<null>");
  std::string reason = db_text(dir / "atlas.db", "SELECT json_extract(metadata, '$.reward_unavailable') FROM sessions");
  EXPECT_NE(reason.find("no judge produced a valid verdict"), std::string::npos) << reason;
  EXPECT_NE(reason.find("judge model gone"), std::string::npos) << reason;
  EXPECT_NE(db_text(dir / "atlas.db", "SELECT reward_audit FROM sessions"), "<null>") << "the audit says what failed";
  fs::remove_all(dir);
}

TEST(Limits, ALongPlanIsNotRunAndTheTeacherNeverSeesIt) {
  std::string steps;
  for (int i = 1; i <= 40; ++i) steps += std::string(i > 1 ? "," : "") + R"({"id":)" + std::to_string(i) + R"(,"description":"step"})";
  testing::MockLlm mock(scenario(R"({"name":"plan","match":{"system_contains":"must plan"},"response":{"json":{"steps":[)" +
                                 steps + R"(]}}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"whole task done"}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kSucceeded) << r.error;
  EXPECT_TRUE(r.plan_fallback);
  EXPECT_NE(r.plan_fallback_reason.find("40 steps, more than [limits] max_plan_steps = 32"), std::string::npos)
      << r.plan_fallback_reason;
  EXPECT_EQ(r.steps.size(), 1u);
  for (const auto& q : requests_with_role(mock, "teacher"))
    EXPECT_EQ(q.body.find("Review the student's plan"), std::string::npos) << "the teacher reviewed a refused plan";
}

TEST(Limits, ModelCallsTokensReplyBytesAndTaskBytesStopTheSessionWithTheLimitNamed) {
  struct Case {
    std::string limits;
    std::string student_text;
    std::string task;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"max_model_calls_per_session = 3", "never good", "Review this code", "max_model_calls_per_session = 3"},
      {"max_tokens_per_session = 50", "never good", "Review this code", "max_tokens_per_session = 50"},
      {"max_reply_bytes = 4096", std::string(20000, 'x'), "Review this code", "max_reply_bytes"},
      {"max_task_bytes = 1000", "fine", std::string(5000, 't'), "the task is 5000 bytes, more than [limits] max_task_bytes = 1000"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.limits);
    testing::MockLlm mock(scenario(R"(
      {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":")" + c.student_text +
                                   R"(","usage":{"prompt_tokens":40,"completion_tokens":20}}},
      {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":false,"guidance":"again"}}})"));
    auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"paired\"\nmax_retries = 5\n[limits]\n" +
                                                 c.limits + "\n"));
    ASSERT_TRUE(rt);
    SessionReport r = rt->run({c.task, "{}", ""});
    EXPECT_EQ(r.status, SessionStatus::kFailed);
    EXPECT_NE(r.error.find(c.expected), std::string::npos) << r.error;
    EXPECT_LT(lane_roles(mock).size(), 6u) << "the session went on after its limit";
    if (c.task.size() > 1000) {
      EXPECT_LT(r.task.size(), 1200u) << "the refused task was kept whole";
      EXPECT_TRUE(lane_roles(mock).empty());
    }
  }
}

TEST(Deadline, AnAdapterThatNeverReturnsFailsTheSessionInsteadOfHangingIt) {
  testing::MockLlm mock(scenario(R"({"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})"));
  std::string toml = config_text(mock, "[orchestration]\nforced_mode = \"auto\"\nstep_timeout_seconds = 0.5\n");
  toml.replace(toml.find("adapter = \"openai\""), std::string("adapter = \"openai\"").size(), "adapter = \"fixture_stuck\"");
  auto cfg = config::parse_config(toml, "test.toml");
  ASSERT_TRUE(cfg.is_ok()) << cfg.status().message();
  RuntimeOptions ro;
  ro.use_default_plugin_dirs = false;
  ro.plugin_dirs = {ATLAS_TEST_PLUGIN_DIR, std::string(ATLAS_TEST_FIXTURE_DIR) + "/../fixture-plugins-stuck"};
  auto rt = Runtime::create(std::move(*cfg), ro);
  ASSERT_TRUE(rt.is_ok()) << rt.status().to_string();
  double start = clock::monotonic_seconds();
  SessionReport r = (*rt)->run({"Review this code", "{}", ""});
  double took = clock::monotonic_seconds() - start;
  EXPECT_EQ(r.status, SessionStatus::kFailed);
  EXPECT_NE(r.error.find("DEADLINE_EXCEEDED"), std::string::npos) << r.error;
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.steps[0].status, StepStatus::kTimeout);
  EXPECT_LT(took, 60.0) << "the session waited for the stuck plugin";
  // A second session of the same runtime is not blocked by the first one's stuck call either.
  SessionReport again = (*rt)->run({"Review more code", "{}", ""});
  EXPECT_EQ(again.status, SessionStatus::kFailed);
  EXPECT_NE(again.error.find("DEADLINE_EXCEEDED"), std::string::npos) << again.error;
  rt->reset();  // kept, not torn down under the stuck threads (would hang or crash otherwise)
}

TEST(Deadline, TheSessionDeadlineBoundsACoachPlan) {
  std::string rules = std::string(kDiamondPlan) + R"(,
    {"name":"slow","match":{"system_contains":"You are the student agent","last_user_contains":"Step 1:"},"response":{"text":"late","latency_ms":30000}},
    {"name":"s","match":{"system_contains":"You are the student agent"},"response":{"text":"step done"}},
    {"name":"review","match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[]}}},
    {"name":"t","match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}})";
  testing::MockLlm mock(scenario(rules));
  auto rt = make_runtime(config_text(mock, "[orchestration]\nforced_mode = \"coach\"\n[limits]\nsession_timeout_seconds = 1\n"));
  ASSERT_TRUE(rt);
  SessionReport r = rt->run({"Review this code", "{}", ""});
  EXPECT_EQ(r.status, SessionStatus::kFailed);
  ASSERT_EQ(r.steps.size(), 4u);
  EXPECT_EQ(r.steps[0].status, StepStatus::kTimeout);
  EXPECT_NE(r.steps[0].reason.find("session_timeout_seconds"), std::string::npos) << r.steps[0].reason;
  EXPECT_LT(r.seconds, 20.0);
}

}  // namespace
}  // namespace atlas::runtime

namespace atlas::runtime {
namespace {

// run --rollouts: N siblings of one task see one learning state (read once for the group),
// sample at their own temperature, are stored with the group id and their index, and the
// group's learning updates start only after its last sibling ended.
TEST(RuntimeRollouts, SiblingsShareOneLearningStateAndTheirUpdatesWaitForTheWholeGroup) {
  fs::path dir = temp_dir("rollouts");
  std::string url = "sqlite://" + (dir / "atlas.db").string();
  testing::MockLlm mock(scenario(R"(
    {"name":"s","match":{"system_contains":"You are the student agent"},"after":"cycle",
     "responses":[{"text":"answer one"},{"text":"answer two"},{"text":"answer three"}]})"));
  std::vector<Event> events;
  std::mutex mu;
  auto rt = make_runtime(
      config_text(mock, "[orchestration]\nforced_mode = \"auto\"\n[review]\nrequire_approval = false\n", url), &events,
      &mu);
  ASSERT_TRUE(rt);
  const std::string md = R"({"learning_key_override":"rollout-key"})";
  SessionReport first = rt->run({"Review this code", md, ""});
  ASSERT_EQ(first.status, SessionStatus::kSucceeded) << first.error;
  rt->wait_for_background();  // playbook version 1
  {
    std::lock_guard<std::mutex> g(mu);
    events.clear();
  }
  RolloutOptions o;
  o.siblings = 3;
  o.temperatures = {0.2, 0.9};
  std::vector<SessionReport> group = rt->run_rollouts({"Review this code", md, ""}, o);
  ASSERT_EQ(group.size(), 3u);
  std::set<std::string> answers;
  for (size_t i = 0; i < group.size(); ++i) {
    EXPECT_EQ(group[i].status, SessionStatus::kSucceeded) << group[i].error;
    EXPECT_EQ(group[i].rollout_group, group[0].rollout_group);
    EXPECT_EQ(group[i].rollout_index, static_cast<int>(i));
    EXPECT_EQ(group[i].applied_playbook_version, 1) << "sibling " << i << " saw another learning state";
    answers.insert(group[i].final_answer);
  }
  EXPECT_EQ(group[0].rollout_group.rfind("rg-", 0), 0u) << group[0].rollout_group;
  EXPECT_EQ(answers.size(), 3u);
  rt->wait_for_background();
  {
    // Every synthesis of the group started after the group's last session ended.
    std::lock_guard<std::mutex> g(mu);
    size_t last_end = 0, first_synthesis = events.size(), syntheses = 0;
    for (size_t i = 0; i < events.size(); ++i) {
      if (events[i].type == "session" && events[i].name == "end") last_end = i;
      if (events[i].type == "learning" && events[i].name == "synthesis_start") {
        first_synthesis = std::min(first_synthesis, i);
        ++syntheses;
      }
    }
    EXPECT_EQ(syntheses, 3u);
    EXPECT_GT(first_synthesis, last_end) << "a learning update ran while siblings were still running";
  }
  // Each sibling asked the model at its own temperature (0.2, 0.9, 0.2).
  std::vector<double> temperatures;
  for (const auto& q : requests_with_role(mock, "student")) {
    auto body = json::parse(q.body);
    if (body && body->HasMember("temperature") && q.body.find("Review this code") != std::string::npos)
      temperatures.push_back((*body)["temperature"].GetDouble());
  }
  ASSERT_GE(temperatures.size(), 4u);
  EXPECT_EQ(std::vector<double>(temperatures.end() - 3, temperatures.end()), (std::vector<double>{0.2, 0.9, 0.2}));
  // After the group: the playbook went on from version 1, one update per sibling.
  auto store = rt->store();
  ASSERT_NE(store, nullptr);
  auto state = store->learning_get("rollout-key");
  ASSERT_TRUE(state.is_ok());
  EXPECT_EQ(state->version, 4);
  rt.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir / "atlas.db").string().c_str(), &db), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db,
                               "SELECT json_extract(metadata,'$.rollout_group'), json_extract(metadata,'$.rollout_index'),"
                               " json_extract(metadata,'$.rollout_size'), json_extract(metadata,'$.rollout_seed'),"
                               " json_extract(metadata,'$.rollout_temperature') FROM sessions WHERE id > 1 ORDER BY id",
                               -1, &st, nullptr),
            SQLITE_OK);
  std::set<int64_t> seeds;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_EQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), group[0].rollout_group);
    EXPECT_EQ(sqlite3_column_int(st, 1), i);
    EXPECT_EQ(sqlite3_column_int(st, 2), 3);
    seeds.insert(sqlite3_column_int64(st, 3));
    EXPECT_DOUBLE_EQ(sqlite3_column_double(st, 4), i == 1 ? 0.9 : 0.2);
  }
  EXPECT_EQ(seeds.size(), 3u) << "every sibling has its own seed";
  sqlite3_finalize(st);
  sqlite3_close(db);
  fs::remove_all(dir);
}

TEST(Cli, RunRolloutsRefusesBadGroupSettingsWithTheReason) {
  testing::MockLlm mock(scenario(R"({"match":{"system_contains":"You are the student agent"},"response":{"text":"fine"}})"));
  fs::path dir = temp_dir("rollout-cli");
  std::ofstream(dir / "atlas.toml") << config_text(
      mock, "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\"]\n[orchestration]\nforced_mode = \"auto\"\n",
      "sqlite://" + (dir / "a.db").string());
  for (const auto& [args, says] : std::vector<std::pair<std::string, std::string>>{
           {"--rollouts 1", "between 2 and 64"},
           {"--rollouts 3 --rollout-temperatures 0.2,hot", "'hot' is not a temperature"},
           {"--rollouts 3 --rollout-temperatures 2.5", "'2.5' is not a temperature"},
           {"--rollout-temperatures 0.2", "needs --rollouts"},
           {"--rollouts 2 --rollout-group 'bad id'", "may hold only"}}) {
    auto [code, out] = run_cli(dir, "run --config atlas.toml --task 'a task' " + args);
    EXPECT_EQ(code, 2) << args << "\n" << out;
    EXPECT_NE(out.find(says), std::string::npos) << args << "\n" << out;
  }
  auto [code, out] = run_cli(dir, "run --config atlas.toml --task 'a task' --rollouts 2 --rollout-group grp-1 --json");
  EXPECT_EQ(code, 0) << out;
  auto doc = json::parse(out.substr(out.find('[')));
  ASSERT_TRUE(doc.is_ok()) << out;
  ASSERT_EQ(doc->Size(), 2u);
  for (rapidjson::SizeType i = 0; i < 2; ++i) {
    EXPECT_EQ(json::get_string((*doc)[i], "rollout_group"), "grp-1");
    EXPECT_EQ(json::get_int((*doc)[i], "rollout_index"), static_cast<int64_t>(i));
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace atlas::runtime
