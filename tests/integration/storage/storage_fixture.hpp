// Shared setup of the storage tests: the real `soci` plugin (.so) loaded through the real
// registry, on a fresh SQLite file or a fresh PostgreSQL database per test.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "common/json.hpp"
#include "data/store.hpp"
#include "plugin/registry.hpp"
#include "support/postgres.hpp"

namespace atlas::test {

inline std::filesystem::path fresh_temp_dir(const std::string& prefix) {
  static std::atomic<int> n{0};
  auto dir =
      std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline Result<plugin::StorageHandle> open_soci(const std::string& config_json) {
  static plugin::Registry* registry = [] {
    auto* r = new plugin::Registry();  // lives for the process, like the host's
    plugin::RegistryOptions o;
    o.use_default_dirs = false;
    o.allow_unsafe = true;  // build trees may be group-writable; trust checks are tested elsewhere
    o.files.push_back(std::filesystem::path(ATLAS_TEST_PLUGIN_DIR) / "soci.so");
    Status st = r->discover(o);
    if (!st.is_ok()) ADD_FAILURE() << st.to_string();
    for (const auto& d : r->diagnostics()) ADD_FAILURE() << d.message;
    return r;
  }();
  return registry->create_storage("soci", config_json);
}

// Parameter of the backend-typed suites: "sqlite" or "postgresql".
class BackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fresh_temp_dir("atlas-storage");
    if (GetParam() == "postgresql") {
      if (!pg_url()) GTEST_SKIP() << kPgSkipMessage;
      auto url = pg_fresh_database("st");
      ASSERT_TRUE(url.has_value()) << "createdb failed in the test cluster";
      url_ = *url;
    } else {
      url_ = "sqlite://" + (dir_ / "atlas.db").string();
    }
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string config(const std::string& extra = "") const {
    return "{\"database_url\":" + json::quote(url_) + extra + "}";
  }
  plugin::StorageHandle handle() {
    auto h = open_soci(config());
    EXPECT_TRUE(h.is_ok()) << h.status().to_string();
    return h.is_ok() ? *h : plugin::StorageHandle();
  }
  Result<json::Document> call(plugin::StorageHandle& h, std::string_view op, std::string_view req) {
    plugin::CallContext ctx;
    auto r = h.execute(ctx, op, req);
    if (!r.is_ok()) return r.status();
    return json::parse(*r, op);
  }
  // Runs SQL on the test database with the backend's own client (sqlite3, psql), as another
  // program sharing the database would; returns its output (rows as `a|b` lines), nullopt on error.
  std::optional<std::string> raw_sql(const std::string& sql) const {
    const auto file = dir_ / "raw.sql";
    std::ofstream(file) << sql << "\n";
    const std::string cmd =
        GetParam() == "postgresql"
            ? "psql '" + url_ + "' -X -q -At -v ON_ERROR_STOP=1 -f '" + file.string() + "' 2>&1"
            : "sqlite3 -bail '" + url_.substr(std::string("sqlite://").size()) + "' < '" + file.string() + "' 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (!p) return std::nullopt;
    std::string out;
    std::array<char, 512> buf{};
    while (size_t n = std::fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    if (::pclose(p) != 0) {
      ADD_FAILURE() << "raw SQL failed: " << sql << "\n" << out;
      return std::nullopt;
    }
    while (!out.empty() && out.back() == '\n') out.pop_back();
    return out;
  }
  data::StoreOptions store_options() const {
    data::StoreOptions o;
    o.spool_path = dir_ / "spool.jsonl";
    o.batch_max_age_ms = 20;
    return o;
  }

  std::filesystem::path dir_;
  std::string url_;
};

inline std::string backend_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param;
}

}  // namespace atlas::test
