// `atlas-host plugins ...` end to end: the real executable, real fixture libraries, exit
// codes and the messages a user reads.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/json.hpp"
#include "test_support.hpp"

namespace atlas::test {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

std::string plugins_cmd(const std::string& args) { return atlas_host() + " plugins " + args; }

std::vector<std::string> names_in(const json::Value& arr) {
  std::vector<std::string> out;
  if (!arr.IsArray()) return out;
  for (const auto& p : arr.GetArray()) out.push_back(json::get_string(p, "name"));
  return out;
}

TEST(PluginsCli, ListJsonShowsGoodPluginsAndReportsACrashingFile) {
  TempDir dir;
  dir.add_fixture("good_multi");
  dir.add_fixture("segv_manifest");
  RunResult r = run(plugins_cmd("list --json --no-default-dirs --plugin-dir " + dir.path().string()));
  EXPECT_EQ(r.exit_code, 1) << "a refused file fails the command, the usable plugins are still listed\n" << r.err;
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_ok()) << r.out;
  EXPECT_THAT(names_in(*json::find(*doc, "plugins")), ::testing::ElementsAre("fixture_echo", "fixture_judge"));
  std::string diags = json::dump(*json::find(*doc, "diagnostics"));
  EXPECT_THAT(diags, AllOf(HasSubstr("fixture_segv_manifest.so: refused: crashed with signal 11 (SIGSEGV) in its "
                                     "manifest function")));
}

TEST(PluginsCli, ListTableIsReadable) {
  TempDir dir;
  dir.add_fixture("good_multi");
  RunResult r = run(plugins_cmd("list --no-default-dirs --plugin-dir " + dir.path().string()));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("KIND"), HasSubstr("NAME"), HasSubstr("adapter  fixture_echo"),
                           HasSubstr("Scanned: " + dir.path().string())));
  EXPECT_EQ(r.out.find("\033["), std::string::npos) << "no colour when stdout is not a terminal";
}

TEST(PluginsCli, ListExitsOneWhenAFileWasRefused) {
  TempDir dir;
  dir.add_fixture("good_multi");
  dir.add_fixture("exit_manifest");
  RunResult r = run(plugins_cmd("list --no-default-dirs --plugin-dir " + dir.path().string()));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.out, HasSubstr("adapter  fixture_echo"));
  EXPECT_THAT(r.err, AllOf(HasSubstr("fixture_exit_manifest.so: refused: the probe process exited with status 0"),
                           HasSubstr("1 problem found; the plugins listed above are usable")));
}

TEST(PluginsCli, BuildTreeFindsItsPluginFolderWithoutFlags) {
  RunResult r = run(plugins_cmd("list --json"));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto doc = json::parse(r.out);
  ASSERT_TRUE(doc.is_ok()) << r.out;
  std::string dirs = json::dump(*json::find(*doc, "dirs"));
  EXPECT_THAT(dirs, HasSubstr(fs::path(ATLAS_TEST_PLUGIN_DIR).lexically_normal().string()));
}

TEST(PluginsCli, InspectSystemLibraryExitsOneAndNamesTheFix) {
  std::string lib;
  for (const char* candidate : {"/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libz.so.1",
                                "/usr/lib/aarch64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libc.so.6"}) {
    if (fs::exists(candidate)) {
      lib = candidate;
      break;
    }
  }
  if (lib.empty()) GTEST_SKIP() << "no system library found to inspect";
  RunResult r = run(plugins_cmd("inspect " + lib));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr(lib + ": refused: it does not export atlas_plugin_manifest_v1"),
                           HasSubstr("remove it from the plugin folder")));
}

TEST(PluginsCli, InspectAbiMajorFixtureExitsOne) {
  RunResult r = run(plugins_cmd("inspect " + fixture("abi_major").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr("fixture_abi_major.so: refused: built for plugin ABI 2.0"),
                           HasSubstr("rebuild the plugin against AtlasSDK 1.x")));
}

TEST(PluginsCli, InspectWorldWritableFileExitsOne) {
  TempDir dir;
  fs::path f = dir.add_fixture("good_multi", "writable.so");
  ::chmod(f.c_str(), 0666);
  RunResult r = run(plugins_cmd("inspect " + f.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, AllOf(HasSubstr(f.string() + ": refused: the file is writable by group and others (mode 0666)"),
                           HasSubstr("chmod go-w " + f.string())));
  RunResult unsafe = run(plugins_cmd("inspect --allow-unsafe-plugins " + f.string()));
  EXPECT_EQ(unsafe.exit_code, 0) << unsafe.err;
}

TEST(PluginsCli, InspectByNameShowsDetailsAndSchema) {
  RunResult r = run(plugins_cmd("inspect fixture_echo --timeout 3 --no-default-dirs --plugin-dir " +
                                std::string(ATLAS_TEST_FIXTURE_DIR)));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, AllOf(HasSubstr("fixture_echo (adapter) 1.2.3"), HasSubstr("capabilities:  cancel"),
                           HasSubstr("\"prefix\""), HasSubstr("plugin ABI:    1.")));
  RunResult missing = run(plugins_cmd("inspect no_such_plugin --timeout 3 --no-default-dirs --plugin-dir " +
                                      std::string(ATLAS_TEST_FIXTURE_DIR)));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, AllOf(HasSubstr("no plugin named 'no_such_plugin'"), HasSubstr("fixture_echo")));
}

TEST(PluginsCli, VerifyReportsEachFileAndFailsOnACrash) {
  TempDir dir;
  dir.add_fixture("good_multi");
  dir.add_fixture("segv_manifest");
  RunResult r = run(plugins_cmd("verify --no-default-dirs --plugin-dir " + dir.path().string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.out, AllOf(HasSubstr("fixture_good_multi.so: adapter fixture_echo 1.2.3, judge fixture_judge 1.0.0"),
                           HasSubstr("FAILED  " + (dir / "fixture_segv_manifest.so").string()),
                           HasSubstr("2 files verified: 1 ok, 1 failed")));
  EXPECT_THAT(r.err, HasSubstr("crashed with signal 11 (SIGSEGV) in its manifest function"));

  RunResult good = run(plugins_cmd("verify --json " + (dir / "fixture_good_multi.so").string()));
  EXPECT_EQ(good.exit_code, 0) << good.err;
  auto doc = json::parse(good.out);
  ASSERT_TRUE(doc.is_ok()) << good.out;
  EXPECT_EQ(json::get_int(*doc, "ok"), 1);
  EXPECT_EQ(json::get_int(*doc, "failed"), 0);
}

TEST(PluginsCli, LockOptionIsEnforced) {
  TempDir dir, locks;
  dir.add_fixture("good_multi");
  fs::path lock = locks.write("plugins.lock", std::string(64, '0') + "  fixture_good_multi.so\n");
  RunResult r = run(plugins_cmd("verify --no-default-dirs --plugin-dir " + dir.path().string() + " --lock " + lock.string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("SHA-256 mismatch"));
  RunResult missing = run(plugins_cmd("list --lock /nonexistent/plugins.lock"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_THAT(missing.err, HasSubstr("/nonexistent/plugins.lock: cannot read the plugin lock file"));
}

TEST(PluginsCli, UsageErrorsExitTwoAndHelpExitsZero) {
  EXPECT_EQ(run(plugins_cmd("")).exit_code, 2);
  RunResult bad = run(plugins_cmd("frobnicate"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_THAT(bad.err, HasSubstr("unknown subcommand 'frobnicate'"));
  EXPECT_EQ(run(plugins_cmd("list --bogus-flag")).exit_code, 2);
  EXPECT_EQ(run(plugins_cmd("inspect")).exit_code, 2);
  RunResult help = run(plugins_cmd("--help"));
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_THAT(help.out, AllOf(HasSubstr("--plugin-dir"), HasSubstr("--allow-unsafe-plugins"), HasSubstr("--lock")));
}

TEST(PluginsCli, MissingPluginFolderIsAFailure) {
  RunResult r = run(plugins_cmd("list --plugin-dir /nonexistent/atlas-plugins"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.err, HasSubstr("/nonexistent/atlas-plugins: plugin folder does not exist"));
}

}  // namespace
}  // namespace atlas::test
