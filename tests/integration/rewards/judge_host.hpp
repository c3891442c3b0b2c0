// Test/bench host for the judge plugins: loads the real .so judges from the build tree and
// answers their llm_complete calls through the host's LLM client (llm::complete_json), with
// model refs resolved to whatever the test configures (usually mock-llm). Like the runtime's
// services, every model call is reported to the caller as an "llm_call" event.
#pragma once

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
    llm::ModelResolver resolver = [this](std::string_view ref) -> Result<config::ModelConfig> {
      auto it = models_.find(std::string(ref));
      if (it == models_.end()) return failed_precondition("no model is configured for \"" + std::string(ref) + "\"");
      return it->second;
    };
    llm::CallRecord record;
    auto result = llm::complete_json(*llm::default_client(), resolver, request_json, &record);
    if (call && call->on_event) {
      auto ev = json::parse(llm::call_record_to_json(record)).value();
      json::set(ev, "type", "llm_call", ev.GetAllocator());
      json::set(ev, "plugin", plugin_name, ev.GetAllocator());
      call->on_event(json::dump(ev));
    }
    return result;
  }

 private:
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
