// plugin::registry_options: the one place commands take [plugins] settings from.
#include "plugin/registry_options.hpp"

#include <gtest/gtest.h>

namespace atlas::plugin {
namespace {

TEST(RegistryOptions, ConfigDirsThenCommandLineDirsWithTrustSettings) {
  config::Config c;
  c.plugins.dirs = {"/opt/a", "/opt/b"};
  c.plugins.allow_unsafe = true;
  c.plugins.lock_file = "/etc/atlas/plugins.lock";
  RegistryOptions o = registry_options(c, {"/cli/c"});
  EXPECT_EQ(o.dirs, (std::vector<std::filesystem::path>{"/opt/a", "/opt/b", "/cli/c"}));
  EXPECT_TRUE(o.allow_unsafe);
  ASSERT_TRUE(o.lock_file.has_value());  // eval probe used to drop it (no pin check)
  EXPECT_EQ(*o.lock_file, "/etc/atlas/plugins.lock");
  EXPECT_TRUE(o.use_default_dirs);
}

TEST(RegistryOptions, NoLockFileWhenNoneIsConfigured) {
  config::Config c;
  RegistryOptions o = registry_options(c);
  EXPECT_FALSE(o.lock_file.has_value());
  EXPECT_FALSE(o.allow_unsafe);
  EXPECT_TRUE(o.dirs.empty());
}

}  // namespace
}  // namespace atlas::plugin
