// The vendor path end to end: install the SDK and the host from this build into a staging
// prefix, build plugin-template/ against that prefix as a separate CMake project, drop the
// result into a plugin folder and have atlas-host list it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <string>

#include "common/json.hpp"
#include "test_support.hpp"

namespace atlas::test {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

TEST(PluginTemplate, BuildsAgainstTheInstalledSdkAndLoads) {
  TempDir work;
  fs::path staging = work / "staging";
  const std::string cmake = ATLAS_CMAKE_COMMAND;
  for (const char* component : {"sdk", "host"}) {
    RunResult inst = run(q(cmake) + " --install " + q(ATLAS_BUILD_DIR) + " --prefix " + q(staging) + " --component " +
                         component);
    ASSERT_EQ(inst.exit_code, 0) << "cmake --install --component " << component << " failed:\n" << inst.out << inst.err;
  }
  ASSERT_TRUE(fs::exists(staging / "include" / "atlas" / "plugin_abi.h"));

  fs::path build = work / "template-build";
  RunResult configure = run(q(cmake) + " -S " + q(fs::path(ATLAS_TEST_SOURCE_DIR) / "plugin-template") + " -B " +
                            q(build) + " -G " + q(ATLAS_TEST_GENERATOR) + " -DCMAKE_BUILD_TYPE=Release" +
                            " -DCMAKE_CXX_COMPILER=" + q(ATLAS_TEST_CXX_COMPILER) + " -DCMAKE_PREFIX_PATH=" + q(staging));
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  EXPECT_THAT(configure.out + configure.err, ::testing::Not(HasSubstr("CMake Warning")));
  RunResult compile = run(q(cmake) + " --build " + q(build));
  ASSERT_EQ(compile.exit_code, 0) << compile.out << compile.err;

  fs::path plugin_dir = work / "plugins";
  fs::create_directory(plugin_dir);
  ::chmod(plugin_dir.c_str(), 0755);
  fs::copy_file(build / "template_echo.so", plugin_dir / "template_echo.so");
  ::chmod((plugin_dir / "template_echo.so").c_str(), 0755);

  // The build tree's atlas-host, as the brief for the packaging check allows.
  RunResult list = run(atlas_host() + " plugins list --json --plugin-dir " + q(plugin_dir));
  ASSERT_EQ(list.exit_code, 0) << list.err;
  auto doc = json::parse(list.out);
  ASSERT_TRUE(doc.is_ok()) << list.out;
  bool found = false;
  for (const auto& p : json::find(*doc, "plugins")->GetArray()) {
    if (json::get_string(p, "name") == "template_echo") {
      found = true;
      EXPECT_EQ(json::get_string(p, "kind"), "adapter");
      EXPECT_EQ(json::get_string(p, "vendor"), "Example Vendor");
      EXPECT_EQ(fs::path(json::get_string(p, "file")), fs::canonical(plugin_dir / "template_echo.so"));
    }
  }
  EXPECT_TRUE(found) << list.out << list.err;

  // The installed host (staging prefix) finds the template when it is installed next to it.
  fs::path installed_dir = staging / "lib" / "atlas" / "plugins" / "abi1";
  fs::create_directories(installed_dir);
  fs::copy_file(build / "template_echo.so", installed_dir / "template_echo.so", fs::copy_options::overwrite_existing);
  ::chmod((installed_dir / "template_echo.so").c_str(), 0755);
  if (fs::exists(staging / "bin" / "atlas-host")) {
    RunResult installed = run(q(staging / "bin" / "atlas-host") + " plugins inspect template_echo");
    EXPECT_EQ(installed.exit_code, 0) << installed.err;
    EXPECT_THAT(installed.out, HasSubstr("template_echo (adapter) 1.0.0"));
  }
}

}  // namespace
}  // namespace atlas::test
