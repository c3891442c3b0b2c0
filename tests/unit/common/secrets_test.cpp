// secrets: database URL passwords are registered and masked.
#include "common/secrets.hpp"

#include <gtest/gtest.h>

namespace atlas::secrets {
namespace {

TEST(Secrets, UrlWithoutPasswordMasksTheAuthorityAndQueryPassword) {
  EXPECT_EQ(url_without_password("postgresql://alice:s3cr3t-pw@db.example:5432/atlas"),
            "postgresql://alice:****@db.example:5432/atlas");
  EXPECT_EQ(url_without_password("postgresql://alice@db/atlas?sslmode=require&password=hunter22"),
            "postgresql://alice@db/atlas?sslmode=require&password=****");
  EXPECT_EQ(url_without_password("postgresql://alice@db/atlas"), "postgresql://alice@db/atlas");
  EXPECT_EQ(url_without_password("sqlite:///tmp/a:b@c.db"), "sqlite:///tmp/a:b@c.db");
  EXPECT_EQ(url_without_password(".atlas/atlas.db"), ".atlas/atlas.db");
}

TEST(Secrets, ADatabasePasswordIsRedactedOnceRegistered) {
  register_database_url("postgresql://bob:Pa55word-for-test@localhost/db");
  EXPECT_EQ(redact("task mentions Pa55word-for-test here"), "task mentions [REDACTED:DATABASE_PASSWORD] here");
}

}  // namespace
}  // namespace atlas::secrets
