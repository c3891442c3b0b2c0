/* A judge written from the text of atlas/plugin_abi.h alone (ATLAS_CAP_JUDGE_SAMPLES): for a
 * request with "temperatures": [t1, ...] it answers {"replies": [...]}, one entry per
 * temperature in order. Every sample scores 0.7, except a temperature above 0.6, which gets
 * an {"error": {...}} entry; a request with one "temperature" gets one plain reply. */
#include <atlas/plugin_abi.h>
#include <stdlib.h>
#include <string.h>

#define REPLY "{\"score\":0.7,\"uncertainty\":0.1,\"rationale\":\"per header\",\"principles\":[]}"
#define FAILED "{\"error\":{\"code\":\"UNAVAILABLE\",\"message\":\"sample model overloaded\"}}"

static void write_text(const atlas_sink* sink, const char* text) {
  sink->write(sink->ctx, text, strlen(text));
}

static atlas_status create(const atlas_host_services_v1* services, atlas_str config, void** out,
                           const atlas_sink* err) {
  (void)services;
  (void)config;
  (void)err;
  static int the_instance;
  *out = &the_instance;
  return ATLAS_OK;
}

static void destroy(void* instance) {
  (void)instance;
}

/* The position of `key` in the request, or NULL (the request is not NUL-terminated). */
static const char* find_key(atlas_str request, const char* key) {
  size_t n = strlen(key);
  for (size_t i = 0; i + n <= request.len; ++i) {
    if (memcmp(request.ptr + i, key, n) == 0) return request.ptr + i + n;
  }
  return NULL;
}

static atlas_status judge(void* instance, const atlas_call_v1* call, atlas_str request, const atlas_sink* out,
                          const atlas_sink* err) {
  (void)instance;
  (void)call;
  const char* end = request.ptr + request.len;
  const char* p = find_key(request, "\"temperatures\"");
  if (!p) {
    write_text(out, REPLY);
    return ATLAS_OK;
  }
  while (p < end && *p != '[') ++p;
  if (p == end) {
    write_text(err, "\"temperatures\" is not an array");
    return ATLAS_INVALID_ARGUMENT;
  }
  ++p;
  write_text(out, "{\"replies\":[");
  int first = 1;
  while (p < end && *p != ']') {
    char number[32] = {0};
    size_t len = 0;
    while (p < end && *p != ',' && *p != ']' && len + 1 < sizeof number) number[len++] = *p++;
    if (!first) write_text(out, ",");
    first = 0;
    write_text(out, strtod(number, NULL) > 0.6 ? FAILED : REPLY);
    if (p < end && *p == ',') ++p;
  }
  write_text(out, "]}");
  return ATLAS_OK;
}

static const atlas_judge_vtable_v1 vtable = {sizeof(atlas_judge_vtable_v1), create, destroy, judge, NULL};
static const atlas_plugin_desc desc = {sizeof(atlas_plugin_desc),
                                       ATLAS_KIND_JUDGE,
                                       "judge_samples",
                                       "1.0.0",
                                       "atlas tests",
                                       "MIT",
                                       "answers every tier-1 sample in one call, as plugin_abi.h describes",
                                       ATLAS_CAP_THREAD_SAFE | ATLAS_CAP_USES_LLM | ATLAS_CAP_JUDGE_SAMPLES,
                                       NULL,
                                       &vtable};
static const atlas_plugin_desc* const list[] = {&desc};
static const atlas_plugin_manifest manifest = {
    sizeof(atlas_plugin_manifest), ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR, "fixture", 1, list};

ATLAS_EXPORT const atlas_plugin_manifest* atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) {
  (void)major;
  (void)minor;
  return &manifest;
}
