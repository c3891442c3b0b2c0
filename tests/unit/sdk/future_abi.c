/* Compiled against the later-minor copy of atlas/plugin_abi.h (see future_abi.h). */
#include "future_abi.h"

#include <atlas/plugin_abi.h>

future_abi_sizes future_abi_sizes_get(void) {
  future_abi_sizes s;
  s.call_sizeof = sizeof(atlas_call_v1);
  s.call_v1_0 = ATLAS_CALL_V1_0_SIZE;
  s.desc_sizeof = sizeof(atlas_plugin_desc);
  s.desc_v1_0 = ATLAS_PLUGIN_DESC_V1_0_SIZE;
  s.manifest_sizeof = sizeof(atlas_plugin_manifest);
  s.manifest_v1_0 = ATLAS_PLUGIN_MANIFEST_V1_0_SIZE;
  s.vtable_sizeof = sizeof(atlas_adapter_vtable_v1);
  s.vtable_v1_0 = ATLAS_VTABLE_V1_0_SIZE;
  s.services_v1_0 = ATLAS_HOST_SERVICES_V1_0_SIZE;
  s.services_v1_1 = ATLAS_HOST_SERVICES_V1_1_SIZE;
  return s;
}
