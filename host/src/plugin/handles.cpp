#include "plugin/handles.hpp"

#include "plugin/instance.hpp"

namespace atlas::plugin {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kAdapter: return "adapter";
    case Kind::kJudge: return "judge";
    case Kind::kProbe: return "probe";
    case Kind::kStorage: return "storage";
  }
  return "unknown";
}

bool PluginInfo::thread_safe() const { return (capabilities & ATLAS_CAP_THREAD_SAFE) != 0; }

namespace {
const PluginInfo& empty_info() {
  static const PluginInfo info;
  return info;
}
Status invalid_handle() { return failed_precondition("the plugin handle is empty (no instance was created)"); }
}  // namespace

Result<std::string> AdapterHandle::invoke(const CallContext& call, std::string_view request_json) const {
  if (!inst_) return invalid_handle();
  return inst_->call(call, request_json);
}
const PluginInfo& AdapterHandle::info() const { return inst_ ? inst_->info() : empty_info(); }
Status AdapterHandle::cancel(const CallContext& call) const { return inst_ ? inst_->cancel(call) : invalid_handle(); }

Result<std::string> JudgeHandle::judge(const CallContext& call, std::string_view request_json) const {
  if (!inst_) return invalid_handle();
  return inst_->call(call, request_json);
}
const PluginInfo& JudgeHandle::info() const { return inst_ ? inst_->info() : empty_info(); }
Status JudgeHandle::cancel(const CallContext& call) const { return inst_ ? inst_->cancel(call) : invalid_handle(); }

Result<std::string> ProbeHandle::probe(const CallContext& call, std::string_view request_json) const {
  if (!inst_) return invalid_handle();
  return inst_->call(call, request_json);
}
const PluginInfo& ProbeHandle::info() const { return inst_ ? inst_->info() : empty_info(); }
Status ProbeHandle::cancel(const CallContext& call) const { return inst_ ? inst_->cancel(call) : invalid_handle(); }

Result<std::string> StorageHandle::execute(const CallContext& call, std::string_view op,
                                           std::string_view request_json) const {
  if (!inst_) return invalid_handle();
  return inst_->execute(call, op, request_json);
}
const PluginInfo& StorageHandle::info() const { return inst_ ? inst_->info() : empty_info(); }
Status StorageHandle::cancel(const CallContext& call) const { return inst_ ? inst_->cancel(call) : invalid_handle(); }

}  // namespace atlas::plugin
