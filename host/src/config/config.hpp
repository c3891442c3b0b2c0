// The typed configuration of atlas-host: one struct per TOML section (docs/configuration.md), with
// Atlas's defaults where Atlas has them (docs/configuration.md). Produced by load_config() /
// parse_config() (config/loader.hpp), which reject unknown keys, wrong types and out-of-range
// values with file:line:column. Every field below is already validated; consumers just read.
//
// Free-form tables that are handed to plugins ([agent.config], judge `config`, [plugins.<name>])
// are kept as JSON text; `Config::sources` maps a key path back to where it was written so a
// plugin-schema error can cite file:line:col (see SourceMap::find_json).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model_config.hpp"
#include "config/statuses.hpp"

namespace atlas::config {

// ---------------------------------------------------------------- source regions

// Where a key or value was written. line/column are 1-based; 0 = not from a file (a default).
struct SourceRegion {
  std::string file;
  uint32_t line = 0;
  uint32_t column = 0;
  bool known() const { return line != 0; }
  // "atlas.toml:12:3" ("atlas.toml" alone when the position is unknown).
  std::string to_string() const;
};

// Key path -> region, for every key in the file. Key paths are dotted with array indexes in
// brackets: "teacher.llm.temperature", "rewards.session_judges[0].config.threshold".
class SourceMap {
 public:
  void add(std::string key_path, SourceRegion region);
  // Exact key path, or nullptr.
  const SourceRegion* find(std::string_view key_path) const;
  // The region of the value at JSON pointer `pointer` (RFC 6901, "" or "/a/0/b") inside the
  // table at `base_key_path` (e.g. "agent.config"). Falls back to the nearest enclosing key
  // that exists (so an error about a missing member cites the table that should hold it).
  // nullptr only when not even `base_key_path` was written in the file.
  const SourceRegion* find_json(std::string_view base_key_path, std::string_view pointer) const;
  // "base.a[0].b" for ("base", "/a/0/b"). Array indexes are recognised from the map itself.
  std::string json_pointer_to_key_path(std::string_view base_key_path, std::string_view pointer) const;
  bool empty() const { return regions_.empty(); }

 private:
  std::map<std::string, SourceRegion, std::less<>> regions_;
};

// ---------------------------------------------------------------- shared vocabulary

// Supervision lanes (Atlas execution modes).
enum class Lane { kAuto, kPaired, kCoach };
std::string_view lane_name(Lane lane);                 // "auto", "paired", "coach"
std::optional<Lane> parse_lane(std::string_view text);  // case-sensitive, nullopt if unknown

// ---------------------------------------------------------------- [agent]

// An inline tool definition offered to the student (Atlas ToolDefinition).
struct ToolDefinition {
  std::string name;
  std::string description;
  // JSON Schema of the arguments; default {"type":"object","properties":{}}.
  std::string parameters_json = R"({"type":"object","properties":{}})";
  std::string output_schema_json;  // "" = none
};

// An MCP tool server started for the student ([[agent.mcp_servers]]).
struct McpServerConfig {
  std::string name;                          // required, unique; prefixes tool names ("name__tool")
  std::string command;                       // required; program (PATH lookup) or path
  std::vector<std::string> args;
  std::map<std::string, std::string> env;    // added to the inherited environment
  std::string cwd;                           // "" = the host's working directory
  double timeout_seconds = 60.0;             // per request
};

struct AgentConfig {
  std::string adapter;        // required: adapter plugin name (openai, anthropic, gemini, http, command, ...)
  std::string name = "agent";
  std::string system_prompt;  // substituted for {base_prompt} in the student prompts
  std::vector<ToolDefinition> tools;
  // [agent.config] as a JSON object text, passed to the adapter plugin's create (merged over
  // [plugins.<adapter>], see merged_plugin_config). Key path for errors: "agent.config".
  std::string config_json = "{}";
  std::vector<McpServerConfig> mcp_servers;
  int max_tool_turns = 8;     // 1..100; bound of the MCP tool loop per student call
};

// ---------------------------------------------------------------- [student] / [teacher]

struct StudentPrompts {  // each "" = built-in prompt
  std::string planner;
  std::string executor;
  std::string synthesizer;
};

struct StudentConfig {
  // [student.llm]: the student's model, used by the LLM adapters (openai/anthropic/gemini)
  // through model_ref "student". Not configured (model empty) for http/command agents.
  ModelConfig llm;
  StudentPrompts prompts;
  std::string tool_choice = "auto";  // auto | required
};

struct TeacherPrompts {  // each "" = built-in prompt
  std::string plan_review;
  std::string validation;
  std::string guidance;
};

struct TeacherConfig {
  ModelConfig llm;                             // [teacher.llm]; required (model set)
  std::optional<int> max_review_tokens;        // >= 1; unset = llm.max_output_tokens
  std::optional<int> validation_max_tokens;    // >= 1; unset = llm.max_output_tokens
  std::optional<int> guidance_max_tokens;      // >= 1; unset = llm.max_output_tokens
  TeacherPrompts prompts;
};

// ---------------------------------------------------------------- [orchestration]

struct OrchestrationConfig {
  int max_retries = 1;                  // 0..5 (Atlas caps at 1; we allow more)
  double step_timeout_seconds = 900.0;  // > 0, per coach-lane step
  std::optional<Lane> forced_mode;      // unset = normal routing
  int max_parallel_steps = 4;           // 1..64, independent coach steps run concurrently
  bool emit_intermediate_steps = true;  // only true is accepted: events are always recorded
};

// ---------------------------------------------------------------- [limits]

// Bounds on what one session may cost, whatever the model, the adapter or the task file send.
// A session that hits one stops and is stored `failed` with the limit named in its error.
// 0 = no limit (not recommended). Documented in docs/configuration.md.
struct LimitsConfig {
  int64_t max_task_bytes = 1 << 20;                // 1 MiB of task text
  int64_t max_reply_bytes = 16 << 20;              // 16 MiB per model reply or adapter reply
  int max_plan_steps = 32;                         // a longer model-proposed plan is not run
  int64_t max_model_calls_per_session = 500;       // every role: student, teacher, judges
  int64_t max_tokens_per_session = 2'000'000;      // prompt + completion, every role
  double session_timeout_seconds = 3600.0;         // the whole session, all steps included
};

// ---------------------------------------------------------------- [rewards] (Atlas `rim`)

struct JudgeSpec {
  std::string plugin = "llm";   // judge plugin name
  std::string rubric;           // built-in (process, outcome, helpfulness) or a [rewards.rubrics.<name>]
  double weight = 1.0;          // > 0; weights are normalised over the judges of one level
  std::string config_json = "{}";  // `config = {...}` passed to the plugin (merged over [plugins.<plugin>])
  std::string key_path;         // "rewards.session_judges[0]" (for error messages / find_json)
};

struct RubricConfig {
  std::string text;   // the rubric text (read from `file` at load time when given as a file)
  std::string file;   // "" or the path it was read from (absolute)
};

struct RewardsConfig {
  ModelConfig small_model;  // tier-1 judge model (model_ref "rewards.small_model")
  ModelConfig large_model;  // arbiter (model_ref "rewards.large_model"); defaults to small_model when absent
  double variance_threshold = 0.15;     // >= 0, compared with the population std-dev of sample scores
  double uncertainty_threshold = 0.3;   // 0..1
  int samples = 3;                      // k, 1..10
  std::vector<double> temperatures = {0.2, 0.5, 0.8};  // each 0..2; sample i uses temperatures[i % size]
  std::string judge_prompt;             // optional focus prompt added to every rubric
  std::vector<JudgeSpec> session_judges;  // default [{plugin="llm", rubric="outcome", weight=1}]
  std::vector<JudgeSpec> step_judges;     // default [{plugin="llm", rubric="process", weight=1}]
  int max_judge_calls_per_session = 0;  // >= 0; 0 = unlimited
  std::map<std::string, RubricConfig> rubrics;  // [rewards.rubrics.<name>]
};

// ---------------------------------------------------------------- [learning]

struct LearningGates {
  bool enforce_actionability = true;
  bool enforce_cue = true;
  bool enforce_generality = false;
  int max_text_length = 420;  // 100..2000
  std::vector<std::string> banned_incident_tokens = {"incident", "ticket", "case", "postmortem"};
  int allow_length_overflow_margin = 20;  // 0..500: text this far past max_text_length keeps full concision
};

struct LearningRubricWeights {  // each 0..1; normalised to sum 1 at load time (4 decimals)
  double actionability = 0.4;
  double generality = 0.3;
  double hookability = 0.2;
  double concision = 0.1;
};

struct LearningSchema {  // [learning.schema], playbook_entry.v1 constraints
  std::string version = "playbook_entry.v1";
  std::vector<std::string> allowed_runtime_handles;
  std::vector<std::string> runtime_handle_prefixes;
  std::vector<std::string> cue_types = {"regex", "keyword", "predicate"};
  std::string default_scope_category = "differentiation";
  bool allow_missing_tool_mapping = false;
};

ModelConfig default_learning_model();  // gemini-2.5-flash, GEMINI_API_KEY, temp 0.1, 8192 tokens, 120 s

struct LearningConfig {
  bool enabled = true;
  bool update_enabled = true;  // false = apply-only (read the playbook, never update it)
  ModelConfig llm = default_learning_model();  // [learning.llm] (model_ref "learning")
  std::string synthesizer_prompt;               // [learning.prompts] synthesizer; "" = built-in
  int history_limit = 10;                       // 1..200: history entries sent to the learning model
  bool session_note_enabled = true;             // false: the session's own learning text is not stored
  bool apply_to_prompts = true;
  int playbook_char_budget = 4000;              // 200..100000, injected playbook text is trimmed to it
  LearningGates gates;
  LearningRubricWeights rubric_weights;
  LearningSchema schema;
};

// ---------------------------------------------------------------- [routing] (Atlas adaptive_teaching)

struct RoutingThresholds {  // auto >= paired >= coach, each 0..1
  double auto_ = 0.85;      // TOML key "auto"
  double paired = 0.65;
  double coach = 0.35;
};

ModelConfig default_probe_model();  // xai grok-4-fast, XAI_API_KEY, temp 0.2, 20 s (Atlas)

struct RoutingConfig {
  bool enabled = true;                // false = always paired
  std::optional<Lane> mode_override;  // wins over the probe
  std::string probe = "history";      // probe plugin name: history (no model call) | llm | vendor
  ModelConfig probe_llm = default_probe_model();  // [routing.probe_llm] (model_ref "routing.probe")
  RoutingThresholds thresholds;
  Lane fallback_mode = Lane::kPaired;  // paired | coach
  double timeout_seconds = 15.0;       // >= 1, bound of one probe call
  int learning_history_limit = 10;     // 1..200
  std::vector<std::string> default_tags;
};

// ---------------------------------------------------------------- [storage]

struct StorageConfig {
  bool enabled = true;
  std::string plugin = "soci";
  // sqlite://PATH (relative to the working directory) | postgresql://... | "" = no storage
  std::string database_url = "sqlite://.atlas/atlas.db";
  int min_connections = 1;                  // >= 1
  int max_connections = 5;                  // >= min_connections
  double statement_timeout_seconds = 30.0;  // >= 0 (0 = none)
  bool apply_schema_on_connect = true;
  std::string spool_path = ".atlas/spool.jsonl";  // writes that failed wait here for replay
  double write_retry_seconds = 30.0;        // >= 0, how long a failing write is retried before spooling
  bool active() const { return enabled && !database_url.empty(); }
  bool is_postgres() const;  // database_url starts with postgresql:// or postgres://
  bool is_sqlite() const;    // database_url starts with sqlite://
};

// ---------------------------------------------------------------- [review] / [drift]

struct ReviewConfig {
  bool require_approval = true;
  std::vector<ReviewStatus> default_export_statuses = {ReviewStatus::kApproved};
  // True when the file (or ATLAS_REVIEW_DEFAULT_EXPORT_STATUSES) named the statuses; the export
  // policy (docs/export-formats.md) needs it ("neither given and require_approval false" means approved+pending).
  bool statuses_explicit = false;
  // "*" or "all" among the statuses (file or env): export every review status.
  bool include_all_statuses = false;
};

struct DriftConfig {
  bool enabled = true;
  int window = 50;            // >= 1
  double z_threshold = 3.0;   // >= 0
  int min_baseline = 5;       // >= 0
};

// ---------------------------------------------------------------- [plugins]

struct PluginsConfig {
  std::vector<std::string> dirs;  // extra plugin folders (absolute, resolved against the config's folder)
  bool allow_unsafe = false;      // skip the group/other-writable refusal
  std::string lock_file;          // "" = none (absolute when set)
  // Where plugin code runs: "auto" (first-party in-process, others in a worker process),
  // "in-process" or "process"; per plugin from `isolation` in [plugins.<name>] (a key the
  // host keeps: it is not part of the plugin's config).
  std::string isolation = "auto";
  std::map<std::string, std::string> plugin_isolation;
  // [plugins.<name>] tables: per-plugin default config as JSON object text. Key path for errors:
  // "plugins.<name>".
  std::map<std::string, std::string> configs;
};

// ---------------------------------------------------------------- [serve]

// The capture gateway (docs/serve.md). Upstreams: [serve.openai], [serve.anthropic],
// [serve.gemini] are model blocks (provider, api_base, api_key_env; `model` optional: the
// client's model is forwarded); a wire without a block uses [student.llm] when its provider
// speaks that wire.
struct ServeConfig {
  std::string listen = "127.0.0.1:8787";  // HOST:PORT; a non-loopback host needs client keys
  int threads = 64;                        // 1..4096 connection threads
  std::string client_keys_env;             // env var with comma-separated gateway keys ("" = none)
  int64_t max_request_bytes = 8 << 20;     // 1 KiB .. 1 GiB
  double idle_timeout_seconds = 300.0;     // an episode with no call for this long ends (> 0)
  int max_calls_per_episode = 1000;        // 1..1e6; later calls get 429
  int storage_queue = 10000;               // captured calls waiting for storage; beyond: 429
  double rate_limit_per_second = 0.0;      // per client key (0 = none)
  int rate_limit_burst = 0;                // bucket size (0 = max(1, rate))
  bool supervise = true;                   // playbook injection and the paired/coach lanes
  double drain_seconds = 30.0;             // SIGTERM: finish and store within this
  // Episode state in the database (gateway_episodes, migration 8): any replica on the same
  // database serves any call of an episode (docs/serve.md, "Several gateway replicas").
  bool shared_episodes = false;
  // shared_episodes: a replica opening or ending an episode renews a lease on its row; another
  // replica takes the row over once the lease is this old (the owner died mid-way).
  double episode_lease_seconds = 60.0;
  // Responses calls naming a previous_response_id this gateway relayed are forwarded with the
  // earlier turns in "input" instead of the id (for upstreams that keep no conversations).
  bool expand_previous_response = false;
  bool ui = false;                         // the review UI on the same server (issue 16)
  std::string ui_tokens_env;               // env var with reviewer tokens "name=TOKEN,..." (docs/review-ui.md)
  std::optional<ModelConfig> openai, anthropic, gemini;
};

// ---------------------------------------------------------------- [train]

struct TrainFilters {
  std::vector<ReviewStatus> review_statuses;  // empty = the [review] policy
  std::vector<SessionStatus> statuses;        // session status filter; empty = succeeded only
  std::optional<double> min_reward;          // 0..1
  std::string learning_key;
  std::string created_after;                 // ISO 8601 date or timestamp
  std::optional<int64_t> limit;              // >= 1
};

struct TrainConfig {
  // The trainer to run. Given as an array: argv, exec'd directly (command_is_shell false). Given
  // as a string: one element, run through /bin/sh -c (command_is_shell true). Empty = not configured.
  std::vector<std::string> command;
  bool command_is_shell = false;
  std::vector<std::string> args;                       // appended after command
  std::vector<std::pair<std::string, std::string>> overrides;  // [train.overrides], file order, "key=value"
  std::string export_format = "atlas-jsonl";           // atlas-jsonl|trl-sft|trl-grpo|trl-dpo|openai-ft
  std::string output;                                  // export file; "" = chosen by `train`
  std::string cwd;                                     // "" = the working directory
  TrainFilters filters;
  // Atlas Core (instead of `command`): its checkout (absolute; ATLAS_CORE_PATH and
  // --atlas-core-path win), the interpreter that runs its scripts, and [train.atlas_core]
  // options as run_offline_pipeline.py flags in that script's order ({"--config-name", "train"}, ...).
  std::string atlas_core_path;
  std::string python = "python3";
  std::vector<std::pair<std::string, std::string>> atlas_core_flags;
};

// ---------------------------------------------------------------- the whole file

struct Config {
  AgentConfig agent;
  StudentConfig student;
  TeacherConfig teacher;
  OrchestrationConfig orchestration;
  LimitsConfig limits;
  RewardsConfig rewards;
  LearningConfig learning;
  RoutingConfig routing;
  StorageConfig storage;
  ReviewConfig review;
  DriftConfig drift;
  PluginsConfig plugins;
  TrainConfig train;
  ServeConfig serve;
  std::string metadata_json = "{}";  // [metadata], free table kept for the session metadata

  std::filesystem::path source_path;  // the file it came from ("" when parsed from text)
  SourceMap sources;                  // key path -> file:line:col
};

// The JSON config a plugin instance gets: [plugins.<plugin>] with `instance_json` (agent.config,
// a judge's config) merged over it key by key (top-level keys; instance wins). Both inputs are
// JSON object texts; "{}" when absent.
std::string merged_plugin_config(const Config& config, std::string_view plugin, std::string_view instance_json);

// Where a plugin-config value was written, for citing a plugin's JSON-Schema error: the JSON
// pointer (as the schema validator reports it, "/retry/attempts") is looked up first in the
// instance's own table (`instance_key_path`: "agent.config", a JudgeSpec::key_path + ".config",
// or "" for none), then in [plugins.<plugin>], then the nearest enclosing table that exists.
// Returns "atlas.toml:12:1 (agent.config.retry.attempts)", or "" when nothing was written in the
// file (e.g. a required member missing and no table given at all).
std::string locate_plugin_config(const Config& config, std::string_view instance_key_path, std::string_view plugin,
                                 std::string_view json_pointer);

}  // namespace atlas::config
