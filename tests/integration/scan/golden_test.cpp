// Golden files: scanning each fixture folder must produce exactly the expected report and
// project files, byte for byte; a second scan must rewrite nothing; a schema change must
// rewrite only generated files and never the user's.
// After an intended change: ATLAS_UPDATE_GOLDEN=1 ctest -R scan_golden
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/loader.hpp"
#include "scan/codegen.hpp"
#include "scan/normalize.hpp"
#include "scan/report.hpp"
#include "scan/scanner.hpp"

namespace fs = std::filesystem;
using namespace atlas::scan;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void spit(const fs::path& p, const std::string& s) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << s;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "atlas-scan-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

Report scan_folder(const fs::path& dir) {
  ScanOptions options;
  options.dir = dir;
  auto found = scan(options);
  EXPECT_TRUE(found.is_ok()) << found.status().to_string();
  Report report;
  report.skipped = found->skipped;
  report.tools = normalize_tools(found->tools, report.skipped);
  return report;
}

GenerateOptions options_for(const std::string& fixture) {
  GenerateOptions o;
  o.plugin_name = fixture + "_tools";
  o.source_summary = "fixtures/" + fixture;
  return o;
}

std::set<std::string> files_under(const fs::path& root) {
  std::set<std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root))
    if (e.is_regular_file()) out.insert(fs::relative(e.path(), root).generic_string());
  return out;
}

class ScanGolden : public ::testing::TestWithParam<std::string> {};

TEST_P(ScanGolden, ReportAndProjectMatchGoldenFiles) {
  const std::string fixture = GetParam();
  const fs::path golden = fs::path(ATLAS_SCAN_GOLDEN) / fixture;
  Report report = scan_folder(fs::path(ATLAS_SCAN_FIXTURES) / fixture);
  ASSERT_FALSE(report.tools.empty());
  std::string report_text = render_text(report, /*verbose=*/true);
  auto files = render_project(report.tools, options_for(fixture));

  if (std::getenv("ATLAS_UPDATE_GOLDEN")) {
    fs::remove_all(golden);
    spit(golden / "report.txt", report_text);
    for (const auto& f : files) spit(golden / "project" / f.path, f.content);
  }
  ASSERT_TRUE(fs::exists(golden / "report.txt")) << "missing golden files in " << golden
                                                 << " (run with ATLAS_UPDATE_GOLDEN=1)";
  EXPECT_EQ(report_text, slurp(golden / "report.txt"));
  std::set<std::string> expected = files_under(golden / "project"), produced;
  for (const auto& f : files) {
    produced.insert(f.path);
    EXPECT_EQ(f.content, slurp(golden / "project" / f.path)) << f.path;
  }
  EXPECT_EQ(produced, expected);
}

TEST_P(ScanGolden, SecondScanRewritesNothing) {
  const std::string fixture = GetParam();
  TempDir out;
  Report report = scan_folder(fs::path(ATLAS_SCAN_FIXTURES) / fixture);
  auto first = write_project(render_project(report.tools, options_for(fixture)), out.path);
  ASSERT_TRUE(first.is_ok()) << first.status().to_string();
  for (const auto& r : first.value()) EXPECT_EQ(r.action, FileAction::kCreated) << r.path;
  auto stamp = fs::last_write_time(out.path / "gen/tools.hpp");

  Report again = scan_folder(fs::path(ATLAS_SCAN_FIXTURES) / fixture);
  auto second = write_project(render_project(again.tools, options_for(fixture)), out.path);
  ASSERT_TRUE(second.is_ok());
  for (const auto& r : second.value())
    EXPECT_TRUE(r.action == FileAction::kUnchanged || r.action == FileAction::kKept)
        << r.path << " was " << file_action_name(r.action);
  EXPECT_EQ(fs::last_write_time(out.path / "gen/tools.hpp"), stamp);
}

TEST_P(ScanGolden, GeneratedConfigIsAcceptedByTheConfigLoader) {
  const std::string fixture = GetParam();
  auto files = render_project(scan_folder(fs::path(ATLAS_SCAN_FIXTURES) / fixture).tools, options_for(fixture));
  for (const auto& f : files) {
    if (f.path != "atlas.toml") continue;
    auto config = atlas::config::parse_config(f.content, "atlas.toml");
    ASSERT_TRUE(config.is_ok()) << config.status().message() << "\n" << f.content;
    EXPECT_EQ(config->agent.adapter, fixture + "_tools");
    return;
  }
  FAIL() << "no atlas.toml generated";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ScanGolden, ::testing::Values("json", "python", "typescript", "openapi"));

TEST(ScanRescan, SchemaChangeRewritesOnlyGeneratedFilesAndKeepsUserCode) {
  TempDir work;
  fs::path src = work.path / "src";
  fs::path out = work.path / "out";
  fs::create_directories(src);
  fs::copy_file(fs::path(ATLAS_SCAN_FIXTURES) / "json/mcp_tools.json", src / "tools.json");
  Report report = scan_folder(src);
  ASSERT_TRUE(write_project(render_project(report.tools, options_for("edit")), out).is_ok());

  // The user implements a tool and edits the config.
  spit(out / "src/tools/ping.cpp", "// mine\n");
  spit(out / "atlas.toml", "# my config\n");

  // The schema changes: a new property on ping, and ticket-create disappears.
  std::string text = slurp(src / "tools.json");
  text.replace(text.find(R"("inputSchema": {"type": "object", "additionalProperties": false})"),
               std::string(R"("inputSchema": {"type": "object", "additionalProperties": false})").size(),
               R"("inputSchema": {"type": "object", "properties": {"echo": {"type": "string"}}})");
  size_t start = text.find(R"(,
      {
        "name": "ticket-create")");
  size_t end = text.find("\n    ]");
  ASSERT_NE(start, std::string::npos);
  text.erase(start, end - start);
  spit(src / "tools.json", text);

  Report changed = scan_folder(src);
  ASSERT_EQ(changed.tools.size(), 2u);
  auto results = write_project(render_project(changed.tools, options_for("edit")), out);
  ASSERT_TRUE(results.is_ok()) << results.status().to_string();
  std::map<std::string, FileAction> by_path;
  for (const auto& r : results.value()) by_path[r.path] = r.action;
  EXPECT_EQ(by_path["gen/ping_args.hpp"], FileAction::kUpdated);
  EXPECT_EQ(by_path["gen/files_read_args.hpp"], FileAction::kUnchanged);
  EXPECT_EQ(by_path["gen/ticket_create_args.hpp"], FileAction::kRemoved);
  EXPECT_EQ(by_path["src/tools/ticket_create.cpp"], FileAction::kOrphaned);
  EXPECT_EQ(by_path["src/tools/ping.cpp"], FileAction::kKept);
  EXPECT_EQ(slurp(out / "src/tools/ping.cpp"), "// mine\n");
  EXPECT_EQ(slurp(out / "atlas.toml"), "# my config\n");
  EXPECT_FALSE(fs::exists(out / "gen/ticket_create_args.hpp"));
  EXPECT_TRUE(fs::exists(out / "src/tools/ticket_create.cpp"));  // user code is never deleted
  EXPECT_NE(slurp(out / "gen/ping_args.hpp").find("std::optional<std::string> echo;"), std::string::npos);
}

TEST(ScanRescan, RefusesToOverwriteAFileItDidNotGenerate) {
  TempDir out;
  spit(out.path / "CMakeLists.txt", "project(mine)\n");
  Report report = scan_folder(fs::path(ATLAS_SCAN_FIXTURES) / "json");
  auto results = write_project(render_project(report.tools, options_for("json")), out.path);
  ASSERT_FALSE(results.is_ok());
  EXPECT_NE(results.status().message().find("CMakeLists.txt exists and was not generated by atlas-host scan"),
            std::string::npos);
  EXPECT_EQ(slurp(out.path / "CMakeLists.txt"), "project(mine)\n");
  EXPECT_FALSE(fs::exists(out.path / "gen"));
}

}  // namespace
