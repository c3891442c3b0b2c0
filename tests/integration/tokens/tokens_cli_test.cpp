// The command line end to end on one stored quickstart run whose student block sets
// capture_tokens = true: export --format tokens-jsonl, tokens check (clean, drifted, no
// tokenizer), and the playbook commands on the playbook the run's learning synthesis wrote.
#include <gtest/gtest.h>

#include <fstream>
#include <mutex>
#include <sstream>

#include "common/json.hpp"
#include "integration/cli/cli_support.hpp"
#include "support/mock_llm_fixture.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

// The quickstart, offline, with token capture on: built once per binary and copied per test.
void copy_capture_db(const fs::path& to) {
  static std::once_flag once;
  static fs::path source;
  static std::string failure;
  std::call_once(once, [] {
    static fs::path dir = fs::temp_directory_path() / ("atlas-tokens-seed-" + std::to_string(::getpid()));
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(dir, ec);
    });
    fs::remove_all(dir);
    fs::create_directories(dir);
    source = dir / "seed.db";
    std::string config = read_file(std::string(ATLAS_TEST_SOURCE_DIR) + "/configs/quickstart.toml");
    auto at = config.find("[student.llm]\n");
    if (at == std::string::npos) {
      failure = "configs/quickstart.toml has no [student.llm] table";
      return;
    }
    config.insert(at + std::string("[student.llm]\n").size(), "capture_tokens = true\n");
    write_file(dir / "capture.toml", config);
    CliResult r = run_cli(dir, "quickstart --offline -c capture.toml --db " + sh_quote("sqlite://" + source.string()));
    if (r.exit_code != 0) failure = "seeding quickstart failed:\n" + r.all();
  });
  ASSERT_TRUE(failure.empty()) << failure;
  fs::copy_file(source, to, fs::copy_options::overwrite_existing);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (!l.empty()) out.push_back(l);
  return out;
}

class TokensCli : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(copy_capture_db(db())); }
  fs::path db() const { return dir_.path() / "s.db"; }
  std::string url() const { return " --database-url " + sh_quote("sqlite://" + db().string()); }
  CliResult cli(const std::string& args, const std::string& env = "") {
    return run_cli(dir_.path(), args + url(), env);
  }
  TempDir dir_{"tokens-cli"};
};

TEST_F(TokensCli, TheRunStoredTokenExactStudentCalls) {
  long long exact = sqlite_int(db(),
                               "SELECT COUNT(*) FROM trajectory_events WHERE json_extract(event, '$.type') = "
                               "'llm_call' AND json_extract(event, '$.role') = 'student' AND "
                               "json_extract(event, '$.data.tokens.capture') = 'token_exact'");
  EXPECT_GT(exact, 0);
  long long judge_tokens = sqlite_int(db(),
                                      "SELECT COUNT(*) FROM trajectory_events WHERE "
                                      "json_extract(event, '$.role') = 'judge' AND "
                                      "json_extract(event, '$.data.tokens') IS NOT NULL");
  EXPECT_EQ(judge_tokens, 0) << "only the student's model block asked for capture";
}

TEST_F(TokensCli, ExportTokensJsonlWritesOneValidRowPerTokenExactCall) {
  CliResult r = cli("export --format tokens-jsonl --output t.jsonl");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto rows = lines(read_file(dir_.path() / "t.jsonl"));
  ASSERT_FALSE(rows.empty());
  long long exact = sqlite_int(db(),
                               "SELECT COUNT(*) FROM trajectory_events t JOIN sessions s ON s.id = t.session_id "
                               "WHERE s.status = 'succeeded' AND s.review_status = 'approved' AND "
                               "json_extract(t.event, '$.data.tokens.capture') = 'token_exact'");
  EXPECT_EQ(static_cast<long long>(rows.size()), exact);
  for (const auto& line : rows) {
    auto row = json::parse(line);
    ASSERT_TRUE(row.is_ok()) << line;
    // What an RL trainer reads: integer ids, one logprob (<= 0) per completion token.
    ASSERT_TRUE((*row)["prompt_ids"].IsArray());
    EXPECT_GT((*row)["prompt_ids"].Size(), 0u);
    for (const auto& id : (*row)["prompt_ids"].GetArray()) ASSERT_TRUE(id.IsInt64());
    EXPECT_EQ((*row)["logprobs"].Size(), (*row)["completion_ids"].Size());
    for (const auto& lp : (*row)["logprobs"].GetArray()) EXPECT_LE(lp.GetDouble(), 0.0);
    EXPECT_EQ(json::get_string(*row, "step_capture"), "token_exact");
  }
  EXPECT_EQ(lines(read_file(dir_.path() / "t.jsonl.lineage.jsonl")).size(), rows.size());
  CliResult schema = run_cli(dir_.path(), "export --format tokens-jsonl --print-schema");
  EXPECT_EQ(schema.exit_code, 0) << schema.all();
  EXPECT_NE(schema.out.find("completion_ids"), std::string::npos);
}

TEST_F(TokensCli, TokensCheckFindsNoDriftAgainstTheSameTokenizer) {
  testing::MockLlm mock;
  ASSERT_TRUE(mock.ok());
  CliResult r = cli("tokens check --tokenize-url " + mock.base_url() + "/tokenize");
  EXPECT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.out.find("0 of "), std::string::npos) << r.all();
  EXPECT_FALSE(mock.requests().empty());
  CliResult js = cli("tokens check --json --tokenize-url " + mock.base_url() + "/tokenize");
  ASSERT_EQ(js.exit_code, 0) << js.all();
  auto doc = json::parse(js.out);
  ASSERT_TRUE(doc.is_ok()) << js.out;
  EXPECT_GT(json::get_int(*doc, "calls_checked"), 0);
  EXPECT_EQ(json::get_int(*doc, "steps_drifted"), 0);
}

TEST_F(TokensCli, TokensCheckReportsDriftAndExits1) {
  testing::MockLlm mock(R"({"tokenizer":{"drift_at":5}})");
  ASSERT_TRUE(mock.ok());
  CliResult r = cli("tokens check --json --tokenize-url " + mock.base_url() + "/tokenize");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_ok()) << r.all();
  EXPECT_GT(json::get_int(*doc, "steps_drifted"), 0);
  EXPECT_EQ(json::get_int(*doc, "steps_drifted"), json::get_int(*doc, "steps_checked"));
  ASSERT_GT((*doc)["drifts"].Size(), 0u);
  EXPECT_EQ(json::get_int((*doc)["drifts"][0], "first_difference"), 5);
  CliResult text = cli("tokens check --tokenize-url " + mock.base_url() + "/tokenize");
  EXPECT_EQ(text.exit_code, 1);
  EXPECT_NE(text.out.find("first difference at token 5"), std::string::npos) << text.all();
}

TEST_F(TokensCli, TokensCheckFailsClearlyWithoutATokenizer) {
  testing::MockLlm mock;
  ASSERT_TRUE(mock.ok());
  CliResult r = cli("tokens check --tokenize-url " + mock.base_url() + "/v1/nope");
  EXPECT_EQ(r.exit_code, 1) << r.all();
  EXPECT_NE(r.err.find("no /tokenize endpoint"), std::string::npos) << r.all();
  CliResult usage = cli("tokens verify");
  EXPECT_EQ(usage.exit_code, 2) << usage.all();
}

TEST_F(TokensCli, CaptureTokensOnAnthropicIsAConfigError) {
  write_file(dir_.path() / "bad.toml",
             "[agent]\nadapter = \"anthropic\"\n[student.llm]\nprovider = \"anthropic\"\nmodel = \"c\"\n"
             "capture_tokens = true\n[teacher.llm]\nmodel = \"t\"\n");
  CliResult r = run_cli(dir_.path(), "config check -c bad.toml");
  EXPECT_NE(r.exit_code, 0) << r.all();
  EXPECT_NE(r.all().find("capture_tokens"), std::string::npos) << r.all();
}

// ---- playbook -------------------------------------------------------------------------------

class PlaybookCli : public TokensCli {
 protected:
  void SetUp() override {
    TokensCli::SetUp();
    CliResult list = cli("playbook list --json");
    ASSERT_EQ(list.exit_code, 0) << list.all();
    auto doc = json::parse(list.out);
    ASSERT_TRUE(doc.is_ok() && doc->IsArray() && doc->Size() > 0) << list.all();
    key_ = json::get_string((*doc)[0], "learning_key");
    label_ = json::get_string((*doc)[0], "label");
    version_ = json::get_int((*doc)[0], "version");
  }
  long long versions() {
    return sqlite_int(db(), "SELECT COUNT(*) FROM learning_versions WHERE learning_key = '" + key_ + "'");
  }
  std::string key_, label_;
  int64_t version_ = 0;
};

TEST_F(PlaybookCli, ShowAndHistoryByKeyPrefixAndLabel) {
  CliResult show = cli("playbook show " + key_.substr(0, 10));
  ASSERT_EQ(show.exit_code, 0) << show.all();
  EXPECT_NE(show.out.find("=== student_learning ==="), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("(current)"), std::string::npos);
  CliResult by_label = cli("playbook show " + sh_quote(label_) + " --json");
  ASSERT_EQ(by_label.exit_code, 0) << by_label.all();
  auto doc = json::parse(by_label.out);
  EXPECT_EQ(json::get_string(*doc, "learning_key"), key_);
  CliResult history = cli("playbook history " + key_);
  ASSERT_EQ(history.exit_code, 0) << history.all();
  EXPECT_NE(history.out.find("synthesis by learning"), std::string::npos) << history.out;
  EXPECT_EQ(versions(), version_) << "every version the synthesis wrote is kept";
  CliResult unknown = cli("playbook show no-such-key");
  EXPECT_EQ(unknown.exit_code, 1) << unknown.all();
  EXPECT_NE(unknown.err.find("no playbook for \"no-such-key\""), std::string::npos) << unknown.all();
  CliResult no_version = cli("playbook show " + key_ + " --version 999");
  EXPECT_EQ(no_version.exit_code, 1);
  EXPECT_NE(no_version.err.find("version 999"), std::string::npos) << no_version.all();
}

TEST_F(PlaybookCli, EditFromAFileWritesANewVersionWithTheActorAndDiffShowsIt) {
  CliResult show = cli("playbook show " + key_);
  ASSERT_EQ(show.exit_code, 0);
  std::string doc = show.out.substr(show.out.find("=== student_learning ==="));
  doc.insert(std::string("=== student_learning ===\n").size(), "Always quote SQL parameters.\n");
  write_file(dir_.path() / "edit.txt", doc);
  CliResult edit = cli("playbook edit " + key_ + " --file edit.txt --actor alice --note 'add the SQL rule'");
  ASSERT_EQ(edit.exit_code, 0) << edit.all();
  EXPECT_EQ(versions(), version_ + 1);
  auto row = sqlite_rows(db(), "SELECT actor, action, note, version FROM learning_versions WHERE learning_key = '" +
                                   key_ + "' ORDER BY version DESC LIMIT 1");
  ASSERT_EQ(row.size(), 1u);
  EXPECT_EQ(row[0][0], "alice");
  EXPECT_EQ(row[0][1], "edit");
  EXPECT_EQ(row[0][2], "add the SQL rule");
  EXPECT_EQ(row[0][3], std::to_string(version_ + 1));
  EXPECT_EQ(sqlite_int(db(), "SELECT version FROM learning_registry WHERE learning_key = '" + key_ + "'"),
            version_ + 1);
  CliResult diff = cli("playbook diff " + key_);
  ASSERT_EQ(diff.exit_code, 0) << diff.all();
  EXPECT_NE(diff.out.find("+Always quote SQL parameters."), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("--- playbook v" + std::to_string(version_)), std::string::npos) << diff.out;
  // Unchanged text is no new version; a malformed file changes nothing.
  CliResult again = cli("playbook edit " + key_ + " --file edit.txt --actor alice");
  EXPECT_EQ(again.exit_code, 0) << again.all();
  EXPECT_NE(again.out.find("No change"), std::string::npos);
  write_file(dir_.path() / "broken.txt", "=== student_learning ===\nonly one section\n");
  CliResult broken = cli("playbook edit " + key_ + " --file broken.txt");
  EXPECT_EQ(broken.exit_code, 1);
  EXPECT_NE(broken.err.find("teacher_learning"), std::string::npos) << broken.all();
  EXPECT_EQ(versions(), version_ + 1);
  CliResult no_tty = cli("playbook edit " + key_);
  EXPECT_EQ(no_tty.exit_code, 2) << no_tty.all();
  EXPECT_NE(no_tty.err.find("--file"), std::string::npos);
}

TEST_F(PlaybookCli, ResetKeepsTheHistoryAndEditWorksThroughTheEditor) {
  // $EDITOR as a real program: a shell script that adds a line to the teacher's pamphlet.
  write_file(dir_.path() / "ed.sh",
             "#!/bin/sh\nsed -i 's/^=== teacher_learning ===$/&\\nCheck every redirect target./' \"$1\"\n");
  fs::permissions(dir_.path() / "ed.sh", fs::perms::owner_all);
  CliResult reset = cli("playbook reset " + key_ + " --actor bob");
  ASSERT_EQ(reset.exit_code, 0) << reset.all();
  CliResult show = cli("playbook show " + key_ + " --json");
  auto doc = json::parse(show.out);
  ASSERT_TRUE(doc.is_ok()) << show.all();
  EXPECT_EQ(json::get_string((*doc)["playbook"], "student_learning"), "");
  EXPECT_EQ(json::get_string((*doc)["playbook"], "actor"), "bob");
  EXPECT_EQ((*doc)["playbook"]["metadata"]["playbook_entries"].Size(), 0u);
  EXPECT_EQ(versions(), version_ + 1);
  CliResult old = cli("playbook show " + key_ + " --version " + std::to_string(version_) + " --json");
  ASSERT_EQ(old.exit_code, 0) << old.all();
  CliResult diff = cli("playbook diff " + key_ + " " + std::to_string(version_) + " v" + std::to_string(version_ + 1));
  EXPECT_EQ(diff.exit_code, 0) << diff.all();
  CliResult bad_diff = cli("playbook diff " + key_ + " x1");
  EXPECT_EQ(bad_diff.exit_code, 2) << bad_diff.all();
  // The editor path needs a terminal on stdin: `script` gives the command one.
  std::string cmd =
      "script -qec " +
      sh_quote(std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host playbook edit " + key_ + " --actor carol" + url()) +
      " /dev/null";
  int rc = std::system(("cd " + sh_quote(dir_.path().string()) +
                        " && EDITOR=" + sh_quote((dir_.path() / "ed.sh").string()) + " " + cmd + " > edit.out 2>&1")
                           .c_str());
  if (rc != 0 && read_file(dir_.path() / "edit.out").find("not found") != std::string::npos)
    GTEST_SKIP() << "no `script` program to give the editor a terminal";
  ASSERT_EQ(rc, 0) << read_file(dir_.path() / "edit.out");
  EXPECT_EQ(versions(), version_ + 2);
  CliResult after = cli("playbook show " + key_ + " --json");
  auto adoc = json::parse(after.out);
  EXPECT_NE(json::get_string((*adoc)["playbook"], "teacher_learning").find("Check every redirect target."),
            std::string::npos)
      << after.out;
  EXPECT_EQ(json::get_string((*adoc)["playbook"], "actor"), "carol");
}

TEST_F(PlaybookCli, RejectedListsWhatTheGatesRefusedWithReasons) {
  CliResult r = cli("playbook rejected " + key_ + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_ok() && doc->IsArray()) << r.all();
  for (const auto& c : doc->GetArray()) {
    EXPECT_GT(c["reasons"].Size(), 0u);
    EXPECT_FALSE(json::get_string(c, "session_id").empty());
  }
  CliResult usage = cli("playbook frobnicate " + key_);
  EXPECT_EQ(usage.exit_code, 2) << usage.all();
}

}  // namespace
}  // namespace atlas::cli_test
