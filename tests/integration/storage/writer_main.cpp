// storage_writer: a host stand-in for the crash tests. Writes sessions in a loop through the
// real Store (batched events, spool, replay) and prints "finished <i> <id>" after each one.
//   storage_writer URL SPOOL SESSIONS EVENTS   (SESSIONS 0 = until killed)
// At the end it waits (bounded) until the spool is replayed, then exits 0.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "data/store.hpp"
#include "plugin/registry.hpp"

using namespace atlas;

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: storage_writer URL SPOOL SESSIONS EVENTS\n");
    return 2;
  }
  std::string url = argv[1];
  int sessions = std::atoi(argv[3]);
  int events = std::atoi(argv[4]);
  plugin::Registry registry;
  plugin::RegistryOptions ro;
  ro.use_default_dirs = false;
  ro.allow_unsafe = true;
  ro.files.push_back(std::filesystem::path(ATLAS_TEST_PLUGIN_DIR) / "soci.so");
  if (!registry.discover(ro).is_ok()) return 3;
  auto handle = registry.create_storage("soci", "{\"database_url\":" + json::quote(url) +
                                                    ",\"connect_timeout_seconds\":2,\"statement_timeout_seconds\":10}");
  if (!handle.is_ok()) {
    std::fprintf(stderr, "%s\n", handle.status().to_string().c_str());
    return 4;
  }
  data::StoreOptions o;
  o.spool_path = argv[2];
  o.batch_max_events = 16;
  o.batch_max_age_ms = 20;
  o.retry_attempts = 3;
  o.retry_backoff_ms = 20;
  auto store = data::Store::open(*handle, o);
  if (!store.is_ok()) {
    std::fprintf(stderr, "%s\n", store.status().to_string().c_str());
    return 5;
  }
  for (int i = 0; sessions == 0 || i < sessions; ++i) {
    auto id = (*store)->begin_session("writer task " + std::to_string(i), R"({"learning_key":"writer"})");
    if (!id.is_ok()) {
      std::fprintf(stderr, "begin: %s\n", id.status().to_string().c_str());
      return 6;
    }
    for (int e = 0; e < events; ++e)
      (*store)->append_event(*id, "{\"type\":\"tick\",\"session\":" + std::to_string(i) + ",\"n\":" + std::to_string(e) + "}");
    std::string fin = R"({"session_id":")" + *id + R"(","status":"succeeded","final_answer":"done )" + std::to_string(i) +
                      R"(","metadata":{"execution_mode":"auto"},"plan":{"steps":[{"id":1,"description":"a"},{"id":2,"description":"b"}]},
      "steps":[{"step_id":1,"output":"x","evaluation":{"reward":{"score":0.5}},"attempts":1,"attempt_details":[{"attempt":1,"evaluation":{}}],"guidance":[]},
               {"step_id":2,"output":"y","evaluation":{"reward":{"score":0.7}},"attempts":1,"attempt_details":[{"attempt":1,"evaluation":{}}],"guidance":["g"]}],
      "reward":{"score":0.6},"reward_stats":{"score":0.6},"review_status":"approved","review_actor":"runtime"})";
    Status st = (*store)->finish_session(fin);
    if (!st.is_ok()) {
      std::fprintf(stderr, "finish: %s\n", st.to_string().c_str());
      return 7;
    }
    std::printf("finished %d %s\n", i, id->c_str());
    std::fflush(stdout);
  }
  // Bounded wait for the spool to drain (the database may just have come back).
  int64_t deadline = clock::now_unix_ms() + 60000;
  while ((*store)->spool_status().pending_records > 0 && clock::now_unix_ms() < deadline) {
    auto r = (*store)->replay_spool();
    if (r.is_ok() && (*store)->spool_status().pending_records == 0) break;
    // poll: the database is restarting
    struct timespec ts{0, 100 * 1000 * 1000};
    nanosleep(&ts, nullptr);
  }
  if ((*store)->spool_status().pending_records > 0) {
    std::fprintf(stderr, "spool not replayed within 60 s\n");
    return 8;
  }
  std::printf("replayed\n");
  std::fflush(stdout);
  return 0;
}
