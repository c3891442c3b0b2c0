/* Crashes (SIGSEGV, a write through a null pointer) inside its manifest function. Only
 * ever loaded in a forked child (`atlas-host plugins verify`). */
#include <atlas/plugin_abi.h>

#include <stddef.h>

static int *volatile target = NULL;

ATLAS_EXPORT const atlas_plugin_manifest *atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) {
  *target = major + minor;
  return NULL;
}
