// Helpers shared by the plugin loader tests: fixture paths and throw-away folders.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace atlas::test {

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

}  // namespace atlas::test
