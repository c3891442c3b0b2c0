// HostServices defaults and the C services table that bridges plugins to them.
#include <string>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/log.hpp"
#include "plugin/handles.hpp"
#include "plugin/instance.hpp"

namespace atlas::plugin {

void HostServices::log(std::string_view plugin_name, const CallContext* call, int32_t level, std::string_view message) {
  log::Level l = level <= ATLAS_LOG_DEBUG  ? log::Level::kDebug
                 : level == ATLAS_LOG_INFO ? log::Level::kInfo
                 : level == ATLAS_LOG_WARN ? log::Level::kWarn
                                           : log::Level::kError;
  std::string component = "plugin:" + std::string(plugin_name);
  if (call && !call->session_id.empty()) component += " session " + call->session_id;
  log::write(l, component, message);
}

Status HostServices::emit_event(std::string_view plugin_name, const CallContext* call, std::string_view event_json) {
  ATLAS_ASSIGN_OR_RETURN(json::Document doc, json::parse(event_json, "event from plugin '" + std::string(plugin_name) + "'", json::kMaxInputDepth));
  if (!doc.IsObject() || !json::find(doc, "type") || !json::find(doc, "type")->IsString()) {
    return invalid_argument("event from plugin '" + std::string(plugin_name) +
                            "': expected a JSON object with a string \"type\"");
  }
  if (!call || !call->on_event) return Status::ok();  // nobody listens (e.g. during create)
  auto& a = doc.GetAllocator();
  json::set(doc, "plugin", plugin_name, a);
  if (!json::find(doc, "timestamp")) json::set(doc, "timestamp", clock::now_iso8601(), a);
  call->on_event(json::dump(doc));
  return Status::ok();
}

Result<std::string> HostServices::llm_complete(std::string_view plugin_name, const CallContext*, std::string_view) {
  return unimplemented("plugin '" + std::string(plugin_name) +
                       "' asked for llm_complete, but this host has no model configured for plugins");
}

std::vector<Result<std::string>> HostServices::llm_complete_many(std::string_view plugin_name, const CallContext* call,
                                                                 const std::vector<std::string_view>& requests) {
  std::vector<Result<std::string>> out;
  out.reserve(requests.size());
  for (std::string_view r : requests) out.push_back(llm_complete(plugin_name, call, r));
  return out;
}

bool HostServices::is_cancelled(const CallContext* call) {
  if (!call) return false;
  if (call->cancelled && call->cancelled()) return true;
  return call->deadline_unix_ms > 0 && clock::now_unix_ms() >= call->deadline_unix_ms;
}

namespace {

using Ctx = Instance::ServicesContext;

const CallContext* context_of(const atlas_call_v1* call) {
  if (!call || call->struct_size < offsetof(atlas_call_v1, session_id)) return nullptr;
  return static_cast<const CallContext*>(call->call_ctx);
}

void write_sink(const atlas_sink* sink, std::string_view text) {
  if (sink && sink->write) sink->write(sink->ctx, text.data(), text.size());
}

std::string_view view(atlas_str s) { return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view(); }

// Nothing may unwind into the plugin: every bridge function catches everything.
// Runs `body` for a bridge that reports failures through `err`.
template <typename Body>
atlas_status guarded(const atlas_sink* err, Body body) {
  try {
    return body();
  } catch (const std::exception& e) {
    write_sink(err, e.what());
    return ATLAS_INTERNAL;
  } catch (...) {
    return ATLAS_INTERNAL;
  }
}

void bridge_log(void* host_ctx, const atlas_call_v1* call, int32_t level, atlas_str message) {
  try {
    auto* ctx = static_cast<Ctx*>(host_ctx);
    ctx->services->log(ctx->plugin_name, context_of(call), level, view(message));
  } catch (...) {
  }
}

atlas_status bridge_emit_event(void* host_ctx, const atlas_call_v1* call, atlas_str event_json) {
  try {
    auto* ctx = static_cast<Ctx*>(host_ctx);
    Status st = ctx->services->emit_event(ctx->plugin_name, context_of(call), view(event_json));
    return static_cast<atlas_status>(st.code());
  } catch (...) {
    return ATLAS_INTERNAL;
  }
}

atlas_status bridge_llm_complete(void* host_ctx, const atlas_call_v1* call, atlas_str request_json,
                                 const atlas_sink* out, const atlas_sink* err) {
  return guarded(err, [&]() -> atlas_status {
    auto* ctx = static_cast<Ctx*>(host_ctx);
    auto r = ctx->services->llm_complete(ctx->plugin_name, context_of(call), view(request_json));
    if (!r.is_ok()) {
      write_sink(err, r.status().message());
      return static_cast<atlas_status>(r.status().code());
    }
    write_sink(out, r.value());
    return ATLAS_OK;
  });
}

atlas_status bridge_llm_complete_many(void* host_ctx, const atlas_call_v1* call, const atlas_str* requests,
                                      size_t count, const atlas_batch_sink* out, const atlas_sink* err) {
  return guarded(err, [&]() -> atlas_status {
    if (count > 0 && !requests) {
      write_sink(err, "llm_complete_many: requests is NULL but count is " + std::to_string(count));
      return ATLAS_INVALID_ARGUMENT;
    }
    if (!out || !out->result) {
      write_sink(err, "llm_complete_many: no result sink (out->result is NULL)");
      return ATLAS_INVALID_ARGUMENT;
    }
    auto* ctx = static_cast<Ctx*>(host_ctx);
    std::vector<std::string_view> batch;
    batch.reserve(count);
    for (size_t i = 0; i < count; ++i) batch.push_back(view(requests[i]));
    auto results = ctx->services->llm_complete_many(ctx->plugin_name, context_of(call), batch);
    for (size_t i = 0; i < results.size(); ++i) {
      if (results[i]) {
        out->result(out->ctx, i, ATLAS_OK, results[i].value().data(), results[i].value().size());
      } else {
        const std::string& m = results[i].status().message();
        out->result(out->ctx, i, static_cast<atlas_status>(results[i].status().code()), m.data(), m.size());
      }
    }
    return ATLAS_OK;
  });
}

int32_t bridge_is_cancelled(void* host_ctx, const atlas_call_v1* call) {
  try {
    auto* ctx = static_cast<Ctx*>(host_ctx);
    return ctx->services->is_cancelled(context_of(call)) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

}  // namespace

atlas_host_services_v1 make_services_table(Instance::ServicesContext* ctx) {
  atlas_host_services_v1 t{};
  t.struct_size = sizeof(atlas_host_services_v1);
  t.host_ctx = ctx;
  t.log = &bridge_log;
  t.emit_event = &bridge_emit_event;
  t.llm_complete = &bridge_llm_complete;
  t.is_cancelled = &bridge_is_cancelled;
  t.llm_complete_many = &bridge_llm_complete_many;
  return t;
}

}  // namespace atlas::plugin
