/* A plugin built against ABI 1.0: its vtable has the 1.0 layout (no `cancel`), and it only
 * knows the 1.0 part of the services table. The host must accept it and treat `cancel` as
 * absent. */
#include <atlas/plugin_abi.h>
#include <string.h>

/* The adapter vtable exactly as ABI 1.0 defined it. */
typedef struct adapter_vtable_v1_0 {
  uint32_t struct_size;
  atlas_create_fn create;
  atlas_destroy_fn destroy;
  atlas_status (*invoke)(void* instance, const atlas_call_v1* call, atlas_str request_json, const atlas_sink* out,
                         const atlas_sink* err);
} adapter_vtable_v1_0;

/* Descriptor and manifest exactly as ABI 1.0 defined them: later minors may append fields, and
 * a plugin built before that writes only these (struct_size = their sizeof). */
typedef struct plugin_desc_v1_0 {
  uint32_t struct_size;
  atlas_kind kind;
  const char *name, *version, *vendor, *license, *description;
  uint64_t capabilities;
  const char* config_schema_json;
  const void* vtable;
} plugin_desc_v1_0;

typedef struct plugin_manifest_v1_0 {
  uint32_t struct_size;
  uint16_t abi_major, abi_minor;
  const char* build_tag;
  uint32_t count;
  const plugin_desc_v1_0* const* plugins;
} plugin_manifest_v1_0;

typedef struct instance {
  const atlas_host_services_v1* services;
  int services_ok;
} instance;

static instance the_instance;

static void write_text(const atlas_sink* sink, const char* text) {
  sink->write(sink->ctx, text, strlen(text));
}

static atlas_status create(const atlas_host_services_v1* s, atlas_str cfg, void** out, const atlas_sink* err) {
  /* A 1.0 plugin may rely on the 1.0 part of the table only. */
  if (!s || s->struct_size < ATLAS_HOST_SERVICES_V1_0_SIZE || !s->log) {
    write_text(err, "host services table smaller than ABI 1.0");
    return ATLAS_FAILED_PRECONDITION;
  }
  the_instance.services = s;
  the_instance.services_ok = 1;
  *out = &the_instance;
  return ATLAS_OK;
}
static void destroy(void* p) {}
static atlas_status invoke(void* p, const atlas_call_v1* c, atlas_str req, const atlas_sink* out,
                           const atlas_sink* err) {
  instance* self = (instance*)p;
  static const char msg[] = "old plugin invoked";
  atlas_str m = {msg, sizeof msg - 1};
  self->services->log(self->services->host_ctx, c, ATLAS_LOG_DEBUG, m);
  write_text(out, "{\"content\":\"built for ABI 1.0\",\"abi\":\"1.0\"}");
  return ATLAS_OK;
}

static const adapter_vtable_v1_0 vtable = {sizeof(adapter_vtable_v1_0), create, destroy, invoke};
static const plugin_desc_v1_0 desc = {sizeof(plugin_desc_v1_0),
                                      ATLAS_KIND_ADAPTER,
                                      "old_minor",
                                      "0.9.0",
                                      "atlas tests",
                                      "MIT",
                                      "built against ABI 1.0",
                                      0,
                                      NULL,
                                      &vtable};
static const plugin_desc_v1_0* const list[] = {&desc};
static const plugin_manifest_v1_0 manifest = {sizeof(plugin_manifest_v1_0), 1, 0, "fixture-abi-1.0", 1, list};

ATLAS_EXPORT const atlas_plugin_manifest* atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) {
  return (const atlas_plugin_manifest*)&manifest;
}
