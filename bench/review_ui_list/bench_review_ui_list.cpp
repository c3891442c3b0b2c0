// Review UI list page benchmark (prints figures; not a test): the time GET /ui/api/sessions
// takes on N stored sessions (default 100k), through the real UI server and soci plugin, for the
// first page with counts and for filtered, searched (common and rare terms, by id and by reward),
// reward-sorted and deep cursor pages, and for the counts request the page makes after its rows
// (GET /ui/api/sessions/counts). The client is on loopback, so each figure is the server's time
// plus one local round trip.
// Target: p99 < 200 ms for every page.
//   bench_review_ui_list [--sessions 100000] [--requests 50] [--backend sqlite|postgresql]
// PostgreSQL needs ATLAS_TEST_PG_URL (tests/support/postgres.sh start).
#include <httplib.h>
#include <soci/postgresql/soci-postgresql.h>
#include <soci/soci.h>
#include <soci/sqlite3/soci-sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "data/store.hpp"
#include "plugin/registry.hpp"
#include "review_ui/review_ui.hpp"

using namespace atlas;
namespace fs = std::filesystem;

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

plugin::StorageHandle open_plugin(const std::string& url) {
  static plugin::Registry* reg = [] {
    auto* r = new plugin::Registry();
    plugin::RegistryOptions o;
    o.use_default_dirs = false;
    o.allow_unsafe = true;
    o.files.push_back(fs::path(ATLAS_BENCH_PLUGIN_DIR) / "soci.so");
    (void)r->discover(o);
    return r;
  }();
  auto h = reg->create_storage("soci", "{\"database_url\":" + json::quote(url) + "}");
  if (!h.is_ok()) {
    std::fprintf(stderr, "cannot open soci: %s\n", h.status().to_string().c_str());
    std::exit(1);
  }
  return *h;
}

const char* kTasks[] = {"Review this diff for injection bugs in the login handler",
                        "Summarise the incident report and list the follow-ups",
                        "Translate the release notes into French", "Find the off-by-one error in the pagination code",
                        "Write unit tests for the currency converter"};
const char* kLanes[] = {"auto", "paired", "coach", "escalate"};
const char* kReviews[] = {"pending", "pending", "approved", "quarantined"};

// N sessions with realistic columns, written natively in one transaction (the plugin's own
// schema, created by its migrate op first).
void seed(const std::string& url, bool pg, int n) {
  soci::session s;
  if (pg)
    s.open(*soci::factory_postgresql(), url);  // libpq takes the URL as it is
  else
    s.open(*soci::factory_sqlite3(), "db=" + url.substr(std::string("sqlite://").size()) + " timeout=10");
  soci::transaction tr(s);
  std::string task, status, review, meta, answer, reward, created;
  soci::statement st =
      (s.prepare << (pg ? "INSERT INTO sessions (task, status, review_status, metadata, final_answer, reward, "
                          "reward_stats, created_at, completed_at) VALUES (:t, :s, :r, CAST(:m AS JSONB), :a, "
                          "CAST(:w AS JSONB), CAST(:w2 AS JSONB), CAST(:c AS TIMESTAMPTZ), CAST(:c2 AS TIMESTAMPTZ))"
                        : "INSERT INTO sessions (task, status, review_status, metadata, final_answer, reward, "
                          "reward_stats, created_at, completed_at) VALUES (:t, :s, :r, :m, :a, :w, :w2, :c, :c2)"),
       soci::use(task), soci::use(status), soci::use(review), soci::use(meta), soci::use(answer), soci::use(reward),
       soci::use(reward), soci::use(created), soci::use(created));
  for (int i = 0; i < n; ++i) {
    task = std::string(kTasks[i % 5]) + " #" + std::to_string(i) + ": " + std::string(600, 'x');
    status = i % 17 == 0 ? "failed" : "succeeded";
    review = kReviews[i % 4];
    meta = "{\"learning_key\":\"key-" + std::to_string(i % 40) + "\",\"execution_mode\":\"" + kLanes[i % 4] +
           "\",\"token_usage\":{\"total_tokens\":" + std::to_string(1000 + i % 977) + "}}";
    answer = "Answer " + std::to_string(i) + ": " + std::string(800, 'y');
    reward = "{\"score\":" + std::to_string((i * 37 % 100) / 100.0) + ",\"judges\":[]}";
    char ts[40];
    std::snprintf(ts, sizeof(ts), "2026-%02d-%02dT%02d:%02d:00.000000Z", 1 + (i / 40000) % 12, 1 + (i / 1400) % 28,
                  (i / 60) % 24, i % 60);
    created = ts;
    st.execute(true);
  }
  tr.commit();
  // PostgreSQL: the statistics and visibility map autovacuum would have made by the time a
  // table of this size is browsed (otherwise the first minute measures autovacuum at work).
  if (pg) s << "VACUUM ANALYZE sessions";
}

struct Figure {
  double p50, p99, max;
};

Figure measure(httplib::Client& c, const std::string& path, int requests) {
  std::vector<double> ms;
  for (int i = 0; i < requests; ++i) {
    double t0 = now_ms();
    auto r = c.Get(path);
    double t = now_ms() - t0;
    if (!r || r->status != 200) {
      std::fprintf(stderr, "GET %s failed: %s\n", path.c_str(), r ? r->body.c_str() : "no answer");
      std::exit(1);
    }
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
  return {at(0.5), at(0.99), ms.back()};
}

}  // namespace

int main(int argc, char** argv) {
  int n = 100000, requests = 50;
  std::string backend = "sqlite";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sessions")
      n = std::atoi(argv[i + 1]);
    else if (a == "--requests")
      requests = std::atoi(argv[i + 1]);
    else if (a == "--backend")
      backend = argv[i + 1];
  }
  const bool pg = backend == "postgresql";
  fs::path dir = fs::temp_directory_path() / ("bench-review-ui-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::string url;
  if (pg) {
    const char* u = std::getenv("ATLAS_TEST_PG_URL");
    if (!u) {
      std::fprintf(stderr, "--backend postgresql needs ATLAS_TEST_PG_URL (tests/support/postgres.sh start)\n");
      return 1;
    }
    url = u;
  } else {
    url = "sqlite://" + (dir / "atlas.db").string();
  }
  auto handle = open_plugin(url);
  data::StoreOptions so;
  so.spool_path = dir / "spool.jsonl";
  so.database_url = url;
  auto store = data::Store::open(data::handle_backend(handle), so);
  if (!store) {
    std::fprintf(stderr, "store: %s\n", store.status().to_string().c_str());
    return 1;
  }
  double t0 = now_ms();
  seed(url, pg, n);
  std::printf("seeded %d sessions (%s) in %.1f s\n", n, backend.c_str(), (now_ms() - t0) / 1000);

  review_ui::UiOptions o;
  o.local_actor = "bench";
  o.export_dir = dir / "exports";
  auto ui = review_ui::ReviewUi::create(**store, o);
  if (!ui) return 1;
  review_ui::UiServer server(**ui);
  auto port = server.start("127.0.0.1", 0);
  if (!port) return 1;
  httplib::Client c("127.0.0.1", *port);
  auto me = c.Get("/ui/api/me");
  std::string cookie = me->get_header_value("Set-Cookie");
  c.set_default_headers({{"Cookie", cookie.substr(0, cookie.find(';'))}});

  // A cursor deep in the list (page 500 of 50).
  std::string deep = std::to_string(n - 25000);
  const std::pair<const char*, std::string> pages[] = {
      {"first page + counts", "/ui/api/sessions"},
      {"next page (no counts)", "/ui/api/sessions?counts=0&after=" + std::to_string(n - 50)},
      {"deep cursor", "/ui/api/sessions?counts=0&after=" + deep},
      {"review=pending + counts", "/ui/api/sessions?review=pending"},
      {"lane+key+reward + counts", "/ui/api/sessions?lane=coach&key=key-2&min_reward=0.3&max_reward=0.9"},
      {"lane+key+reward, no counts", "/ui/api/sessions?lane=coach&key=key-2&min_reward=0.3&max_reward=0.9&counts=0"},
      {"sort=reward_desc + counts", "/ui/api/sessions?sort=reward_desc"},
      {"date range + counts", "/ui/api/sessions?since=2026-02-01&until=2026-02-28"},
      {"text search + counts", "/ui/api/sessions?q=off-by-one"},
      {"text search, no counts", "/ui/api/sessions?q=off-by-one&counts=0"},
      {"text search, rare, no counts", "/ui/api/sessions?q=%2377777%3A&counts=0"},
      {"reward_desc + text, no counts", "/ui/api/sessions?sort=reward_desc&q=translate&counts=0"},
      {"reward_desc + rare text", "/ui/api/sessions?sort=reward_desc&q=%2377777%3A&counts=0"},
      // A common term that no session of the key has: the walk in reward order finds nothing.
      {"reward_desc + text + key, none", "/ui/api/sessions?sort=reward_desc&q=translate&key=key-3&counts=0"},
      {"reward_desc deep cursor", "/ui/api/sessions?sort=reward_desc&counts=0&after=0.2%7C50000"},
      // What the page does: the rows (counts=0), then the tabs' counts in a second request.
      {"counts request", "/ui/api/sessions/counts"},
      {"counts: lane+key+reward", "/ui/api/sessions/counts?lane=coach&key=key-2&min_reward=0.3&max_reward=0.9"},
      {"counts: date range", "/ui/api/sessions/counts?since=2026-02-01&until=2026-02-28"},
      {"counts: text search", "/ui/api/sessions/counts?q=off-by-one"},
  };
  std::printf("%-28s %9s %9s %9s   (%d requests each, ms)\n", "page", "p50", "p99", "max", requests);
  for (const auto& [name, path] : pages) {
    (void)c.Get(path);  // warm the cache
    Figure f = measure(c, path, requests);
    std::printf("%-28s %9.1f %9.1f %9.1f%s\n", name, f.p50, f.p99, f.max,
                f.p99 < 200 ? "" : "   over the 200 ms target");
  }
  server.stop();
  fs::remove_all(dir);
  return 0;
}
