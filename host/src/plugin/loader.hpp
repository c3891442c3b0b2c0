// Loader: turns one trusted plugin file into descriptors the registry can register.
//
//   inspect_exports()  reads the ELF export table (Boost.DLL library_info); runs no code.
//   load_library()     dlopen(RTLD_NOW|RTLD_LOCAL|RTLD_NODELETE), calls
//                      atlas_plugin_manifest_v1, negotiates the ABI version and checks
//                      every descriptor. Bad descriptors are refused one by one; the good
//                      ones in the same library are kept.
//
// Messages follow one shape: "<file>: refused: <what was found>, expected <what>; <fix>".
#pragma once

#include <atlas/plugin_abi.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/json_schema.hpp"
#include "common/status.hpp"
#include "plugin/handles.hpp"

namespace atlas::plugin {

// A library loaded for the rest of the process (never unloaded: RTLD_NODELETE).
class Library {
 public:
  virtual ~Library() = default;
  virtual const std::filesystem::path& file() const = 0;
};

// The kind-independent view of a vtable, copied into host-sized storage.
struct VTable {
  atlas_create_fn create = nullptr;
  atlas_destroy_fn destroy = nullptr;
  // invoke / judge / probe (same signature); NULL for storage.
  atlas_status (*call)(void*, const atlas_call_v1*, atlas_str, const atlas_sink*, const atlas_sink*) = nullptr;
  // storage execute; NULL for the other kinds.
  atlas_status (*execute)(void*, const atlas_call_v1*, atlas_str, atlas_str, const atlas_sink*,
                          const atlas_sink*) = nullptr;
  atlas_cancel_fn cancel = nullptr;  // optional (ABI 1.1)
};

// The schema of a plugin that declares none: it takes {} only.
inline constexpr const char* kNoConfigSchema = R"({"type":"object","additionalProperties":false})";

struct LoadedPlugin {
  PluginInfo info;
  VTable vtable;
  std::optional<json::Schema> schema;  // compiled config schema (a default one when the plugin has none)
  std::shared_ptr<Library> library;    // keeps the code mapped
};

struct LoadOutcome {
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins;
  std::vector<std::string> refusals;  // per-descriptor refusals (the library itself loaded)
  std::vector<std::string> warnings;  // e.g. schema keywords RapidJSON ignores
};

// Where in the pipeline a file is; reported to isolated probes so a crash can be located.
enum class Stage { kTrust, kInspect, kLoad, kManifest, kChecks, kDone };
std::string_view stage_description(Stage s);  // "in its manifest function", ...

// Checks the export table without loading. INVALID_ARGUMENT with a message on failure.
Status inspect_exports(const std::filesystem::path& file, const std::filesystem::path& display);

// Loads the library and returns its acceptable plugins. A non-OK status means the whole
// file was refused (cannot be loaded, wrong ABI, broken manifest). `on_stage` (may be
// empty) is told before each stage that runs plugin code.
Result<LoadOutcome> load_library(const std::filesystem::path& file, const std::filesystem::path& display,
                                 const std::function<void(Stage)>& on_stage = {});

}  // namespace atlas::plugin
