// parse_config / load_config: defaults, typed values, and the errors a user sees.
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "common/json.hpp"
#include "test_util.hpp"

namespace atlas::config {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::find_error;
using testing::kMinimal;
using testing::parse_errors;
using testing::parse_ok;

TEST(ConfigDefaults, MinimalConfigGetsAtlasDefaults) {
  Config c = parse_ok(kMinimal);
  EXPECT_EQ(c.agent.adapter, "openai");
  EXPECT_EQ(c.agent.max_tool_turns, 8);
  EXPECT_EQ(c.student.tool_choice, "auto");
  EXPECT_EQ(c.orchestration.max_retries, 1);
  EXPECT_DOUBLE_EQ(c.orchestration.step_timeout_seconds, 900.0);
  EXPECT_EQ(c.orchestration.max_parallel_steps, 4);
  EXPECT_FALSE(c.orchestration.forced_mode.has_value());
  EXPECT_DOUBLE_EQ(c.rewards.variance_threshold, 0.15);
  EXPECT_DOUBLE_EQ(c.rewards.uncertainty_threshold, 0.3);
  EXPECT_EQ(c.rewards.samples, 3);
  EXPECT_EQ(c.rewards.temperatures, (std::vector<double>{0.2, 0.5, 0.8}));
  ASSERT_EQ(c.rewards.session_judges.size(), 1u);
  EXPECT_EQ(c.rewards.session_judges[0].plugin, "llm");
  EXPECT_EQ(c.rewards.session_judges[0].rubric, "outcome");
  ASSERT_EQ(c.rewards.step_judges.size(), 1u);
  EXPECT_EQ(c.rewards.step_judges[0].rubric, "process");
  // No large model given: the arbiter is the small model.
  EXPECT_EQ(c.rewards.large_model.model, "gpt-4o-mini");
  // No [learning.llm]: the student's provider and model with learning's generation settings.
  EXPECT_EQ(c.learning.llm.provider, c.student.llm.provider);
  EXPECT_EQ(c.learning.llm.model, c.student.llm.model);
  EXPECT_EQ(c.learning.llm.api_key_env, c.student.llm.api_key_env);
  EXPECT_EQ(c.learning.llm.max_output_tokens, 8192);
  EXPECT_EQ(c.learning.history_limit, 10);
  EXPECT_EQ(c.learning.gates.max_text_length, 420);
  EXPECT_DOUBLE_EQ(c.routing.thresholds.auto_, 0.85);
  EXPECT_DOUBLE_EQ(c.routing.thresholds.paired, 0.65);
  EXPECT_DOUBLE_EQ(c.routing.thresholds.coach, 0.35);
  EXPECT_EQ(c.routing.fallback_mode, Lane::kPaired);
  EXPECT_DOUBLE_EQ(c.routing.timeout_seconds, 15.0);
  EXPECT_EQ(c.routing.probe_llm.provider, "xai");
  EXPECT_EQ(c.storage.plugin, "soci");
  EXPECT_EQ(c.storage.database_url, "sqlite://.atlas/atlas.db");
  EXPECT_TRUE(c.storage.active());
  EXPECT_TRUE(c.storage.is_sqlite());
  EXPECT_EQ(c.storage.max_connections, 5);
  EXPECT_TRUE(c.review.require_approval);
  EXPECT_EQ(c.review.default_export_statuses, std::vector<ReviewStatus>{ReviewStatus::kApproved});
  EXPECT_FALSE(c.review.statuses_explicit);
  EXPECT_TRUE(c.drift.enabled);
  EXPECT_EQ(c.drift.window, 50);
  EXPECT_DOUBLE_EQ(c.drift.z_threshold, 3.0);
  EXPECT_EQ(c.drift.min_baseline, 5);
  EXPECT_FALSE(c.plugins.allow_unsafe);
  EXPECT_EQ(c.train.export_format, "atlas-jsonl");
}

TEST(ConfigModel, ModelBlockFieldsAndProviderKeyDefaults) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[learning.llm]
provider = "anthropic"
model = "claude-haiku-4-5"
temperature = 1
top_p = 0.9
max_output_tokens = 512
timeout_seconds = 30
retry = { attempts = 5, backoff_seconds = 2 }
additional_headers = { "X-Team" = "search" }
reasoning_effort = "high"
input_cost_per_mtok = 0.8
)");
  const ModelConfig& m = c.learning.llm;
  EXPECT_EQ(m.provider, "anthropic");
  EXPECT_EQ(m.api_key_env, "ANTHROPIC_API_KEY");  // follows the provider when not given
  EXPECT_DOUBLE_EQ(m.temperature, 1.0);           // integers accepted for floats
  EXPECT_EQ(m.top_p, 0.9);
  EXPECT_EQ(m.max_output_tokens, 512);
  EXPECT_EQ(m.retry.attempts, 5);
  EXPECT_DOUBLE_EQ(m.retry.backoff_seconds, 2.0);
  EXPECT_EQ(m.additional_headers.at("X-Team"), "search");
  EXPECT_EQ(m.reasoning_effort, "high");
  EXPECT_EQ(m.input_cost_per_mtok, 0.8);
  EXPECT_FALSE(m.output_cost_per_mtok.has_value());
  // A given block replaces the section default entirely (Atlas semantics): no gemini leftovers.
  EXPECT_EQ(m.model, "claude-haiku-4-5");
}

TEST(ConfigModel, AnthropicAdapterDefaultsStudentProvider) {
  Config c = parse_ok(R"(
[agent]
adapter = "anthropic"
[student.llm]
model = "claude-haiku-4-5"
[teacher.llm]
model = "gpt-4o"
[rewards.small_model]
model = "gpt-4o-mini"
)");
  EXPECT_EQ(c.student.llm.provider, "anthropic");
  EXPECT_EQ(c.student.llm.api_key_env, "ANTHROPIC_API_KEY");
  EXPECT_EQ(c.teacher.llm.provider, "openai");
}

TEST(ConfigLimits, DefaultsValuesAndErrors) {
  Config d = parse_ok(kMinimal);
  EXPECT_EQ(d.limits.max_task_bytes, 1 << 20);
  EXPECT_EQ(d.limits.max_reply_bytes, 16 << 20);
  EXPECT_EQ(d.limits.max_plan_steps, 32);
  EXPECT_EQ(d.limits.max_model_calls_per_session, 500);
  EXPECT_EQ(d.limits.max_tokens_per_session, 2'000'000);
  EXPECT_DOUBLE_EQ(d.limits.session_timeout_seconds, 3600.0);
  Config c = parse_ok(std::string(kMinimal) +
                      "[limits]\nmax_task_bytes = 10\nmax_reply_bytes = 0\nmax_plan_steps = 5\n"
                      "max_model_calls_per_session = 7\nmax_tokens_per_session = 8\nsession_timeout_seconds = 9.5\n");
  EXPECT_EQ(c.limits.max_task_bytes, 10);
  EXPECT_EQ(c.limits.max_reply_bytes, 0);  // 0 = no limit
  EXPECT_EQ(c.limits.max_plan_steps, 5);
  EXPECT_EQ(c.limits.max_model_calls_per_session, 7);
  EXPECT_EQ(c.limits.max_tokens_per_session, 8);
  EXPECT_DOUBLE_EQ(c.limits.session_timeout_seconds, 9.5);
  auto errors = parse_errors(std::string(kMinimal) + "[limits]\nmax_plan_steps = -1\nmax_reply_byte = 5\n");
  EXPECT_NE(find_error(errors, "limits.max_plan_steps"), nullptr);
  const ConfigError* typo = find_error(errors, "limits.max_reply_byte");
  ASSERT_NE(typo, nullptr);
  EXPECT_THAT(typo->message, HasSubstr("did you mean 'max_reply_bytes'?"));
}

TEST(ConfigErrors, MisspeltKeyHasPositionPathAndSuggestion) {
  const std::string text = std::string(kMinimal) + "[teacher]\nmax_review_tokens = 100\n\n[orchestration]\n  max_retires = 2\n";
  const auto line = static_cast<uint32_t>(std::count(text.begin(), text.begin() + text.find("max_retires"), '\n') + 1);
  auto errors = parse_errors(text);
  const ConfigError* e = find_error(errors, "orchestration.max_retires");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->where.file, "test.toml");
  EXPECT_EQ(e->where.line, line);
  EXPECT_EQ(e->where.column, 3u);
  EXPECT_THAT(e->message, HasSubstr("did you mean 'max_retries'?"));
  EXPECT_THAT(e->to_string(),
              HasSubstr("test.toml:" + std::to_string(line) + ":3: orchestration.max_retires: unknown key"));
}

TEST(ConfigErrors, MisspeltKeyInsideTheModelBlock) {
  std::string text = R"([agent]
adapter = "openai"
[student.llm]
model = "m"
[teacher.llm]
model = "gpt-4o"
temprature = 0.3
[rewards.small_model]
model = "m"
)";
  auto errors = parse_errors(text);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].to_string(),
            "test.toml:7:1: teacher.llm.temprature: unknown key 'temprature' (did you mean 'temperature'?)");
}

TEST(ConfigErrors, UnknownKeyWithoutNearMatchListsValidKeys) {
  auto errors = parse_errors(std::string(kMinimal) + "[drift]\nbanana = 1\n");
  const ConfigError* e = find_error(errors, "drift.banana");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("valid keys in [drift]: enabled, min_baseline, window, z_threshold"));
}

TEST(ConfigErrors, AllErrorsAreCollectedInFileOrder) {
  auto errors = parse_errors(R"([agent]
adapter = "openai"
[student.llm]
model = "m"
temperature = 5
[teacher.llm]
model = "t"
provider = "opnai"
[orchestration]
max_retries = 6
forced_mode = "paird"
step_timeout_seconds = "long"
max_parallel_steps = 1.5
[rewards.small_model]
model = "m"
)");
  ASSERT_EQ(errors.size(), 6u);
  EXPECT_EQ(errors[0].key_path, "student.llm.temperature");
  EXPECT_THAT(errors[0].message, HasSubstr("out of range: must be between 0 and 2"));
  EXPECT_EQ(errors[1].key_path, "teacher.llm.provider");
  EXPECT_THAT(errors[1].message, HasSubstr("did you mean \"openai\"?"));
  EXPECT_EQ(errors[2].key_path, "orchestration.max_retries");
  EXPECT_THAT(errors[2].message, HasSubstr("between 0 and 5"));
  EXPECT_EQ(errors[3].key_path, "orchestration.forced_mode");
  EXPECT_THAT(errors[3].message, HasSubstr("did you mean \"paired\"?"));
  EXPECT_EQ(errors[4].key_path, "orchestration.step_timeout_seconds");
  EXPECT_THAT(errors[4].message, HasSubstr("expected a number, found a string \"long\""));
  EXPECT_EQ(errors[5].key_path, "orchestration.max_parallel_steps");
  // A float for an integer says how to fix it.
  auto status = parse_config(R"([orchestration]
max_parallel_steps = 1.5)", "x.toml");
  EXPECT_THAT(status.status().message(), HasSubstr("x.toml:2:1: orchestration.max_parallel_steps: expected an integer"));
  // ... and the combined message has one line per error.
  auto again = parse_config(R"([agent]
adapter = "openai"
[student.llm]
model = "m"
temperature = 5
[teacher.llm]
model = "t"
provider = "opnai"
[rewards.small_model]
model = "m"
)", "y.toml");
  EXPECT_EQ(std::count(again.status().message().begin(), again.status().message().end(), '\n'), 1);
}

TEST(ConfigErrors, SyntaxErrorCitesPosition) {
  auto errors = parse_errors("[agent]\nadapter = \"openai\nname = 1\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].where.line, 2u);
  EXPECT_THAT(errors[0].message, HasSubstr("TOML syntax error"));
}

TEST(ConfigErrors, AtlasSectionNamesPointToOurs) {
  auto errors = parse_errors(std::string(kMinimal) + "[rim]\nvariance_threshold = 0.2\n[adaptive_teaching]\nenabled = true\n");
  const ConfigError* rim = find_error(errors, "rim");
  ASSERT_NE(rim, nullptr);
  EXPECT_THAT(rim->message, HasSubstr("[rewards]"));
  const ConfigError* at = find_error(errors, "adaptive_teaching");
  ASSERT_NE(at, nullptr);
  EXPECT_THAT(at->message, HasSubstr("[routing]"));
}

TEST(ConfigErrors, RequiredSectionsExplainWhatToAdd) {
  auto errors = parse_errors("");
  const ConfigError* agent = find_error(errors, "agent");
  ASSERT_NE(agent, nullptr);
  EXPECT_THAT(agent->message, HasSubstr("adapter = \"openai\""));
  const ConfigError* teacher = find_error(errors, "teacher.llm");
  ASSERT_NE(teacher, nullptr);
  EXPECT_THAT(teacher->message, HasSubstr("forced_mode = \"auto\""));
  EXPECT_NE(find_error(errors, "rewards.small_model"), nullptr);
  // One line per error, so the output can be grepped.
  auto status = parse_config("", "empty.toml");
  const std::string& msg = status.status().message();
  EXPECT_EQ(static_cast<size_t>(std::count(msg.begin(), msg.end(), '\n')) + 1, errors.size()) << msg;
}

TEST(ConfigErrors, LlmAdapterNeedsAStudentModel) {
  auto errors = parse_errors(R"([agent]
adapter = "openai"
[teacher.llm]
model = "t"
[rewards.small_model]
model = "m"
)");
  const ConfigError* e = find_error(errors, "student.llm");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->where.line, 2u);  // cites the adapter line
  // An inline model in [agent.config] is enough.
  parse_ok(R"([agent]
adapter = "openai"
config = { model = "gpt-4o-mini" }
[teacher.llm]
model = "t"
[rewards.small_model]
model = "m"
)");
}

TEST(ConfigErrors, AutoOnlyAndModelFreeJudgesNeedNoModels) {
  Config c = parse_ok(R"([agent]
adapter = "command"
config = { command = ["./agent"] }
[orchestration]
forced_mode = "auto"
[rewards]
session_judges = [{ plugin = "verifiable" }]
step_judges = []
)");
  EXPECT_EQ(c.orchestration.forced_mode, Lane::kAuto);
  EXPECT_TRUE(c.rewards.step_judges.empty());
  EXPECT_EQ(c.rewards.session_judges[0].rubric, "");
}

TEST(ConfigErrors, ThresholdsMustBeOrdered) {
  auto errors = parse_errors(std::string(kMinimal) + "[routing.thresholds]\nauto = 0.5\npaired = 0.6\n");
  const ConfigError* e = find_error(errors, "routing.thresholds");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("auto >= paired >= coach"));
}

TEST(ConfigErrors, StorageValidation) {
  auto errors = parse_errors(std::string(kMinimal) +
                             "[storage]\ndatabase_url = \"mysql://x\"\nmin_connections = 4\nmax_connections = 2\n");
  EXPECT_NE(find_error(errors, "storage.database_url"), nullptr);
  EXPECT_NE(find_error(errors, "storage.max_connections"), nullptr);
  Config pg = parse_ok(std::string(kMinimal) + "[storage]\ndatabase_url = \"postgresql://atlas@db/atlas\"\n");
  EXPECT_TRUE(pg.storage.is_postgres());
  Config none = parse_ok(std::string(kMinimal) + "[storage]\ndatabase_url = \"\"\n");
  EXPECT_FALSE(none.storage.active());
  Config off = parse_ok(std::string(kMinimal) + "[storage]\nenabled = false\n");
  EXPECT_FALSE(off.storage.active());
}

TEST(ConfigErrors, SettingsAtlasHostDoesNotImplementAreRefusedNotIgnored) {
  for (const auto& [text, key] : std::vector<std::pair<std::string, std::string>>{
           {"[student]\nmax_step_tokens = 100\n", "student.max_step_tokens"},
           {"[orchestration]\nemit_intermediate_steps = false\n", "orchestration.emit_intermediate_steps"},
           {"[learning.gates]\nallowed_proper_nouns = [\"SQL\"]\n", "learning.gates.allowed_proper_nouns"},
           {"[learning.pruning]\nmin_sessions = 5\n", "learning.pruning"},
           {"[learning.usage_tracking]\nenabled = true\n", "learning.usage_tracking.enabled"},
           {"[learning.usage_tracking]\ncapture_examples = true\n", "learning.usage_tracking.capture_examples"},
           {"[storage]\nmin_connections = 2\n", "storage.min_connections"}}) {
    auto errors = parse_errors(std::string(kMinimal) + text);
    const ConfigError* e = find_error(errors, key);
    ASSERT_NE(e, nullptr) << text;
    EXPECT_THAT(e->message, HasSubstr("not supported by atlas-host")) << text;
  }
  // What atlas-host does anyway is accepted.
  parse_ok(std::string(kMinimal) + "[orchestration]\nemit_intermediate_steps = true\n[learning.usage_tracking]\n"
                                   "enabled = false\n[storage]\nmin_connections = 1\n");
}

// ---------------------------------------------------------------- secrets

TEST(ConfigSecrets, LiteralKeyValueIsRefusedWithoutEchoingIt) {
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwxyz0123456789";
  std::vector<ConfigError> errors;
  auto cfg = parse_config(std::string(kMinimal) + "[learning.llm]\nmodel = \"m\"\napi_key = \"" + key + "\"\n",
                          "test.toml", &errors);
  ASSERT_FALSE(cfg.is_ok());
  const ConfigError* e = find_error(errors, "learning.llm.api_key");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("api_key_env = \"OPENAI_API_KEY\""));
  EXPECT_THAT(cfg.status().message(), Not(HasSubstr(key)));
  // Reported once, as a secret, not also as an unknown key.
  EXPECT_EQ(errors.size(), 1u);
}

TEST(ConfigSecrets, KeyLookingValueAnywhereIsRefused) {
  auto errors = parse_errors(std::string(kMinimal) +
                             "[agent.config]\nheaders = { Authorization = \"Bearer sk-abcdefghijklmnopqrstuvwx\" }\n");
  EXPECT_NE(find_error(errors, "agent.config.headers.Authorization"), nullptr);
  auto errors2 = parse_errors(std::string(kMinimal) + "[plugins.vendor]\ntoken = \"abc123\"\n");
  EXPECT_NE(find_error(errors2, "plugins.vendor.token"), nullptr);
  // A key pasted into api_key_env itself.
  auto errors3 = parse_errors(std::string(kMinimal) +
                              "[learning.llm]\nmodel = \"m\"\napi_key_env = \"AIzaSyA1234567890abcdefghijklmnopqrstu\"\n");
  EXPECT_NE(find_error(errors3, "learning.llm.api_key_env"), nullptr);
}

TEST(ConfigSecrets, EnvironmentReferencesAreAllowed) {
  Config c = parse_ok(std::string(kMinimal) + "[agent.config]\nheaders = { Authorization = \"${SERVICE_TOKEN}\" }\n" +
                      "[plugins.vendor]\ntoken = \"${VENDOR_TOKEN}\"\n");
  EXPECT_THAT(c.agent.config_json, HasSubstr("${SERVICE_TOKEN}"));
}

// ---------------------------------------------------------------- sections

TEST(ConfigAgent, ToolsMcpServersAndAdapterConfig) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[agent.config]
model_ref = "student"
stream = true

[[agent.tools]]
name = "search"
description = "Search the docs"
parameters = { properties = { q = { type = "string" } }, required = ["q"] }

[[agent.mcp_servers]]
name = "fs"
command = "npx"
args = ["-y", "@modelcontextprotocol/server-filesystem", "."]
env = { DEBUG = "1" }
)");
  ASSERT_EQ(c.agent.tools.size(), 1u);
  auto params = json::parse(c.agent.tools[0].parameters_json);
  ASSERT_TRUE(params.is_ok());
  EXPECT_EQ(json::get_string(*params, "type"), "object");  // filled in
  EXPECT_TRUE(params->HasMember("properties"));
  auto cfg = json::parse(c.agent.config_json);
  ASSERT_TRUE(cfg.is_ok());
  EXPECT_EQ(json::get_string(*cfg, "model_ref"), "student");
  EXPECT_TRUE(json::get_bool(*cfg, "stream"));
  ASSERT_EQ(c.agent.mcp_servers.size(), 1u);
  EXPECT_EQ(c.agent.mcp_servers[0].command, "npx");
  EXPECT_EQ(c.agent.mcp_servers[0].args.size(), 3u);
  EXPECT_EQ(c.agent.mcp_servers[0].env.at("DEBUG"), "1");
}

TEST(ConfigAgent, ToolRequiredMustBeInProperties) {
  auto errors = parse_errors(std::string(kMinimal) + R"(
[[agent.tools]]
name = "search"
parameters = { type = "object", properties = { q = { type = "string" } }, required = ["z", "q", "a"] }
)");
  const ConfigError* e = find_error(errors, "agent.tools[0].parameters");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("required fields missing from properties: a, z"));
}

TEST(ConfigAgent, McpServerNeedsNameAndCommandAndUniqueNames) {
  auto errors = parse_errors(std::string(kMinimal) + R"(
[[agent.mcp_servers]]
name = "fs"
command = "npx"
[[agent.mcp_servers]]
name = "fs"
[[agent.mcp_servers]]
command = "x"
)");
  EXPECT_NE(find_error(errors, "agent.mcp_servers[1].name"), nullptr);
  EXPECT_NE(find_error(errors, "agent.mcp_servers[1].command"), nullptr);
  EXPECT_NE(find_error(errors, "agent.mcp_servers[2].name"), nullptr);
}

TEST(ConfigRewards, JudgesRubricsAndFiles) {
  auto dir = std::filesystem::temp_directory_path() / ("atlas_cfg_rubric_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "rubrics");
  {
    std::ofstream(dir / "rubrics" / "security.md") << "Reward concrete, exploitable findings.\n";
    std::ofstream(dir / "atlas.toml") << kMinimal << R"(
[rewards]
samples = 5
temperatures = [0.1, 0.9]
max_judge_calls_per_session = 40
session_judges = [{ plugin = "llm", rubric = "security", weight = 2.0, config = { max_chars = 9000 } },
                  { plugin = "verifiable", weight = 1 }]
[rewards.rubrics.security]
file = "rubrics/security.md"
[rewards.rubrics]
brevity = "Shorter is better."
)";
  }
  auto c = load_config(dir / "atlas.toml");
  ASSERT_TRUE(c.is_ok()) << c.status().message();
  EXPECT_EQ(c->rewards.samples, 5);
  EXPECT_EQ(c->rewards.temperatures, (std::vector<double>{0.1, 0.9}));
  EXPECT_EQ(c->rewards.max_judge_calls_per_session, 40);
  ASSERT_EQ(c->rewards.session_judges.size(), 2u);
  EXPECT_EQ(c->rewards.session_judges[0].rubric, "security");
  EXPECT_DOUBLE_EQ(c->rewards.session_judges[0].weight, 2.0);
  EXPECT_EQ(c->rewards.session_judges[0].key_path, "rewards.session_judges[0]");
  EXPECT_THAT(c->rewards.session_judges[0].config_json, HasSubstr("\"max_chars\":9000"));
  EXPECT_EQ(c->rewards.rubrics.at("security").text, "Reward concrete, exploitable findings.\n");
  EXPECT_EQ(c->rewards.rubrics.at("brevity").text, "Shorter is better.");
  EXPECT_EQ(c->source_path, std::filesystem::absolute(dir / "atlas.toml"));

  // A missing rubric file is an error naming the resolved path.
  {
    std::ofstream(dir / "bad.toml") << kMinimal << "[rewards.rubrics.x]\nfile = \"nope.md\"\n";
  }
  std::vector<ConfigError> errors;
  auto bad = load_config(dir / "bad.toml", &errors);
  ASSERT_FALSE(bad.is_ok());
  const ConfigError* e = find_error(errors, "rewards.rubrics.x.file");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr((dir / "nope.md").string()));
  std::filesystem::remove_all(dir);
}

TEST(ConfigRewards, UnknownRubricSuggestsTheBuiltIn) {
  auto errors = parse_errors(std::string(kMinimal) + "[rewards]\nstep_judges = [{ plugin = \"llm\", rubric = \"proces\" }]\n");
  const ConfigError* e = find_error(errors, "rewards.step_judges[0].rubric");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("did you mean \"process\"?"));
  EXPECT_NE(e->where.line, 0u);
}

TEST(ConfigLearning, RubricWeightsAreNormalised) {
  Config c = parse_ok(std::string(kMinimal) +
                      "[learning.rubric_weights]\nactionability = 1\ngenerality = 1\nhookability = 1\nconcision = 1\n");
  EXPECT_DOUBLE_EQ(c.learning.rubric_weights.actionability, 0.25);
  EXPECT_DOUBLE_EQ(c.learning.rubric_weights.concision, 0.25);
  auto errors = parse_errors(std::string(kMinimal) + "[learning.gates]\nmax_text_length = 50\n");
  EXPECT_NE(find_error(errors, "learning.gates.max_text_length"), nullptr);
}

TEST(ConfigRouting, ProbeModeOverrideAndTags) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[routing]
probe = "llm"
mode_override = "coach"
fallback_mode = "coach"
default_tags = ["team-a", " ", "prod"]
[routing.probe_llm]
model = "gpt-4o-mini"
)");
  EXPECT_EQ(c.routing.probe, "llm");
  EXPECT_EQ(c.routing.mode_override, Lane::kCoach);
  EXPECT_EQ(c.routing.fallback_mode, Lane::kCoach);
  EXPECT_EQ(c.routing.default_tags, (std::vector<std::string>{"team-a", "prod"}));
  EXPECT_EQ(c.routing.probe_llm.provider, "openai");
  auto errors = parse_errors(std::string(kMinimal) + "[routing]\nfallback_mode = \"auto\"\n");
  EXPECT_NE(find_error(errors, "routing.fallback_mode"), nullptr);
}

TEST(ConfigReview, StatusesAreLowerCasedAndAllMeansEverything) {
  Config c = parse_ok(std::string(kMinimal) + "[review]\nrequire_approval = false\ndefault_export_statuses = [\"Approved\", \"PENDING\"]\n");
  EXPECT_FALSE(c.review.require_approval);
  EXPECT_EQ(c.review.default_export_statuses, (std::vector<ReviewStatus>{ReviewStatus::kApproved, ReviewStatus::kPending}));
  EXPECT_TRUE(c.review.statuses_explicit);
  Config all = parse_ok(std::string(kMinimal) + "[review]\ndefault_export_statuses = [\"all\"]\n");
  EXPECT_TRUE(all.review.include_all_statuses);
  auto errors = parse_errors(std::string(kMinimal) + "[review]\ndefault_export_statuses = [\"aproved\"]\n");
  const ConfigError* e = find_error(errors, "review.default_export_statuses");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("did you mean \"approved\"?"));
}

TEST(ConfigPlugins, PerPluginTablesBecomeJsonAndMerge) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[agent.config]
stream = true
[plugins]
dirs = ["/opt/atlas/plugins"]
allow_unsafe = true
[plugins.openai]
stream = false
temperature = 0.3
)");
  EXPECT_EQ(c.plugins.dirs, std::vector<std::string>{"/opt/atlas/plugins"});
  EXPECT_TRUE(c.plugins.allow_unsafe);
  ASSERT_EQ(c.plugins.configs.count("openai"), 1u);
  auto merged = json::parse(merged_plugin_config(c, "openai", c.agent.config_json));
  ASSERT_TRUE(merged.is_ok());
  EXPECT_TRUE(json::get_bool(*merged, "stream"));  // instance wins
  EXPECT_DOUBLE_EQ(json::get_double(*merged, "temperature"), 0.3);
  EXPECT_EQ(merged_plugin_config(c, "unknown", ""), "{}");
}

TEST(ConfigPlugins, IsolationIsTheHostsSettingAndNeverReachesThePlugin) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[plugins]
isolation = "process"
[plugins.openai]
isolation = "in-process"
temperature = 0.3
)");
  EXPECT_EQ(c.plugins.isolation, "process");
  EXPECT_EQ(c.plugins.plugin_isolation.at("openai"), "in-process");
  auto merged = json::parse(merged_plugin_config(c, "openai", "{}"));
  ASSERT_TRUE(merged.is_ok());
  EXPECT_EQ(json::find(*merged, "isolation"), nullptr) << "the plugin's schema would refuse it";
  EXPECT_DOUBLE_EQ(json::get_double(*merged, "temperature"), 0.3);
  EXPECT_EQ(parse_ok(kMinimal).plugins.isolation, "auto");

  auto errors = parse_errors(std::string(kMinimal) + "[plugins.openai]\nisolation = \"sandbox\"\n");
  const ConfigError* e = find_error(errors, "plugins.openai.isolation");
  ASSERT_NE(e, nullptr);
  EXPECT_THAT(e->message, HasSubstr("\"auto\", \"in-process\" or \"process\""));
  EXPECT_NE(find_error(parse_errors(std::string(kMinimal) + "[plugins]\nisolation = \"sandbox\"\n"), "plugins.isolation"),
            nullptr);
}

TEST(ConfigTrain, CommandFormsOverridesInFileOrderAndFilters) {
  Config c = parse_ok(std::string(kMinimal) + R"(
[train]
command = "python train.py"
args = ["--fast"]
export_format = "trl-grpo"
[train.overrides]
zeta = 1
alpha = "x"
trainer = { lr = 1e-5, steps = [1, 2] }
[train.filters]
min_reward = 0.5
created_after = 2025-01-31
limit = 100
)");
  EXPECT_TRUE(c.train.command_is_shell);
  EXPECT_EQ(c.train.command, std::vector<std::string>{"python train.py"});
  EXPECT_EQ(c.train.export_format, "trl-grpo");
  ASSERT_EQ(c.train.overrides.size(), 4u);
  EXPECT_EQ(c.train.overrides[0], (std::pair<std::string, std::string>{"zeta", "1"}));
  EXPECT_EQ(c.train.overrides[1], (std::pair<std::string, std::string>{"alpha", "x"}));
  EXPECT_EQ(c.train.overrides[2].first, "trainer.lr");
  EXPECT_EQ(c.train.overrides[3], (std::pair<std::string, std::string>{"trainer.steps", "[1,2]"}));
  EXPECT_EQ(c.train.filters.min_reward, 0.5);
  EXPECT_EQ(c.train.filters.created_after, "2025-01-31");
  EXPECT_EQ(c.train.filters.limit, 100);
  Config argv = parse_ok(std::string(kMinimal) + "[train]\ncommand = [\"python\", \"train.py\"]\n");
  EXPECT_FALSE(argv.train.command_is_shell);
  EXPECT_EQ(argv.train.command.size(), 2u);
}

TEST(ConfigLoad, MissingFileSaysHowToCreateOne) {
  std::vector<ConfigError> errors;
  auto c = load_config("/nonexistent/atlas.toml", &errors);
  ASSERT_FALSE(c.is_ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(c.status().message(), HasSubstr("configs/quickstart.toml"));
}

TEST(ConfigLoad, EveryShippedExampleIsValid) {
  const std::filesystem::path dir = std::filesystem::path(ATLAS_TEST_SOURCE_DIR) / "configs";
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    auto c = load_config(entry.path());
    EXPECT_TRUE(c.is_ok()) << entry.path() << ":\n" << c.status().message();
  }
  EXPECT_GE(count, 9);
}


TEST(ConfigServe, DefaultsValuesAndUpstreamBlocks) {
  Config d = parse_ok(kMinimal);
  EXPECT_EQ(d.serve.listen, "127.0.0.1:8787");
  EXPECT_TRUE(d.serve.supervise);
  EXPECT_FALSE(d.serve.openai.has_value());
  Config c = parse_ok(std::string(kMinimal) + R"(
[serve]
listen = "0.0.0.0:9000"
client_keys_env = "ATLAS_GATEWAY_KEYS"
idle_timeout_seconds = 60
max_calls_per_episode = 50
supervise = false

[serve.anthropic]
api_base = "http://127.0.0.1:9999"
api_key_env = ""
)");
  EXPECT_EQ(c.serve.listen, "0.0.0.0:9000");
  EXPECT_EQ(c.serve.client_keys_env, "ATLAS_GATEWAY_KEYS");
  EXPECT_DOUBLE_EQ(c.serve.idle_timeout_seconds, 60.0);
  EXPECT_EQ(c.serve.max_calls_per_episode, 50);
  EXPECT_FALSE(c.serve.supervise);
  ASSERT_TRUE(c.serve.anthropic.has_value());
  EXPECT_EQ(c.serve.anthropic->provider, "anthropic");  // the block's name is its provider
  EXPECT_EQ(c.serve.anthropic->api_base, "http://127.0.0.1:9999");
  EXPECT_FALSE(c.serve.gemini.has_value());
}

TEST(ConfigServe, BadValuesNameTheKeyAndTheFix) {
  auto errors = parse_errors(std::string(kMinimal) + R"(
[serve]
listen = "localhost"
client_keys_env = "not a name"
idle_timeout_seconds = 0
threads = 0
)");
  const ConfigError* listen = find_error(errors, "serve.listen");
  ASSERT_NE(listen, nullptr);
  EXPECT_THAT(listen->message, HasSubstr("HOST:PORT"));
  EXPECT_NE(find_error(errors, "serve.client_keys_env"), nullptr);
  EXPECT_NE(find_error(errors, "serve.idle_timeout_seconds"), nullptr);
  EXPECT_NE(find_error(errors, "serve.threads"), nullptr);
}

}  // namespace
}  // namespace atlas::config
