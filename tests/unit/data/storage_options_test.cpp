// data::storage_options: the one function every command (run, quickstart, db, review, export,
// report, train) opens storage with.
#include "data/storage_options.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/json.hpp"
#include "config/loader.hpp"

namespace atlas::data {
namespace {

using ::testing::HasSubstr;

// A valid agent (auto lane, no judges) on ten lines, then `toml` from line 11.
config::Config parse(const std::string& toml) {
  const std::string agent =
      "[agent]\nadapter = \"openai\"\n[orchestration]\nforced_mode = \"auto\"\n"
      "[rewards]\nsession_judges = []\nstep_judges = []\n[student.llm]\nprovider = \"openai\"\nmodel = \"m\"\n";
  auto c = config::parse_config(agent + toml, "atlas.toml");
  EXPECT_TRUE(c.is_ok()) << c.status().to_string();
  return c ? std::move(*c) : config::Config();
}

TEST(StorageOptions, StorageTableGoesToThePluginWithItsOwnExtraKeys) {
  config::Config c = parse(
      "[storage]\ndatabase_url = \"sqlite:///tmp/a.db\"\nmax_connections = 7\n"
      "[plugins.soci]\nbusy_timeout_seconds = 4\n");
  auto o = storage_options(c);
  ASSERT_TRUE(o.is_ok()) << o.status().to_string();
  EXPECT_EQ(o->plugin, "soci");
  EXPECT_EQ(o->database_url, "sqlite:///tmp/a.db");
  auto plugin = json::parse(o->plugin_config_json).value();
  EXPECT_EQ(json::get_string(plugin, "database_url"), "sqlite:///tmp/a.db");
  EXPECT_EQ(json::get_int(plugin, "max_connections"), 7);
  EXPECT_EQ(json::get_int(plugin, "busy_timeout_seconds"), 4);
}

// Regression: `run` let [plugins.soci] database_url win over [storage] while db/review/export
// did the opposite, so `run` and `db migrate` could reach different databases. A [storage]
// key in the storage plugin's table is refused, naming where it was written.
TEST(StorageOptions, StorageKeyInThePluginTableIsRefused) {
  config::Config c = parse(
      "[storage]\ndatabase_url = \"sqlite:///tmp/a.db\"\n"
      "[plugins.soci]\ndatabase_url = \"sqlite:///tmp/b.db\"\n");
  auto o = storage_options(c);
  ASSERT_FALSE(o.is_ok());
  EXPECT_EQ(o.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(o.status().message(), HasSubstr("atlas.toml:14"));
  EXPECT_THAT(o.status().message(), HasSubstr("[plugins.soci] sets database_url, which is a [storage] setting"));
  EXPECT_THAT(o.status().message(), HasSubstr("move it to [storage]"));
  for (const char* key : {"max_connections = 3", "min_connections = 1", "statement_timeout_seconds = 5",
                          "apply_schema_on_connect = false"}) {
    config::Config k = parse(std::string("[plugins.soci]\n") + key + "\n");
    EXPECT_EQ(storage_options(k).status().code(), StatusCode::kInvalidArgument) << key;
  }
}

// Regression: `run` ignored [storage] write_retry_seconds (it used the Store's defaults).
TEST(StorageOptions, WriteRetrySecondsIsTheRetryBudget) {
  config::Config c = parse("[storage]\nwrite_retry_seconds = 12.5\nspool_path = \"/tmp/x/spool.jsonl\"\n");
  auto o = storage_options(c);
  ASSERT_TRUE(o.is_ok());
  EXPECT_EQ(o->store.retry_budget_ms, 12500);
  EXPECT_GT(o->store.retry_attempts, 1);
  EXPECT_EQ(o->store.spool_path, "/tmp/x/spool.jsonl");
  // A command a person waits on retries for 3 s at most.
  auto interactive = storage_options(c, StorageCli{"", true});
  EXPECT_EQ(interactive->store.retry_budget_ms, 3000);
  config::Config zero = parse("[storage]\nwrite_retry_seconds = 0\n");
  EXPECT_EQ(storage_options(zero)->store.retry_attempts, 1);
}

TEST(StorageOptions, CommandLineUrlWinsAndTurnsStorageOn) {
  config::Config c = parse("[storage]\nenabled = false\n");
  auto off = storage_options(c);
  EXPECT_EQ(off.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(off.status().message(), HasSubstr("--database-url"));
  auto on = storage_options(c, StorageCli{"sqlite:///tmp/cli.db", false});
  ASSERT_TRUE(on.is_ok()) << on.status().to_string();
  EXPECT_EQ(on->database_url, "sqlite:///tmp/cli.db");
  EXPECT_EQ(json::get_string(json::parse(on->plugin_config_json).value(), "database_url"), "sqlite:///tmp/cli.db");
}

}  // namespace
}  // namespace atlas::data
