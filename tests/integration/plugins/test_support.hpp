// Helpers shared by the plugin loader tests: fixture paths and throw-away folders.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace atlas::test {

// Tests never read or write the user's plugin probe cache; the ones about the cache name
// their own file (RegistryOptions::probe_cache or ATLAS_PLUGIN_CACHE).
inline const bool kProbeCacheOffByDefault = (::setenv("ATLAS_PLUGIN_CACHE", "off", 0), true);

inline std::filesystem::path fixture(const std::string& name) {
  return std::filesystem::path(ATLAS_TEST_FIXTURE_DIR) / ("fixture_" + name + ".so");
}

// A private (mode 0700) temporary folder, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "atlas-plugin-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

  // Copies a fixture in as `as` (default: its own name) with mode 0755.
  std::filesystem::path add_fixture(const std::string& name, const std::string& as = "") {
    std::filesystem::path dst = path_ / (as.empty() ? "fixture_" + name + ".so" : as);
    std::filesystem::copy_file(fixture(name), dst, std::filesystem::copy_options::overwrite_existing);
    ::chmod(dst.c_str(), 0755);
    return dst;
  }
  std::filesystem::path write(const std::string& name, const std::string& text) {
    std::filesystem::path p = path_ / name;
    std::ofstream(p) << text;
    ::chmod(p.c_str(), 0644);
    return p;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `command` through /bin/sh and captures stdout, stderr and the exit code.
inline RunResult run(const std::string& command) {
  TempDir t;
  std::string full = command + " >" + (t / "out").string() + " 2>" + (t / "err").string() + " </dev/null";
  int status = std::system(full.c_str());
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_file(t / "out");
  r.err = read_file(t / "err");
  return r;
}

inline std::string atlas_host() { return std::string(ATLAS_TEST_BIN_DIR) + "/atlas-host"; }

}  // namespace atlas::test
