// atlas-host quickstart with a config file: --db is the store really written and named, and
// --offline sends every model role of any config to the scripted mock.
#include <gtest/gtest.h>

#include "cli_support.hpp"

namespace fs = std::filesystem;

namespace atlas::cli_test {
namespace {

const std::string kQuickstartConfig = std::string(ATLAS_TEST_SOURCE_DIR) + "/configs/quickstart.toml";

// The shipped quickstart config names real OpenAI models and OPENAI_API_KEY (unset here): only
// --offline can make it run, and then no role may reach the real provider.
TEST(Quickstart, OfflineRoutesEveryRoleOfAConfigToTheMock) {
  TempDir dir("qs-offline");
  CliResult r = run_cli(dir.path(), "quickstart --offline --config " + sh_quote(kQuickstartConfig));
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_NE(r.err.find("SCRIPTED"), std::string::npos) << r.all();
  EXPECT_EQ(r.all().find("FAILED"), std::string::npos) << r.all();
  EXPECT_EQ(r.all().find("OPENAI_API_KEY"), std::string::npos) << r.all();
  // The config's storage (sqlite://.atlas/atlas.db, relative to the working folder) got all three.
  EXPECT_EQ(sqlite_int(dir.path() / ".atlas/atlas.db", "SELECT COUNT(*) FROM sessions WHERE status = 'succeeded'"), 3);
}

// The config says a.db, the command line says b.db: the flag wins, and the closing message
// names the database that was written, as its absolute path.
TEST(Quickstart, DbFlagWinsOverTheConfigAndTheMessageNamesTheStoreOpened) {
  TempDir dir("qs-db");
  write_file(dir.path() / "atlas.toml", read_file(kQuickstartConfig) + "\n");
  std::string text = read_file(dir.path() / "atlas.toml");
  auto at = text.find("sqlite://.atlas/atlas.db");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("sqlite://.atlas/atlas.db").size(), "sqlite://a.db");
  write_file(dir.path() / "atlas.toml", text);
  CliResult r = run_cli(dir.path(), "quickstart --offline --tasks 1 -c atlas.toml --db sqlite://b.db");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  EXPECT_FALSE(fs::exists(dir.path() / "a.db")) << r.all();
  EXPECT_EQ(sqlite_int(dir.path() / "b.db", "SELECT COUNT(*) FROM sessions"), 1);
  std::string abs_b = (fs::canonical(dir.path()) / "b.db").string();
  EXPECT_NE(r.out.find("Sessions stored in sqlite " + abs_b), std::string::npos) << r.all();
}

// Without --db the built-in config stores in ./.atlas/atlas.db and says so.
TEST(Quickstart, DefaultStoreIsNamedByItsAbsolutePath) {
  TempDir dir("qs-default");
  CliResult r = run_cli(dir.path(), "quickstart --tasks 1");
  ASSERT_EQ(r.exit_code, 0) << r.all();
  std::string abs = (fs::canonical(dir.path()) / ".atlas/atlas.db").string();
  EXPECT_NE(r.out.find("Sessions stored in sqlite " + abs), std::string::npos) << r.all();
  CliResult both = run_cli(dir.path(), "quickstart --db sqlite://x.db --skip-storage");
  EXPECT_EQ(both.exit_code, 2) << both.all();
}

}  // namespace
}  // namespace atlas::cli_test
