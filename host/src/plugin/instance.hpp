// One live plugin instance. In process: the opaque pointer create() returned, the services
// table the plugin was given, and the per-instance lock for plugins that are not
// THREAD_SAFE; the instance owns a reference to its LoadedPlugin, which keeps the library
// mapped. Handles (handles.hpp) share ownership of an Instance.
#pragma once

#include <atlas/plugin_abi.h>

#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "plugin/handles.hpp"
#include "plugin/loader.hpp"

namespace atlas::plugin {

// What handles talk to: a plugin instance living in this process (InProcessInstance) or in a
// worker process (WorkerInstance, worker_client.hpp).
class Instance {
 public:
  virtual ~Instance() = default;
  virtual const PluginInfo& info() const = 0;
  // invoke / judge / probe: the output must be JSON; non-JSON output is INTERNAL.
  virtual Result<std::string> call(const CallContext& ctx, std::string_view request_json) = 0;
  // storage
  virtual Result<std::string> execute(const CallContext& ctx, std::string_view op, std::string_view request_json) = 0;
  virtual Status cancel(const CallContext& ctx) = 0;

  // What plugins see as host_ctx in the services table.
  struct ServicesContext {
    std::string plugin_name;
    std::shared_ptr<HostServices> services;
  };
};

class InProcessInstance final : public Instance {
 public:
  // Calls the plugin's create() with `config_json` (already validated). The error names
  // the plugin and carries the plugin's status and message.
  static Result<std::shared_ptr<InProcessInstance>> create(std::shared_ptr<const LoadedPlugin> plugin,
                                                           std::shared_ptr<HostServices> services,
                                                           std::string_view config_json);
  ~InProcessInstance() override;
  InProcessInstance(const InProcessInstance&) = delete;
  InProcessInstance& operator=(const InProcessInstance&) = delete;

  const PluginInfo& info() const override { return plugin_->info; }
  Result<std::string> call(const CallContext& ctx, std::string_view request_json) override;
  Result<std::string> execute(const CallContext& ctx, std::string_view op, std::string_view request_json) override;
  Status cancel(const CallContext& ctx) override;

 private:
  InProcessInstance(std::shared_ptr<const LoadedPlugin> plugin, std::shared_ptr<HostServices> services);
  Result<std::string> finish(atlas_status st, std::string out, const std::string& err, std::string_view what);
  std::string who() const;

  std::shared_ptr<const LoadedPlugin> plugin_;
  ServicesContext services_ctx_;
  atlas_host_services_v1 table_{};
  void* handle_ = nullptr;
  std::mutex mutex_;  // held around calls unless the plugin is THREAD_SAFE
};

// The C services table that forwards to `ctx->services` (host_services.cpp).
atlas_host_services_v1 make_services_table(Instance::ServicesContext* ctx);

// The host-side atlas_call_v1 for a CallContext (strings borrowed from `ctx`).
atlas_call_v1 make_call(const CallContext& ctx);

}  // namespace atlas::plugin
