// plugin_info_from_json reads what the manifest probe child reports (and the probe cache); a
// malformed "abi" must not throw out of the reader (found by fuzz_plugin_info: std::stoi threw
// on non-digit bytes and the host terminated). It reads as ABI 0.0, which every load refuses.
#include "plugin/info_json.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

namespace atlas::plugin {
namespace {

PluginInfo info_with_abi(const std::string& abi_json) {
  auto doc = json::parse(R"({"kind":"judge","name":"j","abi":)" + abi_json + "}", "test");
  EXPECT_TRUE(doc.is_ok());
  return plugin_info_from_json(*doc);
}

TEST(PluginInfoJson, WellFormedAbiIsRead) {
  PluginInfo p = info_with_abi(R"("1.2")");
  EXPECT_EQ(p.abi_major, 1);
  EXPECT_EQ(p.abi_minor, 2);
  EXPECT_EQ(p.kind, Kind::kJudge);
}

TEST(PluginInfoJson, MalformedAbiReadsAsZeroInsteadOfThrowing) {
  for (const char* bad : {R"("\u008c\u008c0.2")", R"("")", R"("x.y")", R"("1.")", R"("99999999.1")", R"("1.2.3")",
                          R"("-1.0")", R"(" 1.0")"}) {
    PluginInfo p = info_with_abi(bad);
    EXPECT_EQ(p.abi_major, 0) << bad;
    EXPECT_EQ(p.abi_minor, 0) << bad;
  }
  PluginInfo no_minor = info_with_abi(R"("1")");
  EXPECT_EQ(no_minor.abi_major, 1);
  EXPECT_EQ(no_minor.abi_minor, 0);
}

}  // namespace
}  // namespace atlas::plugin
