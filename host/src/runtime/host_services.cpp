#include "runtime/host_services.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "llm/llm_json.hpp"
#include "runtime/model_directory.hpp"

namespace atlas::runtime {

std::string llm_call_event_json(const llm::CallRecord& r, std::string_view model_ref) {
  // Written straight to text (one per model call): no DOM to build and throw away.
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  auto text = [&w](const char* key, std::string_view value) {
    w.Key(key);
    json::write_string(w, value);
  };
  w.StartObject();
  text("type", "llm_call");
  text("role", r.role);
  text("model_ref", model_ref);
  text("provider", r.provider);
  text("model", r.model);
  w.Key("usage");
  w.StartObject();
  w.Key("prompt_tokens");
  w.Int64(r.usage.prompt_tokens);
  w.Key("completion_tokens");
  w.Int64(r.usage.completion_tokens);
  w.Key("total_tokens");
  w.Int64(r.usage.total_tokens);
  w.EndObject();
  w.Key("cost_usd");  // null: the model has no price, or the reply reported no usage
  if (auto cost = llm::call_cost_usd(r.price, r.usage.prompt_tokens, r.usage.completion_tokens, r.outcome == "ok")) {
    w.Double(*cost);
  } else {
    w.Null();
  }
  w.Key("latency_ms");
  w.Double(r.latency_seconds * 1000.0);
  w.Key("retries");
  w.Int(r.retries);
  text("outcome", r.outcome);
  if (!r.error.empty()) text("error", secrets::redact(r.error));
  if (r.tokens.requested && r.outcome == "ok") {  // capture_tokens (docs/llm-model.md, "Token-level capture")
    w.Key("tokens");
    llm::write_token_capture(w, r.tokens);
  }
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize());
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

llm::ModelResolver RuntimeServices::resolver_for(int64_t deadline_unix_ms) const {
  return [this, deadline_unix_ms](std::string_view ref) -> Result<config::ModelConfig> {
    auto m = resolve_model_ref(config_, ref);
    if (!m) return m.status();
    return with_deadline(**m, deadline_unix_ms);
  };
}

Result<std::string> RuntimeServices::llm_complete(std::string_view plugin_name, const plugin::CallContext* call,
                                                  std::string_view request_json) {
  int64_t deadline = call ? call->deadline_unix_ms : 0;
  if (deadline > 0 && clock::now_unix_ms() >= deadline)
    return deadline_exceeded("the call's deadline passed before the model call (" + std::string(plugin_name) + ")");
  // A stopped session (Ctrl-C, or past one of its [limits]) makes no further model calls.
  if (call && call->cancelled && call->cancelled())
    return cancelled("the session was stopped before the model call (" + std::string(plugin_name) + ")");
  llm::CallRecord record;
  auto out = llm::complete_json(*client_, resolver_for(deadline), request_json, &record);
  if (record.session_id.empty() && call) record.session_id = call->session_id;
  if (call && call->on_event) call->on_event(llm_call_event_json(record, record.model_ref));
  if (!out) return out.status().with_context(std::string(plugin_name) + ": llm_complete");
  return out;
}

std::vector<Result<std::string>> RuntimeServices::llm_complete_many(std::string_view plugin_name,
                                                                    const plugin::CallContext* call,
                                                                    const std::vector<std::string_view>& requests) {
  int64_t deadline = call ? call->deadline_unix_ms : 0;
  if (deadline > 0 && clock::now_unix_ms() >= deadline) {
    Status late =
        deadline_exceeded("the call's deadline passed before the model calls (" + std::string(plugin_name) + ")");
    return std::vector<Result<std::string>>(requests.size(), Result<std::string>(late));
  }
  if (call && call->cancelled && call->cancelled()) {
    Status stopped = cancelled("the session was stopped before the model calls (" + std::string(plugin_name) + ")");
    return std::vector<Result<std::string>>(requests.size(), Result<std::string>(stopped));
  }
  std::vector<llm::CallRecord> records;
  auto out = llm::complete_many_json(*client_, resolver_for(deadline), requests, &records);
  // One "llm_call" event per request, in request order, from the plugin's own thread.
  for (size_t i = 0; i < out.size(); ++i) {
    if (records[i].session_id.empty() && call) records[i].session_id = call->session_id;
    if (call && call->on_event) call->on_event(llm_call_event_json(records[i], records[i].model_ref));
    if (!out[i])
      out[i] =
          out[i].status().with_context(std::string(plugin_name) + ": llm_complete_many[" + std::to_string(i) + "]");
  }
  return out;
}

}  // namespace atlas::runtime
