// Typed handles the rest of the host uses to talk to plugins. Nothing outside host/src/plugin
// sees raw ABI structs: runtime, rewards and data only use these classes.
//
// A handle is cheap to copy (shared ownership of one plugin instance). The instance keeps
// its library loaded; libraries are never unloaded before exit. Calls on a plugin that did
// not declare ATLAS_CAP_THREAD_SAFE are serialised per instance by the handle.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace atlas::plugin {

enum class Kind { kAdapter = 1, kJudge = 2, kProbe = 3, kStorage = 4 };
std::string_view kind_name(Kind kind);  // "adapter", "judge", "probe", "storage"

struct PluginInfo {
  Kind kind = Kind::kAdapter;
  std::string name;
  std::string version;
  std::string vendor;
  std::string license;
  std::string description;
  uint64_t capabilities = 0;
  std::string config_schema;  // JSON Schema text; empty = takes no config
  std::filesystem::path file;
  uint16_t abi_major = 0;
  uint16_t abi_minor = 0;
  std::string build_tag;
  // The plugin's vtable has a cancel entry (ABI >= 1.1 and not NULL).
  bool has_cancel = false;
  bool thread_safe() const;
};

// Per-call context: who is calling, and where the plugin's events and cancellation go.
struct CallContext {
  std::string session_id;
  std::string step_id;
  int64_t deadline_unix_ms = 0;  // 0 = none
  // Called for every event the plugin emits (services.emit_event) and for every LLM call it
  // makes through services.llm_complete (an event of type "llm_call" with role, model,
  // usage, latency, retries, outcome). May be empty.
  std::function<void(std::string_view event_json)> on_event;
  // Returns true once the call should be abandoned. May be empty.
  std::function<bool()> cancelled;
  // > 0: output past this many bytes is dropped as the plugin writes it and the call fails
  // with RESOURCE_EXHAUSTED naming the limit ([limits] max_reply_bytes). 0 = no limit.
  size_t max_output_bytes = 0;
};

// What the host offers plugins through the services table. The runtime installs one
// implementation (it knows the config and the LLM client); tests may install their own.
class HostServices {
 public:
  virtual ~HostServices() = default;
  virtual void log(std::string_view plugin_name, const CallContext* call, int32_t level, std::string_view message);
  virtual Status emit_event(std::string_view plugin_name, const CallContext* call, std::string_view event_json);
  // request/response in the JSON form of docs/llm-model.md. Default: UNIMPLEMENTED.
  virtual Result<std::string> llm_complete(std::string_view plugin_name, const CallContext* call,
                                           std::string_view request_json);
  // Several llm_complete requests at once; one result per request, in order. Default: one
  // llm_complete after the other (the runtime overrides it with concurrent calls).
  virtual std::vector<Result<std::string>> llm_complete_many(std::string_view plugin_name, const CallContext* call,
                                                             const std::vector<std::string_view>& requests);
  virtual bool is_cancelled(const CallContext* call);
};

class Instance;  // defined by the loader

class AdapterHandle {
 public:
  AdapterHandle() = default;
  explicit AdapterHandle(std::shared_ptr<Instance> inst) : inst_(std::move(inst)) {}
  Result<std::string> invoke(const CallContext& call, std::string_view request_json) const;
  const PluginInfo& info() const;
  bool valid() const { return inst_ != nullptr; }
  // Asks the plugin to abandon the call identified by `call` (same session/step ids).
  // UNIMPLEMENTED when the plugin has no cancel entry (info().has_cancel is false).
  Status cancel(const CallContext& call) const;

 private:
  std::shared_ptr<Instance> inst_;
};

class JudgeHandle {
 public:
  JudgeHandle() = default;
  explicit JudgeHandle(std::shared_ptr<Instance> inst) : inst_(std::move(inst)) {}
  Result<std::string> judge(const CallContext& call, std::string_view request_json) const;
  const PluginInfo& info() const;
  bool valid() const { return inst_ != nullptr; }
  // Asks the plugin to abandon the call identified by `call` (same session/step ids).
  // UNIMPLEMENTED when the plugin has no cancel entry (info().has_cancel is false).
  Status cancel(const CallContext& call) const;

 private:
  std::shared_ptr<Instance> inst_;
};

class ProbeHandle {
 public:
  ProbeHandle() = default;
  explicit ProbeHandle(std::shared_ptr<Instance> inst) : inst_(std::move(inst)) {}
  Result<std::string> probe(const CallContext& call, std::string_view request_json) const;
  const PluginInfo& info() const;
  bool valid() const { return inst_ != nullptr; }
  // Asks the plugin to abandon the call identified by `call` (same session/step ids).
  // UNIMPLEMENTED when the plugin has no cancel entry (info().has_cancel is false).
  Status cancel(const CallContext& call) const;

 private:
  std::shared_ptr<Instance> inst_;
};

class StorageHandle {
 public:
  StorageHandle() = default;
  explicit StorageHandle(std::shared_ptr<Instance> inst) : inst_(std::move(inst)) {}
  // `op` is one of the storage operations in docs/plugin-contracts.md.
  Result<std::string> execute(const CallContext& call, std::string_view op, std::string_view request_json) const;
  const PluginInfo& info() const;
  bool valid() const { return inst_ != nullptr; }
  // Asks the plugin to abandon the call identified by `call` (same session/step ids).
  // UNIMPLEMENTED when the plugin has no cancel entry (info().has_cancel is false).
  Status cancel(const CallContext& call) const;

 private:
  std::shared_ptr<Instance> inst_;
};

}  // namespace atlas::plugin
