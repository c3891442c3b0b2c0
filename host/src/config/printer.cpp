// The effective configuration (every default filled in) as TOML or JSON, for `config show`.
// Secret values are never part of a Config; model blocks only say whether their variable is set.
#include <sstream>

#include "common/secrets.hpp"
#include "config/loader.hpp"
#include "config/toml_json.hpp"

namespace atlas::config {
namespace {

toml::array strings(const std::vector<std::string>& v) {
  toml::array a;
  for (const auto& s : v) a.push_back(s);
  return a;
}

toml::table json_text_table(const std::string& text) {
  auto doc = json::parse(text.empty() ? "{}" : text);
  return doc.is_ok() ? json_object_to_toml(*doc) : toml::table{};
}

toml::table model(const ModelConfig& m) {
  toml::table t;
  t.insert("provider", m.provider);
  if (!m.model.empty()) t.insert("model", m.model);  // [serve.*] blocks may leave it to the client
  t.insert("api_key_env", m.api_key_env);
  t.insert("api_base", m.api_base);
  t.insert("organization", m.organization);
  t.insert("temperature", m.temperature);
  if (m.top_p) t.insert("top_p", *m.top_p);
  if (m.max_output_tokens) t.insert("max_output_tokens", static_cast<int64_t>(*m.max_output_tokens));
  t.insert("timeout_seconds", m.timeout_seconds);
  t.insert("connect_timeout_seconds", m.connect_timeout_seconds);
  t.insert("retry", toml::table{{"attempts", static_cast<int64_t>(m.retry.attempts)},
                                {"backoff_seconds", m.retry.backoff_seconds},
                                {"max_backoff_seconds", m.retry.max_backoff_seconds}});
  toml::table headers;
  for (const auto& [k, v] : m.additional_headers) headers.insert(k, v);
  t.insert("additional_headers", std::move(headers));
  t.insert("reasoning_effort", m.reasoning_effort);
  if (m.input_cost_per_mtok) t.insert("input_cost_per_mtok", *m.input_cost_per_mtok);
  if (m.output_cost_per_mtok) t.insert("output_cost_per_mtok", *m.output_cost_per_mtok);
  if (m.capture_tokens) t.insert("capture_tokens", true);
  return t;
}

toml::table judge(const JudgeSpec& j) {
  return toml::table{{"plugin", j.plugin},
                     {"rubric", j.rubric},
                     {"weight", j.weight},
                     {"config", json_text_table(j.config_json)}};
}

int64_t i64(int v) { return v; }

// Section name -> table, in the order of docs/configuration.md.
std::vector<std::pair<std::string, toml::table>> sections(const Config& c) {
  std::vector<std::pair<std::string, toml::table>> out;

  toml::table agent{{"adapter", c.agent.adapter},
                    {"name", c.agent.name},
                    {"system_prompt", c.agent.system_prompt},
                    {"max_tool_turns", i64(c.agent.max_tool_turns)},
                    {"config", json_text_table(c.agent.config_json)}};
  if (!c.agent.tools.empty()) {
    toml::array tools;
    for (const auto& t : c.agent.tools) {
      toml::table tt{{"name", t.name}, {"description", t.description}, {"parameters", json_text_table(t.parameters_json)}};
      if (!t.output_schema_json.empty()) tt.insert("output_schema", json_text_table(t.output_schema_json));
      tools.push_back(std::move(tt));
    }
    agent.insert("tools", std::move(tools));
  }
  if (!c.agent.mcp_servers.empty()) {
    toml::array servers;
    for (const auto& s : c.agent.mcp_servers) {
      toml::table env;
      for (const auto& [k, v] : s.env) env.insert(k, v);
      servers.push_back(toml::table{{"name", s.name},
                                    {"command", s.command},
                                    {"args", strings(s.args)},
                                    {"env", std::move(env)},
                                    {"cwd", s.cwd},
                                    {"timeout_seconds", s.timeout_seconds}});
    }
    agent.insert("mcp_servers", std::move(servers));
  }
  out.emplace_back("agent", std::move(agent));

  const StudentConfig& st = c.student;
  toml::table student{{"tool_choice", st.tool_choice},
                      {"prompts", toml::table{{"planner", st.prompts.planner},
                                              {"executor", st.prompts.executor},
                                              {"synthesizer", st.prompts.synthesizer}}}};
  if (st.llm.configured()) student.insert("llm", model(st.llm));
  out.emplace_back("student", std::move(student));

  const TeacherConfig& te = c.teacher;
  toml::table teacher{{"prompts", toml::table{{"plan_review", te.prompts.plan_review},
                                              {"validation", te.prompts.validation},
                                              {"guidance", te.prompts.guidance}}}};
  if (te.llm.configured()) teacher.insert("llm", model(te.llm));
  if (te.max_review_tokens) teacher.insert("max_review_tokens", i64(*te.max_review_tokens));
  if (te.validation_max_tokens) teacher.insert("validation_max_tokens", i64(*te.validation_max_tokens));
  if (te.guidance_max_tokens) teacher.insert("guidance_max_tokens", i64(*te.guidance_max_tokens));
  out.emplace_back("teacher", std::move(teacher));

  const OrchestrationConfig& o = c.orchestration;
  toml::table orch{{"max_retries", i64(o.max_retries)},
                   {"step_timeout_seconds", o.step_timeout_seconds},
                   {"max_parallel_steps", i64(o.max_parallel_steps)}};
  if (o.forced_mode) orch.insert("forced_mode", std::string(lane_name(*o.forced_mode)));
  out.emplace_back("orchestration", std::move(orch));

  const LimitsConfig& lim = c.limits;
  out.emplace_back("limits", toml::table{{"max_task_bytes", lim.max_task_bytes},
                                         {"max_reply_bytes", lim.max_reply_bytes},
                                         {"max_plan_steps", i64(lim.max_plan_steps)},
                                         {"max_model_calls_per_session", lim.max_model_calls_per_session},
                                         {"max_tokens_per_session", lim.max_tokens_per_session},
                                         {"session_timeout_seconds", lim.session_timeout_seconds}});

  const RewardsConfig& r = c.rewards;
  toml::array temps;
  for (double t : r.temperatures) temps.push_back(t);
  toml::array sj, pj;
  for (const auto& j : r.session_judges) sj.push_back(judge(j));
  for (const auto& j : r.step_judges) pj.push_back(judge(j));
  toml::table rewards{{"variance_threshold", r.variance_threshold},
                      {"uncertainty_threshold", r.uncertainty_threshold},
                      {"samples", i64(r.samples)},
                      {"temperatures", std::move(temps)},
                      {"judge_prompt", r.judge_prompt},
                      {"max_judge_calls_per_session", i64(r.max_judge_calls_per_session)},
                      {"session_judges", std::move(sj)},
                      {"step_judges", std::move(pj)}};
  if (r.small_model.configured()) rewards.insert("small_model", model(r.small_model));
  if (r.large_model.configured()) rewards.insert("large_model", model(r.large_model));
  if (!r.rubrics.empty()) {
    toml::table rubrics;
    for (const auto& [name, rc] : r.rubrics)
      rubrics.insert(name, rc.file.empty() ? toml::table{{"text", rc.text}} : toml::table{{"file", rc.file}});
    rewards.insert("rubrics", std::move(rubrics));
  }
  out.emplace_back("rewards", std::move(rewards));

  const LearningConfig& l = c.learning;
  out.emplace_back(
      "learning",
      toml::table{
          {"enabled", l.enabled},
          {"update_enabled", l.update_enabled},
          {"llm", model(l.llm)},
          {"prompts", toml::table{{"synthesizer", l.synthesizer_prompt}}},
          {"history_limit", i64(l.history_limit)},
          {"session_note_enabled", l.session_note_enabled},
          {"apply_to_prompts", l.apply_to_prompts},
          {"playbook_char_budget", i64(l.playbook_char_budget)},
          {"gates", toml::table{{"enforce_actionability", l.gates.enforce_actionability},
                                {"enforce_cue", l.gates.enforce_cue},
                                {"enforce_generality", l.gates.enforce_generality},
                                {"max_text_length", i64(l.gates.max_text_length)},
                                {"banned_incident_tokens", strings(l.gates.banned_incident_tokens)},
                                {"allow_length_overflow_margin", i64(l.gates.allow_length_overflow_margin)}}},
          {"rubric_weights", toml::table{{"actionability", l.rubric_weights.actionability},
                                         {"generality", l.rubric_weights.generality},
                                         {"hookability", l.rubric_weights.hookability},
                                         {"concision", l.rubric_weights.concision}}},
          {"schema", toml::table{{"version", l.schema.version},
                                 {"allowed_runtime_handles", strings(l.schema.allowed_runtime_handles)},
                                 {"runtime_handle_prefixes", strings(l.schema.runtime_handle_prefixes)},
                                 {"cue_types", strings(l.schema.cue_types)},
                                 {"default_scope_category", l.schema.default_scope_category},
                                 {"allow_missing_tool_mapping", l.schema.allow_missing_tool_mapping}}}});

  const RoutingConfig& ro = c.routing;
  toml::table routing{{"enabled", ro.enabled},
                      {"probe", ro.probe},
                      {"probe_llm", model(ro.probe_llm)},
                      {"thresholds", toml::table{{"auto", ro.thresholds.auto_},
                                                 {"paired", ro.thresholds.paired},
                                                 {"coach", ro.thresholds.coach}}},
                      {"fallback_mode", std::string(lane_name(ro.fallback_mode))},
                      {"timeout_seconds", ro.timeout_seconds},
                      {"learning_history_limit", i64(ro.learning_history_limit)},
                      {"default_tags", strings(ro.default_tags)}};
  if (ro.mode_override) routing.insert("mode_override", std::string(lane_name(*ro.mode_override)));
  out.emplace_back("routing", std::move(routing));

  const StorageConfig& sto = c.storage;
  out.emplace_back("storage", toml::table{{"enabled", sto.enabled},
                                          {"plugin", sto.plugin},
                                          {"database_url", secrets::url_without_password(sto.database_url)},
                                          {"min_connections", i64(sto.min_connections)},
                                          {"max_connections", i64(sto.max_connections)},
                                          {"statement_timeout_seconds", sto.statement_timeout_seconds},
                                          {"apply_schema_on_connect", sto.apply_schema_on_connect},
                                          {"spool_path", sto.spool_path},
                                          {"write_retry_seconds", sto.write_retry_seconds}});

  std::vector<std::string> statuses = status_names(c.review.default_export_statuses);
  if (c.review.include_all_statuses) statuses = {"all"};
  out.emplace_back("review", toml::table{{"require_approval", c.review.require_approval},
                                         {"default_export_statuses", strings(statuses)}});
  out.emplace_back("drift", toml::table{{"enabled", c.drift.enabled},
                                        {"window", i64(c.drift.window)},
                                        {"z_threshold", c.drift.z_threshold},
                                        {"min_baseline", i64(c.drift.min_baseline)}});

  toml::table plugins{{"dirs", strings(c.plugins.dirs)},
                      {"allow_unsafe", c.plugins.allow_unsafe},
                      {"lock_file", c.plugins.lock_file},
                      {"isolation", c.plugins.isolation}};
  for (const auto& [name, cfg] : c.plugins.configs) {
    toml::table t = json_text_table(cfg);
    if (auto it = c.plugins.plugin_isolation.find(name); it != c.plugins.plugin_isolation.end()) t.insert("isolation", it->second);
    plugins.insert(name, std::move(t));
  }
  out.emplace_back("plugins", std::move(plugins));

  const TrainConfig& tr = c.train;
  toml::table train{{"args", strings(tr.args)},
                    {"export_format", tr.export_format},
                    {"output", tr.output},
                    {"cwd", tr.cwd}};
  if (tr.command_is_shell && !tr.command.empty())
    train.insert("command", tr.command.front());
  else
    train.insert("command", strings(tr.command));
  toml::table overrides;
  for (const auto& [k, v] : tr.overrides) overrides.insert(k, v);
  train.insert("overrides", std::move(overrides));
  toml::table filters{{"review_statuses", strings(status_names(tr.filters.review_statuses))},
                      {"statuses", strings(status_names(tr.filters.statuses))},
                      {"learning_key", tr.filters.learning_key},
                      {"created_after", tr.filters.created_after}};
  if (tr.filters.min_reward) filters.insert("min_reward", *tr.filters.min_reward);
  if (tr.filters.limit) filters.insert("limit", *tr.filters.limit);
  train.insert("filters", std::move(filters));
  out.emplace_back("train", std::move(train));

  const ServeConfig& sv = c.serve;
  toml::table serve{{"listen", sv.listen},
                    {"threads", i64(sv.threads)},
                    {"client_keys_env", sv.client_keys_env},
                    {"max_request_bytes", sv.max_request_bytes},
                    {"idle_timeout_seconds", sv.idle_timeout_seconds},
                    {"max_calls_per_episode", i64(sv.max_calls_per_episode)},
                    {"storage_queue", i64(sv.storage_queue)},
                    {"rate_limit_per_second", sv.rate_limit_per_second},
                    {"rate_limit_burst", i64(sv.rate_limit_burst)},
                    {"supervise", sv.supervise},
                    {"drain_seconds", sv.drain_seconds},
                    {"shared_episodes", sv.shared_episodes},
                    {"episode_lease_seconds", sv.episode_lease_seconds},
                    {"expand_previous_response", sv.expand_previous_response},
                    {"ui", sv.ui},
                    {"ui_tokens_env", sv.ui_tokens_env}};
  // Printing the upstream blocks also registers their api_key_env as secrets (secret_registration.cpp).
  for (auto [name, block] : {std::pair{"openai", &sv.openai}, {"anthropic", &sv.anthropic}, {"gemini", &sv.gemini}})
    if (*block) serve.insert(name, model(**block));
  out.emplace_back("serve", std::move(serve));

  out.emplace_back("metadata", json_text_table(c.metadata_json));
  return out;
}

bool env_set(const EnvLookup& getenv_fn, const std::string& name) {
  if (name.empty()) return false;
  const char* v = getenv_fn ? getenv_fn(name.c_str()) : std::getenv(name.c_str());
  return v && *v;
}

void mark_key_env(json::Value& v, json::Allocator& a, const EnvLookup& getenv_fn) {
  if (v.IsObject()) {
    if (const json::Value* env = json::find(v, "api_key_env"); env && env->IsString())
      json::set(v, "api_key_set", env_set(getenv_fn, env->GetString()), a);
    for (auto& m : v.GetObject()) mark_key_env(m.value, a, getenv_fn);
  } else if (v.IsArray()) {
    for (auto& el : v.GetArray()) mark_key_env(el, a, getenv_fn);
  }
}

}  // namespace

std::string config_to_toml(const Config& config, const EnvLookup& getenv_fn) {
  std::ostringstream os;
  os << "# Effective atlas-host configuration";
  if (!config.source_path.empty()) os << " from " << config.source_path.string();
  os << " (defaults filled in).\n# API keys are never printed: each api_key_env says whether its variable is set.\n";
  for (auto& [name, table] : sections(config)) {
    toml::table root;
    root.insert(name, std::move(table));
    // Flat section headers and short floats (0.2, not 0.20000000000000001).
    constexpr auto flags = (toml::toml_formatter::default_flags & ~toml::format_flags::indent_sub_tables) |
                           toml::format_flags::relaxed_float_precision;
    os << "\n" << toml::toml_formatter(root, flags) << "\n";
  }
  // Annotate every api_key_env line with whether the variable is set.
  std::istringstream in(os.str());
  std::string out, line;
  while (std::getline(in, line)) {
    size_t pos = line.find("api_key_env = '");
    if (pos == std::string::npos) pos = line.find("api_key_env = \"");
    if (pos != std::string::npos && line.find_first_not_of(" \t") == pos) {
      size_t open = pos + std::string_view("api_key_env = ").size();
      size_t close = line.find(line[open], open + 1);
      std::string name = close == std::string::npos ? "" : line.substr(open + 1, close - open - 1);
      if (name.empty())
        line += "  # (no key: requests carry no credential)";
      else
        line += env_set(getenv_fn, name) ? "  # (set)" : "  # (not set)";
    }
    out += line + "\n";
  }
  return out;
}

json::Document config_to_json(const Config& config, const EnvLookup& getenv_fn) {
  toml::table root;
  for (auto& [name, table] : sections(config)) root.insert(name, std::move(table));
  json::Document doc;
  doc.SetObject();
  json::Value v = toml_to_json(root, doc.GetAllocator());
  static_cast<json::Value&>(doc).Swap(v);
  mark_key_env(doc, doc.GetAllocator(), getenv_fn);
  if (!config.source_path.empty()) json::set(doc, "source", config.source_path.string(), doc.GetAllocator());
  return doc;
}

}  // namespace atlas::config
