// Test/bench host for the judge plugins: loads the real .so judges from the build tree and
// answers their llm_complete(_many) calls through the host's LLM client (llm::complete_json,
// llm::complete_many_json), with
// model refs resolved to whatever the test configures (usually mock-llm). Like the runtime's
// services, every model call is reported to the caller as an "llm_call" event.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "common/json.hpp"
#include "llm/llm.hpp"
#include "llm/llm_json.hpp"
#include "plugin/handles.hpp"
#include "plugin/registry.hpp"
#include "rewards/from_config.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards::testing {

class JudgeHostServices : public plugin::HostServices {
 public:
  explicit JudgeHostServices(std::map<std::string, config::ModelConfig> models) : models_(std::move(models)) {}

  Result<std::string> llm_complete(std::string_view plugin_name, const plugin::CallContext* call,
                                   std::string_view request_json) override {
    llm::CallRecord record;
    auto result = llm::complete_json(*llm::default_client(), resolver(), request_json, &record);
    report(plugin_name, call, record);
    return result;
  }

  // Concurrent, like the runtime's services (Client::complete_many); counts the batches.
  std::vector<Result<std::string>> llm_complete_many(std::string_view plugin_name, const plugin::CallContext* call,
                                                     const std::vector<std::string_view>& requests) override {
    ++batches;
    std::vector<llm::CallRecord> records;
    auto results = llm::complete_many_json(*llm::default_client(), resolver(), requests, &records);
    for (const auto& r : records) report(plugin_name, call, r);
    return results;
  }

  std::atomic<int> batches{0};  // llm_complete_many calls so far

 private:
  llm::ModelResolver resolver() const {
    return [this](std::string_view ref) -> Result<config::ModelConfig> {
      auto it = models_.find(std::string(ref));
      if (it == models_.end()) return failed_precondition("no model is configured for \"" + std::string(ref) + "\"");
      return it->second;
    };
  }
  static void report(std::string_view plugin_name, const plugin::CallContext* call, const llm::CallRecord& record) {
    if (!call || !call->on_event) return;
    auto ev = json::parse(llm::call_record_to_json(record)).value();
    json::set(ev, "type", "llm_call", ev.GetAllocator());
    json::set(ev, "plugin", plugin_name, ev.GetAllocator());
    call->on_event(json::dump(ev));
  }

  std::map<std::string, config::ModelConfig> models_;
};

// A registry over the build tree's plugin folder with the given services installed.
inline std::unique_ptr<plugin::Registry> judge_registry(std::shared_ptr<plugin::HostServices> services,
                                                        const std::string& plugin_dir) {
  auto registry = std::make_unique<plugin::Registry>();
  plugin::RegistryOptions opts;
  opts.dirs = {plugin_dir};
  opts.use_default_dirs = false;
  Status st = registry->discover(opts);
  if (!st.is_ok()) return nullptr;
  registry->set_services(std::move(services));
  return registry;
}

}  // namespace atlas::rewards::testing
