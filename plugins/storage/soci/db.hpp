// Connection layer of the soci storage plugin: URL -> backend + connect string, a fixed
// pool with bounded leases and lazy (re)connects, a dialect table for the SQL that differs
// between SQLite and PostgreSQL, a small typed query helper and error mapping to atlas
// statuses. Everything else in the plugin talks to the database only through this file.
#pragma once

#include <soci/soci.h>

#include <atlas/sdk.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace atlas_soci {

enum class Backend { kSqlite, kPostgres };

struct DbOptions {
  std::string database_url;  // "" = sqlite .atlas/atlas.db
  int max_connections = 5;
  double statement_timeout_seconds = 30.0;
  double connect_timeout_seconds = 5.0;
  double busy_timeout_seconds = 10.0;  // SQLite: wait this long for the write lock
  int lease_timeout_ms = 30000;        // waiting for a free pooled connection
  bool create_if_missing = true;       // SQLite: false = refuse a file that does not exist (read-only commands)
  int wal_checkpoint_pages = 1000;     // SQLite: WAL frames from which commits checkpoint (sqlite_checkpoints.hpp)
  int wal_checkpoint_interval_ms = 250;  // SQLite: the least time between two of those checkpoints
  int group_commit_max_ops = 32;         // SQLite: write ops one commit may hold (sqlite_group_commit.hpp)
  double group_commit_wait_ms = 2.0;     // SQLite: how long a background-class leader waits for more
};

struct Target {
  Backend backend = Backend::kSqlite;
  std::string connect_string;  // soci connect string (libpq keywords for PostgreSQL)
  std::string location;        // for display: path, or the URL without password
  std::string sqlite_path;
};

// Throws sdk::Error(INVALID_ARGUMENT) with a precise message for a malformed URL.
Target parse_database_url(const DbOptions& options);

// A bound parameter: NULL, text, integer or real.
struct Param {
  enum Kind { kNull, kText, kInt, kReal } kind = kNull;
  std::string text;
  long long integer = 0;
  double real = 0.0;
  static Param null() { return Param{}; }
  static Param str(std::string s) {
    Param p;
    p.kind = kText;
    p.text = std::move(s);
    return p;
  }
  static Param num(long long v) {
    Param p;
    p.kind = kInt;
    p.integer = v;
    return p;
  }
  static Param real_num(double v) {
    Param p;
    p.kind = kReal;
    p.real = v;
    return p;
  }
  static Param opt_str(const std::optional<std::string>& s) { return s ? str(*s) : null(); }
};

using Cell = std::optional<std::string>;  // NULL = nullopt; every column is read as text
using Row = std::vector<Cell>;

class Pool;
class SqliteStatements;  // db.cpp: one SQLite connection's prepared statements
class WalCheckpoints;    // sqlite_checkpoints.hpp: when the pool's commits checkpoint the WAL
class GroupCommit;       // sqlite_group_commit.hpp: the pool's write ops, several per commit

// One leased connection. Queries bind `params` in order to the placeholders :p0, :p1, ...
class Conn {
 public:
  // `leased`: give slot `pos` back to the pool when done (false for the SQLite writer's slot,
  // which stays reserved).
  Conn(Pool& pool, size_t pos, bool leased = true);
  ~Conn();
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  Backend backend() const;
  // Returns the number of affected rows.
  long long exec(const std::string& sql, const std::vector<Param>& params = {});
  std::vector<Row> query(const std::string& sql, const std::vector<Param>& params, size_t columns);
  std::optional<Row> query_one(const std::string& sql, const std::vector<Param>& params, size_t columns);
  // Prepares `sql` once and executes it for each row of `flat` (rows of `width` parameters,
  // bound to :p0..:p<width-1>); returns the total of affected rows. A column keeps one type
  // across rows (NULL aside). The cheapest bulk insert on SQLite, where a statement runs in-process.
  long long exec_rows(const std::string& sql, size_t width, const std::vector<Param>& flat);

  // Transactions: BEGIN IMMEDIATE on SQLite (take the write lock up front, so two writers
  // never deadlock upgrading), plain BEGIN on PostgreSQL.
  void begin();
  void commit();
  void rollback() noexcept;

  soci::session& session();
  // The connection broke (server gone): reconnect before the next use.
  void mark_broken();

 private:
  SqliteStatements& sqlite_statements();

  Pool& pool_;
  size_t pos_;
  bool leased_;
};

// RAII transaction on a Conn: rolls back unless commit() ran.
class Tx {
 public:
  explicit Tx(Conn& c) : c_(c) { c_.begin(); }
  ~Tx() {
    if (!done_) c_.rollback();
  }
  void commit() {
    c_.commit();
    done_ = true;
  }

 private:
  Conn& c_;
  bool done_ = false;
};

class Pool {
 public:
  explicit Pool(const DbOptions& options);
  ~Pool();
  const Target& target() const { return target_; }
  Backend backend() const { return target_.backend; }
  const DbOptions& options() const { return options_; }
  // Leases a connected session; throws UNAVAILABLE when no connection can be made and
  // RESOURCE_EXHAUSTED when none frees up within lease_timeout_ms.
  std::unique_ptr<Conn> lease();
  // SQLite: the connection kept for writing, outside the pool, (re)connected when needed. Only
  // the group commit's leader of the moment holds it. Null group commit on PostgreSQL.
  std::unique_ptr<Conn> writer();
  GroupCommit* group_commit() { return group_commit_.get(); }

 private:
  friend class Conn;
  void connect_slot(size_t pos);
  void give_back(size_t pos);

  DbOptions options_;
  Target target_;
  soci::connection_pool pool_;
  std::vector<unsigned char> connected_;  // per slot; only touched by the lease holder
  std::vector<unsigned char> broken_;
  // SQLite: per slot, made on first use after each connect. Declared after pool_: finalized
  // before the connections close.
  std::vector<std::unique_ptr<SqliteStatements>> statements_;
  std::unique_ptr<WalCheckpoints> checkpoints_;  // SQLite: shared by every connection of the pool
  std::unique_ptr<GroupCommit> group_commit_;    // SQLite
  size_t writer_pos_ = 0;                        // SQLite: the slot leased for good to the writer
};

// Converts any exception thrown while talking to the database into sdk::Error with a status
// the host's retry policy understands. Marks the connection broken on connection loss.
[[noreturn]] void rethrow_as_status(Conn* conn, const std::string& what);

// Runs fn(conn) with a leased connection, mapping errors.
template <typename Fn>
auto with_conn(Pool& pool, const char* what, Fn&& fn) -> decltype(fn(std::declval<Conn&>())) {
  std::unique_ptr<Conn> conn = pool.lease();
  try {
    return fn(*conn);
  } catch (const atlas::sdk::Error&) {
    throw;
  } catch (...) {
    rethrow_as_status(conn.get(), what);
  }
}

// Runs fn(conn) in a write transaction and returns its result once committed. SQLite: through
// the pool's group commit (fn's writes may share their commit with other ops queued at the same
// moment, in a savepoint of their own). PostgreSQL: on a pooled connection, in a transaction of
// its own. fn must not begin, commit or roll back; it throws to undo its writes.
std::string with_write_tx(Pool& pool, const char* what, const std::function<std::string(Conn&)>& fn);

// --- dialect helpers ------------------------------------------------------------------
// Placeholder text for a JSON value / a timestamp value bound as text.
std::string json_in(Backend b, const std::string& placeholder);
std::string ts_in(Backend b, const std::string& placeholder);
// Column expressions rendering JSON as text / a timestamp as ISO-8601 UTC with microseconds.
std::string json_out(Backend b, const std::string& column);
std::string ts_out(Backend b, const std::string& column);
// Text of a top-level key of a JSON column (NULL when absent).
std::string json_key_text(Backend b, const std::string& column, const std::string& key);
// The reward score (reward_stats.score) as a real.
std::string reward_score_expr(Backend b);

// "2026-11-25T20:42:44.123456Z" for now.
std::string now_iso();

}  // namespace atlas_soci
