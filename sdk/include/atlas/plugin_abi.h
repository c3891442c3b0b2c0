/*
 * atlas/plugin_abi.h — the binary interface between atlas-host and its plugins.
 *
 * This header is C99 and depends only on <stdint.h> and <stddef.h>, so a plugin can be
 * written in C, in C++ with any standard library (libstdc++ of either string ABI, libc++,
 * MSVC's), or in any language that can export a C function.
 *
 * ---------------------------------------------------------------------------------------
 * THE CONTRACT IN PLAIN WORDS
 * ---------------------------------------------------------------------------------------
 * Entry point. A plugin library exports exactly one symbol:
 *
 *     const atlas_plugin_manifest *atlas_plugin_manifest_v1(uint16_t host_abi_major,
 *                                                            uint16_t host_abi_minor);
 *
 * The host calls it once after loading the library. The function must be cheap, must not
 * start threads and must not allocate anything the host would have to free. It returns a
 * pointer to static data describing one or more plugins, or NULL when the plugin knows it
 * cannot work with the host's ABI version. The "_v1" in the name is the ABI generation:
 * an incompatible future ABI exports "_v2", and one library may export both during a
 * transition.
 *
 * Versioning. ATLAS_ABI_MAJOR changes only for incompatible changes. ATLAS_ABI_MINOR
 * grows when fields or functions are appended. The host accepts a plugin when
 *     plugin.abi_major == host ABI major  and  plugin.abi_minor <= host ABI minor.
 * A plugin built against a NEWER minor than the host is refused: it may rely on fields the
 * host does not fill in. A plugin built against an OLDER minor is accepted.
 *
 * Size-prefixed structs. Every struct below starts with `uint32_t struct_size`, set to
 * sizeof() as compiled by whoever filled it in. Structs only ever grow at the end. The
 * reader copies min(struct_size, its own sizeof) bytes into a zeroed struct of its own
 * layout, so fields that the writer did not know about read as NULL / 0, which always
 * means "absent" (no capability, no function, no value). A struct_size smaller than the
 * v1.0 layout of that struct (the ATLAS_*_V1_0_SIZE constants) is refused. Those constants
 * are frozen: each is the end of the struct's last ABI 1.0 field (offsetof + size), not
 * sizeof(), so appending fields never raises the minimum and older plugins keep loading.
 *
 * Data exchange. Requests and responses are UTF-8 JSON documents passed as atlas_str
 * (pointer + length, not NUL-terminated). Inputs are BORROWED: valid only for the
 * duration of the call; copy what you keep. Outputs are written into host-provided sinks
 * (atlas_sink); the sink copies the bytes immediately, so the plugin may free or reuse its
 * buffer as soon as write() returns. A plugin may call write() several times; the chunks
 * are concatenated. Nobody ever frees memory allocated by the other side.
 *
 * Errors. Every call returns an atlas_status. On failure the plugin writes a human-readable
 * message (what went wrong and how to fix it) into the `err` sink. Exceptions, longjmp and
 * signals must never cross this boundary. The host's retry policy keys off the status:
 * UNAVAILABLE, RESOURCE_EXHAUSTED and ABORTED are retried with backoff; DEADLINE_EXCEEDED
 * is retried only if time is left; every other failure is final for that call.
 *
 * Lifetime. Static data returned by the plugin (manifest, descriptors, strings, vtables)
 * must stay valid while the library is loaded. The host never unloads a library while an
 * instance created from it exists; in practice it unloads only at process exit.
 * create() makes an instance; destroy() is called exactly once per successful create().
 *
 * Threading. If a descriptor sets ATLAS_CAP_THREAD_SAFE, the host may call the instance's
 * entry points concurrently from several threads. Otherwise it serialises the calls on
 * each instance. create() and destroy() are never called concurrently with calls on the
 * same instance. Host services may be called from any thread the plugin is running on
 * during a call, and also from threads the plugin started, as long as the call has not
 * returned (the atlas_call_v1 pointer is only valid until then).
 *
 * Configuration. Each descriptor may carry a JSON Schema (draft-04 keywords) for its
 * config. The host converts the user's TOML [plugins.<name>] table to JSON, validates it
 * against the schema and only then calls create(); a plugin therefore receives a document
 * that matches its schema (the plugin should still fail cleanly on values it dislikes).
 *
 * Host services. create() receives a services table (log, emit_event, llm_complete,
 * is_cancelled, llm_complete_many). Plugins never link against host symbols; everything they
 * need from the host goes through this table. The table stays valid until destroy() returns.
 *
 * Documents. The docs/<name>.md files cited below are in the atlas-host repository and are
 * installed with the SDK under <prefix>/share/doc/atlas-sdk-dev/docs/.
 * ---------------------------------------------------------------------------------------
 */
#ifndef ATLAS_PLUGIN_ABI_H
#define ATLAS_PLUGIN_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATLAS_ABI_MAJOR 1
/* Minor 1 appended `cancel` to every kind's vtable and `is_cancelled` to the services.
 * Minor 2 appended `llm_complete_many` to the services and the ATLAS_CAP_JUDGE_SAMPLES bit. */
#define ATLAS_ABI_MINOR 2

#define ATLAS_MANIFEST_SYMBOL "atlas_plugin_manifest_v1"

#if defined(_WIN32)
#define ATLAS_EXPORT __declspec(dllexport)
#else
#define ATLAS_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status codes (values follow the canonical RPC codes) ---------------------------- */
typedef int32_t atlas_status;
#define ATLAS_OK 0
#define ATLAS_CANCELLED 1 /* the call was cancelled by the host */
#define ATLAS_UNKNOWN 2
#define ATLAS_INVALID_ARGUMENT 3  /* the request or config is wrong; do not retry */
#define ATLAS_DEADLINE_EXCEEDED 4 /* ran out of time */
#define ATLAS_NOT_FOUND 5
#define ATLAS_ALREADY_EXISTS 6
#define ATLAS_PERMISSION_DENIED 7   /* e.g. a missing or rejected credential */
#define ATLAS_RESOURCE_EXHAUSTED 8  /* rate limited or quota; retryable */
#define ATLAS_FAILED_PRECONDITION 9 /* the system is not in a state to do this */
#define ATLAS_ABORTED 10            /* a conflict, e.g. a lost version race; retryable */
#define ATLAS_UNIMPLEMENTED 12      /* the plugin does not support this operation */
#define ATLAS_INTERNAL 13           /* a bug or an unexpected failure inside the plugin */
#define ATLAS_UNAVAILABLE 14        /* a dependency is down; retryable */

/* ---- plugin kinds ------------------------------------------------------------------- */
typedef uint32_t atlas_kind;
#define ATLAS_KIND_ADAPTER 1 /* wraps the student agent */
#define ATLAS_KIND_JUDGE 2   /* scores a step or a session */
#define ATLAS_KIND_PROBE 3   /* routes a task to a lane */
#define ATLAS_KIND_STORAGE 4 /* persists sessions */

/* ---- capability bits ---------------------------------------------------------------- */
#define ATLAS_CAP_THREAD_SAFE (1ull << 0) /* entry points may run concurrently on one instance */
#define ATLAS_CAP_CANCEL (1ull << 1)      /* vtable.cancel is implemented */
#define ATLAS_CAP_TOOLS (1ull << 2)       /* adapter: accepts tools[] and returns tool_calls[] */
#define ATLAS_CAP_USES_LLM (1ull << 3)    /* calls services.llm_complete */
#define ATLAS_CAP_NEEDS_NETWORK (1ull << 4)
/* judge (ABI >= 1.2): takes every tier-1 sample in one call. The tier-1 request then carries
 * "temperatures": [t1, t2, ...] instead of "temperature", and the judge answers
 *     {"replies": [r1, r2, ...]}
 * with exactly one entry per temperature, in the same order: either a judge reply
 * ({"score", "uncertainty", "rationale", "principles"}) or {"error": {"code": "UNAVAILABLE",
 * "message": "..."}} for a sample that failed. Arbiter requests still carry one "temperature"
 * and get one plain reply. Details: docs/plugin-contracts.md ("judge"). */
#define ATLAS_CAP_JUDGE_SAMPLES (1ull << 5)

/* ---- log levels --------------------------------------------------------------------- */
#define ATLAS_LOG_DEBUG 0
#define ATLAS_LOG_INFO 1
#define ATLAS_LOG_WARN 2
#define ATLAS_LOG_ERROR 3

/* Borrowed UTF-8 bytes; not NUL-terminated. */
typedef struct atlas_str {
  const char* ptr;
  size_t len;
} atlas_str;

/* A host-owned output. write() copies `len` bytes at once. */
typedef struct atlas_sink {
  void* ctx;
  void (*write)(void* ctx, const char* data, size_t len);
} atlas_sink;

/* Receives the outcome of each call of a batch (llm_complete_many): `index` into the batch,
 * ATLAS_OK with the response JSON, or an error status with its message. */
typedef struct atlas_batch_sink {
  void* ctx;
  void (*result)(void* ctx, size_t index, atlas_status status, const char* data, size_t len);
} atlas_batch_sink;

/* Per-call context handed to every entry point except create/destroy. Valid only until the
 * call returns. */
typedef struct atlas_call_v1 {
  uint32_t struct_size;
  void* call_ctx;           /* opaque; pass back to host services */
  atlas_str session_id;     /* may be empty */
  atlas_str step_id;        /* may be empty */
  int64_t deadline_unix_ms; /* 0 = no deadline */
} atlas_call_v1;
/* The ABI 1.0 layout ends after deadline_unix_ms. Frozen: fields appended later do not move it. */
#define ATLAS_CALL_V1_0_SIZE (offsetof(atlas_call_v1, deadline_unix_ms) + sizeof(int64_t))

/* Services the host offers to plugins. `call` may be NULL when the plugin is not inside an
 * entry point (e.g. during create()); emit_event and llm_complete then have no session to
 * attribute to but still work. */
typedef struct atlas_host_services_v1 {
  uint32_t struct_size;
  void* host_ctx;
  /* Writes a line to the host log, prefixed with the plugin name. */
  void (*log)(void* host_ctx, const atlas_call_v1* call, int32_t level, atlas_str message);
  /* Appends a telemetry event to the session trace. event_json is an object with at least
   * "type"; the host adds timestamps, ids and the plugin name. */
  atlas_status (*emit_event)(void* host_ctx, const atlas_call_v1* call, atlas_str event_json);
  /* Calls a configured model through the host's provider clients (retries, accounting,
   * secret redaction included). Request and response are the host's internal LLM JSON
   * model, documented in docs/llm-model.md: request {"model_ref" | "model", "role",
   * "messages", "tools", "tool_choice", "response_format", "temperature", ...}, response
   * {"content", "tool_calls", "usage", "finish_reason", "model"}. */
  atlas_status (*llm_complete)(void* host_ctx, const atlas_call_v1* call, atlas_str request_json, const atlas_sink* out,
                               const atlas_sink* err);
  /* --- added in ABI 1.1 --- */
  /* Returns non-zero once the host wants the call abandoned (session cancelled, deadline). */
  int32_t (*is_cancelled)(void* host_ctx, const atlas_call_v1* call);
  /* --- added in ABI 1.2 --- */
  /* Runs `count` llm_complete requests concurrently on the host's I/O thread (no plugin thread
   * per call) and blocks until every one has finished. Then, on the calling thread and in
   * index order, reports each outcome once through out->result. One failed call does not fail
   * the batch; ATLAS_OK means every outcome was reported. Every call is accounted as with
   * llm_complete. */
  atlas_status (*llm_complete_many)(void* host_ctx, const atlas_call_v1* call, const atlas_str* requests, size_t count,
                                    const atlas_batch_sink* out, const atlas_sink* err);
} atlas_host_services_v1;
#define ATLAS_HOST_SERVICES_V1_0_SIZE (offsetof(atlas_host_services_v1, is_cancelled))
#define ATLAS_HOST_SERVICES_V1_1_SIZE (offsetof(atlas_host_services_v1, llm_complete_many))

/* Instance lifecycle, shared by every kind's vtable. */
typedef atlas_status (*atlas_create_fn)(const atlas_host_services_v1* services, atlas_str config_json,
                                        void** out_instance, const atlas_sink* err);
typedef void (*atlas_destroy_fn)(void* instance);
typedef atlas_status (*atlas_cancel_fn)(void* instance, const atlas_call_v1* call);

/* Adapter: request/response JSON per docs/plugin-contracts.md ("adapter"). */
typedef struct atlas_adapter_vtable_v1 {
  uint32_t struct_size;
  atlas_create_fn create;
  atlas_destroy_fn destroy;
  atlas_status (*invoke)(void* instance, const atlas_call_v1* call, atlas_str request_json, const atlas_sink* out,
                         const atlas_sink* err);
  /* --- added in ABI 1.1 (optional, may be NULL) --- */
  atlas_cancel_fn cancel;
} atlas_adapter_vtable_v1;

/* Judge: scores a step or a session. */
typedef struct atlas_judge_vtable_v1 {
  uint32_t struct_size;
  atlas_create_fn create;
  atlas_destroy_fn destroy;
  atlas_status (*judge)(void* instance, const atlas_call_v1* call, atlas_str request_json, const atlas_sink* out,
                        const atlas_sink* err);
  atlas_cancel_fn cancel; /* ABI 1.1, optional */
} atlas_judge_vtable_v1;

/* Probe: routes a task to a lane. */
typedef struct atlas_probe_vtable_v1 {
  uint32_t struct_size;
  atlas_create_fn create;
  atlas_destroy_fn destroy;
  atlas_status (*probe)(void* instance, const atlas_call_v1* call, atlas_str request_json, const atlas_sink* out,
                        const atlas_sink* err);
  atlas_cancel_fn cancel; /* ABI 1.1, optional */
} atlas_probe_vtable_v1;

/* Storage: one entry point, the operation named by `op` ("begin_session", "append_events",
 * "finish_session", ...; the list is in docs/plugin-contracts.md). Operations are names,
 * not vtable slots, so new operations need no ABI change; a plugin answers an operation it
 * does not know with ATLAS_UNIMPLEMENTED. */
typedef struct atlas_storage_vtable_v1 {
  uint32_t struct_size;
  atlas_create_fn create;
  atlas_destroy_fn destroy;
  atlas_status (*execute)(void* instance, const atlas_call_v1* call, atlas_str op, atlas_str request_json,
                          const atlas_sink* out, const atlas_sink* err);
  atlas_cancel_fn cancel; /* ABI 1.1, optional */
} atlas_storage_vtable_v1;

/* Layout size of ABI 1.0 (before `cancel` was appended): the smallest struct_size accepted
 * for each vtable. All four vtables share the layout up to `cancel`. */
#define ATLAS_VTABLE_V1_0_SIZE (offsetof(atlas_adapter_vtable_v1, cancel))

typedef struct atlas_plugin_desc {
  uint32_t struct_size;
  atlas_kind kind;
  const char* name;    /* [a-z0-9_-]+, unique per kind across loaded libraries */
  const char* version; /* the plugin's own version, e.g. "1.2.0" */
  const char* vendor;
  const char* license;            /* SPDX identifier */
  const char* description;        /* one line */
  uint64_t capabilities;          /* ATLAS_CAP_* bits */
  const char* config_schema_json; /* JSON Schema (draft-04 keywords); NULL = accepts {} only */
  const void* vtable;             /* atlas_<kind>_vtable_v1 matching `kind` */
} atlas_plugin_desc;
/* The ABI 1.0 layout ends after vtable. Frozen: fields appended later do not move it. */
#define ATLAS_PLUGIN_DESC_V1_0_SIZE (offsetof(atlas_plugin_desc, vtable) + sizeof(const void*))

typedef struct atlas_plugin_manifest {
  uint32_t struct_size;
  uint16_t abi_major;    /* ATLAS_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;    /* ATLAS_ABI_MINOR the plugin was built with */
  const char* build_tag; /* informational: compiler, platform */
  uint32_t count;
  /* Pointers, not an array of structs: each descriptor carries its own struct_size. */
  const atlas_plugin_desc* const* plugins;
} atlas_plugin_manifest;
/* The ABI 1.0 layout ends after plugins. Frozen: fields appended later do not move it. */
#define ATLAS_PLUGIN_MANIFEST_V1_0_SIZE (offsetof(atlas_plugin_manifest, plugins) + sizeof(const void*))

typedef const atlas_plugin_manifest* (*atlas_plugin_manifest_v1_fn)(uint16_t host_abi_major, uint16_t host_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* ATLAS_PLUGIN_ABI_H */
