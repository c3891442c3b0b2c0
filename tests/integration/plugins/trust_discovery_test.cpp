// Discovery over real folders and the trust checks (permissions, plugins.lock), with real
// fixture libraries copied into private temporary folders.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <string>

#include "plugin/discovery.hpp"
#include "plugin/isolated_probe.hpp"
#include "plugin/registry.hpp"
#include "plugin/trust.hpp"
#include "test_support.hpp"

namespace atlas::plugin {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;
using test::TempDir;

RegistryOptions in_dir(const fs::path& dir) {
  RegistryOptions o;
  o.use_default_dirs = false;
  o.dirs = {dir};
  return o;
}

std::string all_errors(const Registry& r) {
  std::string out;
  for (const auto& d : r.diagnostics()) {
    if (d.severity == Severity::kError) out += d.message + "\n";
  }
  return out;
}

TEST(Discovery, ScansOneLevelSortedAndDedupesSymlinks) {
  TempDir dir;
  dir.add_fixture("good_multi", "b_multi.so");
  dir.add_fixture("old_minor", "a_old.so");
  dir.write("README.txt", "not a plugin");
  fs::create_directory(dir / "nested");
  ::chmod((dir / "nested").c_str(), 0755);
  fs::copy_file(test::fixture("error_status"), dir / "nested" / "deep.so");
  fs::create_symlink(dir / "b_multi.so", dir / "c_link.so");

  auto files = list_plugin_files(dir.path());
  ASSERT_TRUE(files.is_ok());
  std::vector<std::string> names;
  for (const auto& f : *files) names.push_back(f.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"a_old.so", "b_multi.so", "c_link.so"}));

  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_EQ(all_errors(r), "") << "the symlink resolves to an already loaded file and is skipped";
  ASSERT_EQ(r.plugins().size(), 3u);
  EXPECT_EQ(r.plugins()[0].name, "old_minor");
  EXPECT_EQ(r.find(Kind::kAdapter, "error_status"), nullptr) << "discovery is not recursive";
}

TEST(Discovery, MissingExplicitFolderIsAnError) {
  Registry r;
  Status st = r.discover(in_dir("/nonexistent/atlas-plugins"));
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_THAT(st.message(), AllOf(HasSubstr("/nonexistent/atlas-plugins"), HasSubstr("does not exist")));
}

TEST(Discovery, EnvironmentPathIsPartOfTheDefaults) {
  TempDir a, b;
  a.add_fixture("good_multi");
  ::setenv("ATLAS_PLUGIN_PATH", (a.path().string() + "::" + b.path().string()).c_str(), 1);
  auto dirs = env_plugin_dirs();
  auto defaults = default_plugin_dirs();
  ::unsetenv("ATLAS_PLUGIN_PATH");
  EXPECT_EQ(dirs, (std::vector<fs::path>{a.path(), b.path()}));
  EXPECT_NE(std::find(defaults.begin(), defaults.end(), a.path()), defaults.end());
}

TEST(Discovery, SameNameInTwoFilesKeepsTheFirstAndNamesBoth) {
  TempDir a, b;
  a.add_fixture("good_multi", "vendor_one.so");
  b.add_fixture("good_multi", "vendor_two.so");
  RegistryOptions o;
  o.use_default_dirs = false;
  o.dirs = {a.path(), b.path()};
  Registry r;
  ASSERT_TRUE(r.discover(o).is_ok());
  EXPECT_EQ(r.plugins().size(), 2u);
  EXPECT_EQ(r.find(Kind::kAdapter, "fixture_echo")->file, fs::canonical(a / "vendor_one.so"));
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("vendor_two.so"), HasSubstr("already provided by"),
                                   HasSubstr("vendor_one.so"), HasSubstr("remove one of the two files")));
}

TEST(Trust, WorldWritableFileIsRefusedBeforeLoading) {
  TempDir dir;
  fs::path f = dir.add_fixture("good_multi", "open.so");
  ::chmod(f.c_str(), 0666);
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_TRUE(r.plugins().empty());
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("open.so: refused: the file is writable by group and others (mode 0666)"),
                                   HasSubstr("chmod go-w " + f.string())));

  RegistryOptions unsafe = in_dir(dir.path());
  unsafe.allow_unsafe = true;
  Registry r2;
  ASSERT_TRUE(r2.discover(unsafe).is_ok());
  EXPECT_EQ(r2.plugins().size(), 2u);
}

TEST(Trust, GroupWritableFolderIsRefused) {
  TempDir dir;
  dir.add_fixture("good_multi");
  ::chmod(dir.path().c_str(), 0770);
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_TRUE(r.plugins().empty());
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("its folder " + dir.path().string()), HasSubstr("writable by group"),
                                   HasSubstr("(mode 0770)")));
}

TEST(Trust, LockFilePinsTheDigest) {
  TempDir dir, locks;
  fs::path f = dir.add_fixture("good_multi", "pinned.so");
  auto digest = sha256_file(f);
  ASSERT_TRUE(digest.is_ok());
  EXPECT_EQ(digest->size(), 64u);

  RegistryOptions o = in_dir(dir.path());
  o.lock_file = locks.write("good.lock", "# pins\n" + *digest + "  pinned.so\n");
  Registry ok;
  ASSERT_TRUE(ok.discover(o).is_ok());
  EXPECT_EQ(ok.plugins().size(), 2u) << all_errors(ok);

  std::string wrong(64, 'a');
  o.lock_file = locks.write("wrong.lock", wrong + "  pinned.so\n");
  Registry mismatch;
  ASSERT_TRUE(mismatch.discover(o).is_ok());
  EXPECT_TRUE(mismatch.plugins().empty());
  EXPECT_THAT(all_errors(mismatch), AllOf(HasSubstr("pinned.so: refused: SHA-256 mismatch"), HasSubstr("wrong.lock:1 pins " + wrong),
                                          HasSubstr("the file has " + *digest)));

  o.lock_file = locks.write("other.lock", *digest + "  something_else.so\n");
  Registry unlisted;
  ASSERT_TRUE(unlisted.discover(o).is_ok());
  EXPECT_THAT(all_errors(unlisted), AllOf(HasSubstr("not listed in"), HasSubstr("sha256sum")));
}

TEST(Trust, LockFileInsideThePluginFolderAppliesAutomatically) {
  TempDir dir;
  fs::path good = dir.add_fixture("good_multi", "good.so");
  dir.add_fixture("old_minor", "sneaked_in.so");
  dir.write("plugins.lock", *sha256_file(good) + " *good.so\n");
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_EQ(r.plugins().size(), 2u);
  EXPECT_EQ(r.find(Kind::kAdapter, "old_minor"), nullptr);
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("sneaked_in.so: refused: not listed in"), HasSubstr("plugins.lock")));
}

TEST(Trust, MalformedLockFileNamesTheLine) {
  TempDir dir;
  fs::path lock = dir.write("bad.lock", "# ok\n\nnot-a-digest  x.so\n");
  auto parsed = LockFile::load(lock);
  ASSERT_FALSE(parsed.is_ok());
  EXPECT_THAT(parsed.status().message(), AllOf(HasSubstr("bad.lock:3"), HasSubstr("not-a-digest")));
  RegistryOptions o = in_dir(dir.path());
  o.lock_file = lock;
  Registry r;
  EXPECT_EQ(r.discover(o).code(), StatusCode::kInvalidArgument);
}

TEST(IsolatedProbe, SegfaultInManifestIsReportedNotFatal) {
  RegistryOptions o;
  auto report = probe_isolated(test::fixture("segv_manifest"), o);
  EXPECT_TRUE(report.crashed);
  EXPECT_FALSE(report.ok());
  EXPECT_EQ(report.signal, SIGSEGV);
  ASSERT_EQ(report.diagnostics.size(), 1u);
  EXPECT_THAT(report.diagnostics[0].message,
              AllOf(HasSubstr("fixture_segv_manifest.so: refused: crashed with signal 11 (SIGSEGV) in its manifest function"),
                    HasSubstr("report the problem to its vendor")));
}

TEST(IsolatedProbe, HangingManifestIsKilledAfterTheTimeout) {
  auto report = probe_isolated(test::fixture("hang_manifest"), RegistryOptions{}, std::chrono::milliseconds(500));
  EXPECT_TRUE(report.crashed);
  ASSERT_EQ(report.diagnostics.size(), 1u);
  EXPECT_THAT(report.diagnostics[0].message,
              AllOf(HasSubstr("fixture_hang_manifest.so: refused: did not finish within 0.5 s (stuck in its manifest "
                              "function)")));
}

TEST(IsolatedProbe, GoodFileReportsItsPlugins) {
  auto report = probe_isolated(test::fixture("good_multi"), RegistryOptions{});
  EXPECT_TRUE(report.ok());
  ASSERT_EQ(report.plugins.size(), 2u);
  EXPECT_EQ(report.plugins[0].name, "fixture_echo");
  EXPECT_EQ(report.plugins[0].version, "1.2.3");
  EXPECT_TRUE(report.plugins[0].has_cancel);
  EXPECT_THAT(report.plugins[0].config_schema, HasSubstr("\"prefix\""));
}

TEST(IsolatedProbe, RefusedFileCarriesTheLoaderMessage) {
  auto report = probe_isolated(test::fixture("abi_major"), RegistryOptions{});
  EXPECT_FALSE(report.crashed);
  EXPECT_FALSE(report.ok());
  ASSERT_FALSE(report.diagnostics.empty());
  EXPECT_THAT(report.diagnostics[0].message, HasSubstr("built for plugin ABI 2.0"));
}


// ---- discovery never runs plugin code in this process ---------------------------------

bool mapped_into_this_process(const fs::path& file) {
  return test::read_file("/proc/self/maps").find(file.string()) != std::string::npos;
}

TEST(Discovery, BrokenManifestsAreProbedInAChildAndTheResultIsCached) {
  TempDir dir, cache_dir;
  dir.add_fixture("good_multi");
  dir.add_fixture("segv_manifest");
  dir.add_fixture("hang_manifest");
  dir.add_fixture("exit_manifest");
  RegistryOptions o = in_dir(dir.path());
  o.probe_timeout = std::chrono::seconds(2);
  o.probe_cache = cache_dir / "probes.json";

  Registry first;
  ASSERT_TRUE(first.discover(o).is_ok());
  EXPECT_NE(first.find(Kind::kAdapter, "fixture_echo"), nullptr);
  std::string errors = all_errors(first);
  EXPECT_THAT(errors, AllOf(HasSubstr("fixture_segv_manifest.so: refused: crashed with signal 11 (SIGSEGV) in its "
                                      "manifest function"),
                            HasSubstr("fixture_hang_manifest.so: refused: did not finish within 2 s (stuck in its "
                                      "manifest function)"),
                            HasSubstr("fixture_exit_manifest.so: refused: the probe process exited with status 0 in "
                                      "its manifest function")));
  EXPECT_EQ(first.probe_counts().probed, 4u);
  EXPECT_EQ(first.probe_counts().cached, 0u);

  // Same files: answered from the cache, same verdicts, no child.
  Registry second;
  ASSERT_TRUE(second.discover(o).is_ok());
  EXPECT_EQ(second.probe_counts().probed, 0u);
  EXPECT_EQ(second.probe_counts().cached, 4u);
  EXPECT_EQ(all_errors(second), errors);
  EXPECT_EQ(second.plugins().size(), 2u);

  // A file whose identity changed (here its modification time) is probed again.
  fs::path good = dir / "fixture_good_multi.so";
  fs::last_write_time(good, fs::last_write_time(good) - std::chrono::hours(1));
  Registry third;
  ASSERT_TRUE(third.discover(o).is_ok());
  EXPECT_EQ(third.probe_counts().probed, 1u);
  EXPECT_EQ(third.probe_counts().cached, 3u);
}

TEST(Discovery, ACacheFileOthersCanWriteIsIgnored) {
  TempDir dir, cache_dir;
  dir.add_fixture("good_multi");
  RegistryOptions o = in_dir(dir.path());
  o.probe_cache = cache_dir / "probes.json";
  Registry fill;
  ASSERT_TRUE(fill.discover(o).is_ok());
  ::chmod(o.probe_cache->c_str(), 0666);
  Registry r;
  ASSERT_TRUE(r.discover(o).is_ok());
  EXPECT_EQ(r.probe_counts().cached, 0u);
  EXPECT_EQ(r.probe_counts().probed, 1u);
}

TEST(Discovery, OnlyTheLibrariesACommandUsesAreLoadedIntoTheProcess) {
  TempDir dir;
  fs::path file = dir.add_fixture("good_multi", "loaded_only_when_used.so");
  RegistryOptions o = in_dir(dir.path());
  o.isolation = Isolation::kInProcess;
  Registry r;
  ASSERT_TRUE(r.discover(o).is_ok());
  ASSERT_NE(r.find(Kind::kAdapter, "fixture_echo"), nullptr);
  EXPECT_FALSE(mapped_into_this_process(file)) << "discovery loaded the library into the host";
  auto a = r.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_TRUE(a.is_ok()) << a.status().to_string();
  EXPECT_TRUE(mapped_into_this_process(file));
}

TEST(Discovery, AFileReplacedAfterDiscoveryIsNotLoaded) {
  TempDir dir;
  fs::path file = dir.add_fixture("good_multi", "swapped.so");
  RegistryOptions o = in_dir(dir.path());
  o.isolation = Isolation::kInProcess;
  Registry r;
  ASSERT_TRUE(r.discover(o).is_ok());
  fs::remove(file);
  dir.add_fixture("error_status", "swapped.so");
  auto a = r.create_adapter("fixture_echo", R"({"prefix":""})");
  ASSERT_FALSE(a.is_ok());
  EXPECT_EQ(a.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(a.status().message(), AllOf(HasSubstr("swapped.so: refused: the file changed after it was checked")));
  EXPECT_FALSE(mapped_into_this_process(file));
}

// ---- ownership and every folder up to / --------------------------------------------------

TEST(Trust, WorldWritableAncestorFolderIsRefused) {
  TempDir dir;
  fs::path open = dir / "open";
  fs::path plugins = open / "plugins";
  fs::create_directories(plugins);
  ::chmod(open.c_str(), 0777);
  ::chmod(plugins.c_str(), 0755);
  fs::copy_file(test::fixture("good_multi"), plugins / "p.so");
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(plugins)).is_ok());
  EXPECT_TRUE(r.plugins().empty());
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("p.so: refused: its folder " + open.string() +
                                             " is writable by group and others (mode 0777)"),
                                   HasSubstr("chmod go-w " + open.string())));
}

TEST(Trust, StickyWorldWritableFolderIsAcceptedOnlyWhenRootOwnsIt) {
  TempDir dir;
  fs::path shared = dir / "shared";
  fs::path mine = shared / "mine";
  fs::create_directories(mine);
  ::chmod(shared.c_str(), 01777);
  ::chmod(mine.c_str(), 0700);
  fs::copy_file(test::fixture("good_multi"), mine / "p.so");
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(mine)).is_ok());
  if (::geteuid() == 0) {
    EXPECT_EQ(r.plugins().size(), 2u) << all_errors(r) << " (a root-owned sticky folder, like /tmp, is safe)";
  } else {
    EXPECT_THAT(all_errors(r), HasSubstr("its folder " + shared.string() + " is writable by group and others"));
  }
}

TEST(Trust, FilesAndFoldersOwnedByAnotherUserAreRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file to another user";
  TempDir dir;
  fs::path file = dir.add_fixture("good_multi", "theirs.so");
  ASSERT_EQ(::chown(file.c_str(), 65534, 65534), 0);
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_TRUE(r.plugins().empty());
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("theirs.so: refused: the file is owned by uid 65534"),
                                   HasSubstr("not by you (uid 0"), HasSubstr("or root")));

  TempDir other;
  fs::path folder = other / "their-folder";
  fs::create_directory(folder);
  ::chmod(folder.c_str(), 0755);
  fs::copy_file(test::fixture("good_multi"), folder / "mine.so");
  ASSERT_EQ(::chown(folder.c_str(), 65534, 65534), 0);
  Registry r2;
  ASSERT_TRUE(r2.discover(in_dir(folder)).is_ok());
  EXPECT_TRUE(r2.plugins().empty());
  EXPECT_THAT(all_errors(r2), HasSubstr("mine.so: refused: its folder " + folder.string() + " is owned by uid 65534"));
}

TEST(Trust, APluginsLockOthersCanWriteIsRefused) {
  TempDir dir, locks;
  fs::path good = dir.add_fixture("good_multi", "good.so");
  fs::path lock = dir.write("plugins.lock", *sha256_file(good) + "  good.so\n");
  ::chmod(lock.c_str(), 0666);
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_TRUE(r.plugins().empty());
  EXPECT_THAT(all_errors(r), AllOf(HasSubstr("good.so: refused: its folder's plugins.lock is unusable"),
                                   HasSubstr("writable by group and others (mode 0666)")));

  RegistryOptions o = in_dir(dir.path());
  o.lock_file = locks.write("global.lock", *sha256_file(good) + "  good.so\n");
  ::chmod(o.lock_file->c_str(), 0622);
  Registry global;
  EXPECT_EQ(global.discover(o).code(), StatusCode::kPermissionDenied);
}

TEST(Trust, UppercaseDigestsInTheLockFileAreAccepted) {
  TempDir dir;
  fs::path good = dir.add_fixture("good_multi", "good.so");
  std::string digest = *sha256_file(good);
  for (char& c : digest) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  dir.write("plugins.lock", digest + "  good.so\n");
  Registry r;
  ASSERT_TRUE(r.discover(in_dir(dir.path())).is_ok());
  EXPECT_EQ(r.plugins().size(), 2u) << all_errors(r);
}

TEST(IsolatedProbe, ExitInManifestIsReportedNotFatal) {
  auto report = probe_isolated(test::fixture("exit_manifest"), RegistryOptions{});
  EXPECT_TRUE(report.crashed);
  ASSERT_EQ(report.diagnostics.size(), 1u);
  EXPECT_THAT(report.diagnostics[0].message,
              HasSubstr("fixture_exit_manifest.so: refused: the probe process exited with status 0 in its manifest "
                        "function"));
}

}  // namespace
}  // namespace atlas::plugin
