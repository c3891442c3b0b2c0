// Storage benchmark (prints figures; not a test).
//  1. events/s appended through the soci plugin (append_events batches of 256, one transaction
//     each) next to the fastest native path for the same rows: one prepared INSERT loop in one
//     transaction (SQLite) / COPY (PostgreSQL). Prints the ratio (target >= 0.5).
//  2. finish_session of a gateway-sized episode (10 steps, 2 attempts and 1 guidance note each):
//     ms per finish, the end-of-episode write every `run` session and gateway episode makes.
//  2b. SQLite: gateway-sized episodes (begin, events, finish) stored by 8 threads at once, with one
//     op per commit and with group commit (plugins/storage/soci/sqlite_group_commit.hpp): episodes/s
//     and KB written per episode, side by side.
//  3. export throughput (MB/s) and peak RSS for N sessions (default 10k and 100k), each export in
//     a fresh child process so the peaks are comparable (target: flat as N grows).
// PostgreSQL figures need ATLAS_TEST_PG_URL (tests/support/postgres.sh start).
//   bench_storage [--events N] [--finishes N] [--episodes N per writer] [--sessions 10000,100000] [--backend
//   sqlite|postgresql|both]
#include <libpq-fe.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/json.hpp"
#include "data/export.hpp"
#include "data/store.hpp"
#include "plugin/registry.hpp"

using namespace atlas;
namespace fs = std::filesystem;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

plugin::StorageHandle open_plugin(const std::string& url, const std::string& extra_config = "") {
  static plugin::Registry* reg = [] {
    auto* r = new plugin::Registry();
    plugin::RegistryOptions o;
    o.use_default_dirs = false;
    o.allow_unsafe = true;
    o.files.push_back(fs::path(ATLAS_BENCH_PLUGIN_DIR) / "soci.so");
    (void)r->discover(o);
    return r;
  }();
  auto h = reg->create_storage("soci", "{\"database_url\":" + json::quote(url) + extra_config + "}");
  if (!h.is_ok()) {
    std::fprintf(stderr, "cannot open soci: %s\n", h.status().to_string().c_str());
    std::exit(1);
  }
  return *h;
}

std::string exec(plugin::StorageHandle& h, const std::string& op, const std::string& req) {
  plugin::CallContext c;
  auto r = h.execute(c, op, req);
  if (!r.is_ok()) {
    std::fprintf(stderr, "%s failed: %s\n", op.c_str(), r.status().to_string().c_str());
    std::exit(1);
  }
  return *r;
}

std::string event_json(int i) {
  return "{\"type\":\"llm_call\",\"name\":\"student\",\"role\":\"student\",\"data\":{\"n\":" + std::to_string(i) +
         ",\"usage\":{\"prompt_tokens\":120,\"completion_tokens\":40},\"model\":\"gpt-x\"}}";
}

// ---- 1. append throughput ----------------------------------------------------------------

double plugin_append(plugin::StorageHandle& h, int events) {
  std::string id = json::get_string(*json::parse(exec(h, "begin_session", R"({"task":"bench"})")), "session_id");
  double t0 = now_s();
  const int batch = 1000;
  for (int start = 0; start < events; start += batch) {
    std::string req = "{\"session_id\":\"" + id + "\",\"events\":[";
    for (int i = start; i < std::min(events, start + batch); ++i) {
      if (i != start) req += ",";
      req += "{\"event\":" + event_json(i) + ",\"created_at\":\"2026-01-01T00:00:00.000000Z\",\"event_key\":\"k" +
             std::to_string(i) + "\"}";
    }
    req += "]}";
    exec(h, "append_events", req);
  }
  return events / (now_s() - t0);
}

// ---- 2. finishing sessions -----------------------------------------------------------------

// The `steps` of a finish_session request: 2 attempts and 1 guidance note each.
std::string steps_json(int steps) {
  std::string out;
  for (int s = 1; s <= steps; ++s) {
    out += std::string(s > 1 ? "," : "") + R"({"step_id":)" + std::to_string(s) +
           R"(,"trace":"called the search tool","output":"the answer of step )" + std::to_string(s) +
           R"(","evaluation":{"reward":{"score":0.8,"judges":[{"score":0.8,"rationale":"ok"}]}},)" +
           R"("attempts":2,"metadata":{"latency_ms":120},"attempt_details":[{"attempt":1,"evaluation":{"ok":false}},)" +
           R"({"attempt":2,"evaluation":{"ok":true}}],"guidance":["check the units"]})";
  }
  return out;
}

// Seconds per finish_session of a session with `steps` steps (after its begin, not timed).
double plugin_finish(plugin::StorageHandle& h, int sessions, int steps) {
  const std::string steps_list = steps_json(steps);
  double spent = 0;
  for (int i = 0; i < sessions; ++i) {
    std::string id =
        json::get_string(*json::parse(exec(h, "begin_session", R"({"task":"finish bench"})")), "session_id");
    std::string req = R"({"session_id":")" + id + R"(","status":"succeeded","final_answer":"done",)" +
                      R"("metadata":{"learning_key":"bench"},"reward":{"score":0.8},"steps":[)" + steps_list + "]}";
    double t0 = now_s();
    exec(h, "finish_session", req);
    spent += now_s() - t0;
  }
  return spent / sessions;
}

// ---- 2b. episodes stored concurrently ----------------------------------------------------------

struct EpisodeFigures {
  double per_second = 0;
  double kb_written = 0;  // bytes this process wrote (WAL, database, checkpoints) per episode
  long long ops = 0, commits = 0;
};

long long bytes_written_by_this_process() {
  std::FILE* f = std::fopen("/proc/self/io", "r");
  if (!f) return 0;
  char key[64];
  long long value = 0, wchar = 0;
  while (std::fscanf(f, "%63s %lld", key, &value) == 2)
    if (std::string(key) == "wchar:") wchar = value;
  std::fclose(f);
  return wchar;
}

// `writers` threads each store `episodes` gateway-sized episodes (begin_session, 14 events of a
// captured call's size, finish_session of 10 steps), as the gateway's storage workers do.
EpisodeFigures concurrent_episodes(const std::string& url, const std::string& extra_config, int writers, int episodes) {
  auto h = open_plugin(url, extra_config);
  exec(h, "migrate", "{}");
  const std::string finish_tail = R"(","status":"succeeded","final_answer":"done","metadata":{"learning_key":"bench"},)"
                                  R"("reward":{"score":0.8},"reward_stats":{"score":0.8},"steps":[)" +
                                  steps_json(10) + "]}";
  std::string events;
  for (int i = 0; i < 14; ++i)
    events += std::string(i ? "," : "") + R"({"event":{"type":"llm_call","role":"student","data":{"n":)" +
              std::to_string(i) + R"(,"content":")" + std::string(360, 'x') + R"("}}})";
  const long long written0 = bytes_written_by_this_process();
  const double t0 = now_s();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int e = 0; e < episodes; ++e) {
        const std::string task = R"({"task":"Summarise the quarterly report of team )" + std::to_string(w) + "-" +
                                 std::to_string(e) +
                                 R"(","metadata":{"learning_key":"bench","execution_mode":"auto"}})";
        const std::string id = json::get_string(*json::parse(exec(h, "begin_session", task)), "session_id");
        exec(h, "append_events", R"({"session_id":")" + id + R"(","events":[)" + events + "]}");
        exec(h, "finish_session", R"({"session_id":")" + id + finish_tail);
      }
    });
  }
  for (auto& t : threads) t.join();
  EpisodeFigures f;
  const double total = static_cast<double>(writers) * episodes;
  f.per_second = total / (now_s() - t0);
  f.kb_written = static_cast<double>(bytes_written_by_this_process() - written0) / 1024.0 / total;
  auto status = json::parse(exec(h, "status", "{}"));
  if (status->HasMember("group_commit")) {
    f.ops = json::get_int((*status)["group_commit"], "ops");
    f.commits = json::get_int((*status)["group_commit"], "commits");
  }
  return f;
}

double sqlite_native(const std::string& path, int events) {
  soci::session s(*soci::factory_sqlite3(), "db=" + path + " timeout=10");
  s << "PRAGMA journal_mode = WAL";
  s << "PRAGMA synchronous = NORMAL";
  long long sid = 0;
  s << "INSERT INTO sessions (task, status, created_at) VALUES ('native', 'running', '2026-01-01') RETURNING id",
      soci::into(sid);
  double t0 = now_s();
  soci::transaction tr(s);
  std::string ev, key;
  std::string ts = "2026-01-01T00:00:00.000000Z";
  soci::statement st = (s.prepare << "INSERT INTO trajectory_events (session_id, event, created_at, event_key) "
                                     "VALUES (:s, :e, :t, :k)",
                        soci::use(sid), soci::use(ev), soci::use(ts), soci::use(key));
  for (int i = 0; i < events; ++i) {
    ev = event_json(i);
    key = "n" + std::to_string(i);
    st.execute(true);
  }
  tr.commit();
  return events / (now_s() - t0);
}

double pg_copy(const std::string& url, int events) {
  // libpq accepts the URL form directly.
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "COPY connect: %s", PQerrorMessage(c));
    std::exit(1);
  }
  PGresult* r = PQexec(c, "INSERT INTO sessions (task) VALUES ('copy') RETURNING id");
  std::string sid = PQgetvalue(r, 0, 0);
  PQclear(r);
  double t0 = now_s();
  PQclear(PQexec(c, "BEGIN"));
  r = PQexec(c, "COPY trajectory_events (session_id, event, created_at, event_key) FROM STDIN");
  PQclear(r);
  std::string buf;
  for (int i = 0; i < events; ++i) {
    buf += sid + "\t" + event_json(i) + "\t2026-01-01T00:00:00Z\tc" + std::to_string(i) + "\n";
    if (buf.size() > (1 << 16)) {
      PQputCopyData(c, buf.data(), static_cast<int>(buf.size()));
      buf.clear();
    }
  }
  if (!buf.empty()) PQputCopyData(c, buf.data(), static_cast<int>(buf.size()));
  PQputCopyEnd(c, nullptr);
  PQclear(PQgetResult(c));
  PQclear(PQexec(c, "COMMIT"));
  double rate = events / (now_s() - t0);
  PQfinish(c);
  return rate;
}

// ---- 3. export --------------------------------------------------------------------------------

std::string meta_json(int i) {
  return "{\"learning_key\":\"bench-" + std::to_string(i % 50) +
         "\",\"execution_mode\":\"paired\",\"token_usage\":{\"by_role\":{\"student\":{\"total_tokens\":200}}}}";
}

// Seeds N finished, approved sessions (1 step, 5 events each) with plain SQL in one transaction.
void seed_sessions(soci::session& s, bool pg, int n) {
  std::string task, meta, reward, plan, ev, evaluation;
  long long id = 0;
  std::string j = pg ? "CAST(:%s AS JSONB)" : ":%s";
  auto J = [&](const char* name) {
    char b[64];
    std::snprintf(b, sizeof(b), j.c_str(), name);
    return std::string(b);
  };
  soci::transaction tr(s);
  for (int i = 0; i < n; ++i) {
    task = "Benchmark task number " + std::to_string(i) + " with some realistic length of text to export";
    meta = meta_json(i);
    reward = "{\"score\":" + std::to_string((i % 10) / 10.0) + ",\"score_stddev\":0.05}";
    s << "INSERT INTO sessions (task, status, metadata, final_answer, reward, reward_stats, review_status, created_at, "
         "completed_at) VALUES (:t, 'succeeded', " +
             J("m") + ", 'An answer of moderate length for the export.', " + J("r") + ", " + J("rs") +
             ", 'approved', '2026-01-01T00:00:00Z', '2026-01-01T00:00:05Z') RETURNING id",
        soci::use(task, "t"), soci::use(meta, "m"), soci::use(reward, "r"), soci::use(reward, "rs"), soci::into(id);
    plan = "{\"steps\":[{\"id\":1,\"description\":\"do it\",\"depends_on\":[]}]}";
    s << "INSERT INTO plans (session_id, plan) VALUES (:s, " + J("p") + ")", soci::use(id, "s"), soci::use(plan, "p");
    evaluation = "{\"validation\":{\"valid\":true},\"reward\":{\"score\":0.7,\"judges\":[]}}";
    s << "INSERT INTO step_results (session_id, step_id, trace, output, evaluation, attempts, metadata) VALUES "
         "(:s, 1, 'USER: do it', 'done', " +
             J("e") + ", 1, " + J("md") + ")",
        soci::use(id, "s"), soci::use(evaluation, "e"), soci::use(plan, "md");
    for (int k = 0; k < 5; ++k) {
      ev = event_json(k);
      s << "INSERT INTO trajectory_events (session_id, event, created_at) VALUES (:s, " + J("ev") +
               ", '2026-01-01T00:00:01Z')",
          soci::use(id, "s"), soci::use(ev, "ev");
    }
  }
  tr.commit();
}

struct ExportFigures {
  double seconds = 0, mb = 0;
  long peak_rss_kb = 0;
};

ExportFigures export_in_child(const std::string& url, const fs::path& out) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(1);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    auto h = open_plugin(url);
    data::StoreOptions so;
    so.spool_path = out.string() + ".spool";
    so.recover_on_open = false;
    auto store = data::Store::open(h, so);
    data::ExportOptions eo;
    eo.output = out;
    eo.filters.review_statuses = std::nullopt;
    double t0 = now_s();
    auto r = data::export_sessions(**store, eo);
    double secs = now_s() - t0;
    double mb = r.is_ok() ? static_cast<double>(r->bytes) / (1024.0 * 1024.0) : -1;
    struct rusage ru {};
    getrusage(RUSAGE_SELF, &ru);
    char line[128];
    int len = std::snprintf(line, sizeof(line), "%f %f %ld\n", secs, mb, ru.ru_maxrss);
    if (::write(fds[1], line, static_cast<size_t>(len)) < 0) ::_exit(1);
    ::_exit(r.is_ok() ? 0 : 1);
  }
  ::close(fds[1]);
  char buf[128] = {0};
  ssize_t n = ::read(fds[0], buf, sizeof(buf) - 1);
  ::close(fds[0]);
  ::waitpid(pid, nullptr, 0);
  ExportFigures f;
  if (n > 0) std::sscanf(buf, "%lf %lf %ld", &f.seconds, &f.mb, &f.peak_rss_kb);
  return f;
}

std::string pg_keywords(const std::string& url) {
  // postgresql://postgres@/db?host=H&port=P -> keyword string for SOCI.
  PQconninfoOption* opts = PQconninfoParse(url.c_str(), nullptr);
  std::string kw;
  for (PQconninfoOption* o = opts; o && o->keyword; ++o)
    if (o->val && *o->val) kw += std::string(o->keyword) + "='" + o->val + "' ";
  PQconninfoFree(opts);
  return kw;
}

// The URL with its database name replaced: postgresql://user@host:port/DB?params.
std::string with_database(const std::string& url, const std::string& db) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/" + db;
  size_t end = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (end == std::string::npos ? "" : url.substr(end));
}

void admin_exec(const std::string& url, const std::string& sql) {
  PGconn* c = PQconnectdb(url.c_str());
  if (PQstatus(c) != CONNECTION_OK) {
    std::fprintf(stderr, "connect %s: %s", url.c_str(), PQerrorMessage(c));
    std::exit(1);
  }
  PGresult* r = PQexec(c, sql.c_str());
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    std::fprintf(stderr, "%s: %s", sql.c_str(), PQerrorMessage(c));
    std::exit(1);
  }
  PQclear(r);
  PQfinish(c);
}

void run_backend(const std::string& name, int events, int finishes, int episodes, const std::vector<int>& sizes) {
  bool pg = name == "postgresql";
  const char* env = std::getenv("ATLAS_TEST_PG_URL");
  if (pg && (!env || !*env)) {
    std::printf("[postgresql] skipped: ATLAS_TEST_PG_URL is not set (bash tests/support/postgres.sh start)\n");
    return;
  }
  fs::path dir = fs::temp_directory_path() / ("atlas-bench-" + std::to_string(::getpid()) + "-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  // PostgreSQL: a throw-away database, so earlier runs and tests do not inflate the counts.
  const std::string bench_db = "atlas_bench_" + std::to_string(::getpid());
  if (pg) admin_exec(env, "CREATE DATABASE " + bench_db);
  std::string url = pg ? with_database(env, bench_db) : "sqlite://" + (dir / "bench.db").string();
  auto h = open_plugin(url);
  exec(h, "migrate", "{}");
  double via_plugin = plugin_append(h, events);
  double native = pg ? pg_copy(url, events) : sqlite_native((dir / "bench.db").string(), events);
  std::printf("[%s] append %d events: plugin %.0f events/s, %s %.0f events/s, ratio %.2f (target >= 0.5)\n",
              name.c_str(), events, via_plugin, pg ? "COPY" : "prepared INSERT loop", native, via_plugin / native);
  if (finishes > 0) {
    double each = plugin_finish(h, finishes, 10);
    std::printf("[%s] finish_session, 10 steps of 2 attempts and 1 note: %.3f ms each, %.0f finishes/s (%d sessions)\n",
                name.c_str(), each * 1000, 1 / each, finishes);
  }
  if (!pg && episodes > 0) {
    // The same load with one op per commit (group_commit_max_ops = 1) as the baseline.
    const int writers = 8;
    EpisodeFigures one = concurrent_episodes("sqlite://" + (dir / "one-per-commit.db").string(),
                                             ",\"group_commit_max_ops\":1", writers, episodes);
    EpisodeFigures grouped = concurrent_episodes("sqlite://" + (dir / "grouped.db").string(), "", writers, episodes);
    std::printf(
        "[%s] %d writers x %d episodes (begin, 14 events, finish of 10 steps): one op per commit %.0f "
        "episodes/s, %.0f KB written each; group commit %.0f episodes/s, %.0f KB written each, %.1f ops per "
        "commit; ratio %.2fx episodes/s, %.2fx bytes\n",
        name.c_str(), writers, episodes, one.per_second, one.kb_written, grouped.per_second, grouped.kb_written,
        grouped.commits ? static_cast<double>(grouped.ops) / grouped.commits : 0.0, grouped.per_second / one.per_second,
        grouped.kb_written / one.kb_written);
  }
  int seeded = 0;
  for (int n : sizes) {
    soci::session s;
    if (pg) {
      s.open(*soci::factory_postgresql(), pg_keywords(url));
    } else {
      s.open(*soci::factory_sqlite3(), "db=" + (dir / "bench.db").string() + " timeout=30");
    }
    double t0 = now_s();
    seed_sessions(s, pg, n - seeded);
    // A database in service has planner statistics (autovacuum); one seeded a second ago may
    // not yet, and would be measured scanning whole tables instead of its indexes.
    if (pg) s << "ANALYZE";
    double seed_s = now_s() - t0;
    seeded = n;
    s.close();
    ExportFigures f = export_in_child(url, dir / ("export-" + std::to_string(n) + ".jsonl"));
    std::printf(
        "[%s] export %d sessions (atlas-jsonl): %.1f MB in %.2f s = %.1f MB/s, %.0f sessions/s, peak RSS %.1f MB"
        " (seeding took %.1f s)\n",
        name.c_str(), n, f.mb, f.seconds, f.mb / f.seconds, n / f.seconds, f.peak_rss_kb / 1024.0, seed_s);
  }
  fs::remove_all(dir);
  if (pg) admin_exec(env, "DROP DATABASE " + bench_db + " WITH (FORCE)");
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured, even when piped
  int events = 100000;
  int finishes = 2000;
  int episodes = 250;
  std::vector<int> sizes = {10000, 100000};
  std::string backend = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--events") {
      events = std::atoi(v.c_str());
    } else if (k == "--finishes") {
      finishes = std::atoi(v.c_str());
    } else if (k == "--episodes") {
      episodes = std::atoi(v.c_str());
    } else if (k == "--sessions") {
      sizes.clear();
      size_t p = 0;
      while (p < v.size()) {
        size_t c = v.find(',', p);
        sizes.push_back(std::atoi(v.substr(p, c - p).c_str()));
        if (c == std::string::npos) break;
        p = c + 1;
      }
    } else if (k == "--backend") {
      backend = v;
    }
  }
  if (backend == "both" || backend == "sqlite") run_backend("sqlite", events, finishes, episodes, sizes);
  if (backend == "both" || backend == "postgresql") run_backend("postgresql", events, finishes, episodes, sizes);
  return 0;
}
