// atlas-host commands with hostile plugins around, end to end: broken plugin files lying in
// plugin folders (a manifest that segfaults, never returns or calls exit(0)) must not stop
// `run`, `review approve` or `export`; an adapter whose invoke crashes in a worker process
// fails only its own session, which is stored `failed` with the reason.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <map>
#include <string>

#include "common/json.hpp"
#include "support/mock_llm_fixture.hpp"
#include "test_support.hpp"

namespace atlas::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

const char* kScenario = R"({"default":"echo","rules":[
  {"match":{"system_contains":"You are the student agent"},"response":{"text":"fine"}},
  {"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true,"guidance":null}}},
  {"match":{"system_contains":"impartial evaluator"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"match":{"system_contains":"senior arbiter"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
  {"match":{"system_contains":"You maintain the playbook"},"response":{"json":{"student_pamphlet":"p","playbook_entries":[]}}}]})";

std::string config_text(const testing::MockLlm& mock, const std::string& adapter, const std::string& plugins_table,
                        const fs::path& db) {
  auto model = [&](const std::string& section) {
    return "[" + section + "]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_key_env = \"ATLAS_MOCK_LLM_UNSET_KEY\"\n"
           "api_base = \"" + mock.openai_base() + "\"\ntimeout_seconds = 30\n\n";
  };
  std::string t = "[agent]\nadapter = \"" + adapter + "\"\nname = \"reviewer\"\nsystem_prompt = \"You review code.\"\n\n";
  t += model("student.llm") + model("teacher.llm") + model("rewards.small_model") + model("rewards.large_model") +
       model("learning.llm") + model("routing.probe_llm");
  t += "[orchestration]\nforced_mode = \"auto\"\nmax_retries = 1\n\n";
  t += plugins_table + "\n";
  t += "[storage]\ndatabase_url = \"sqlite://" + db.string() + "\"\n";
  return t;
}

// Environment for every command: a private probe cache and a short probe deadline.
std::string env_for(const TempDir& dir, const std::string& extra = "") {
  return "env -u OPENAI_API_KEY -u ANTHROPIC_API_KEY -u GEMINI_API_KEY ATLAS_PLUGIN_CACHE='" +
         (dir / "probe-cache.json").string() + "' ATLAS_PLUGIN_PROBE_TIMEOUT=3 " + extra + " ";
}

// session id -> {status, error} from the SQLite database.
std::map<std::string, std::pair<std::string, std::string>> stored_sessions(const fs::path& db) {
  std::map<std::string, std::pair<std::string, std::string>> out;
  sqlite3* h = nullptr;
  if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(h);
    return out;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(h, "SELECT id, status, COALESCE(metadata, '') FROM sessions", -1, &st, nullptr) == SQLITE_OK) {
    while (sqlite3_step(st) == SQLITE_ROW) {
      auto text = [&](int i) {
        const unsigned char* s = sqlite3_column_text(st, i);
        return s ? std::string(reinterpret_cast<const char*>(s)) : std::string();
      };
      out[text(0)] = {text(1), text(2)};
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(h);
  return out;
}

TEST(HostilePluginFolder, RunReviewAndExportDoTheirJobWithBrokenManifestsInEveryFolderKind) {
  testing::MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  fs::path broken = dir / "broken";
  fs::create_directory(broken);
  ::chmod(broken.c_str(), 0700);
  for (const char* name : {"segv_manifest", "hang_manifest", "exit_manifest"}) {
    fs::copy_file(fixture(name), broken / ("fixture_" + std::string(name) + ".so"));
  }
  fs::path db = dir / "atlas.db";
  // Channel 1: [plugins] dirs.
  dir.write("atlas.toml", config_text(mock, "openai",
                                      "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\", \"" +
                                          broken.string() + "\"]\n",
                                      db));
  std::string host = env_for(dir) + "'" + atlas_host() + "'";
  RunResult ran = run("cd '" + dir.path().string() + "' && " + host + " run --config atlas.toml --task 'review this' --json");
  ASSERT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  auto report = json::parse(ran.out, "run output");
  ASSERT_TRUE(report.is_ok()) << ran.out << ran.err;
  EXPECT_EQ(json::get_string(*report, "status"), "succeeded") << ran.out;
  EXPECT_EQ(json::get_string(*report, "final_answer"), "fine") << ran.out;
  std::string session = json::get_string(*report, "session_id");
  // Every broken file is named, with what it did.
  EXPECT_THAT(ran.err, HasSubstr("fixture_segv_manifest.so: refused: crashed with signal 11 (SIGSEGV)"));
  EXPECT_THAT(ran.err, HasSubstr("fixture_exit_manifest.so: refused: the probe process exited with status 0"));
  EXPECT_THAT(ran.err, HasSubstr("fixture_hang_manifest.so: refused: did not finish within 3 s"));

  // Channel 2: ATLAS_PLUGIN_PATH.
  std::string host_env_path = env_for(dir, "ATLAS_PLUGIN_PATH='" + broken.string() + "'") + "'" + atlas_host() + "'";
  RunResult approved = run("cd '" + dir.path().string() + "' && " + host_env_path + " review approve " + session +
                           " --config atlas.toml --reason checked");
  ASSERT_EQ(approved.exit_code, 0) << approved.out << approved.err;

  // Channel 3: --plugin-dir.
  RunResult exported = run("cd '" + dir.path().string() + "' && " + host + " export --config atlas.toml --format "
                           "atlas-jsonl --output out.jsonl --plugin-dir '" + broken.string() + "'");
  ASSERT_EQ(exported.exit_code, 0) << exported.out << exported.err;
  EXPECT_THAT(read_file(dir / "out.jsonl"), HasSubstr("review this"));
}

TEST(HostilePluginFolder, UsingABrokenPluginFailsNamingTheFile) {
  testing::MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  fs::path broken = dir / "broken";
  fs::create_directory(broken);
  ::chmod(broken.c_str(), 0700);
  fs::copy_file(fixture("exit_manifest"), broken / "fixture_exit_manifest.so");
  dir.write("atlas.toml", config_text(mock, "exit_manifest", "[plugins]\ndirs = [\"" + broken.string() + "\"]\n",
                                      dir / "atlas.db"));
  RunResult ran = run("cd '" + dir.path().string() + "' && " + env_for(dir) + "'" + atlas_host() +
                      "' run --config atlas.toml --task 'review this'");
  EXPECT_NE(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_THAT(ran.err, HasSubstr("fixture_exit_manifest.so: refused"));
}

TEST(ProcessIsolation, ACrashingAdapterFailsOnlyItsOwnSessionsAndNoRowStaysRunning) {
  testing::MockLlm mock(kScenario);
  ASSERT_TRUE(mock.ok());
  TempDir dir;
  fs::path plugins = dir / "plugins";
  fs::create_directory(plugins);
  ::chmod(plugins.c_str(), 0700);
  fs::copy_file(fixture("crash_invoke"), plugins / "fixture_crash_invoke.so");
  fs::path db = dir / "atlas.db";
  // No isolation setting: a plugin from a user folder runs in a worker process by default.
  dir.write("atlas.toml", config_text(mock, "crash_invoke",
                                      "[plugins]\ndirs = [\"" + std::string(ATLAS_TEST_PLUGIN_DIR) + "\", \"" +
                                          plugins.string() + "\"]\n",
                                      db));
  dir.write("tasks.jsonl",
            "\"task one\"\n\"please crash-segv now\"\n\"task three\"\n\"please crash-abort now\"\n\"task five\"\n"
            "\"please crash-exit now\"\n\"task seven\"\n\"task eight\"\n");
  RunResult ran = run("cd '" + dir.path().string() + "' && " + env_for(dir) + "'" + atlas_host() +
                      "' run --config atlas.toml --tasks tasks.jsonl --concurrency 4 --json");
  EXPECT_EQ(ran.exit_code, 1) << ran.out << ran.err;  // some sessions failed
  auto reports = json::parse(ran.out, "run output");
  ASSERT_TRUE(reports.is_ok() && reports->IsArray()) << ran.out << ran.err;
  ASSERT_EQ(reports->Size(), 8u);
  std::map<std::string, std::string> expected_reason = {{"please crash-segv now", "signal 11 (SIGSEGV)"},
                                                         {"please crash-abort now", "signal 6 (SIGABRT)"},
                                                         {"please crash-exit now", "exited with status 3"}};
  auto rows = stored_sessions(db);
  for (const auto& r : reports->GetArray()) {
    std::string task = json::get_string(r, "task");
    std::string id = json::get_string(r, "session_id");
    ASSERT_TRUE(rows.count(id)) << "session of '" << task << "' not stored";
    if (auto it = expected_reason.find(task); it != expected_reason.end()) {
      EXPECT_EQ(json::get_string(r, "status"), "failed") << task;
      EXPECT_THAT(json::get_string(r, "error"), HasSubstr(it->second)) << task;
      EXPECT_THAT(json::get_string(r, "error"), HasSubstr("crash_invoke")) << task;
      EXPECT_EQ(rows[id].first, "failed") << task;
    } else {
      EXPECT_EQ(json::get_string(r, "status"), "succeeded") << task << ": " << json::get_string(r, "error");
      EXPECT_EQ(rows[id].first, "succeeded") << task;
    }
  }
  EXPECT_THAT(ran.err, HasSubstr("crash_invoke: giving up on purpose"));  // the worker's stderr is passed on
  for (const auto& [id, row] : rows) EXPECT_NE(row.first, "running") << id;
}

}  // namespace
}  // namespace atlas::test
