// TOML -> Config. One function per section; every problem is collected (not just the first)
// and reported with file:line:col, the key path and, for near misses, a suggestion.
#include "config/loader.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>

#include "common/secrets.hpp"
#include "config/section_reader.hpp"
#include "config/toml_json.hpp"

namespace atlas::config {

std::string ConfigError::to_string() const {
  std::string out = where.to_string();
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

namespace {

using detail::ParseContext;
using detail::SectionReader;

constexpr std::string_view kSecretAdvice =
    "put the key in an environment variable and name it with api_key_env = \"OPENAI_API_KEY\" (or, in "
    "plugin tables, reference it as \"${OPENAI_API_KEY}\")";

// ---------------------------------------------------------------- secrets

bool is_secret_key_name(std::string_view key) {
  std::string k(key);
  std::transform(k.begin(), k.end(), k.begin(), [](unsigned char c) { return std::tolower(c); });
  static const char* const kNames[] = {"api_key", "apikey", "api-key", "key",        "token",
                                       "access_token", "auth_token", "secret", "secret_key", "password"};
  for (const char* n : kNames)
    if (k == n) return true;
  return false;
}

// An environment reference ("${NAME}") is how a plugin table names a secret without holding it.
bool is_env_reference(std::string_view v) {
  return v.size() > 3 && v.substr(0, 2) == "${" && v.back() == '}' && v.find('}') == v.size() - 1;
}

void scan_secrets(const toml::node& node, const std::string& path, std::string_view key, ParseContext& ctx) {
  if (const auto* t = node.as_table()) {
    for (auto&& [k, v] : *t) scan_secrets(v, join_key_path(path, k.str()), k.str(), ctx);
    return;
  }
  if (const auto* a = node.as_array()) {
    size_t i = 0;
    for (const auto& el : *a) scan_secrets(el, path + "[" + std::to_string(i++) + "]", {}, ctx);
    return;
  }
  const auto* s = node.as_string();
  if (!s) return;
  const std::string& value = s->get();
  if (value.empty() || is_env_reference(value)) return;
  std::string msg;
  if (!key.empty() && is_secret_key_name(key)) {
    msg = "a credential must not be written in the config file (the key '" + std::string(key) +
          "' holds a literal value); " + std::string(kSecretAdvice);
  } else if (secrets::looks_like_api_key(value)) {
    msg = "this value looks like a literal API key; keys must not be written in the config file; " +
          std::string(kSecretAdvice);
  } else {
    return;
  }
  ctx.secret_paths.insert(path);
  // Never echo the value itself.
  ctx.error(node.source(), path, std::move(msg));
}

// ---------------------------------------------------------------- helpers

std::filesystem::path resolve_path(const ParseContext& ctx, const std::string& p) {
  std::filesystem::path path(p);
  if (path.is_relative()) path = ctx.base_dir / path;
  return path.lexically_normal();
}

bool valid_env_name(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  return true;
}

bool valid_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) return false;
  return true;
}

std::string default_key_env(std::string_view provider) {
  if (provider == "anthropic") return "ANTHROPIC_API_KEY";
  if (provider == "gemini" || provider == "google") return "GEMINI_API_KEY";
  if (provider == "xai") return "XAI_API_KEY";
  if (provider == "azure-openai") return "AZURE_API_KEY";
  return "OPENAI_API_KEY";
}

// ---------------------------------------------------------------- model blocks

// Reads a model block. A block that is written starts from LLMParameters defaults (as in Atlas,
// where giving the block replaces the section default entirely). Returns false when absent.
bool read_model(SectionReader& parent, std::string_view key, ModelConfig& out, std::string_view default_provider = {},
                bool model_required = true) {
  if (parent.has(key) && !parent.table()->get(key)->is_table()) {
    parent.sub(key);  // reports the type error
    return false;
  }
  SectionReader s = parent.sub(key);
  if (!s.present()) return false;
  ModelConfig m;
  if (!default_provider.empty()) m.provider = std::string(default_provider);
  s.read_choice("provider", m.provider, {"openai", "azure-openai", "xai", "anthropic", "gemini", "google"});
  if (!s.read("api_key_env", m.api_key_env)) m.api_key_env = default_key_env(m.provider);
  else if (!m.api_key_env.empty() && !valid_env_name(m.api_key_env))
    s.error("api_key_env", "expected the NAME of an environment variable (letters, digits, _), e.g. \"OPENAI_API_KEY\"");
  if (s.read("model", m.model) && m.model.empty()) s.error("model", "must not be empty");
  if (s.read("api_base", m.api_base) && !m.api_base.empty() && m.api_base.rfind("http://", 0) != 0 &&
      m.api_base.rfind("https://", 0) != 0)
    s.error("api_base", "expected an http:// or https:// URL, e.g. \"http://127.0.0.1:8000/v1\"");
  s.read("organization", m.organization);
  s.read_double("temperature", m.temperature, 0.0, 2.0);
  s.read_double("top_p", m.top_p, 0.0, 1.0);
  s.read_int("max_output_tokens", m.max_output_tokens, 1, 10'000'000);
  s.read_double("timeout_seconds", m.timeout_seconds, 0.0, 86400.0, true);
  s.read_double("connect_timeout_seconds", m.connect_timeout_seconds, 0.0, 3600.0, true);
  SectionReader retry = s.sub("retry");
  retry.read_int("attempts", m.retry.attempts, 1, 10);
  retry.read_double("backoff_seconds", m.retry.backoff_seconds, 0.0, 600.0);
  retry.read_double("max_backoff_seconds", m.retry.max_backoff_seconds, 0.0, 3600.0);
  retry.finish();
  s.read_string_map("additional_headers", m.additional_headers);
  s.read_choice("reasoning_effort", m.reasoning_effort, {"", "low", "medium", "high"});
  s.read_double("input_cost_per_mtok", m.input_cost_per_mtok, 0.0, 1e9);
  s.read_double("output_cost_per_mtok", m.output_cost_per_mtok, 0.0, 1e9);
  if (s.read("capture_tokens", m.capture_tokens) && m.capture_tokens && (m.provider == "anthropic" ||
                                                                         m.provider == "gemini" || m.provider == "google"))
    s.error("capture_tokens", "token ids and logprobs come from OpenAI-compatible local servers (vLLM, SGLang, "
                              "llama.cpp server); use provider = \"openai\" with api_base, or remove capture_tokens");
  if (model_required && !s.has("model"))
    parent.error(key, "the model block has no 'model' (e.g. model = \"gpt-4o-mini\")");
  s.finish();
  out = std::move(m);
  return true;
}

// ---------------------------------------------------------------- [agent]

void read_tools(SectionReader& agent, ParseContext& ctx, std::vector<ToolDefinition>& out) {
  const toml::array* arr = agent.read_array("tools");
  if (!arr) return;
  size_t i = 0;
  std::set<std::string> names;
  for (const auto& el : *arr) {
    std::string path = agent.child_path("tools") + "[" + std::to_string(i++) + "]";
    if (!el.is_table()) {
      ctx.error(el.source(), path, "expected a table {name, description, parameters}, found " +
                                       std::string(detail::type_phrase(el)));
      continue;
    }
    SectionReader t(ctx, el.as_table(), path);
    ToolDefinition tool;
    if (!t.read("name", tool.name) || tool.name.empty())
      ctx.error(t.region(), path, "a tool needs a non-empty 'name'");
    else if (!names.insert(tool.name).second)
      t.error("name", "duplicate tool name '" + tool.name + "'");
    t.read("description", tool.description);
    if (const toml::node* p = t.take("parameters")) {
      if (!p->is_table()) {
        t.type_error("parameters", *p, "a table (a JSON Schema of type object)");
      } else {
        const toml::table& schema = *p->as_table();
        if (auto type = schema["type"].value<std::string>(); type && *type != "object")
          t.error("parameters", "the parameters schema must have type = \"object\", found " + json::quote(*type));
        // Atlas: every name in `required` must be a key of `properties`.
        if (const auto* req = schema["required"].as_array()) {
          std::vector<std::string> missing;
          const auto* props = schema["properties"].as_table();
          for (const auto& r : *req)
            if (auto name = r.value<std::string>(); name && (!props || !props->contains(*name))) missing.push_back(*name);
          std::sort(missing.begin(), missing.end());
          if (!missing.empty()) {
            std::string list;
            for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
            t.error("parameters", "required fields missing from properties: " + list);
          }
        }
        tool.parameters_json = toml_table_to_json_text(schema);
        if (!schema.contains("type")) {  // default to an object schema
          auto doc = json::parse(tool.parameters_json);
          if (doc.is_ok()) {
            json::set(*doc, "type", "object", doc->GetAllocator());
            tool.parameters_json = json::dump(*doc);
          }
        }
      }
    }
    t.read_json_table("output_schema", tool.output_schema_json);
    t.finish();
    out.push_back(std::move(tool));
  }
}

void read_mcp_servers(SectionReader& agent, ParseContext& ctx, std::vector<McpServerConfig>& out) {
  const toml::array* arr = agent.read_array("mcp_servers");
  if (!arr) return;
  size_t i = 0;
  std::set<std::string> names;
  for (const auto& el : *arr) {
    std::string path = agent.child_path("mcp_servers") + "[" + std::to_string(i++) + "]";
    if (!el.is_table()) {
      ctx.error(el.source(), path,
                "expected a table {name, command, args, env, cwd}, found " + std::string(detail::type_phrase(el)));
      continue;
    }
    SectionReader t(ctx, el.as_table(), path);
    McpServerConfig s;
    if (!t.read("name", s.name) || !valid_name(s.name) || s.name.find('.') != std::string::npos)
      ctx.error(t.region_of("name"), path + ".name",
                "an MCP server needs a 'name' made of letters, digits, '_' or '-' (it prefixes tool names)");
    else if (!names.insert(s.name).second)
      t.error("name", "duplicate MCP server name '" + s.name + "'");
    if (!t.read("command", s.command) || s.command.empty())
      ctx.error(t.region_of("command"), path + ".command",
                "an MCP server needs a 'command' (the program to start, e.g. \"npx\")");
    t.read_strings("args", s.args);
    t.read_string_map("env", s.env);
    if (t.read("cwd", s.cwd) && !s.cwd.empty()) s.cwd = resolve_path(ctx, s.cwd).string();
    t.read_double("timeout_seconds", s.timeout_seconds, 0.0, 86400.0, true);
    t.finish();
    out.push_back(std::move(s));
  }
}

void read_agent(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("agent");
  AgentConfig& a = cfg.agent;
  if (!s.present()) {
    ctx.error(SourceRegion{ctx.source_name, 0, 0}, "agent",
              "the [agent] section is required: add [agent] with adapter = \"openai\" (or the adapter plugin "
              "that wraps your agent: anthropic, gemini, http, command, ...)");
    return;
  }
  if (!s.read("adapter", a.adapter) || a.adapter.empty()) {
    ctx.error(s.region_of("adapter"), s.child_path("adapter"),
              "the adapter plugin name is required (openai, anthropic, gemini, http, command, or a vendor plugin), "
              "e.g. adapter = \"openai\"");
  } else if (!valid_name(a.adapter)) {
    s.error("adapter", "invalid plugin name " + json::quote(a.adapter) + " (letters, digits, '_', '-', '.')");
  }
  s.read("name", a.name);
  s.read("system_prompt", a.system_prompt);
  read_tools(s, ctx, a.tools);
  s.read_json_table("config", a.config_json);
  // A relative [agent.config] cwd is relative to this file's folder, like every path in the config.
  if (auto doc = json::parse(a.config_json); doc.is_ok() && doc->IsObject()) {
    if (const json::Value* cwd = json::find(*doc, "cwd"); cwd && cwd->IsString() && cwd->GetStringLength() > 0) {
      json::set(*doc, "cwd", resolve_path(ctx, cwd->GetString()).string(), doc->GetAllocator());
      a.config_json = json::dump(*doc);
    }
  }
  read_mcp_servers(s, ctx, a.mcp_servers);
  s.read_int("max_tool_turns", a.max_tool_turns, 1, 100);
  if (s.has("type") || s.has("llm") || s.has("transport"))
    s.finish("this looks like an Atlas YAML adapter key: in atlas-host, name the plugin with adapter = \"...\", "
             "put the model in [student.llm] and plugin settings in [agent.config]");
  else
    s.finish();
}

// ---------------------------------------------------------------- [student] / [teacher]

// Settings Atlas documents that atlas-host does not implement are refused rather than read and
// ignored, so that no setting in a config file is inert (docs/atlas-compatibility.md).
void refuse(SectionReader& s, std::string_view key, const std::string& why) {
  if (s.take(key)) s.error(key, "not supported by atlas-host: " + why + "; remove it");
}

void read_student(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("student");
  StudentConfig& st = cfg.student;
  // LLM adapters default the student's provider to their own.
  std::string_view provider_hint;
  if (cfg.agent.adapter == "anthropic" || cfg.agent.adapter == "gemini") provider_hint = cfg.agent.adapter;
  read_model(s, "llm", st.llm, provider_hint);
  SectionReader p = s.sub("prompts");
  p.read("planner", st.prompts.planner);
  p.read("executor", st.prompts.executor);
  p.read("synthesizer", st.prompts.synthesizer);
  p.finish();
  s.read_choice("tool_choice", st.tool_choice, {"auto", "required"});
  for (const char* key : {"max_plan_tokens", "max_step_tokens", "max_synthesis_tokens"})
    refuse(s, key, "the student's reply length is [student.llm] max_output_tokens");
  s.finish();
}

void read_teacher(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("teacher");
  TeacherConfig& t = cfg.teacher;
  read_model(s, "llm", t.llm);
  s.read_int("max_review_tokens", t.max_review_tokens, 1, 10'000'000);
  s.read_int("validation_max_tokens", t.validation_max_tokens, 1, 10'000'000);
  s.read_int("guidance_max_tokens", t.guidance_max_tokens, 1, 10'000'000);
  SectionReader p = s.sub("prompts");
  p.read("plan_review", t.prompts.plan_review);
  p.read("validation", t.prompts.validation);
  p.read("guidance", t.prompts.guidance);
  p.finish();
  s.finish();
}

void read_orchestration(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("orchestration");
  OrchestrationConfig& o = cfg.orchestration;
  s.read_int("max_retries", o.max_retries, 0, 5);
  s.read_double("step_timeout_seconds", o.step_timeout_seconds, 0.0, 7 * 86400.0, true);
  s.read_lane("forced_mode", o.forced_mode, {Lane::kAuto, Lane::kPaired, Lane::kCoach});
  s.read_int("max_parallel_steps", o.max_parallel_steps, 1, 64);
  if (s.read("emit_intermediate_steps", o.emit_intermediate_steps) && !o.emit_intermediate_steps)
    s.error("emit_intermediate_steps", "not supported by atlas-host: events are always recorded (they are the "
                                       "session's trace); remove it");
  s.finish();
}

// ---------------------------------------------------------------- [serve]

void read_serve(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("serve");
  ServeConfig& v = cfg.serve;
  if (s.read("listen", v.listen)) {
    size_t colon = v.listen.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < v.listen.size() &&
              v.listen.find_first_not_of("0123456789", colon + 1) == std::string::npos && v.listen.size() - colon <= 6;
    if (!ok) s.error("listen", "expected HOST:PORT, e.g. \"127.0.0.1:8787\" (port 0 = any free port)");
  }
  s.read_int("threads", v.threads, 1, 4096);
  if (s.read("client_keys_env", v.client_keys_env) && !v.client_keys_env.empty() && !valid_env_name(v.client_keys_env))
    s.error("client_keys_env", "expected the NAME of an environment variable, e.g. \"ATLAS_GATEWAY_KEYS\"");
  std::optional<int64_t> bytes;
  if (s.read_int("max_request_bytes", bytes, 1024, int64_t{1} << 30) && bytes) v.max_request_bytes = *bytes;
  s.read_double("idle_timeout_seconds", v.idle_timeout_seconds, 0.001, 30 * 86400.0);
  s.read_int("max_calls_per_episode", v.max_calls_per_episode, 1, 1'000'000);
  s.read_int("storage_queue", v.storage_queue, 1, 10'000'000);
  s.read_double("rate_limit_per_second", v.rate_limit_per_second, 0.0, 1e6);
  s.read_int("rate_limit_burst", v.rate_limit_burst, 0, 10'000'000);
  s.read("supervise", v.supervise);
  s.read_double("drain_seconds", v.drain_seconds, 0.0, 3600.0);
  s.read("shared_episodes", v.shared_episodes);
  s.read_double("episode_lease_seconds", v.episode_lease_seconds, 0.5, 3600.0);
  s.read("expand_previous_response", v.expand_previous_response);
  s.read("ui", v.ui);
  if (s.read("ui_tokens_env", v.ui_tokens_env) && !v.ui_tokens_env.empty() && !valid_env_name(v.ui_tokens_env))
    s.error("ui_tokens_env", "expected the NAME of an environment variable, e.g. \"ATLAS_UI_TOKENS\"");
  for (auto [key, slot, provider] : {std::tuple{"openai", &v.openai, "openai"},
                                     std::tuple{"anthropic", &v.anthropic, "anthropic"},
                                     std::tuple{"gemini", &v.gemini, "gemini"}}) {
    ModelConfig m;
    if (read_model(s, key, m, provider, false)) *slot = std::move(m);
  }
  s.finish();
}

// ---------------------------------------------------------------- [limits]

void read_limits(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("limits");
  LimitsConfig& l = cfg.limits;
  auto read_count = [&s](std::string_view key, int64_t& out, int64_t max) {
    std::optional<int64_t> v;
    if (s.read_int(key, v, 0, max) && v) out = *v;
  };
  read_count("max_task_bytes", l.max_task_bytes, int64_t{1} << 40);
  read_count("max_reply_bytes", l.max_reply_bytes, int64_t{1} << 40);
  s.read_int("max_plan_steps", l.max_plan_steps, 0, 10'000);
  read_count("max_model_calls_per_session", l.max_model_calls_per_session, 100'000'000);
  read_count("max_tokens_per_session", l.max_tokens_per_session, int64_t{1} << 50);
  s.read_double("session_timeout_seconds", l.session_timeout_seconds, 0.0, 30 * 86400.0);
  s.finish();
}

// ---------------------------------------------------------------- [rewards]

const std::vector<std::string_view>& builtin_rubrics() {
  static const std::vector<std::string_view> k = {"process", "outcome", "helpfulness"};
  return k;
}

std::vector<JudgeSpec> read_judges(SectionReader& s, ParseContext& ctx, std::string_view key,
                                   std::string_view default_rubric) {
  std::vector<JudgeSpec> out;
  const toml::array* arr = s.read_array(key);
  if (!arr) {
    if (!s.has(key)) out.push_back(JudgeSpec{"llm", std::string(default_rubric), 1.0, "{}",
                                             s.child_path(key) + "[0]"});
    return out;
  }
  size_t i = 0;
  for (const auto& el : *arr) {
    std::string path = s.child_path(key) + "[" + std::to_string(i++) + "]";
    if (!el.is_table()) {
      ctx.error(el.source(), path, "expected a table {plugin, rubric, weight, config}, found " +
                                       std::string(detail::type_phrase(el)));
      continue;
    }
    SectionReader t(ctx, el.as_table(), path);
    JudgeSpec j;
    j.key_path = path;
    if (t.read("plugin", j.plugin) && !valid_name(j.plugin))
      t.error("plugin", "invalid plugin name " + json::quote(j.plugin));
    t.read("rubric", j.rubric);
    if (j.rubric.empty() && j.plugin == "llm") j.rubric = std::string(default_rubric);
    t.read_double("weight", j.weight, 0.0, 1e6, true);
    t.read_json_table("config", j.config_json);
    t.finish();
    out.push_back(std::move(j));
  }
  return out;
}

void read_rewards(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("rewards");
  RewardsConfig& r = cfg.rewards;
  bool have_small = read_model(s, "small_model", r.small_model);
  if (!read_model(s, "large_model", r.large_model) && have_small) r.large_model = r.small_model;
  s.read_double("variance_threshold", r.variance_threshold, 0.0, 1.0);
  s.read_double("uncertainty_threshold", r.uncertainty_threshold, 0.0, 1.0);
  s.read_int("samples", r.samples, 1, 10);
  if (const toml::node* n = s.take("temperatures")) {
    std::vector<double> temps;
    bool ok = true;
    if (!n->is_array() || n->as_array()->empty()) {
      s.error("temperatures", "expected a non-empty array of numbers between 0 and 2, e.g. [0.2, 0.5, 0.8]");
      ok = false;
    } else {
      size_t i = 0;
      for (const auto& el : *n->as_array()) {
        std::string p = s.child_path("temperatures") + "[" + std::to_string(i++) + "]";
        std::optional<double> d;
        if (el.is_floating_point()) d = el.as_floating_point()->get();
        else if (el.is_integer()) d = static_cast<double>(el.as_integer()->get());
        if (!d || !(*d >= 0.0 && *d <= 2.0)) {
          ctx.error(el.source(), p, "expected a number between 0 and 2");
          ok = false;
        } else {
          temps.push_back(*d);
        }
      }
    }
    if (ok) r.temperatures = std::move(temps);
  }
  s.read("judge_prompt", r.judge_prompt);
  s.read_int("max_judge_calls_per_session", r.max_judge_calls_per_session, 0, 1'000'000);

  // Custom rubrics: [rewards.rubrics.<name>] with text or file, or `<name> = "text"`.
  SectionReader rubrics = s.sub("rubrics");
  if (rubrics.present()) {
    for (auto&& [k, v] : *rubrics.table()) {
      std::string name(k.str());
      rubrics.accept(name);
      std::string path = rubrics.child_path(name);
      RubricConfig rc;
      if (v.is_string()) {
        rc.text = v.as_string()->get();
      } else if (v.is_table()) {
        SectionReader t(ctx, v.as_table(), path);
        bool has_text = t.read("text", rc.text);
        std::string file;
        bool has_file = t.read("file", file);
        t.finish();
        if (has_text == has_file) {
          ctx.error(t.region(), path, "a rubric needs exactly one of text = \"...\" or file = \"path\"");
          continue;
        }
        if (has_file) {
          std::filesystem::path fp = resolve_path(ctx, file);
          std::ifstream in(fp, std::ios::binary);
          if (!in) {
            std::error_code ec;
            ctx.error(t.region_of("file"), path + ".file",
                      "cannot read rubric file '" + fp.string() + "'" +
                          (std::filesystem::exists(fp, ec) ? " (permission denied?)" : " (no such file)") +
                          "; paths are relative to the config file's folder");
            continue;
          }
          std::ostringstream ss;
          ss << in.rdbuf();
          rc.text = ss.str();
          rc.file = fp.string();
        }
      } else {
        ctx.error(v.source(), path, "expected a string or a table {text | file}, found " +
                                        std::string(detail::type_phrase(v)));
        continue;
      }
      if (rc.text.find_first_not_of(" \t\r\n") == std::string::npos) {
        ctx.error(v.source(), path, "the rubric text is empty");
        continue;
      }
      r.rubrics.emplace(name, std::move(rc));
    }
  }

  r.session_judges = read_judges(s, ctx, "session_judges", "outcome");
  r.step_judges = read_judges(s, ctx, "step_judges", "process");
  s.finish();

  // Rubric names must exist; the llm judge needs the small model.
  std::vector<std::string_view> known(builtin_rubrics());
  for (const auto& [name, _] : r.rubrics) known.push_back(name);
  bool needs_model = false;
  for (const auto* list : {&r.session_judges, &r.step_judges}) {
    for (const auto& j : *list) {
      if (j.plugin == "llm") needs_model = true;
      if (j.rubric.empty() || std::find(known.begin(), known.end(), j.rubric) != known.end()) continue;
      const SourceRegion* where = cfg.sources.find(j.key_path + ".rubric");
      std::string msg = "unknown rubric " + json::quote(j.rubric) +
                        ": use a built-in one (process, outcome, helpfulness) or define [rewards.rubrics." +
                        key_path_segment(j.rubric) + "]";
      std::string near = did_you_mean(j.rubric, known);
      if (!near.empty()) msg += " (did you mean " + json::quote(near) + "?)";
      ctx.error(where ? *where : s.region(), j.key_path + ".rubric", std::move(msg));
    }
  }
  if (needs_model && !r.small_model.configured() && !s.has("small_model"))
    ctx.error(s.present() ? s.region() : SourceRegion{ctx.source_name, 0, 0}, "rewards.small_model",
              "the llm judge needs a model: add [rewards.small_model] with model = \"...\" (and optionally "
              "[rewards.large_model] for escalation), or use only judges that need no model "
              "(session_judges = [{ plugin = \"verifiable\" }], step_judges = [])");
}

// ---------------------------------------------------------------- [learning]

void read_learning(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("learning");
  LearningConfig& l = cfg.learning;
  s.read("enabled", l.enabled);
  s.read("update_enabled", l.update_enabled);
  if (!read_model(s, "llm", l.llm)) {
    // No [learning.llm]: the student's provider and model (else the teacher's), so a config
    // needs no key of a provider it does not otherwise use. Generation settings stay learning's.
    const ModelConfig& base = cfg.student.llm.configured() ? cfg.student.llm : cfg.teacher.llm;
    if (base.configured()) {
      ModelConfig m = base;
      m.temperature = l.llm.temperature;
      m.max_output_tokens = l.llm.max_output_tokens;
      m.timeout_seconds = std::max(m.timeout_seconds, l.llm.timeout_seconds);
      l.llm = std::move(m);
    }
  }
  SectionReader prompts = s.sub("prompts");
  prompts.read("synthesizer", l.synthesizer_prompt);
  prompts.finish();
  s.read_int("history_limit", l.history_limit, 1, 200);
  s.read("session_note_enabled", l.session_note_enabled);
  s.read("apply_to_prompts", l.apply_to_prompts);
  s.read_int("playbook_char_budget", l.playbook_char_budget, 200, 100'000);

  SectionReader g = s.sub("gates");
  g.read("enforce_actionability", l.gates.enforce_actionability);
  g.read("enforce_cue", l.gates.enforce_cue);
  g.read("enforce_generality", l.gates.enforce_generality);
  g.read_int("max_text_length", l.gates.max_text_length, 100, 2000);
  refuse(g, "allowed_proper_nouns", "the generality gate does not look for proper nouns (Atlas does not either)");
  g.read_strings("banned_incident_tokens", l.gates.banned_incident_tokens);
  g.read_int("allow_length_overflow_margin", l.gates.allow_length_overflow_margin, 0, 500);
  g.finish();

  SectionReader w = s.sub("rubric_weights");
  LearningRubricWeights& rw = l.rubric_weights;
  w.read_double("actionability", rw.actionability, 0.0, 1.0);
  w.read_double("generality", rw.generality, 0.0, 1.0);
  w.read_double("hookability", rw.hookability, 0.0, 1.0);
  w.read_double("concision", rw.concision, 0.0, 1.0);
  w.finish();
  const double sum = rw.actionability + rw.generality + rw.hookability + rw.concision;
  if (sum <= 0.0) {
    ctx.error(w.region(), w.path(), "the rubric weights must not all be 0");
  } else {
    auto norm = [sum](double v) { return std::round(v / sum * 10000.0) / 10000.0; };
    rw.actionability = norm(rw.actionability);
    rw.generality = norm(rw.generality);
    rw.hookability = norm(rw.hookability);
    rw.concision = norm(rw.concision);
  }

  SectionReader sc = s.sub("schema");
  sc.read("version", l.schema.version);
  sc.read_strings("allowed_runtime_handles", l.schema.allowed_runtime_handles);
  sc.read_strings("runtime_handle_prefixes", l.schema.runtime_handle_prefixes);
  sc.read_strings("cue_types", l.schema.cue_types);
  sc.read("default_scope_category", l.schema.default_scope_category);
  sc.read("allow_missing_tool_mapping", l.schema.allow_missing_tool_mapping);
  sc.finish();

  const std::string no_usage = "playbook entries' usage (cue hits, adoptions), impact and pruning are not tracked yet";
  refuse(s, "pruning", no_usage);
  SectionReader u = s.sub("usage_tracking");
  bool tracking = false;
  if (u.read("enabled", tracking) && tracking)
    u.error("enabled", "not supported by atlas-host: " + no_usage + "; remove it (false is accepted)");
  refuse(u, "capture_examples", no_usage);
  refuse(u, "max_examples_per_entry", no_usage);
  u.finish();
  s.finish();
}

// ---------------------------------------------------------------- [routing]

void read_routing(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("routing");
  RoutingConfig& r = cfg.routing;
  s.read("enabled", r.enabled);
  s.read_lane("mode_override", r.mode_override, {Lane::kAuto, Lane::kPaired, Lane::kCoach});
  if (s.read("probe", r.probe) && !valid_name(r.probe))
    s.error("probe", "invalid probe plugin name " + json::quote(r.probe) + " (e.g. \"history\" or \"llm\")");
  read_model(s, "probe_llm", r.probe_llm);
  SectionReader t = s.sub("thresholds");
  t.read_double("auto", r.thresholds.auto_, 0.0, 1.0);
  t.read_double("paired", r.thresholds.paired, 0.0, 1.0);
  t.read_double("coach", r.thresholds.coach, 0.0, 1.0);
  t.finish();
  if (!(r.thresholds.auto_ >= r.thresholds.paired && r.thresholds.paired >= r.thresholds.coach))
    ctx.error(t.present() ? t.region() : s.region(), s.child_path("thresholds"),
              "thresholds must satisfy auto >= paired >= coach (got auto " + detail::format_number(r.thresholds.auto_) +
                  ", paired " + detail::format_number(r.thresholds.paired) + ", coach " +
                  detail::format_number(r.thresholds.coach) + ")");
  std::optional<Lane> fallback;
  if (s.read_lane("fallback_mode", fallback, {Lane::kPaired, Lane::kCoach})) r.fallback_mode = *fallback;
  s.read_double("timeout_seconds", r.timeout_seconds, 1.0, 3600.0);
  s.read_int("learning_history_limit", r.learning_history_limit, 1, 200);
  if (s.read_strings("default_tags", r.default_tags)) {
    // Atlas drops blank tags.
    std::vector<std::string> kept;
    for (auto& tag : r.default_tags)
      if (tag.find_first_not_of(" \t") != std::string::npos) kept.push_back(tag);
    r.default_tags = std::move(kept);
  }
  s.finish();
}

// ---------------------------------------------------------------- [storage] / [review] / [drift]

void read_storage(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("storage");
  StorageConfig& st = cfg.storage;
  s.read("enabled", st.enabled);
  if (s.read("plugin", st.plugin) && !valid_name(st.plugin))
    s.error("plugin", "invalid plugin name " + json::quote(st.plugin));
  if (s.read("database_url", st.database_url) && st.plugin == "soci" && !st.database_url.empty() &&
      !st.is_sqlite() && !st.is_postgres())
    s.error("database_url", "unsupported database URL; use sqlite://PATH (e.g. \"sqlite://.atlas/atlas.db\") or "
                            "postgresql://USER@HOST:PORT/DB, or \"\" for no storage");
  if (st.is_sqlite() && st.database_url.size() == std::string_view("sqlite://").size())
    s.error("database_url", "the sqlite URL names no file; use sqlite://PATH, e.g. \"sqlite://.atlas/atlas.db\"");
  if (s.read_int("min_connections", st.min_connections, 1, 1000) && st.min_connections != 1)
    s.error("min_connections", "not supported by atlas-host above 1: the pool opens connections when they are "
                               "needed, up to max_connections; remove it or set 1");
  s.read_int("max_connections", st.max_connections, 1, 1000);
  if (st.max_connections < st.min_connections)
    s.error("max_connections", "max_connections (" + std::to_string(st.max_connections) +
                                   ") must be at least min_connections (" + std::to_string(st.min_connections) + ")");
  s.read_double("statement_timeout_seconds", st.statement_timeout_seconds, 0.0, 86400.0);
  s.read("apply_schema_on_connect", st.apply_schema_on_connect);
  s.read("spool_path", st.spool_path);
  s.read_double("write_retry_seconds", st.write_retry_seconds, 0.0, 86400.0);
  s.finish();
}

void read_review(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("review");
  ReviewConfig& r = cfg.review;
  s.read("require_approval", r.require_approval);
  std::vector<std::string> statuses;
  if (s.read_strings("default_export_statuses", statuses)) {
    r.statuses_explicit = true;
    r.default_export_statuses.clear();
    std::vector<std::string> named;
    for (auto st : statuses) {
      std::transform(st.begin(), st.end(), st.begin(), [](unsigned char c) { return std::tolower(c); });
      if (st == "*" || st == "all")
        r.include_all_statuses = true;
      else
        named.push_back(st);
    }
    auto parsed = parse_review_statuses(named, "default_export_statuses (or \"all\")");
    if (parsed)
      r.default_export_statuses = std::move(*parsed);
    else
      s.error("default_export_statuses", parsed.status().message());
  }
  s.finish();
}

void read_drift(SectionReader& root, Config& cfg) {
  SectionReader s = root.sub("drift");
  DriftConfig& d = cfg.drift;
  s.read("enabled", d.enabled);
  s.read_int("window", d.window, 1, 100'000);
  s.read_double("z_threshold", d.z_threshold, 0.0, 1e6);
  s.read_int("min_baseline", d.min_baseline, 0, 100'000);
  s.finish();
}

// ---------------------------------------------------------------- [plugins] / [train] / [metadata]

void read_plugins(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("plugins");
  PluginsConfig& p = cfg.plugins;
  std::vector<std::string> dirs;
  if (s.read_strings("dirs", dirs))
    for (const auto& d : dirs) p.dirs.push_back(resolve_path(ctx, d).string());
  s.read("allow_unsafe", p.allow_unsafe);
  if (s.read("lock_file", p.lock_file) && !p.lock_file.empty()) p.lock_file = resolve_path(ctx, p.lock_file).string();
  s.read_choice("isolation", p.isolation, {"auto", "in-process", "process"});
  if (!s.present()) return;
  // Every other key is a per-plugin table. A non-table is most likely a misspelt setting, which
  // finish() reports with a suggestion.
  for (auto&& [k, v] : *s.table()) {
    std::string name(k.str());
    if (name == "dirs" || name == "allow_unsafe" || name == "lock_file" || name == "isolation" || !v.is_table()) continue;
    s.accept(name);
    toml::table table = *v.as_table();
    if (const toml::node* iso = table.get("isolation")) {
      const auto* text = iso->as_string();
      std::string value = text ? text->get() : "";
      if (value != "auto" && value != "in-process" && value != "process") {
        ctx.error(iso->source(), join_key_path(join_key_path("plugins", name), "isolation"),
                  "expected \"auto\", \"in-process\" or \"process\"");
      } else {
        p.plugin_isolation[name] = value;
      }
      table.erase("isolation");  // the host's setting, not the plugin's config
    }
    p.configs[name] = toml_table_to_json_text(table);
  }
  s.finish();
}

void flatten_overrides(const toml::table& t, const std::string& prefix, ParseContext& ctx, const std::string& path,
                       std::vector<std::tuple<uint32_t, uint32_t, std::string, std::string>>& out) {
  for (auto&& [k, v] : t) {
    std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
    std::string p = join_key_path(path, k.str());
    std::string value;
    if (const auto* sub = v.as_table()) {
      flatten_overrides(*sub, key, ctx, p, out);
      continue;
    }
    if (v.is_string()) value = v.as_string()->get();
    else if (v.is_integer()) value = std::to_string(v.as_integer()->get());
    else if (v.is_floating_point()) value = detail::format_number(v.as_floating_point()->get());
    else if (v.is_boolean()) value = v.as_boolean()->get() ? "true" : "false";
    else {
      std::ostringstream os;
      if (const auto* arr = v.as_array()) {
        // Hydra list syntax: [a,b,c]
        os << '[';
        bool first = true;
        for (const auto& el : *arr) {
          if (!first) os << ',';
          first = false;
          if (el.is_string()) os << el.as_string()->get();
          else if (el.is_integer()) os << el.as_integer()->get();
          else if (el.is_floating_point()) os << detail::format_number(el.as_floating_point()->get());
          else if (el.is_boolean()) os << (el.as_boolean()->get() ? "true" : "false");
          else {
            ctx.error(el.source(), p, "override lists may hold only strings, numbers and booleans");
          }
        }
        os << ']';
        value = os.str();
      } else {
        ctx.error(v.source(), p, "expected a string, number, boolean or list, found " + std::string(detail::type_phrase(v)));
        continue;
      }
    }
    out.emplace_back(k.source().begin.line, k.source().begin.column, key, value);
  }
}

void read_train(SectionReader& root, ParseContext& ctx, Config& cfg) {
  SectionReader s = root.sub("train");
  TrainConfig& t = cfg.train;
  if (const toml::node* n = s.take("command")) {
    if (n->is_string()) {
      if (!n->as_string()->get().empty()) {
        t.command = {n->as_string()->get()};
        t.command_is_shell = true;
      }
    } else if (n->is_array()) {
      std::vector<std::string> argv;
      s.read_strings("command", argv);
      if (argv.empty() && n->as_array()->size() != 0) {
        // element errors already reported
      } else if (argv.empty()) {
        s.error("command", "the command array is empty; give the program and its arguments, e.g. "
                           "[\"python\", \"train.py\"]");
      }
      t.command = std::move(argv);
    } else {
      s.type_error("command", *n, "a string (run by /bin/sh -c) or an array of strings (argv)");
    }
  }
  s.read_strings("args", t.args);
  if (const toml::node* n = s.take("overrides")) {
    if (!n->is_table()) {
      s.type_error("overrides", *n, "a table of key = value");
    } else {
      std::vector<std::tuple<uint32_t, uint32_t, std::string, std::string>> items;
      flatten_overrides(*n->as_table(), "", ctx, s.child_path("overrides"), items);
      std::sort(items.begin(), items.end());  // file order (toml++ tables are sorted by key)
      for (auto& [line, col, k, v] : items) t.overrides.emplace_back(std::move(k), std::move(v));
    }
  }
  s.read_choice("export_format", t.export_format, {"atlas-jsonl", "trl-sft", "trl-grpo", "trl-dpo", "openai-ft"});
  if (s.read("output", t.output) && !t.output.empty()) t.output = resolve_path(ctx, t.output).string();
  if (s.read("cwd", t.cwd) && !t.cwd.empty()) t.cwd = resolve_path(ctx, t.cwd).string();
  if (s.read("atlas_core_path", t.atlas_core_path) && !t.atlas_core_path.empty())
    t.atlas_core_path = resolve_path(ctx, t.atlas_core_path).string();
  if (!t.atlas_core_path.empty() && !t.command.empty())
    s.error("atlas_core_path", "give either command (any trainer) or atlas_core_path (Atlas Core), not both");
  s.read("python", t.python);
  {
    // Atlas Core's run_offline_pipeline.py flags, in the order the script documents them.
    SectionReader core = s.sub("atlas_core");
    for (const char* key : {"config_name", "data_config", "trainer_config", "model_config"}) {
      std::string v;
      if (core.read(key, v) && !v.empty()) {
        std::string flag = "--" + std::string(key);
        std::replace(flag.begin(), flag.end(), '_', '-');
        t.atlas_core_flags.emplace_back(flag, v);
      }
    }
    double ratio = 0;
    if (core.read_double("eval_ratio", ratio, 0.0, 1.0)) t.atlas_core_flags.emplace_back("--eval-ratio", detail::format_number(ratio));
    std::optional<int64_t> max_samples;
    if (core.read_int("max_samples", max_samples, 1, std::numeric_limits<int64_t>::max()) && max_samples)
      t.atlas_core_flags.emplace_back("--max-samples", std::to_string(*max_samples));
    std::string out_dir;
    if (core.read("output_dir", out_dir) && !out_dir.empty())
      t.atlas_core_flags.emplace_back("--output-dir", resolve_path(ctx, out_dir).string());
    for (const char* key : {"wandb_project", "wandb_run_name"}) {
      std::string v;
      if (core.read(key, v) && !v.empty()) {
        std::string flag = "--" + std::string(key);
        std::replace(flag.begin(), flag.end(), '_', '-');
        t.atlas_core_flags.emplace_back(flag, v);
      }
    }
    core.finish();
  }
  SectionReader f = s.sub("filters");
  std::vector<std::string> names;
  if (f.read_strings("review_statuses", names)) {
    auto parsed = parse_review_statuses(names, "review_statuses");
    if (parsed)
      t.filters.review_statuses = std::move(*parsed);
    else
      f.error("review_statuses", parsed.status().message());
  }
  names.clear();
  if (f.read_strings("statuses", names)) {
    auto parsed = parse_session_statuses(names, "statuses");
    if (parsed)
      t.filters.statuses = std::move(*parsed);
    else
      f.error("statuses", parsed.status().message());
  }
  f.read_double("min_reward", t.filters.min_reward, 0.0, 1.0);
  f.read("learning_key", t.filters.learning_key);
  if (const toml::node* n = f.take("created_after")) {
    std::ostringstream os;
    if (n->is_string()) os << n->as_string()->get();
    else if (n->is_date()) os << n->as_date()->get();  // a TOML date literal is fine too
    else if (n->is_date_time()) os << n->as_date_time()->get();
    else f.type_error("created_after", *n, "a date (2025-01-31) or an ISO 8601 string");
    t.filters.created_after = os.str();
  }
  f.read_int("limit", t.filters.limit, 1, std::numeric_limits<int64_t>::max());
  f.finish();
  s.finish();
}

// ---------------------------------------------------------------- cross-section checks

void check_requirements(SectionReader& root, ParseContext& ctx, Config& cfg) {
  const bool teacher_needed = cfg.orchestration.forced_mode != Lane::kAuto;
  if (teacher_needed && !cfg.teacher.llm.configured() && !cfg.sources.find("teacher.llm")) {
    const SourceRegion* where = cfg.sources.find("teacher");
    ctx.error(where ? *where : SourceRegion{ctx.source_name, 0, 0}, "teacher.llm",
              "the teacher's model is required (it validates and guides the student in the paired and coach "
              "lanes): add [teacher.llm] with model = \"gpt-4o-mini\", or run without a teacher with "
              "[orchestration] forced_mode = \"auto\"");
  }
  const std::string& adapter = cfg.agent.adapter;
  if ((adapter == "openai" || adapter == "anthropic" || adapter == "gemini") && !cfg.student.llm.configured() &&
      !cfg.sources.find("student.llm")) {
    auto doc = json::parse(cfg.agent.config_json);
    bool inline_model = false;
    if (doc.is_ok()) {
      std::string ref = json::get_string(*doc, "model_ref", "student");
      inline_model = json::find(*doc, "model") != nullptr || ref != "student";
    }
    if (!inline_model) {
      const SourceRegion* where = cfg.sources.find("agent.adapter");
      ctx.error(where ? *where : SourceRegion{ctx.source_name, 0, 0}, "student.llm",
                "the " + adapter + " adapter needs the student's model: add [student.llm] with model = \"...\" "
                "(or an inline model in [agent.config])");
    }
  }
  (void)root;
}

}  // namespace

Result<Config> parse_config(std::string_view text, std::string_view source_name, std::vector<ConfigError>* errors) {
  ParseContext ctx;
  ctx.source_name = std::string(source_name);
  std::error_code ec;
  ctx.base_dir = std::filesystem::current_path(ec);
  if (!std::filesystem::path(source_name).parent_path().empty() && std::filesystem::exists(source_name, ec))
    ctx.base_dir = std::filesystem::absolute(std::filesystem::path(source_name).parent_path(), ec);

  toml::table root;
  try {
    root = toml::parse(text, std::string(source_name));
  } catch (const toml::parse_error& e) {
    ConfigError err{to_region(e.source(), ctx.source_name), "", "TOML syntax error: " + std::string(e.description())};
    if (errors) errors->push_back(err);
    return invalid_argument(err.to_string());
  }

  Config cfg;
  index_sources(root, ctx.source_name, cfg.sources);
  scan_secrets(root, "", {}, ctx);

  SectionReader top(ctx, &root, "");
  read_agent(top, ctx, cfg);
  read_student(top, cfg);
  read_teacher(top, cfg);
  read_orchestration(top, cfg);
  read_limits(top, cfg);
  read_rewards(top, ctx, cfg);
  read_learning(top, ctx, cfg);
  read_routing(top, ctx, cfg);
  read_storage(top, cfg);
  read_review(top, cfg);
  read_drift(top, cfg);
  read_plugins(top, ctx, cfg);
  read_train(top, ctx, cfg);
  read_serve(top, cfg);
  top.read_json_table("metadata", cfg.metadata_json);
  top.finish();
  // Atlas section names get a pointer to ours.
  for (auto& e : ctx.errors) {
    static const std::pair<const char*, const char*> kAtlasNames[] = {
        {"rim", "[rewards]"}, {"adaptive_teaching", "[routing]"}, {"runtime_safety", "[review] and [drift]"},
        {"prompt_rewrite", "nothing (Atlas no longer supports it)"}};
    for (auto [atlas, ours] : kAtlasNames)
      if (e.key_path == atlas && e.message.rfind("unknown key", 0) == 0)
        e.message = "unknown section '" + std::string(atlas) + "' (Atlas YAML name; in atlas-host it is " + ours + ")";
  }
  check_requirements(top, ctx, cfg);

  if (!ctx.errors.empty()) {
    std::stable_sort(ctx.errors.begin(), ctx.errors.end(), [](const ConfigError& a, const ConfigError& b) {
      // Errors without a position (missing sections) go last.
      auto key = [](const ConfigError& e) {
        return std::make_pair(e.where.line == 0 ? UINT32_MAX : e.where.line, e.where.column);
      };
      return key(a) < key(b);
    });
    std::string msg;
    for (const auto& e : ctx.errors) msg += (msg.empty() ? "" : "\n") + e.to_string();
    if (errors) *errors = ctx.errors;
    return invalid_argument(msg);
  }
  return cfg;
}

Result<Config> load_config(const std::filesystem::path& path, std::vector<ConfigError>* errors) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    ConfigError err{SourceRegion{path.string(), 0, 0}, "",
                    "configuration file not found; create one (see configs/quickstart.toml and "
                    "docs/configuration.md) or pass --config FILE"};
    if (errors) errors->push_back(err);
    return not_found(err.to_string());
  }
  if (std::filesystem::is_directory(path, ec)) {
    ConfigError err{SourceRegion{path.string(), 0, 0}, "", "is a directory, expected a TOML file"};
    if (errors) errors->push_back(err);
    return invalid_argument(err.to_string());
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ConfigError err{SourceRegion{path.string(), 0, 0}, "", "cannot open the file (permission denied?)"};
    if (errors) errors->push_back(err);
    return permission_denied(err.to_string());
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  auto cfg = parse_config(ss.str(), path.string(), errors);
  if (!cfg.is_ok()) return cfg;
  cfg->source_path = std::filesystem::absolute(path, ec);
  return cfg;
}

}  // namespace atlas::config
