// JSON pointers into plugin configs map back to where the user wrote them.
#include "test_util.hpp"

namespace atlas::config {
namespace {

using testing::parse_ok;

constexpr const char* kText = R"([agent]
adapter = "http"

[agent.config]
url = "http://127.0.0.1:9000"
headers = { "X-A" = "1" }
result_path = ["data", 0, "text"]

[agent.config.retry]
attempts = 9

[teacher.llm]
model = "t"

[rewards]
session_judges = [{ plugin = "verifiable" },
  { plugin = "llm", rubric = "outcome", config = { max_chars = 10 } }]

[rewards.small_model]
model = "m"

[plugins."acme.search"]
"a/b" = 1
)";

TEST(SourceMap, PointerIntoAgentConfigCitesTheKey) {
  Config c = parse_ok(kText);
  const SourceRegion* r = c.sources.find_json("agent.config", "/retry/attempts");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->to_string(), "test.toml:10:1");
  r = c.sources.find_json("agent.config", "/url");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 5u);
}

TEST(SourceMap, ArrayIndexesAndInlineTables) {
  Config c = parse_ok(kText);
  EXPECT_EQ(c.sources.json_pointer_to_key_path("agent.config", "/result_path/1"), "agent.config.result_path[1]");
  const SourceRegion* r = c.sources.find_json("agent.config", "/result_path/2");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 7u);
  EXPECT_EQ(r->column, 27u);  // the third element
  // A judge's config: the key path recorded on the JudgeSpec is the base.
  const JudgeSpec& j = c.rewards.session_judges[1];
  r = c.sources.find_json(j.key_path + ".config", "/max_chars");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 17u);
}

TEST(SourceMap, MissingMemberFallsBackToTheEnclosingTable) {
  Config c = parse_ok(kText);
  // A schema error about a member that is absent ("required") cites the table that should hold it.
  const SourceRegion* r = c.sources.find_json("agent.config", "/retry/backoff_seconds");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 9u);  // [agent.config.retry]
  r = c.sources.find_json("agent.config", "");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 4u);
  EXPECT_EQ(c.sources.find_json("plugins.nothing", "/x"), nullptr);
}

TEST(SourceMap, QuotedKeysAndEscapedPointerTokens) {
  Config c = parse_ok(kText);
  EXPECT_EQ(c.sources.json_pointer_to_key_path("plugins.\"acme.search\"", "/a~1b"), "plugins.\"acme.search\".\"a/b\"");
  const SourceRegion* r = c.sources.find_json("plugins.\"acme.search\"", "/a~1b");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->line, 23u);
  ASSERT_EQ(c.plugins.configs.count("acme.search"), 1u);
}

TEST(SourceMap, DescribeUnknownRegion) {
  SourceRegion r{"a.toml", 0, 0};
  EXPECT_FALSE(r.known());
  EXPECT_EQ(r.to_string(), "a.toml");
}

}  // namespace
}  // namespace atlas::config

namespace atlas::config {
namespace {

TEST(LocatePluginConfig, InstanceThenPluginTableThenEnclosingTable) {
  Config c = testing::parse_ok(R"([agent]
adapter = "http"
[agent.config]
url = "http://x"
[teacher.llm]
model = "t"
[rewards.small_model]
model = "m"
[plugins.http]
timeout_seconds = -1
)");
  EXPECT_EQ(locate_plugin_config(c, "agent.config", "http", "/url"), "test.toml:4:1 (agent.config.url)");
  EXPECT_EQ(locate_plugin_config(c, "agent.config", "http", "/timeout_seconds"),
            "test.toml:10:1 (plugins.http.timeout_seconds)");
  // A missing required member cites the instance table that should hold it.
  EXPECT_EQ(locate_plugin_config(c, "agent.config", "http", "/headers"), "test.toml:3:8 (agent.config.headers)");
  EXPECT_EQ(locate_plugin_config(c, "", "llm", "/x"), "");
}

}  // namespace
}  // namespace atlas::config
