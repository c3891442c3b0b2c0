// The plugin manifests as the isolated probe reports them (docs/plugins.md): one JSON object
// with "plugins" and "diagnostics", read into PluginInfo/Diagnostic and written back.
#include "common/json.hpp"
#include "fuzz_support.hpp"
#include "plugin/info_json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto doc = atlas::json::parse(atlas::fuzz::input(data, size), "probe result", atlas::json::kMaxInputDepth);
  if (!doc || !doc->IsObject()) return 0;
  atlas::json::Document out;
  if (const auto* ps = atlas::json::find(*doc, "plugins"); ps && ps->IsArray())
    for (const auto& p : ps->GetArray())
      (void)atlas::json::dump(atlas::plugin::to_json(atlas::plugin::plugin_info_from_json(p), out.GetAllocator()));
  if (const auto* ds = atlas::json::find(*doc, "diagnostics"); ds && ds->IsArray())
    for (const auto& d : ds->GetArray())
      (void)atlas::json::dump(atlas::plugin::to_json(atlas::plugin::diagnostic_from_json(d), out.GetAllocator()));
  return 0;
}
