// The `soci` storage plugin: SQLite (default .atlas/atlas.db) or PostgreSQL, picked by the
// database URL. Operations and their JSON: docs/plugin-contracts.md; details in docs/storage.md.
#include <atlas/json_parse.hpp>
#include <rapidjson/document.h>

#include <atlas/sdk.hpp>

#include <memory>
#include <mutex>

#include "db.hpp"
#include "ops.hpp"
#include "schema.hpp"

namespace {

using atlas::sdk::Error;

constexpr const char* kSchema = R"({
  "type": "object",
  "properties": {
    "database_url": {"type": "string"},
    "min_connections": {"type": "integer", "minimum": 1, "maximum": 256},
    "max_connections": {"type": "integer", "minimum": 1, "maximum": 256},
    "statement_timeout_seconds": {"type": "number", "minimum": 0},
    "connect_timeout_seconds": {"type": "number", "minimum": 0},
    "busy_timeout_seconds": {"type": "number", "minimum": 0},
    "lease_timeout_seconds": {"type": "number", "minimum": 0},
    "apply_schema_on_connect": {"type": "boolean"},
    "create_if_missing": {"type": "boolean"},
    "wal_checkpoint_pages": {"type": "integer", "minimum": 1},
    "wal_checkpoint_interval_ms": {"type": "integer", "minimum": 0},
    "group_commit_max_ops": {"type": "integer", "minimum": 1, "maximum": 1000},
    "group_commit_wait_ms": {"type": "number", "minimum": 0, "maximum": 60000}
  },
  "additionalProperties": false
})";

class SociStorage : public atlas::sdk::Storage {
 public:
  static constexpr atlas::sdk::Info info{"soci",
                                         "1.0.0",
                                         "atlas-host",
                                         "Apache-2.0",
                                         "SQLite or PostgreSQL storage through SOCI (Atlas-compatible schema)",
                                         ATLAS_CAP_THREAD_SAFE,
                                         kSchema};

  SociStorage(const atlas::sdk::Host& host, std::string_view config_json) {
    rapidjson::Document cfg;
    std::string text(config_json.empty() ? std::string_view("{}") : config_json);
    atlas::sdk::parse_json(cfg, text);
    if (cfg.HasParseError() || !cfg.IsObject()) throw Error(ATLAS_INVALID_ARGUMENT, "soci: config must be a JSON object");
    atlas_soci::DbOptions o;
    auto num = [&](const char* k, double fallback) {
      auto it = cfg.FindMember(k);
      return it != cfg.MemberEnd() && it->value.IsNumber() ? it->value.GetDouble() : fallback;
    };
    if (auto it = cfg.FindMember("database_url"); it != cfg.MemberEnd() && it->value.IsString())
      o.database_url = it->value.GetString();
    o.max_connections = static_cast<int>(num("max_connections", 5));
    o.statement_timeout_seconds = num("statement_timeout_seconds", 30.0);
    o.connect_timeout_seconds = num("connect_timeout_seconds", 5.0);
    o.busy_timeout_seconds = num("busy_timeout_seconds", 10.0);
    o.lease_timeout_ms = static_cast<int>(num("lease_timeout_seconds", 30.0) * 1000.0);
    o.wal_checkpoint_pages = static_cast<int>(num("wal_checkpoint_pages", 1000));
    o.wal_checkpoint_interval_ms = static_cast<int>(num("wal_checkpoint_interval_ms", 250));
    o.group_commit_max_ops = static_cast<int>(num("group_commit_max_ops", 32));
    o.group_commit_wait_ms = num("group_commit_wait_ms", 2.0);
    if (auto it = cfg.FindMember("create_if_missing"); it != cfg.MemberEnd() && it->value.IsBool())
      o.create_if_missing = it->value.GetBool();
    if (auto it = cfg.FindMember("apply_schema_on_connect"); it != cfg.MemberEnd() && it->value.IsBool())
      auto_migrate_ = it->value.GetBool();
    // Connections open lazily: a database that is down at start makes calls fail with
    // UNAVAILABLE (the host spools and retries) instead of failing plugin creation.
    pool_ = std::make_unique<atlas_soci::Pool>(o);
  }

  std::string execute(atlas::sdk::Call& call, std::string_view op, std::string_view request_json) override {
    if (op != "migrate" && op != "status") ensure_schema();
    return atlas_soci::run_op(*pool_, op, request_json);
  }

 private:
  void ensure_schema() {
    std::lock_guard<std::mutex> lock(schema_mu_);
    if (schema_ready_) return;
    if (auto_migrate_) {
      atlas_soci::migrate(*pool_);
    } else {
      auto applied = atlas_soci::with_conn(*pool_, "schema check", [](atlas_soci::Conn& c) {
        return atlas_soci::applied_migrations(c);
      });
      if (applied.empty() || applied.back() < atlas_soci::latest_schema_version()) {
        throw Error(ATLAS_FAILED_PRECONDITION,
                    "the database schema is at version " + std::to_string(applied.empty() ? 0 : applied.back()) +
                        ", this host needs " + std::to_string(atlas_soci::latest_schema_version()) +
                        "; run `atlas-host db migrate`");
      }
    }
    schema_ready_ = true;
  }

  std::unique_ptr<atlas_soci::Pool> pool_;
  bool auto_migrate_ = true;
  std::mutex schema_mu_;
  bool schema_ready_ = false;
};

}  // namespace

ATLAS_PLUGIN(SociStorage)
