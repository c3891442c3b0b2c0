// Runtime assembly: Runtime::create turns the configuration into the plugins, storage,
// rewards and MCP tools every session of the runtime uses.
#include <cstdio>

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/secrets.hpp"
#include "plugin/isolation_config.hpp"
#include "runtime/runtime_impl.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

using json::Value;

namespace {

json::Document parse_object_or_empty(std::string_view text) {
  json::Document d;
  d.Parse(text.data(), text.size());
  if (d.HasParseError() || !d.IsObject()) d.SetObject();
  return d;
}

}  // namespace

void Runtime::Impl::print_progress(const Event& e) {
  std::string line;
  const char* dim = options.color ? "\033[2m" : "";
  const char* reset = options.color ? "\033[0m" : "";
  if (e.type == event_type::kRoute)
    line = "lane " + e.name;
  else if (e.type == event_type::kStepStart)
    line = "step " + e.step_id + " started";
  else if (e.type == event_type::kStepEnd)
    line = "step " + e.step_id + " ended";
  else if (e.type == event_type::kValidation)
    line = "step " + e.step_id + " teacher: " + e.name;
  else if (e.type == event_type::kGuidance)
    line = "step " + e.step_id + " retry with guidance";
  else if (e.type == event_type::kPlan && e.name == "final")
    line = "plan ready";
  else if (e.type == event_type::kPlan && e.name == "fallback")
    line = "plan unusable, one-step fallback";
  else if (e.type == event_type::kReward && e.name == "session")
    line = "rewarded";
  else
    return;
  std::lock_guard<std::mutex> g(progress_mu);
  std::fprintf(stderr, "%s  [%s] %s%s\n", dim, e.parent_id.empty() ? "" : "session", line.c_str(), reset);
}

SessionReport Runtime::Impl::run(const TaskSpec& task) {
  auto session = std::make_shared<Session>(*this, task);  // shared with step bodies that may outlive run()
  return session->run();
}

// ------------------------------------------------------------------------------------ Runtime

Runtime::Runtime(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Runtime::~Runtime() {
  wait_for_background();
  if (impl_->abandoned_steps.load() > 0) {
    // A plugin call that never returned may still use the plugins, the store and the
    // sessions' state: keep all of it (reachable, so not a leak report) rather than unload
    // code a thread is running.
    log::warn("runtime", std::to_string(impl_->abandoned_steps.load()) +
                             " step(s) stuck in a plugin call were abandoned; the runtime is kept until exit");
    static auto* kept = new std::vector<std::unique_ptr<Impl>>();
    static std::mutex kept_mu;
    std::lock_guard<std::mutex> lock(kept_mu);
    kept->push_back(std::move(impl_));
  }
}

Result<std::unique_ptr<Runtime>> Runtime::create(config::Config config, RuntimeOptions options) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  impl->options = std::move(options);
  const config::Config& cfg = impl->config;
  // Every model call of this runtime can be cancelled (Ctrl-C) and has its reply bounded.
  impl->client = (impl->options.client ? impl->options.client : llm::default_client())
                     ->bound_to({impl->cancellation, static_cast<size_t>(cfg.limits.max_reply_bytes)});
  impl->registry = std::make_unique<plugin::Registry>();
  plugin::RegistryOptions ro;
  for (const auto& d : cfg.plugins.dirs) ro.dirs.emplace_back(d);
  for (const auto& d : impl->options.plugin_dirs) ro.dirs.push_back(d);
  ro.use_default_dirs = impl->options.use_default_plugin_dirs;
  ro.allow_unsafe = cfg.plugins.allow_unsafe;
  if (!cfg.plugins.lock_file.empty()) ro.lock_file = cfg.plugins.lock_file;
  plugin::apply_isolation_config(cfg.plugins, ro);
  ATLAS_RETURN_IF_ERROR(impl->registry->discover(ro));
  for (const auto& d : impl->registry->diagnostics())
    if (d.severity == plugin::Severity::kError) log::warn("plugins", d.message);
  impl->services = std::make_shared<RuntimeServices>(impl->config, impl->client);
  impl->registry->set_services(impl->services);

  auto adapter = impl->registry->create_adapter(
      cfg.agent.adapter, config::merged_plugin_config(cfg, cfg.agent.adapter, cfg.agent.config_json));
  if (!adapter) return adapter.status().with_context("[agent] adapter \"" + cfg.agent.adapter + "\"");
  impl->adapter = *adapter;

  if (cfg.routing.enabled && !cfg.routing.probe.empty()) {
    auto probe =
        impl->registry->create_probe(cfg.routing.probe, config::merged_plugin_config(cfg, cfg.routing.probe, "{}"));
    if (probe)
      impl->probe = *probe;
    else
      log::warn("runtime", "[routing] probe \"" + cfg.routing.probe + "\" unavailable, routing falls back to the " +
                               std::string(config::lane_name(cfg.routing.fallback_mode)) +
                               " lane: " + probe.status().to_string());
  }

  if (cfg.storage.active()) {
    json::Document sc;
    sc.SetObject();
    auto& a = sc.GetAllocator();
    sc.AddMember("database_url", json::str(cfg.storage.database_url, a), a);
    sc.AddMember("min_connections", cfg.storage.min_connections, a);
    sc.AddMember("max_connections", cfg.storage.max_connections, a);
    sc.AddMember("statement_timeout_seconds", cfg.storage.statement_timeout_seconds, a);
    sc.AddMember("apply_schema_on_connect", cfg.storage.apply_schema_on_connect, a);
    json::Document extra = parse_object_or_empty(config::merged_plugin_config(cfg, cfg.storage.plugin, "{}"));
    for (auto& m : extra.GetObject()) json::set(sc, m.name.GetString(), Value(m.value, a), a);
    auto handle = impl->registry->create_storage(cfg.storage.plugin, json::dump(sc));
    if (!handle) return handle.status().with_context("[storage] plugin \"" + cfg.storage.plugin + "\"");
    data::StoreOptions so;
    so.spool_path = cfg.storage.spool_path;
    so.database_url = cfg.storage.database_url;
    so.migrate_on_open = cfg.storage.apply_schema_on_connect;
    auto store = data::Store::open(*handle, so);
    if (!store) return store.status().with_context("[storage] " + secrets::redact(cfg.storage.database_url));
    impl->store = *store;
  }

  rewards::RewardSettings rs;
  rs.cascade.samples = cfg.rewards.samples;
  rs.cascade.temperatures = cfg.rewards.temperatures;
  rs.cascade.variance_threshold = cfg.rewards.variance_threshold;
  rs.cascade.uncertainty_threshold = cfg.rewards.uncertainty_threshold;
  rs.cascade.escalation_enabled = cfg.rewards.large_model.configured() || cfg.rewards.small_model.configured();
  rs.max_judge_calls_per_session = cfg.rewards.max_judge_calls_per_session;
  rs.focus_prompt = cfg.rewards.judge_prompt;
  auto convert = [&](const std::vector<config::JudgeSpec>& in) {
    std::vector<rewards::JudgeSpec> out;
    for (const auto& j : in) {
      rewards::JudgeSpec s;
      s.plugin = j.plugin;
      s.rubric = j.rubric;
      if (auto it = cfg.rewards.rubrics.find(j.rubric); it != cfg.rewards.rubrics.end())
        s.rubric_text = it->second.text;
      s.weight = j.weight;
      s.config_json = config::merged_plugin_config(cfg, j.plugin, j.config_json);
      out.push_back(std::move(s));
    }
    return out;
  };
  rs.session_judges = convert(cfg.rewards.session_judges);
  rs.step_judges = convert(cfg.rewards.step_judges);
  if (!rs.session_judges.empty() || !rs.step_judges.empty()) {
    plugin::Registry* reg = impl->registry.get();
    auto engine =
        rewards::RewardEngine::create(rs, [reg](const rewards::JudgeSpec& spec) -> Result<rewards::BoundJudge> {
          auto h = reg->create_judge(spec.plugin, spec.config_json);
          if (!h) return h.status();
          return rewards::bind_judge_handle(spec, *h);
        });
    if (!engine) return engine.status().with_context("[rewards]");
    impl->rewards = std::move(*engine);
  }

  if (!cfg.agent.mcp_servers.empty()) {
    std::vector<mcp::ServerConfig> servers;
    for (const auto& s : cfg.agent.mcp_servers) {
      mcp::ServerConfig sc;
      sc.name = s.name;
      sc.command = s.command;
      sc.args = s.args;
      sc.env = s.env;
      sc.cwd = s.cwd;
      sc.timeout_seconds = s.timeout_seconds;
      servers.push_back(std::move(sc));
    }
    auto tools = mcp::ToolSet::start(servers);
    if (!tools) return tools.status().with_context("[agent] mcp_servers");
    impl->tools = std::move(*tools);
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

SessionReport Runtime::run(const TaskSpec& task) {
  try {
    return impl_->run(task);
  } catch (const std::exception& e) {
    SessionReport r;
    r.task = task.task;
    r.error = std::string("internal error: ") + secrets::redact(e.what());
    return r;
  }
}

void Runtime::wait_for_background() {
  for (;;) {
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> g(impl_->background_mu);
      threads.swap(impl_->background);
    }
    if (threads.empty()) break;
    for (auto& t : threads) t.join();
  }
  if (impl_->store) (void)impl_->store->flush_all();
}

void Runtime::cancel() {
  impl_->cancellation->cancel();
}
const config::Config& Runtime::config() const {
  return impl_->config;
}
data::Store* Runtime::store() const {
  return impl_->store.get();
}
plugin::Registry& Runtime::registry() {
  return *impl_->registry;
}

}  // namespace atlas::runtime
