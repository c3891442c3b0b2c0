#include "plugin/loader.hpp"

#include "plugin/elf_exports.hpp"

#include <dlfcn.h>

// Boost 1.74's library_info headers use std::vector without including it.
#include <vector>
#if !defined(__linux__)
#include <boost/dll/library_info.hpp>
#endif
#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstring>
#include <set>

namespace atlas::plugin {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kMaxPluginsPerLibrary = 256;

class DllLibrary final : public Library {
 public:
  DllLibrary(fs::path file, boost::dll::shared_library lib) : file_(std::move(file)), lib_(std::move(lib)) {}
  const fs::path& file() const override { return file_; }

 private:
  fs::path file_;
  boost::dll::shared_library lib_;
};

// Copies a size-prefixed struct the plugin wrote into a zeroed host-sized struct.
template <typename T>
T read_sized(const T* src) {
  T local;
  std::memset(static_cast<void*>(&local), 0, sizeof(T));
  uint32_t size = src->struct_size;
  std::memcpy(static_cast<void*>(&local), static_cast<const void*>(src), std::min<size_t>(size, sizeof(T)));
  return local;
}

std::string copy_str(const char* s) { return s ? std::string(s) : std::string(); }

std::string abi_string(unsigned major, unsigned minor) { return std::to_string(major) + "." + std::to_string(minor); }
const std::string kHostAbi = abi_string(ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR);  // NOLINT(cert-err58-cpp): "1.2" cannot fail to allocate in practice

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

const char* call_name(atlas_kind k) {
  switch (k) {
    case ATLAS_KIND_ADAPTER: return "invoke";
    case ATLAS_KIND_JUDGE: return "judge";
    case ATLAS_KIND_PROBE: return "probe";
    default: return "execute";
  }
}

// Reads the kind-specific vtable into the kind-independent VTable.
template <typename VT>
Result<VTable> read_vtable(const void* raw, atlas_kind kind, const std::string& who) {
  const auto* src = static_cast<const VT*>(raw);
  if (src->struct_size < ATLAS_VTABLE_V1_0_SIZE) {
    return invalid_argument(who + " has a vtable with struct_size " + std::to_string(src->struct_size) +
                            ", expected at least " + std::to_string(ATLAS_VTABLE_V1_0_SIZE) +
                            " (the ABI 1.0 layout); rebuild the plugin against the AtlasSDK headers");
  }
  VT v = read_sized(src);
  VTable out;
  out.create = v.create;
  out.destroy = v.destroy;
  out.cancel = v.cancel;
  if constexpr (std::is_same_v<VT, atlas_storage_vtable_v1>) {
    out.execute = v.execute;
  } else if constexpr (std::is_same_v<VT, atlas_adapter_vtable_v1>) {
    out.call = v.invoke;
  } else if constexpr (std::is_same_v<VT, atlas_judge_vtable_v1>) {
    out.call = v.judge;
  } else {
    out.call = v.probe;
  }
  const char* missing = !out.create ? "create" : !out.destroy ? "destroy" : (!out.call && !out.execute) ? call_name(kind) : nullptr;
  if (missing) {
    return invalid_argument(who + " has no " + std::string(missing) +
                            " function in its vtable (NULL), expected all of create, destroy and " + call_name(kind) +
                            "; the plugin is incomplete: ask its vendor for a fixed build");
  }
  return out;
}

Result<VTable> read_vtable_for(atlas_kind kind, const void* raw, const std::string& who) {
  switch (kind) {
    case ATLAS_KIND_ADAPTER: return read_vtable<atlas_adapter_vtable_v1>(raw, kind, who);
    case ATLAS_KIND_JUDGE: return read_vtable<atlas_judge_vtable_v1>(raw, kind, who);
    case ATLAS_KIND_PROBE: return read_vtable<atlas_probe_vtable_v1>(raw, kind, who);
    default: return read_vtable<atlas_storage_vtable_v1>(raw, kind, who);
  }
}

// Checks one descriptor; returns the plugin or the reason it is refused.
Result<LoadedPlugin> read_descriptor(const atlas_plugin_desc* raw, uint32_t index, const atlas_plugin_manifest& m,
                                     const fs::path& file, const fs::path& display,
                                     std::vector<std::string>& warnings) {
  std::string where = display.string() + ": plugin #" + std::to_string(index);
  if (!raw) {
    return invalid_argument(where + " refused: its descriptor pointer is NULL, expected a pointer to an "
                            "atlas_plugin_desc; the manifest is corrupt: rebuild the plugin");
  }
  if (raw->struct_size < ATLAS_PLUGIN_DESC_V1_0_SIZE) {
    return invalid_argument(where + " refused: descriptor struct_size is " + std::to_string(raw->struct_size) +
                            ", expected at least " + std::to_string(ATLAS_PLUGIN_DESC_V1_0_SIZE) +
                            " (the ABI 1.0 layout of atlas_plugin_desc); the plugin was built against a broken or "
                            "foreign header: rebuild it against the AtlasSDK headers");
  }
  atlas_plugin_desc d = read_sized(raw);
  LoadedPlugin p;
  p.info.name = copy_str(d.name);
  if (!p.info.name.empty()) where = display.string() + ": plugin '" + p.info.name + "'";
  if (d.kind < ATLAS_KIND_ADAPTER || d.kind > ATLAS_KIND_STORAGE) {
    return invalid_argument(where + " refused: unknown kind " + std::to_string(d.kind) +
                            ", expected 1 (adapter), 2 (judge), 3 (probe) or 4 (storage); the plugin is for a "
                            "newer or different host");
  }
  p.info.kind = static_cast<Kind>(d.kind);
  std::string who = where + " (" + std::string(kind_name(p.info.kind)) + ")";
  if (!valid_name(p.info.name)) {
    return invalid_argument(who + " refused: name \"" + p.info.name +
                            "\" is not valid, expected 1-64 characters of [a-z0-9_-]; the vendor must rename it");
  }
  if (!d.vtable) {
    return invalid_argument(who + " refused: its vtable pointer is NULL, expected an atlas_" +
                            std::string(kind_name(p.info.kind)) + "_vtable_v1; the plugin is incomplete");
  }
  ATLAS_ASSIGN_OR_RETURN(p.vtable, read_vtable_for(d.kind, d.vtable, who + " refused:"));
  p.info.version = copy_str(d.version);
  p.info.vendor = copy_str(d.vendor);
  p.info.license = copy_str(d.license);
  p.info.description = copy_str(d.description);
  p.info.capabilities = d.capabilities;
  p.info.config_schema = copy_str(d.config_schema_json);
  p.info.file = file;
  p.info.abi_major = m.abi_major;
  p.info.abi_minor = m.abi_minor;
  p.info.build_tag = copy_str(m.build_tag);
  p.info.has_cancel = p.vtable.cancel != nullptr;
  std::string schema_text = p.info.config_schema.empty() ? kNoConfigSchema : p.info.config_schema;
  auto schema = json::Schema::compile(schema_text, "config_schema_json");
  if (!schema.is_ok()) {
    return invalid_argument(who + " refused: its config schema is not usable: " + schema.status().message() +
                            "; the vendor must fix config_schema_json");
  }
  for (const auto& kw : schema->unsupported_keywords()) {
    warnings.push_back(who + ": config schema keyword " + kw +
                       " is not enforced (the host validates JSON Schema draft-04); configs violating it are "
                       "accepted");
  }
  p.schema = std::move(schema).value();
  return p;
}

}  // namespace

std::string_view stage_description(Stage s) {
  switch (s) {
    case Stage::kTrust: return "during the trust checks";
    case Stage::kInspect: return "while its exports were inspected";
    case Stage::kLoad: return "while it was loaded (its static initialisers)";
    case Stage::kManifest: return "in its manifest function";
    case Stage::kChecks: return "while its descriptors were read";
    case Stage::kDone: return "after loading";
  }
  return "";
}

Status inspect_exports(const fs::path& file, const fs::path& display) {
  std::vector<std::string> symbols;
#if defined(__linux__)
  // Boost 1.74's library_info misreads ELF symbol names (see elf_exports.hpp), so ELF
  // files are read directly.
  auto exports = elf_dynamic_exports(file);
  if (!exports.is_ok()) {
    std::string msg = exports.status().message();
    std::string prefix = file.string() + ": ";
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, prefix.size());
    return invalid_argument(display.string() + ": refused: not a loadable plugin library (" + msg +
                            "), expected a shared object for this machine built with the AtlasSDK; remove it from the "
                            "plugin folder, or install the plugin's build for this platform");
  }
  symbols = std::move(exports).value();
#else
  try {
    boost::dll::library_info info(boost::dll::fs::path(file.string()), true);
    symbols = info.symbols();
  } catch (const std::exception& e) {
    return invalid_argument(display.string() + ": refused: not a native shared library (" + e.what() +
                            "), expected a plugin built with the AtlasSDK; remove it from the plugin folder");
  }
#endif
  if (std::find(symbols.begin(), symbols.end(), ATLAS_MANIFEST_SYMBOL) != symbols.end()) return Status::ok();
  std::string found = symbols.empty() ? "no exported symbols"
                                      : std::to_string(symbols.size()) + " other exported symbol" +
                                            (symbols.size() == 1 ? "" : "s") + ", e.g. " + symbols.front();
  return invalid_argument(display.string() + ": refused: it does not export " ATLAS_MANIFEST_SYMBOL
                          " (found " + found + "), so it is not an atlas plugin; remove it from the plugin folder, or "
                          "build it with ATLAS_PLUGIN(...) from <atlas/sdk.hpp>");
}

Result<LoadOutcome> load_library(const fs::path& file, const fs::path& display,
                                 const std::function<void(Stage)>& on_stage) {
  auto stage = [&](Stage s) {
    if (on_stage) on_stage(s);
  };
  boost::dll::load_mode::type mode = boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local;
#ifdef RTLD_NODELETE
  // Never unmap plugin code: a late callback, thread or TLS destructor would crash.
  mode = mode | static_cast<boost::dll::load_mode::type>(RTLD_NODELETE);
#endif
  fs::path abs = fs::absolute(file);
  stage(Stage::kLoad);
  boost::dll::shared_library lib;
  try {
    lib.load(boost::dll::fs::path(abs.string()), mode);
  } catch (const std::exception& e) {
    return failed_precondition(display.string() + ": refused: the dynamic loader failed: " + e.what() +
                               "; a missing dependency or a build for another platform is the usual cause (check with "
                               "`ldd " + display.string() + "`)");
  }
  if (!lib.has(ATLAS_MANIFEST_SYMBOL)) {
    return invalid_argument(display.string() + ": refused: " ATLAS_MANIFEST_SYMBOL " cannot be resolved after "
                            "loading; rebuild the plugin with ATLAS_PLUGIN(...)");
  }
  auto& manifest_fn = lib.get<const atlas_plugin_manifest*(uint16_t, uint16_t)>(ATLAS_MANIFEST_SYMBOL);
  stage(Stage::kManifest);
  const atlas_plugin_manifest* raw = manifest_fn(ATLAS_ABI_MAJOR, ATLAS_ABI_MINOR);
  stage(Stage::kChecks);
  if (!raw) {
    return failed_precondition(display.string() + ": refused: " ATLAS_MANIFEST_SYMBOL "(" + kHostAbi +
                               ") returned NULL: the plugin declares it cannot work with host ABI " + kHostAbi +
                               "; install a build of the plugin made for ABI " + std::to_string(ATLAS_ABI_MAJOR) + ".x");
  }
  if (raw->struct_size < ATLAS_PLUGIN_MANIFEST_V1_0_SIZE) {
    return invalid_argument(display.string() + ": refused: its manifest has struct_size " +
                            std::to_string(raw->struct_size) + ", expected at least " +
                            std::to_string(ATLAS_PLUGIN_MANIFEST_V1_0_SIZE) +
                            " (the ABI 1.0 layout of atlas_plugin_manifest); it was built against a broken or foreign "
                            "header: rebuild it against the AtlasSDK headers");
  }
  atlas_plugin_manifest m = read_sized(raw);
  std::string plugin_abi = abi_string(m.abi_major, m.abi_minor);
  if (m.abi_major != ATLAS_ABI_MAJOR) {
    return failed_precondition(display.string() + ": refused: built for plugin ABI " + plugin_abi +
                               ", this host speaks ABI " + kHostAbi + " (the major version must match); rebuild the "
                               "plugin against AtlasSDK " + std::to_string(ATLAS_ABI_MAJOR) +
                               ".x, or use an atlas-host release for ABI " + std::to_string(m.abi_major));
  }
  if (m.abi_minor > ATLAS_ABI_MINOR) {
    return failed_precondition(display.string() + ": refused: built for plugin ABI " + plugin_abi +
                               ", newer than this host's ABI " + kHostAbi + " (it may rely on features this host "
                               "lacks); upgrade atlas-host, or rebuild the plugin against AtlasSDK " + kHostAbi);
  }
  if (m.count == 0 || !m.plugins) {
    return invalid_argument(display.string() + ": refused: its manifest lists no plugins (count " +
                            std::to_string(m.count) + "), expected at least one descriptor");
  }
  if (m.count > kMaxPluginsPerLibrary) {
    return invalid_argument(display.string() + ": refused: its manifest claims " + std::to_string(m.count) +
                            " plugins, expected at most " + std::to_string(kMaxPluginsPerLibrary) +
                            "; the manifest is corrupt: rebuild the plugin");
  }
  auto library = std::make_shared<DllLibrary>(abs, std::move(lib));
  LoadOutcome out;
  std::set<std::pair<Kind, std::string>> seen;
  for (uint32_t i = 0; i < m.count; ++i) {
    auto p = read_descriptor(m.plugins[i], i, m, abs, display, out.warnings);
    if (!p.is_ok()) {
      out.refusals.push_back(p.status().message());
      continue;
    }
    if (!seen.insert({p->info.kind, p->info.name}).second) {
      out.refusals.push_back(display.string() + ": plugin '" + p->info.name + "' refused: the library declares " +
                             std::string(kind_name(p->info.kind)) + " '" + p->info.name +
                             "' twice; the vendor must rename one");
      continue;
    }
    p->library = library;
    out.plugins.push_back(std::make_shared<const LoadedPlugin>(std::move(p).value()));
  }
  stage(Stage::kDone);
  return out;
}

}  // namespace atlas::plugin
