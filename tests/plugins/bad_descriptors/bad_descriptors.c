/* One library, many broken descriptors, one good judge (`bd_ok`). The host must refuse
 * each broken descriptor with its own message and still register `bd_ok`. */
#include <atlas/plugin_abi.h>

#include <string.h>

static atlas_status create(const atlas_host_services_v1 *s, atlas_str cfg, void **out, const atlas_sink *err) {
  static int instance;
  *out = &instance;
  return ATLAS_OK;
}
static void destroy(void *p) {}
static atlas_status judge(void *p, const atlas_call_v1 *c, atlas_str req, const atlas_sink *out,
                          const atlas_sink *err) {
  static const char reply[] = "{\"score\":1.0,\"rationale\":\"bd_ok\",\"uncertainty\":0.0,\"principles\":[]}";
  out->write(out->ctx, reply, strlen(reply));
  return ATLAS_OK;
}

static const atlas_judge_vtable_v1 good_vt = {sizeof(atlas_judge_vtable_v1), create, destroy, judge, NULL};
static const atlas_judge_vtable_v1 no_call_vt = {sizeof(atlas_judge_vtable_v1), create, destroy, NULL, NULL};

#define DESC(kind, name, schema, vt) \
  {sizeof(atlas_plugin_desc), kind, name, "1.0.0", "atlas tests", "MIT", "fixture", ATLAS_CAP_THREAD_SAFE, schema, vt}

static const atlas_plugin_desc bad_kind = DESC(99, "bd_kind", NULL, &good_vt);
static const atlas_plugin_desc empty_name = DESC(ATLAS_KIND_JUDGE, "", NULL, &good_vt);
static const atlas_plugin_desc bad_name = DESC(ATLAS_KIND_JUDGE, "Bad Name!", NULL, &good_vt);
static const atlas_plugin_desc null_vtable = DESC(ATLAS_KIND_JUDGE, "bd_null_vtable", NULL, NULL);
static const atlas_plugin_desc no_call = DESC(ATLAS_KIND_JUDGE, "bd_no_call", NULL, &no_call_vt);
static const atlas_plugin_desc bad_schema = DESC(ATLAS_KIND_JUDGE, "bd_bad_schema", "{not json", &good_vt);
static const atlas_plugin_desc short_desc = {8, ATLAS_KIND_JUDGE, "bd_short_desc", 0, 0, 0, 0, 0, 0, 0};
/* Good, with a schema keyword draft-04 does not know (`const`): accepted with a warning. */
static const atlas_plugin_desc ok = DESC(ATLAS_KIND_JUDGE, "bd_ok",
                                         "{\"type\":\"object\",\"properties\":{\"level\":{\"const\":\"strict\"}}}",
                                         &good_vt);
static const atlas_plugin_desc duplicate = DESC(ATLAS_KIND_JUDGE, "bd_ok", NULL, &good_vt);

static const atlas_plugin_desc *const list[] = {&bad_kind, &empty_name, &bad_name, &null_vtable, &no_call,
                                                &bad_schema, &short_desc, NULL,       &ok,        &duplicate};
static const atlas_plugin_manifest manifest = {sizeof(atlas_plugin_manifest), ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR,
                                               "fixture", sizeof list / sizeof list[0], list};

ATLAS_EXPORT const atlas_plugin_manifest *atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) { return &manifest; }
