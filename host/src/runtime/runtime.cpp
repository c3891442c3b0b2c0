// Runtime assembly: Runtime::create turns the configuration into the plugins, storage,
// rewards and MCP tools every session of the runtime uses.
#include <algorithm>
#include <atomic>
#include <cstdio>
#include <thread>

#include "common/json.hpp"
#include "common/log.hpp"
#include "common/scheduling_class.hpp"
#include "common/secrets.hpp"
#include "data/open.hpp"
#include "mcp/mcp_client.hpp"
#include "plugin/registry_options.hpp"
#include "rewards/from_config.hpp"
#include "runtime/lane.hpp"
#include "runtime/learning_key.hpp"
#include "runtime/playbook.hpp"
#include "runtime/rollout.hpp"
#include "runtime/runtime_impl.hpp"
#include "runtime/session.hpp"

namespace atlas::runtime {

using json::Value;

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

SessionReport Runtime::Impl::run(const TaskSpec& task, const RolloutSlot* rollout) {
  auto session = std::make_shared<Session>(*this, task);
  if (rollout) session->set_rollout(*rollout);  // shared with step bodies that may outlive run()
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
  plugin::RegistryOptions ro = plugin::registry_options(cfg, impl->options.plugin_dirs);
  ro.use_default_dirs = impl->options.use_default_plugin_dirs;
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

  if (cfg.storage.active() || !impl->options.database_url.empty()) {
    auto storage = data::storage_options(cfg, data::StorageCli{impl->options.database_url, false});
    if (!storage) return storage.status();
    storage->store.idle_writer = impl->options.idle_storage_writer;
    auto store = data::open_storage(*impl->registry, *storage);
    if (!store) return store.status();
    impl->store = *store;
  }

  rewards::RewardSettings rs = rewards::settings(cfg);
  if (!rs.session_judges.empty() || !rs.step_judges.empty()) {
    auto engine = rewards::RewardEngine::create(rs, rewards::registry_judge_resolver(*impl->registry));
    if (!engine) return engine.status().with_context("[rewards]");
    impl->rewards = std::move(*engine);
  }

  if (!cfg.agent.mcp_servers.empty()) {
    auto tools = mcp::ToolSet::start(mcp::servers(cfg));
    if (!tools) return tools.status().with_context("[agent] mcp_servers");
    impl->tools = std::move(*tools);
  }
  return std::unique_ptr<Runtime>(new Runtime(std::move(impl)));
}

std::shared_ptr<Episode> Runtime::begin_episode(const TaskSpec& task, SessionReport* ended_at_once) {
  auto session = std::make_shared<Session>(*impl_, task);
  try {
    if (session->begin()) return std::make_shared<Episode>(session);
    if (ended_at_once) *ended_at_once = session->report();
  } catch (const std::exception& e) {
    if (ended_at_once) {
      ended_at_once->task = task.task;
      ended_at_once->error = std::string("internal error: ") + secrets::redact(e.what());
    }
  }
  return nullptr;
}

std::shared_ptr<PreparedEpisode> Runtime::prepare_episode(const TaskSpec& task) {
  const config::Config& cfg = impl_->config;
  if (impl_->cancelled()) return nullptr;
  if (cfg.limits.max_task_bytes > 0 && task.task.size() > static_cast<size_t>(cfg.limits.max_task_bytes))
    return nullptr;
  auto out = std::make_shared<PreparedEpisode>();
  auto session = std::make_shared<Session>(*impl_, task);
  if (auto fixed = static_lane_decision(cfg.orchestration, cfg.routing)) out->lane = fixed->lane;
  if (!cfg.learning.enabled || !impl_->store) {
    out->playbook_known = true;
  } else {
    // The key as Session::begin derives it: from the caller's metadata and the task.
    json::Document caller;
    caller.SetObject();
    if (auto parsed = json::parse(task.metadata_json.empty() ? "{}" : task.metadata_json, "task metadata");
        parsed && parsed->IsObject())
      caller = std::move(*parsed);
    std::string key = derive_learning_key(cfg.agent.name, task.task, &caller);
    std::optional<Impl::KnownLearning> known = impl_->known_learning(key);
    if (!known) {
      // A key not seen yet: one read (never a write: a session row waits for the writer lock,
      // which a background writer may hold) tells the first call its playbook. When storage
      // cannot answer, the episode opens without one, still off the request path: its opening
      // reads the key again (for the next episodes) and meets the outage its own way (the spool).
      if (auto state = impl_->store->learning_get(key)) {
        impl_->remember_learning(key, *state);
        known = Impl::KnownLearning{std::move(*state), false};
      } else {
        known = Impl::KnownLearning{data::LearningState{}, true};
      }
    }
    if (known) {
      const data::LearningState& state = known->state;
      out->playbook_known = true;
      if (cfg.learning.apply_to_prompts && state.found)
        out->playbook_block = playbook_block("student", state.student_learning, state.version, state.updated_at,
                                             static_cast<size_t>(cfg.learning.playbook_char_budget));
      session->preload_learning(std::move(known->state), known->refresh);
    }
  }
  out->episode = std::make_shared<Episode>(session);
  return out;
}

void Runtime::Impl::remember_learning(const std::string& key, const data::LearningState& state) {
  // Called from background threads (an episode's opening, a learning update); the request path
  // reads the cache (known_learning).
  NormalClassScope not_preempted_holding_the_lock;
  std::lock_guard<std::mutex> g(learning_cache_mu);
  if (learning_cache.size() >= 10000 && !learning_cache.count(key)) learning_cache.clear();  // bounded
  learning_cache[key] = {state, std::chrono::steady_clock::now()};
}

std::optional<Runtime::Impl::KnownLearning> Runtime::Impl::known_learning(const std::string& key) {
  std::lock_guard<std::mutex> g(learning_cache_mu);
  auto it = learning_cache.find(key);
  if (it == learning_cache.end()) return std::nullopt;
  KnownLearning out{it->second.first, false};
  const auto now = std::chrono::steady_clock::now();
  if (now - it->second.second > std::chrono::duration<double>(options.learning_cache_seconds)) {
    out.refresh = true;
    it->second.second = now;  // one refresh per period, not one per episode opened until it lands
  }
  return out;
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

std::vector<SessionReport> Runtime::run_rollouts(const TaskSpec& task, const RolloutOptions& options) {
  auto group = std::make_shared<RolloutGroup>();
  group->id = options.group_id.empty() ? new_rollout_group_id() : options.group_id;
  group->size = std::max(1, options.siblings);
  group->temperatures = options.temperatures;
  std::vector<SessionReport> reports(static_cast<size_t>(group->size));
  std::atomic<int> next{0};
  auto worker = [&] {
    for (int i = next++; i < group->size; i = next++) {
      const RolloutSlot slot{group, i};
      try {
        reports[static_cast<size_t>(i)] = impl_->run(task, &slot);
      } catch (const std::exception& e) {
        reports[static_cast<size_t>(i)].task = task.task;
        reports[static_cast<size_t>(i)].error = std::string("internal error: ") + secrets::redact(e.what());
      }
    }
  };
  const int threads = std::clamp(options.parallel, 1, group->size);
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  // The group has ended: its learning updates run now, one after the other (each reads the
  // playbook the previous one wrote), in the background like any session's.
  std::vector<std::function<void()>> updates = group->take_deferred();
  if (!updates.empty())
    impl_->run_in_background(
        [updates = std::move(updates)] {
          for (const auto& update : updates) update();
        },
        /*wait_for_slot=*/false);
  return reports;
}

void Runtime::Impl::run_in_background(std::function<void()> task, bool wait_for_slot) {
  {
    std::unique_lock<std::mutex> lk(background_mu);
    if (wait_for_slot) background_cv.wait(lk, [&] { return background_running < kMaxBackground; });
    ++background_running;
  }
  background_pool.run([this, task = std::move(task)] {
    struct Done {
      Impl* rt;
      ~Done() {
        std::lock_guard<std::mutex> g(rt->background_mu);
        --rt->background_running;
        rt->background_cv.notify_all();
      }
    } done{this};
    task();
  });
}

void Runtime::Impl::wait_background_idle() {
  std::unique_lock<std::mutex> lk(background_mu);
  background_cv.wait(lk, [&] { return background_running == 0; });
}

void Runtime::wait_for_background() {
  impl_->wait_background_idle();
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
