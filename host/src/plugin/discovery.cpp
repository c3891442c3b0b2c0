#include "plugin/discovery.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <system_error>

#include "common/build_info.hpp"
#include "plugin/registry.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

std::string_view plugin_file_suffix() {
#if defined(_WIN32)
  return ".dll";
#elif defined(__APPLE__)
  return ".dylib";
#else
  return ".so";
#endif
}

fs::path executable_dir() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec || exe.empty()) return {};
  return exe.parent_path();
}

std::vector<fs::path> env_plugin_dirs() {
  std::vector<fs::path> out;
  const char* env = std::getenv("ATLAS_PLUGIN_PATH");
  if (!env) return out;
  std::string_view rest(env);
  while (!rest.empty()) {
    size_t colon = rest.find(':');
    std::string_view item = rest.substr(0, colon);
    if (!item.empty()) out.emplace_back(std::string(item));
    if (colon == std::string_view::npos) break;
    rest.remove_prefix(colon + 1);
  }
  return out;
}

std::vector<fs::path> default_plugin_dirs() {
  std::vector<fs::path> out;
  fs::path exe = executable_dir();
  if (!exe.empty()) {
    std::error_code ec;
    // Build tree: plugins are built next to the executable. Install tree: <prefix>/bin/..
    // /<libdir>/atlas/plugins/abi1, where libdir may be multiarch (lib/x86_64-linux-gnu).
    for (fs::path candidate : {exe / "plugins", exe / ".." / build_info::kPluginInstallDir,
                               exe / ".." / "lib" / "atlas" / "plugins" / "abi1"}) {
      candidate = candidate.lexically_normal();
      if (std::find(out.begin(), out.end(), candidate) != out.end()) continue;
      if (fs::is_directory(candidate, ec)) out.push_back(candidate);
    }
  }
  for (auto& d : env_plugin_dirs()) out.push_back(std::move(d));
  return out;
}

fs::path canonical_or_absolute(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  if (!ec) return c;
  c = fs::absolute(p, ec);
  return ec ? p : c.lexically_normal();
}

Result<std::vector<fs::path>> list_plugin_files(const fs::path& dir) {
  std::error_code ec;
  auto st = fs::status(dir, ec);
  if (ec || !fs::exists(st)) {
    return not_found(dir.string() + ": plugin folder does not exist; create it or fix the path (--plugin-dir, "
                     "[plugins] dirs, ATLAS_PLUGIN_PATH)");
  }
  if (!fs::is_directory(st)) {
    return failed_precondition(dir.string() + ": expected a plugin folder, found a file; pass the folder that "
                               "contains the plugin, or use `atlas-host plugins inspect <file>` for one file");
  }
  std::vector<fs::path> files;
  fs::directory_iterator it(dir, ec);
  if (ec) return failed_precondition(dir.string() + ": cannot read the plugin folder: " + ec.message());
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) return failed_precondition(dir.string() + ": cannot read the plugin folder: " + ec.message());
    const fs::path& p = it->path();
    if (p.extension() != plugin_file_suffix()) continue;
    std::error_code sec;
    if (!fs::is_regular_file(fs::status(p, sec))) continue;  // folders, dangling links, devices
    files.push_back(p);
  }
  std::sort(files.begin(), files.end(),
            [](const fs::path& a, const fs::path& b) { return a.filename().string() < b.filename().string(); });
  return files;
}

FileSet collect_plugin_files(const RegistryOptions& options) {
  FileSet set;
  std::vector<std::pair<fs::path, bool>> dirs;  // path, explicit
  for (const auto& d : options.dirs) dirs.emplace_back(d, true);
  if (options.use_default_dirs) {
    for (const auto& d : default_plugin_dirs()) dirs.emplace_back(d, false);
  }
  std::vector<fs::path> seen_dirs, seen_files;
  auto add_file = [&](const fs::path& f) {
    fs::path key = canonical_or_absolute(f);
    if (std::find(seen_files.begin(), seen_files.end(), key) != seen_files.end()) return;
    seen_files.push_back(key);
    set.files.push_back(f);
  };
  for (const auto& [dir, is_explicit] : dirs) {
    fs::path key = canonical_or_absolute(dir);
    if (std::find(seen_dirs.begin(), seen_dirs.end(), key) != seen_dirs.end()) continue;
    seen_dirs.push_back(key);
    auto listed = list_plugin_files(dir);
    if (!listed.is_ok()) {
      set.problems.push_back(
          Diagnostic{dir, is_explicit ? Severity::kError : Severity::kWarning, listed.status().message()});
      if (is_explicit && set.status.is_ok()) set.status = listed.status();
      continue;
    }
    set.dirs.push_back(dir);
    for (const auto& f : listed.value()) add_file(f);
  }
  for (const auto& f : options.files) add_file(f);
  return set;
}

}  // namespace atlas::plugin
