// plugins.lock parsing and SHA-256 (OpenSSL) against known digests.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "plugin/trust.hpp"

namespace atlas::plugin {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::HasSubstr;

class LockFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "atlas-lock-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
    return dir_ / name;
  }
  fs::path dir_;
};

TEST_F(LockFileTest, Sha256MatchesKnownVectors) {
  EXPECT_EQ(*sha256_file(write("empty", "")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(*sha256_file(write("abc", "abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::string big(200000, 'x');  // spans several read chunks
  EXPECT_EQ(sha256_file(write("big", big))->size(), 64u);
  EXPECT_EQ(sha256_file(dir_ / "missing").status().code(), StatusCode::kNotFound);
}

TEST_F(LockFileTest, AcceptsSha256sumOutputCommentsAndCrlf) {
  fs::path plugin = write("a.so", "abc");
  std::string digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  auto lock = LockFile::load(write("plugins.lock", "# pinned plugins\r\n\r\n" + digest + " *a.so\r\n" +
                                                       std::string(64, 'B') + "  sub/b.so\n"));
  ASSERT_TRUE(lock.is_ok()) << lock.status().to_string();
  EXPECT_EQ(lock->size(), 2u);
  EXPECT_TRUE(lock->verify(plugin, "plugins/a.so").is_ok());
  Status changed = lock->verify(write("b.so", "changed"), "plugins/b.so");
  EXPECT_EQ(changed.code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(changed.message(), AllOf(HasSubstr("plugins/b.so: refused: SHA-256 mismatch"),
                                       HasSubstr("plugins.lock:4 pins " + std::string(64, 'b'))));
}

TEST_F(LockFileTest, MalformedLinesAreNamed) {
  auto short_digest = LockFile::load(write("l1", "abcd  a.so\n"));
  EXPECT_THAT(short_digest.status().message(), AllOf(HasSubstr("l1:1"), HasSubstr("64 hex digits")));
  auto no_name = LockFile::load(write("l2", std::string(64, 'a') + "\n"));
  EXPECT_THAT(no_name.status().message(), AllOf(HasSubstr("l2:1"), HasSubstr("without a file name")));
  auto twice = LockFile::load(write("l3", std::string(64, 'a') + "  x.so\n" + std::string(64, 'b') + "  x.so\n"));
  EXPECT_THAT(twice.status().message(), AllOf(HasSubstr("l3:2"), HasSubstr("pinned twice (first on line 1)")));
  EXPECT_EQ(LockFile::load(dir_ / "nope").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace atlas::plugin
