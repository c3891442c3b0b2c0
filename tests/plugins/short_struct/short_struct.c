/* Descriptor and manifest are fine, but the vtable says struct_size 16: smaller than the
 * ABI 1.0 layout (create, destroy, invoke), so the host must not read it. */
#include <atlas/plugin_abi.h>

#include <string.h>

static atlas_status create(const atlas_host_services_v1 *s, atlas_str cfg, void **out, const atlas_sink *err) {
  static int instance;
  *out = &instance;
  return ATLAS_OK;
}
static void destroy(void *p) {}
static atlas_status invoke(void *p, const atlas_call_v1 *c, atlas_str req, const atlas_sink *out,
                           const atlas_sink *err) {
  static const char reply[] = "{\"content\":\"short\"}";
  out->write(out->ctx, reply, strlen(reply));
  return ATLAS_OK;
}
static const atlas_adapter_vtable_v1 vtable = {16, create, destroy, invoke, NULL};
static const atlas_plugin_desc desc = {sizeof(atlas_plugin_desc), ATLAS_KIND_ADAPTER, "short_vtable", "1.0.0", "atlas tests",
                                       "MIT", "vtable too small", 0, NULL, &vtable};
static const atlas_plugin_desc *const list[] = {&desc};
static const atlas_plugin_manifest manifest = {sizeof(atlas_plugin_manifest), ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR, "fixture", 1, list};

ATLAS_EXPORT const atlas_plugin_manifest *atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) { return &manifest; }
