// The HostServices the runtime installs on the plugin registry: llm_complete through the
// host's LLM client (model refs resolved against the config, the call's deadline applied,
// every call reported as an "llm_call" event to the calling session), emit_event into the
// session's event stream, and cancellation from the session (or the call's deadline).
#pragma once

#include <memory>
#include <string>

#include "config/config.hpp"
#include "llm/llm.hpp"
#include "llm/llm_json.hpp"
#include "plugin/handles.hpp"

namespace atlas::runtime {

// The "llm_call" event for a finished call (CallRecord plus the model ref), as JSON text:
// {"type":"llm_call","role","model_ref","provider","model","usage":{...},"cost_usd","latency_ms",
//  "retries","outcome","error"?}
std::string llm_call_event_json(const llm::CallRecord& record, std::string_view model_ref);

class RuntimeServices : public plugin::HostServices {
 public:
  RuntimeServices(const config::Config& config, std::shared_ptr<llm::Client> client);

  Status emit_event(std::string_view plugin_name, const plugin::CallContext* call,
                    std::string_view event_json) override;
  Result<std::string> llm_complete(std::string_view plugin_name, const plugin::CallContext* call,
                                   std::string_view request_json) override;
  // Concurrent on the client's I/O thread (Client::complete_many); one "llm_call" event per
  // request, in request order.
  std::vector<Result<std::string>> llm_complete_many(std::string_view plugin_name, const plugin::CallContext* call,
                                                     const std::vector<std::string_view>& requests) override;
  bool is_cancelled(const plugin::CallContext* call) override;

 private:
  llm::ModelResolver resolver_for(int64_t deadline_unix_ms) const;
  const config::Config& config_;
  std::shared_ptr<llm::Client> client_;
};

}  // namespace atlas::runtime
