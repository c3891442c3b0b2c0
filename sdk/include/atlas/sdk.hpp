// atlas/sdk.hpp — header-only C++17 layer that turns ordinary classes into an atlas plugin.
//
// Everything in this header is compiled INTO the plugin; no C++ type crosses the library
// boundary, so a plugin built with another compiler or standard library still works with
// the host. The boundary itself is the C ABI in atlas/plugin_abi.h.
//
// A plugin is a class plus one macro:
//
//   class EchoAdapter : public atlas::sdk::Adapter {
//    public:
//     static constexpr atlas::sdk::Info info{
//         "echo", "1.0.0", "Example Inc.", "MIT", "Answers with the task text",
//         ATLAS_CAP_THREAD_SAFE, R"({"type":"object","properties":{},"additionalProperties":false})"};
//     EchoAdapter(const atlas::sdk::Host& host, std::string_view config_json) {}
//     std::string invoke(atlas::sdk::Call& call, std::string_view request_json) override {
//       return R"({"content":"hello"})";
//     }
//   };
//   ATLAS_PLUGIN(EchoAdapter)            // or ATLAS_PLUGINS(EchoAdapter, MyJudge, ...)
//
// The kind comes from the base class (Adapter, Judge, Probe, Storage). Every exception a
// method throws is caught at the boundary: atlas::sdk::Error carries its own status, any
// other std::exception becomes ATLAS_INTERNAL with what() as the message.
#ifndef ATLAS_SDK_HPP
#define ATLAS_SDK_HPP

#include <atlas/plugin_abi.h>

#include <cstring>
#include <exception>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#if __cplusplus < 201703L && !defined(_MSVC_LANG)
#error "atlas/sdk.hpp needs C++17 or newer"
#endif

namespace atlas {
namespace sdk {

// An error with a status the host understands (see plugin_abi.h for retry semantics).
class Error : public std::runtime_error {
 public:
  Error(atlas_status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  atlas_status status() const noexcept { return status_; }

 private:
  atlas_status status_;
};

// Static description of a plugin class. `schema` may be nullptr (the plugin takes no config).
struct Info {
  const char* name;
  const char* version;
  const char* vendor;
  const char* license;
  const char* description;
  uint64_t capabilities;
  const char* schema;
};

// "UNAVAILABLE" for ATLAS_UNAVAILABLE, ...: the names the host uses in messages and JSON.
inline const char* status_name(atlas_status s) {
  switch (s) {
    case ATLAS_OK:
      return "OK";
    case ATLAS_CANCELLED:
      return "CANCELLED";
    case ATLAS_INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case ATLAS_DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case ATLAS_NOT_FOUND:
      return "NOT_FOUND";
    case ATLAS_ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case ATLAS_PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case ATLAS_RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case ATLAS_FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case ATLAS_ABORTED:
      return "ABORTED";
    case ATLAS_UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case ATLAS_INTERNAL:
      return "INTERNAL";
    case ATLAS_UNAVAILABLE:
      return "UNAVAILABLE";
    default:
      return "UNKNOWN";
  }
}

// The outcome of one call of a batch (Host::llm_complete_many).
struct LlmResult {
  atlas_status status = ATLAS_UNKNOWN;
  std::string text;  // the response JSON when ok(), else the host's error message
  bool ok() const { return status == ATLAS_OK; }
};

inline std::string_view view(atlas_str s) {
  return s.ptr ? std::string_view(s.ptr, s.len) : std::string_view();
}
inline atlas_str str(std::string_view s) {
  return atlas_str{s.data(), s.size()};
}

namespace detail {
inline void append_to_string(void* ctx, const char* data, size_t len) {
  static_cast<std::string*>(ctx)->append(data, len);
}
inline void write(const atlas_sink* sink, std::string_view text) noexcept {
  if (sink && sink->write) sink->write(sink->ctx, text.data(), text.size());
}
inline void store_result(void* ctx, size_t index, atlas_status status, const char* data, size_t len) noexcept {
  auto* results = static_cast<std::vector<LlmResult>*>(ctx);
  if (index >= results->size()) return;
  try {
    (*results)[index].status = status;
    (*results)[index].text.assign(data ? data : "", data ? len : 0);
  } catch (...) {  // nothing may unwind into the host
    (*results)[index].status = ATLAS_INTERNAL;
  }
}
// Copies a size-prefixed struct written by the other side into a zeroed local one.
template <typename T>
T read_sized(const T* src) {
  T local;
  std::memset(static_cast<void*>(&local), 0, sizeof(T));
  if (!src) return local;
  uint32_t size = src->struct_size;
  std::memcpy(static_cast<void*>(&local), static_cast<const void*>(src), size < sizeof(T) ? size : sizeof(T));
  return local;
}
}  // namespace detail

// The host's services, as seen by a plugin. Safe to copy; valid until the instance is destroyed.
class Host {
 public:
  Host() { std::memset(static_cast<void*>(&services_), 0, sizeof(services_)); }
  explicit Host(const atlas_host_services_v1* services) : services_(detail::read_sized(services)) {}

  void log(int32_t level, std::string_view message, const atlas_call_v1* call = nullptr) const {
    if (services_.log) services_.log(services_.host_ctx, call, level, str(message));
  }
  void emit_event(std::string_view event_json, const atlas_call_v1* call = nullptr) const {
    if (!services_.emit_event) return;
    services_.emit_event(services_.host_ctx, call, str(event_json));
  }
  // Calls a configured model; throws Error with the host's status and message on failure.
  std::string llm_complete(std::string_view request_json, const atlas_call_v1* call = nullptr) const {
    if (!services_.llm_complete) throw Error(ATLAS_UNIMPLEMENTED, "this host offers no llm_complete service");
    std::string out, err;
    atlas_sink out_sink{&out, &detail::append_to_string};
    atlas_sink err_sink{&err, &detail::append_to_string};
    atlas_status st = services_.llm_complete(services_.host_ctx, call, str(request_json), &out_sink, &err_sink);
    if (st != ATLAS_OK) throw Error(st, err.empty() ? std::string("llm_complete failed") : err);
    return out;
  }
  // Runs several llm_complete requests concurrently on the host (one I/O thread, no plugin
  // thread per call) and returns one result per request, in order. A failed call is a result,
  // not an exception; Error is thrown only when the whole batch is refused. A services table
  // from before ABI 1.2 (no llm_complete_many) gets one llm_complete after another.
  std::vector<LlmResult> llm_complete_many(const std::vector<std::string>& requests,
                                           const atlas_call_v1* call = nullptr) const {
    std::vector<LlmResult> results(requests.size());
    if (!services_.llm_complete_many) {
      for (size_t i = 0; i < requests.size(); ++i) {
        try {
          results[i].text = llm_complete(requests[i], call);
          results[i].status = ATLAS_OK;
        } catch (const Error& e) {
          results[i].status = e.status();
          results[i].text = e.what();
        }
      }
      return results;
    }
    std::vector<atlas_str> raw;
    raw.reserve(requests.size());
    for (const auto& r : requests) raw.push_back(str(r));
    std::string err;
    atlas_batch_sink out{&results, &detail::store_result};
    atlas_sink err_sink{&err, &detail::append_to_string};
    atlas_status st = services_.llm_complete_many(services_.host_ctx, call, raw.data(), raw.size(), &out, &err_sink);
    if (st != ATLAS_OK) throw Error(st, err.empty() ? std::string("llm_complete_many failed") : err);
    return results;
  }
  bool is_cancelled(const atlas_call_v1* call) const {
    return services_.is_cancelled && services_.is_cancelled(services_.host_ctx, call) != 0;
  }
  bool has_llm() const { return services_.llm_complete != nullptr; }

 private:
  atlas_host_services_v1 services_;
};

// One call's context: ids, deadline, and the host services bound to this call.
class Call {
 public:
  Call(const Host& host, const atlas_call_v1* raw) : host_(host), raw_(raw), local_(detail::read_sized(raw)) {}
  std::string_view session_id() const { return view(local_.session_id); }
  std::string_view step_id() const { return view(local_.step_id); }
  int64_t deadline_unix_ms() const { return local_.deadline_unix_ms; }
  bool cancelled() const { return host_.is_cancelled(raw_); }
  void log(int32_t level, std::string_view message) const { host_.log(level, message, raw_); }
  void emit_event(std::string_view event_json) const { host_.emit_event(event_json, raw_); }
  std::string llm_complete(std::string_view request_json) const { return host_.llm_complete(request_json, raw_); }
  std::vector<LlmResult> llm_complete_many(const std::vector<std::string>& requests) const {
    return host_.llm_complete_many(requests, raw_);
  }
  const atlas_call_v1* raw() const { return raw_; }

 private:
  const Host& host_;
  const atlas_call_v1* raw_;
  atlas_call_v1 local_;
};

// Base classes: derive from exactly one. The constructor signature every plugin class needs is
//   T(const atlas::sdk::Host& host, std::string_view config_json)
class Adapter {
 public:
  static constexpr atlas_kind kind = ATLAS_KIND_ADAPTER;
  virtual ~Adapter() = default;
  virtual std::string invoke(Call& call, std::string_view request_json) = 0;
  virtual void cancel(Call&) {}
};
class Judge {
 public:
  static constexpr atlas_kind kind = ATLAS_KIND_JUDGE;
  virtual ~Judge() = default;
  virtual std::string judge(Call& call, std::string_view request_json) = 0;
  virtual void cancel(Call&) {}
};
class Probe {
 public:
  static constexpr atlas_kind kind = ATLAS_KIND_PROBE;
  virtual ~Probe() = default;
  virtual std::string probe(Call& call, std::string_view request_json) = 0;
  virtual void cancel(Call&) {}
};
class Storage {
 public:
  static constexpr atlas_kind kind = ATLAS_KIND_STORAGE;
  virtual ~Storage() = default;
  virtual std::string execute(Call& call, std::string_view op, std::string_view request_json) = 0;
  virtual void cancel(Call&) {}
};

namespace detail {

// Instance wrapper: keeps the Host copy alive next to the user's object.
template <typename T>
struct Instance {
  Host host;
  T* object = nullptr;
};

// Runs `fn`, converting every exception into a status plus a message in `err`.
template <typename Fn>
atlas_status guarded(const atlas_sink* err, Fn&& fn) noexcept {
  try {
    fn();
    return ATLAS_OK;
  } catch (const Error& e) {
    write(err, e.what());
    return e.status();
  } catch (const std::bad_alloc&) {
    write(err, "out of memory");
    return ATLAS_RESOURCE_EXHAUSTED;
  } catch (const std::exception& e) {
    write(err, e.what());
    return ATLAS_INTERNAL;
  } catch (...) {
    write(err, "unknown exception thrown by plugin");
    return ATLAS_INTERNAL;
  }
}

template <typename T>
struct Trampolines {
  static atlas_status create(const atlas_host_services_v1* services, atlas_str config, void** out,
                             const atlas_sink* err) noexcept {
    if (!out) return ATLAS_INVALID_ARGUMENT;
    *out = nullptr;
    return guarded(err, [&] {
      auto* inst = new Instance<T>();  // NOLINT(bugprone-unhandled-exception-at-new): guarded() catches bad_alloc
      try {
        inst->host = Host(services);
        inst->object = new T(inst->host, view(config));
      } catch (...) {
        delete inst;
        throw;
      }
      *out = inst;
    });
  }
  static void destroy(void* p) noexcept {
    auto* inst = static_cast<Instance<T>*>(p);
    if (!inst) return;
    try {
      delete inst->object;
    } catch (...) {
    }
    delete inst;
  }
  static atlas_status cancel(void* p, const atlas_call_v1* raw) noexcept {
    auto* inst = static_cast<Instance<T>*>(p);
    return guarded(nullptr, [&] {
      Call call(inst->host, raw);
      inst->object->cancel(call);
    });
  }
  // One entry point; which base method it dispatches to depends on the kind.
  static atlas_status call(void* p, const atlas_call_v1* raw, atlas_str request, const atlas_sink* out,
                           const atlas_sink* err) noexcept {
    auto* inst = static_cast<Instance<T>*>(p);
    return guarded(err, [&] {
      Call call(inst->host, raw);
      std::string result;
      if constexpr (T::kind == ATLAS_KIND_ADAPTER) {
        result = inst->object->invoke(call, view(request));
      } else if constexpr (T::kind == ATLAS_KIND_JUDGE) {
        result = inst->object->judge(call, view(request));
      } else if constexpr (T::kind == ATLAS_KIND_PROBE) {
        result = inst->object->probe(call, view(request));
      }
      write(out, result);
    });
  }
  static atlas_status execute(void* p, const atlas_call_v1* raw, atlas_str op, atlas_str request, const atlas_sink* out,
                              const atlas_sink* err) noexcept {
    auto* inst = static_cast<Instance<T>*>(p);
    return guarded(err, [&] {
      Call call(inst->host, raw);
      std::string result = inst->object->execute(call, view(op), view(request));
      write(out, result);
    });
  }
};

template <typename T>
const void* vtable_for() {
  using Tr = Trampolines<T>;
  if constexpr (T::kind == ATLAS_KIND_ADAPTER) {
    static const atlas_adapter_vtable_v1 vt{sizeof(atlas_adapter_vtable_v1), &Tr::create, &Tr::destroy, &Tr::call,
                                            &Tr::cancel};
    return &vt;
  } else if constexpr (T::kind == ATLAS_KIND_JUDGE) {
    static const atlas_judge_vtable_v1 vt{sizeof(atlas_judge_vtable_v1), &Tr::create, &Tr::destroy, &Tr::call,
                                          &Tr::cancel};
    return &vt;
  } else if constexpr (T::kind == ATLAS_KIND_PROBE) {
    static const atlas_probe_vtable_v1 vt{sizeof(atlas_probe_vtable_v1), &Tr::create, &Tr::destroy, &Tr::call,
                                          &Tr::cancel};
    return &vt;
  } else {
    static const atlas_storage_vtable_v1 vt{sizeof(atlas_storage_vtable_v1), &Tr::create, &Tr::destroy, &Tr::execute,
                                            &Tr::cancel};
    return &vt;
  }
}

template <typename T>
const atlas_plugin_desc* descriptor_for() {
  static_assert(T::kind == ATLAS_KIND_ADAPTER || T::kind == ATLAS_KIND_JUDGE || T::kind == ATLAS_KIND_PROBE ||
                    T::kind == ATLAS_KIND_STORAGE,
                "a plugin class derives from atlas::sdk::Adapter, Judge, Probe or Storage");
  static_assert(std::is_constructible<T, const Host&, std::string_view>::value,
                "a plugin class needs the constructor T(const atlas::sdk::Host&, std::string_view config_json)");
  static const atlas_plugin_desc desc{sizeof(atlas_plugin_desc),
                                      T::kind,
                                      T::info.name,
                                      T::info.version,
                                      T::info.vendor,
                                      T::info.license,
                                      T::info.description,
                                      T::info.capabilities,
                                      T::info.schema,
                                      vtable_for<T>()};
  return &desc;
}

#define ATLAS_SDK_STR2(x) #x
#define ATLAS_SDK_STR(x) ATLAS_SDK_STR2(x)
#if defined(__clang__)
#define ATLAS_SDK_BUILD_TAG "clang-" __clang_version__
#elif defined(__GNUC__)
#define ATLAS_SDK_BUILD_TAG "gcc-" ATLAS_SDK_STR(__GNUC__) "." ATLAS_SDK_STR(__GNUC_MINOR__)
#else
#define ATLAS_SDK_BUILD_TAG "unknown-compiler"
#endif

template <typename... Ts>
const atlas_plugin_manifest* manifest(uint16_t host_major, uint16_t /*host_minor*/) noexcept {
  if (host_major != ATLAS_ABI_MAJOR) return nullptr;
  static const atlas_plugin_desc* const descs[] = {descriptor_for<Ts>()...};
  static const atlas_plugin_manifest m{sizeof(atlas_plugin_manifest),
                                       ATLAS_ABI_MAJOR,
                                       ATLAS_ABI_MINOR,
                                       ATLAS_SDK_BUILD_TAG,
                                       static_cast<uint32_t>(sizeof...(Ts)),
                                       descs};
  return &m;
}

}  // namespace detail
}  // namespace sdk
}  // namespace atlas

// Exports the manifest for one or more plugin classes. Use once per library.
#define ATLAS_PLUGINS(...)                                                                                 \
  extern "C" ATLAS_EXPORT const atlas_plugin_manifest* atlas_plugin_manifest_v1(uint16_t host_abi_major,   \
                                                                                uint16_t host_abi_minor) { \
    return ::atlas::sdk::detail::manifest<__VA_ARGS__>(host_abi_major, host_abi_minor);                    \
  }
#define ATLAS_PLUGIN(T) ATLAS_PLUGINS(T)

#endif  // ATLAS_SDK_HPP
