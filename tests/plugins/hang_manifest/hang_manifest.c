/* Never returns from its manifest function (waits for a signal that never comes). Only
 * ever loaded in a forked child, which the host kills after its timeout. */
#include <atlas/plugin_abi.h>

#include <unistd.h>

ATLAS_EXPORT const atlas_plugin_manifest *atlas_plugin_manifest_v1(uint16_t major, uint16_t minor) {
  for (;;) pause();
}
