#include "plugin/instance.hpp"

#include "common/json.hpp"

namespace atlas::plugin {

namespace {

// A sink appending to a std::string. Allocation failure must not unwind through the
// plugin's C frames, so it is recorded instead of thrown.
struct StringSink {
  std::string data;
  bool overflow = false;
  size_t limit = 0;  // > 0: bytes past it are dropped and `over_limit` set
  bool over_limit = false;
  atlas_sink sink{this, &StringSink::write};

  static void write(void* ctx, const char* bytes, size_t len) {
    auto* self = static_cast<StringSink*>(ctx);
    if (!bytes || len == 0 || self->over_limit) return;
    if (self->limit > 0 && self->data.size() + len > self->limit) {
      self->over_limit = true;
      std::string().swap(self->data);  // a cut reply is useless: free it now
      return;
    }
    try {
      self->data.append(bytes, len);
    } catch (...) {
      self->overflow = true;
    }
  }
};

atlas_str as_str(std::string_view s) { return atlas_str{s.data(), s.size()}; }

}  // namespace

atlas_call_v1 make_call(const CallContext& ctx) {
  atlas_call_v1 c{};
  c.struct_size = sizeof(atlas_call_v1);
  c.call_ctx = const_cast<CallContext*>(&ctx);
  c.session_id = as_str(ctx.session_id);
  c.step_id = as_str(ctx.step_id);
  c.deadline_unix_ms = ctx.deadline_unix_ms;
  return c;
}

InProcessInstance::InProcessInstance(std::shared_ptr<const LoadedPlugin> plugin, std::shared_ptr<HostServices> services)
    : plugin_(std::move(plugin)) {
  services_ctx_.plugin_name = plugin_->info.name;
  services_ctx_.services = services ? std::move(services) : std::make_shared<HostServices>();
  table_ = make_services_table(&services_ctx_);
}

InProcessInstance::~InProcessInstance() {
  if (handle_ && plugin_->vtable.destroy) plugin_->vtable.destroy(handle_);
}

std::string InProcessInstance::who() const {
  return std::string(kind_name(plugin_->info.kind)) + " '" + plugin_->info.name + "' (" +
         plugin_->info.file.filename().string() + ")";
}

Result<std::shared_ptr<InProcessInstance>> InProcessInstance::create(std::shared_ptr<const LoadedPlugin> plugin,
                                                                     std::shared_ptr<HostServices> services,
                                                                     std::string_view config_json) {
  std::shared_ptr<InProcessInstance> inst(new InProcessInstance(std::move(plugin), std::move(services)));
  StringSink err;
  void* handle = nullptr;
  atlas_status st = inst->plugin_->vtable.create(&inst->table_, as_str(config_json), &handle, &err.sink);
  if (st != ATLAS_OK) {
    if (handle && inst->plugin_->vtable.destroy) inst->plugin_->vtable.destroy(handle);
    std::string msg = err.data.empty() ? "no message" : err.data;
    return Status(status_code_from_abi(st), inst->who() + " failed to start (create returned " +
                                                std::string(status_code_name(status_code_from_abi(st))) + "): " + msg);
  }
  if (!handle) {
    return internal_error(inst->who() + ": create returned OK but no instance (NULL); the plugin is broken: report "
                          "it to its vendor");
  }
  inst->handle_ = handle;
  return inst;
}

Result<std::string> InProcessInstance::finish(atlas_status st, std::string out, const std::string& err, std::string_view what) {
  if (st != ATLAS_OK) {
    StatusCode code = status_code_from_abi(st);
    return Status(code, who() + ": " + std::string(what) + " failed with " + std::string(status_code_name(code)) + ": " +
                            (err.empty() ? std::string("no message") : err));
  }
  Status syntax = json::check_syntax(out, "output");
  if (!syntax.is_ok()) {
    std::string preview = out.substr(0, 120);
    return internal_error(who() + " returned invalid JSON from " + std::string(what) + ": " + syntax.message() +
                          " (output starts with \"" + preview + "\"); the plugin is broken: report it to its vendor");
  }
  return out;
}

Result<std::string> InProcessInstance::call(const CallContext& ctx, std::string_view request_json) {
  if (!plugin_->vtable.call) return unimplemented(who() + " has no call entry point");
  StringSink out, err;
  out.limit = ctx.max_output_bytes;
  atlas_call_v1 raw = make_call(ctx);
  atlas_status st;
  if (plugin_->info.thread_safe()) {
    st = plugin_->vtable.call(handle_, &raw, as_str(request_json), &out.sink, &err.sink);
  } else {
    std::lock_guard lock(mutex_);
    st = plugin_->vtable.call(handle_, &raw, as_str(request_json), &out.sink, &err.sink);
  }
  if (out.overflow || err.overflow) return resource_exhausted(who() + ": output too large to buffer");
  if (out.over_limit)
    return resource_exhausted(who() + ": the reply is larger than " + std::to_string(out.limit) +
                              " bytes ([limits] max_reply_bytes); the rest was not read");
  const char* what = plugin_->info.kind == Kind::kAdapter ? "invoke" : plugin_->info.kind == Kind::kJudge ? "judge" : "probe";
  return finish(st, std::move(out.data), err.data, what);
}

Result<std::string> InProcessInstance::execute(const CallContext& ctx, std::string_view op, std::string_view request_json) {
  if (!plugin_->vtable.execute) return unimplemented(who() + " has no execute entry point");
  StringSink out, err;
  atlas_call_v1 raw = make_call(ctx);
  atlas_status st;
  if (plugin_->info.thread_safe()) {
    st = plugin_->vtable.execute(handle_, &raw, as_str(op), as_str(request_json), &out.sink, &err.sink);
  } else {
    std::lock_guard lock(mutex_);
    st = plugin_->vtable.execute(handle_, &raw, as_str(op), as_str(request_json), &out.sink, &err.sink);
  }
  if (out.overflow || err.overflow) return resource_exhausted(who() + ": output too large to buffer");
  return finish(st, std::move(out.data), err.data, "execute(" + std::string(op) + ")");
}

Status InProcessInstance::cancel(const CallContext& ctx) {
  if (!plugin_->vtable.cancel) return unimplemented(who() + " does not support cancel (built for ABI " +
                                                    std::to_string(plugin_->info.abi_major) + "." +
                                                    std::to_string(plugin_->info.abi_minor) + " or no cancel entry)");
  atlas_call_v1 raw = make_call(ctx);
  // Not serialised: cancel exists to interrupt a call that holds the instance lock.
  atlas_status st = plugin_->vtable.cancel(handle_, &raw);
  if (st == ATLAS_OK) return Status::ok();
  return Status(status_code_from_abi(st), who() + ": cancel failed");
}

}  // namespace atlas::plugin
