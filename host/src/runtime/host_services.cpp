#include "runtime/host_services.hpp"

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "llm/llm_json.hpp"
#include "runtime/model_directory.hpp"

namespace atlas::runtime {

std::string llm_call_event_json(const llm::CallRecord& r, std::string_view model_ref) {
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  d.AddMember("type", "llm_call", a);
  d.AddMember("role", json::str(r.role, a), a);
  d.AddMember("model_ref", json::str(model_ref, a), a);
  d.AddMember("provider", json::str(r.provider, a), a);
  d.AddMember("model", json::str(r.model, a), a);
  json::Value usage(rapidjson::kObjectType);
  usage.AddMember("prompt_tokens", r.usage.prompt_tokens, a);
  usage.AddMember("completion_tokens", r.usage.completion_tokens, a);
  usage.AddMember("total_tokens", r.usage.total_tokens, a);
  d.AddMember("usage", usage, a);
  d.AddMember("latency_ms", r.latency_seconds * 1000.0, a);
  d.AddMember("retries", r.retries, a);
  d.AddMember("outcome", json::str(r.outcome, a), a);
  if (!r.error.empty()) d.AddMember("error", json::str(secrets::redact(r.error), a), a);
  return json::dump(d);
}

RuntimeServices::RuntimeServices(const config::Config& config, std::shared_ptr<llm::Client> client)
    : config_(config), client_(std::move(client)) {}

Status RuntimeServices::emit_event(std::string_view plugin_name, const plugin::CallContext* call,
                                   std::string_view event_json) {
  if (call && call->on_event) call->on_event(event_json);
  return Status::ok();
}

bool RuntimeServices::is_cancelled(const plugin::CallContext* call) {
  if (!call) return false;
  if (call->deadline_unix_ms > 0 && clock::now_unix_ms() >= call->deadline_unix_ms) return true;
  return call->cancelled && call->cancelled();
}

Result<std::string> RuntimeServices::llm_complete(std::string_view plugin_name, const plugin::CallContext* call,
                                                  std::string_view request_json) {
  std::string model_ref;
  if (auto doc = json::parse(request_json, "llm_complete request"); doc) model_ref = json::get_string(*doc, "model_ref");
  int64_t deadline = call ? call->deadline_unix_ms : 0;
  if (deadline > 0 && clock::now_unix_ms() >= deadline)
    return deadline_exceeded("the call's deadline passed before the model call (" + std::string(plugin_name) + ")");
  llm::ModelResolver resolver = [this, deadline](std::string_view ref) -> Result<config::ModelConfig> {
    auto m = resolve_model_ref(config_, ref);
    if (!m) return m.status();
    return with_deadline(**m, deadline);
  };
  llm::CallRecord record;
  auto out = llm::complete_json(*client_, resolver, request_json, &record);
  if (record.session_id.empty() && call) record.session_id = call->session_id;
  if (call && call->on_event) call->on_event(llm_call_event_json(record, model_ref));
  if (!out) return out.status().with_context(std::string(plugin_name) + ": llm_complete");
  return out;
}

}  // namespace atlas::runtime
