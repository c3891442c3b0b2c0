// secrets: database URL passwords are registered and masked.
#include "common/secrets.hpp"

#include <gtest/gtest.h>

#include "common/json.hpp"

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

// A key with a quote or a backslash is escaped wherever it was written into JSON; matching only
// its raw spelling let it through in events, spool lines and stored rows.
TEST(Secrets, ASecretIsRedactedInEveryJsonSpellingOfIt) {
  const std::string key = "k\\ey-with\"quote";  // k\ey-with"quote
  register_secret("WEIRD_KEY", key);
  const std::string once = json::quote(key);    // in a JSON string
  const std::string twice = json::quote(once);  // JSON text kept inside a JSON string
  for (const std::string& text : {key, once, twice}) {
    std::string out = redact("before " + text + " after");
    EXPECT_EQ(out.find("with"), std::string::npos) << text << " -> " << out;
    EXPECT_NE(out.find("[REDACTED:WEIRD_KEY]"), std::string::npos) << text << " -> " << out;
  }
  // A document with the key in it stays valid JSON after redaction.
  std::string doc = "{\"error\":" + once + "}";
  EXPECT_TRUE(json::parse(redact(doc)).is_ok()) << redact(doc);
}

}  // namespace
}  // namespace atlas::secrets
