#include "db.hpp"

#include <soci/postgresql/soci-postgresql.h>
#include <soci/sqlite3/soci-sqlite3.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <map>
#include <string_view>
#include <unordered_map>

#include "sqlite_checkpoints.hpp"
#include "sqlite_group_commit.hpp"

namespace atlas_soci {

using atlas::sdk::Error;

namespace {

std::string percent_decode(const std::string& s, const std::string& where) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !std::isxdigit(static_cast<unsigned char>(s[i + 1])) ||
          !std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
        throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: bad percent escape in the " + where +
                                                " (write %XX with two hex digits)");
      }
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// libpq keyword value: always single-quoted, with \ and ' escaped.
std::string pq_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

Target parse_postgres(const DbOptions& o, const std::string& url) {
  const std::string scheme = starts_with(url, "postgresql://") ? "postgresql://" : "postgres://";
  std::string rest = url.substr(scheme.size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string path;
  if (auto s = rest.find('/'); s != std::string::npos) {
    path = rest.substr(s + 1);
    rest = rest.substr(0, s);
  }
  std::map<std::string, std::string> kw;
  std::string display_auth;
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    std::string auth = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (auto c = auth.find(':'); c != std::string::npos) {
      kw["user"] = percent_decode(auth.substr(0, c), "user name");
      kw["password"] = percent_decode(auth.substr(c + 1), "password");
      display_auth = auth.substr(0, c) + ":****@";
    } else {
      kw["user"] = percent_decode(auth, "user name");
      display_auth = auth + "@";
    }
  }
  if (!rest.empty()) {
    std::string host = rest, port;
    if (host.front() == '[') {
      auto close = host.find(']');
      if (close == std::string::npos)
        throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: unterminated '[' in the IPv6 host of " + url);
      port = close + 1 < host.size() && host[close + 1] == ':' ? host.substr(close + 2) : "";
      host = host.substr(1, close - 1);
    } else if (auto c = host.rfind(':'); c != std::string::npos) {
      port = host.substr(c + 1);
      host = host.substr(0, c);
    }
    if (!host.empty()) kw["host"] = percent_decode(host, "host");
    if (!port.empty()) {
      if (port.find_first_not_of("0123456789") != std::string::npos)
        throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: port '" + port + "' is not a number (in " +
                                                url + "); write postgresql://user@host:5432/db");
      kw["port"] = port;
    }
  }
  if (!path.empty()) kw["dbname"] = percent_decode(path, "database name");
  std::string user_options;
  size_t pos = 0;
  while (pos <= query.size() && !query.empty()) {
    size_t amp = query.find('&', pos);
    std::string item = query.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    if (!item.empty()) {
      auto eq = item.find('=');
      if (eq == std::string::npos)
        throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: query parameter '" + item +
                                                "' has no value; write key=value (e.g. ?sslmode=require)");
      std::string k = percent_decode(item.substr(0, eq), "query");
      std::string v = percent_decode(item.substr(eq + 1), "query");
      if (k == "options") {
        user_options = v;
      } else {
        kw[k] = v;
      }
    }
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  Target t;
  t.backend = Backend::kPostgres;
  std::string cs;
  for (const auto& [k, v] : kw) cs += k + "=" + pq_quote(v) + " ";
  long timeout_ms = std::lround(o.statement_timeout_seconds * 1000.0);
  std::string opts = "-c statement_timeout=" + std::to_string(timeout_ms) + " -c client_min_messages=warning";
  if (!user_options.empty()) opts = user_options + " " + opts;
  cs += "options=" + pq_quote(opts) + " ";
  if (!kw.count("connect_timeout")) {
    long ct = std::max(1L, std::lround(o.connect_timeout_seconds));
    cs += "connect_timeout=" + std::to_string(ct);
  }
  t.connect_string = cs;
  std::string display = url;
  if (kw.count("password")) display = scheme + display_auth + url.substr(url.find('@') + 1);
  t.location = display;
  return t;
}

}  // namespace

Target parse_database_url(const DbOptions& o) {
  std::string url = o.database_url;
  if (starts_with(url, "postgresql://") || starts_with(url, "postgres://")) return parse_postgres(o, url);
  if (url.find("://") != std::string::npos && !starts_with(url, "sqlite://")) {
    throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: unsupported scheme in '" + url +
                                            "'; use sqlite://PATH, a plain file path, or postgresql://user@host:port/db");
  }
  std::string path = url;
  if (starts_with(path, "sqlite://")) path = path.substr(9);
  if (path.empty()) path = ".atlas/atlas.db";
  if (path.find_first_of(" '\"") != std::string::npos) {
    throw Error(ATLAS_INVALID_ARGUMENT, "storage.database_url: the SQLite path '" + path +
                                            "' contains a space or quote, which the SQLite driver cannot take; "
                                            "choose a path without them");
  }
  Target t;
  t.backend = Backend::kSqlite;
  t.sqlite_path = path;
  long busy = std::max(1L, std::lround(o.busy_timeout_seconds));
  t.connect_string = "db=" + path + " timeout=" + std::to_string(busy);
  t.location = path;
  return t;
}

// ---- SQLite prepared statements -------------------------------------------------------------

namespace sq = sqlite_api;

// The prepared statements of one SQLite connection, by SQL text. soci prepares a statement
// again for each execution: parsing and planning the same few dozen statements was ~12 % of the
// gateway's CPU with capture and storage on (bench_serve_gateway --capture-only, perf).
class SqliteStatements {
 public:
  explicit SqliteStatements(sq::sqlite3* db) : db_(db) {}
  ~SqliteStatements() { clear(); }
  SqliteStatements(const SqliteStatements&) = delete;
  SqliteStatements& operator=(const SqliteStatements&) = delete;

  sq::sqlite3* db() const { return db_; }

  // The statement for `sql`, reset, with no bindings. Throws soci errors, as soci would.
  sq::sqlite3_stmt* get(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxStatements) clear();  // statements built per call (IN lists) would pile up
    sq::sqlite3_stmt* st = nullptr;
    const char* tail = nullptr;
    const int rc = sq::sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                          &st, &tail);
    if (rc != SQLITE_OK)
      throw soci::sqlite3_soci_error(std::string(sq::sqlite3_errmsg(db_)) + " while preparing \"" + sql + "\"", rc);
    if (!st) throw soci::soci_error("no SQL statement in \"" + sql + "\"");
    if (tail && std::string_view(tail).find_first_not_of(" \t\r\n;") != std::string_view::npos) {
      sq::sqlite3_finalize(st);
      throw soci::soci_error("more than one SQL statement in \"" + sql + "\" (run them one at a time)");
    }
    cache_.emplace(sql, st);
    return st;
  }

  void clear() {
    for (auto& entry : cache_) sq::sqlite3_finalize(entry.second);
    cache_.clear();
  }

 private:
  static constexpr size_t kMaxStatements = 256;
  sq::sqlite3* db_;
  std::unordered_map<std::string, sq::sqlite3_stmt*> cache_;
};

namespace {

// One execution of a cached statement: binds :p0..:pN, steps, and on destruction resets it (a
// statement left mid-result would hold its read snapshot open) and drops the bindings (they
// point into `params`).
class SqliteRun {
 public:
  SqliteRun(SqliteStatements& statements, const std::string& sql)
      : db_(statements.db()), sql_(sql), st_(statements.get(sql)) {}
  ~SqliteRun() { rewind(); }
  SqliteRun(const SqliteRun&) = delete;
  SqliteRun& operator=(const SqliteRun&) = delete;

  void bind(const std::vector<Param>& params) { bind(params.data(), params.size()); }
  // `count` parameters from `params` (a row of exec_rows' flat list, bound where it lies).
  void bind(const Param* params, size_t count) {
    for (size_t i = 0; i < count; ++i) {
      const std::string name = ":p" + std::to_string(i);
      const int at = sq::sqlite3_bind_parameter_index(st_, name.c_str());
      if (at == 0) throw soci::soci_error("Cannot bind (by name) to " + name + " in \"" + sql_ + "\"");
      const Param& p = params[i];
      int rc = SQLITE_OK;
      switch (p.kind) {
        case Param::kNull:
          rc = sq::sqlite3_bind_null(st_, at);
          break;
        case Param::kText:
          rc = sq::sqlite3_bind_text(st_, at, p.text.data(), static_cast<int>(p.text.size()), SQLITE_STATIC);
          break;
        case Param::kInt:
          rc = sq::sqlite3_bind_int64(st_, at, p.integer);
          break;
        case Param::kReal:
          rc = sq::sqlite3_bind_double(st_, at, p.real);
          break;
      }
      if (rc != SQLITE_OK) fail(rc, "binding " + name);
    }
  }

  // True while there is a row to read.
  bool step() {
    const int rc = sq::sqlite3_step(st_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(rc, "executing");
  }

  // Every column as text (as soci reads them), NULL as nullopt.
  Row row(size_t columns) const {
    Row r(columns);
    for (size_t i = 0; i < columns; ++i) {
      const int c = static_cast<int>(i);
      if (sq::sqlite3_column_type(st_, c) == SQLITE_NULL) continue;
      const auto* text = reinterpret_cast<const char*>(sq::sqlite3_column_text(st_, c));
      r[i] = text ? std::string(text, static_cast<size_t>(sq::sqlite3_column_bytes(st_, c))) : std::string();
    }
    return r;
  }

  // Ready for the next execution, no bindings left pointing into the caller's parameters.
  void rewind() {
    sq::sqlite3_reset(st_);
    sq::sqlite3_clear_bindings(st_);
  }

  long long changes() const { return sq::sqlite3_changes(db_); }

 private:
  [[noreturn]] void fail(int rc, const std::string& doing) const {
    throw soci::sqlite3_soci_error(std::string(sq::sqlite3_errmsg(db_)) + " while " + doing + " \"" + sql_ + "\"", rc);
  }

  sq::sqlite3* db_;
  const std::string& sql_;
  sq::sqlite3_stmt* st_;
};

}  // namespace

// ---- pool -----------------------------------------------------------------------------

namespace {
// The pooled connections, and on SQLite one more kept for the group commit's writes.
size_t slot_count(const DbOptions& options, const Target& target) {
  return static_cast<size_t>(std::max(1, options.max_connections)) + (target.backend == Backend::kSqlite ? 1 : 0);
}
}  // namespace

Pool::Pool(const DbOptions& options)
    : options_(options),
      target_(parse_database_url(options)),
      pool_(slot_count(options, target_)),
      connected_(slot_count(options, target_), 0),
      broken_(slot_count(options, target_), 0),
      statements_(slot_count(options, target_)) {
  if (target_.backend == Backend::kSqlite && !options.create_if_missing) {
    std::error_code ec;
    if (!std::filesystem::exists(target_.sqlite_path, ec)) {
      throw Error(ATLAS_FAILED_PRECONDITION,
                  "the SQLite database '" + target_.sqlite_path +
                      "' does not exist (nothing has been stored there yet); check --database-url / [storage] "
                      "database_url, or create it with `atlas-host db migrate` or `atlas-host run`");
    }
  }
  if (target_.backend == Backend::kSqlite) {
    checkpoints_ = std::make_unique<WalCheckpoints>(std::max(1, options.wal_checkpoint_pages),
                                                    std::max(0, options.wal_checkpoint_interval_ms),
                                                    std::lround(options.busy_timeout_seconds * 1000.0));
    writer_pos_ = pool_.lease();  // every slot is free now: this one is never given back
    group_commit_ = std::make_unique<GroupCommit>(
        static_cast<size_t>(std::max(1, options.group_commit_max_ops)),
        std::chrono::microseconds(std::lround(std::max(0.0, options.group_commit_wait_ms) * 1000.0)));
    std::filesystem::path parent = std::filesystem::path(target_.sqlite_path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      throw Error(ATLAS_FAILED_PRECONDITION, "cannot create the folder '" + parent.string() +
                                                 "' for the SQLite database: " + ec.message());
    }
  }
}

Pool::~Pool() = default;

void Pool::connect_slot(size_t pos) {
  soci::session& s = pool_.at(pos);
  statements_[pos].reset();  // finalized while their connection is still open
  if (connected_[pos]) {
    try {
      s.close();
    } catch (...) {
    }
    connected_[pos] = 0;
  }
  try {
    if (target_.backend == Backend::kSqlite) {
      s.open(*soci::factory_sqlite3(), target_.connect_string);
      long busy_ms = std::lround(options_.busy_timeout_seconds * 1000.0);
      s << "PRAGMA busy_timeout = " + std::to_string(busy_ms);
      s << "PRAGMA journal_mode = WAL";
      s << "PRAGMA synchronous = NORMAL";
      s << "PRAGMA foreign_keys = ON";
      // The writer's savepoints and multi-row upserts keep their undo journals in memory instead
      // of temporary files (they held as many bytes as the WAL). Its ops touch tens of pages each;
      // readers keep the default, so a large export still sorts on disk.
      if (group_commit_ && pos == writer_pos_) s << "PRAGMA temp_store = MEMORY";
      checkpoints_->install(static_cast<soci::sqlite3_session_backend*>(s.get_backend())->conn_);
    } else {
      s.open(*soci::factory_postgresql(), target_.connect_string);
    }
  } catch (const std::exception& e) {
    try {
      s.close();
    } catch (...) {
    }
    throw Error(ATLAS_UNAVAILABLE, "cannot connect to the " +
                                       std::string(target_.backend == Backend::kSqlite ? "SQLite" : "PostgreSQL") +
                                       " database at " + target_.location + ": " + e.what());
  }
  connected_[pos] = 1;
  broken_[pos] = 0;
}

std::unique_ptr<Conn> Pool::lease() {
  size_t pos = 0;
  if (!pool_.try_lease(pos, options_.lease_timeout_ms)) {
    throw Error(ATLAS_RESOURCE_EXHAUSTED, "all " + std::to_string(options_.max_connections) +
                                              " database connections stayed busy for " +
                                              std::to_string(options_.lease_timeout_ms) +
                                              " ms; raise storage.max_connections or lower the concurrency");
  }
  if (!connected_[pos] || broken_[pos]) {
    try {
      connect_slot(pos);
    } catch (...) {
      pool_.give_back(pos);
      throw;
    }
  }
  return std::make_unique<Conn>(*this, pos);
}

std::unique_ptr<Conn> Pool::writer() {
  if (!connected_[writer_pos_] || broken_[writer_pos_]) connect_slot(writer_pos_);
  return std::make_unique<Conn>(*this, writer_pos_, false);
}

void Pool::give_back(size_t pos) { pool_.give_back(pos); }

// ---- connection ---------------------------------------------------------------------------

Conn::Conn(Pool& pool, size_t pos, bool leased) : pool_(pool), pos_(pos), leased_(leased) {}
Conn::~Conn() {
  if (leased_) pool_.give_back(pos_);
}
Backend Conn::backend() const { return pool_.backend(); }
soci::session& Conn::session() { return pool_.pool_.at(pos_); }
void Conn::mark_broken() { pool_.broken_[pos_] = 1; }

SqliteStatements& Conn::sqlite_statements() {
  std::unique_ptr<SqliteStatements>& slot = pool_.statements_[pos_];
  if (!slot) slot = std::make_unique<SqliteStatements>(static_cast<soci::sqlite3_session_backend*>(session().get_backend())->conn_);
  return *slot;
}

namespace {

struct Bound {
  std::vector<Param> params;
  std::vector<soci::indicator> inds;
  std::vector<std::string> outs;
  std::vector<soci::indicator> out_inds;
};

void bind_all(soci::statement& st, Bound& b) {
  b.inds.assign(b.params.size(), soci::i_ok);
  for (size_t i = 0; i < b.params.size(); ++i) {
    Param& p = b.params[i];
    std::string name = "p" + std::to_string(i);
    switch (p.kind) {
      case Param::kNull:
        b.inds[i] = soci::i_null;
        st.exchange(soci::use(p.text, b.inds[i], name));
        break;
      case Param::kText:
        st.exchange(soci::use(p.text, b.inds[i], name));
        break;
      case Param::kInt:
        st.exchange(soci::use(p.integer, b.inds[i], name));
        break;
      case Param::kReal:
        st.exchange(soci::use(p.real, b.inds[i], name));
        break;
    }
  }
  for (size_t i = 0; i < b.outs.size(); ++i) st.exchange(soci::into(b.outs[i], b.out_inds[i]));
}

}  // namespace

long long Conn::exec(const std::string& sql, const std::vector<Param>& params) {
  if (backend() == Backend::kSqlite) {
    SqliteRun run(sqlite_statements(), sql);
    run.bind(params);
    while (run.step()) {
    }
    return run.changes();
  }
  Bound b{params, {}, {}, {}};
  soci::statement st(session());
  bind_all(st, b);
  st.alloc();
  st.prepare(sql);
  st.define_and_bind();
  st.execute(true);
  return st.get_affected_rows();
}

long long Conn::exec_rows(const std::string& sql, size_t width, const std::vector<Param>& flat) {
  if (width == 0 || flat.size() % width != 0)
    throw Error(ATLAS_INTERNAL, "exec_rows: " + std::to_string(flat.size()) + " parameters do not form rows of " +
                                    std::to_string(width));
  const size_t rows = flat.size() / width;
  if (rows == 0) return 0;
  // Each column is bound with the type of its first non-NULL value.
  Bound b{std::vector<Param>(width), {}, {}, {}};
  for (size_t c = 0; c < width; ++c) {
    for (size_t r = 0; r < rows && b.params[c].kind == Param::kNull; ++r) b.params[c].kind = flat[r * width + c].kind;
    if (b.params[c].kind == Param::kNull) b.params[c].kind = Param::kText;  // all NULL: any type will do
    for (size_t r = 0; r < rows; ++r) {
      const Param::Kind kind = flat[r * width + c].kind;
      if (kind != Param::kNull && kind != b.params[c].kind)
        throw Error(ATLAS_INTERNAL, "exec_rows: column " + std::to_string(c) + " changes type at row " + std::to_string(r));
    }
  }
  if (backend() == Backend::kSqlite) {
    SqliteRun run(sqlite_statements(), sql);
    long long affected = 0;
    for (size_t r = 0; r < rows; ++r) {
      if (r > 0) run.rewind();
      run.bind(flat.data() + r * width, width);
      while (run.step()) {
      }
      affected += run.changes();
    }
    return affected;
  }
  soci::statement st(session());
  bind_all(st, b);
  st.alloc();
  st.prepare(sql);
  st.define_and_bind();
  long long affected = 0;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t c = 0; c < width; ++c) {
      const Param& in = flat[r * width + c];
      Param& slot = b.params[c];  // soci holds references to slot's members and b.inds[c]
      if (in.kind == Param::kNull) {
        b.inds[c] = soci::i_null;
        continue;
      }
      b.inds[c] = soci::i_ok;
      slot.text = in.text;
      slot.integer = in.integer;
      slot.real = in.real;
    }
    st.execute(true);
    affected += st.get_affected_rows();
  }
  return affected;
}

std::vector<Row> Conn::query(const std::string& sql, const std::vector<Param>& params, size_t columns) {
  if (backend() == Backend::kSqlite) {
    SqliteRun run(sqlite_statements(), sql);
    run.bind(params);
    std::vector<Row> rows;
    while (run.step()) rows.push_back(run.row(columns));
    return rows;
  }
  Bound b{params, {}, std::vector<std::string>(columns), std::vector<soci::indicator>(columns, soci::i_ok)};
  soci::statement st(session());
  bind_all(st, b);
  st.alloc();
  st.prepare(sql);
  st.define_and_bind();
  std::vector<Row> rows;
  st.execute(false);
  while (st.fetch()) {
    Row r(columns);
    for (size_t i = 0; i < columns; ++i) {
      if (b.out_inds[i] != soci::i_null) r[i] = b.outs[i];
    }
    rows.push_back(std::move(r));
  }
  return rows;
}

std::optional<Row> Conn::query_one(const std::string& sql, const std::vector<Param>& params, size_t columns) {
  auto rows = query(sql, params, columns);
  if (rows.empty()) return std::nullopt;
  return std::move(rows.front());
}

void Conn::begin() { exec(backend() == Backend::kSqlite ? "BEGIN IMMEDIATE" : "BEGIN"); }
void Conn::commit() { exec("COMMIT"); }
void Conn::rollback() noexcept {
  try {
    exec("ROLLBACK");
  } catch (...) {
    // The connection may be gone; the server rolls back on disconnect.
    mark_broken();
  }
}

std::string with_write_tx(Pool& pool, const char* what, const std::function<std::string(Conn&)>& fn) {
  if (GroupCommit* group = pool.group_commit()) return group->run(pool, what, fn);
  return with_conn(pool, what, [&](Conn& c) {
    Tx tx(c);
    std::string result = fn(c);
    tx.commit();
    return result;
  });
}

// ---- errors -------------------------------------------------------------------------------

void rethrow_as_status(Conn* conn, const std::string& what) {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const soci::postgresql_soci_error& e) {
    std::string state = e.sqlstate();
    bool conn_bad = false;
    if (conn) {
      auto* be = static_cast<soci::postgresql_session_backend*>(conn->session().get_backend());
      conn_bad = be == nullptr || be->conn_ == nullptr || PQstatus(be->conn_) != CONNECTION_OK;
    }
    std::string msg = what + ": PostgreSQL error" + (state.empty() ? "" : " " + state) + ": " + e.what();
    if (conn_bad || starts_with(state, "08") || starts_with(state, "57P")) {
      if (conn) conn->mark_broken();
      throw Error(ATLAS_UNAVAILABLE, msg);
    }
    if (state == "57014") throw Error(ATLAS_DEADLINE_EXCEEDED, msg + " (storage.statement_timeout_seconds)");
    if (state == "23505") throw Error(ATLAS_ALREADY_EXISTS, msg);
    if (starts_with(state, "23")) throw Error(ATLAS_FAILED_PRECONDITION, msg);
    if (state == "40001" || state == "40P01") throw Error(ATLAS_ABORTED, msg);
    if (starts_with(state, "53")) throw Error(ATLAS_RESOURCE_EXHAUSTED, msg);
    if (starts_with(state, "42")) throw Error(ATLAS_INTERNAL, msg + " (schema out of date? run `atlas-host db migrate`)");
    throw Error(ATLAS_INTERNAL, msg);
  } catch (const soci::sqlite3_soci_error& e) {
    int rc = e.result() & 0xff;  // primary result code
    std::string msg = what + ": SQLite error " + std::to_string(e.result()) + ": " + e.what();
    switch (rc) {
      case 5:   // SQLITE_BUSY
      case 6:   // SQLITE_LOCKED
        throw Error(ATLAS_UNAVAILABLE, msg + " (the database is locked by another writer)");
      case 14:  // SQLITE_CANTOPEN
      case 10:  // SQLITE_IOERR
        if (conn) conn->mark_broken();
        throw Error(ATLAS_UNAVAILABLE, msg);
      case 13:  // SQLITE_FULL
        throw Error(ATLAS_RESOURCE_EXHAUSTED, msg);
      case 19:  // SQLITE_CONSTRAINT
        throw Error(ATLAS_FAILED_PRECONDITION, msg);
      case 8:   // SQLITE_READONLY
        throw Error(ATLAS_PERMISSION_DENIED, msg);
      default:
        throw Error(ATLAS_INTERNAL, msg);
    }
  } catch (const soci::soci_error& e) {
    if (e.get_error_category() == soci::soci_error::connection_error) {
      if (conn) conn->mark_broken();
      throw Error(ATLAS_UNAVAILABLE, what + ": " + e.what());
    }
    // Some backend paths throw a plain soci_error after the server went away.
    if (conn && conn->backend() == Backend::kPostgres) {
      auto* be = static_cast<soci::postgresql_session_backend*>(conn->session().get_backend());
      if (be == nullptr || be->conn_ == nullptr || PQstatus(be->conn_) != CONNECTION_OK) {
        conn->mark_broken();
        throw Error(ATLAS_UNAVAILABLE, what + ": " + e.what());
      }
    }
    throw Error(ATLAS_INTERNAL, what + ": " + e.what());
  } catch (const std::bad_alloc&) {
    throw Error(ATLAS_RESOURCE_EXHAUSTED, what + ": out of memory");
  } catch (const std::exception& e) {
    throw Error(ATLAS_INTERNAL, what + ": " + e.what());
  }
}

// ---- dialect --------------------------------------------------------------------------------

std::string json_in(Backend b, const std::string& ph) {
  return b == Backend::kPostgres ? "CAST(" + ph + " AS JSONB)" : ph;
}
std::string ts_in(Backend b, const std::string& ph) {
  return b == Backend::kPostgres ? "CAST(" + ph + " AS TIMESTAMPTZ)" : ph;
}
std::string json_out(Backend b, const std::string& col) {
  return b == Backend::kPostgres ? "CAST(" + col + " AS TEXT)" : col;
}
std::string ts_out(Backend b, const std::string& col) {
  return b == Backend::kPostgres ? "to_char(" + col + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                                 : col;
}
std::string json_key_text(Backend b, const std::string& col, const std::string& key) {
  return b == Backend::kPostgres ? "(" + col + "->>'" + key + "')" : "json_extract(" + col + ", '$." + key + "')";
}
std::string reward_score_expr(Backend b) {
  return b == Backend::kPostgres ? "CAST(reward_stats->>'score' AS DOUBLE PRECISION)"
                                 : "CAST(json_extract(reward_stats, '$.score') AS REAL)";
}

std::string now_iso() {
  auto now = std::chrono::system_clock::now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(us % 1000000));
  return buf;
}

}  // namespace atlas_soci
