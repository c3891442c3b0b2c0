// bench_session_lanes: N sessions per lane against mock-llm (a child process, so its CPU is not
// counted) with a fixed latency L per model call. Prints, per lane, wall time per session / L
// (= model round trips on the critical path) and the host's CPU per session (getrusage).
// No storage and no judges: this measures the lanes themselves.
//
//   bench_session_lanes [--sessions N] [--latency-ms L] [--lane "coach k=8"]
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "config/loader.hpp"
#include "runtime/runtime.hpp"

namespace {

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Voluntary context switches so far (threads that blocked: on a socket, a futex, a poll).
// Each one is a sleep and a wake-up, which dominates host CPU once the model is not instant.
long blocking_waits() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_nvcsw;
}

std::string plan_rule(int k) {
  std::string steps;
  for (int i = 1; i <= k; ++i)
    steps += std::string(i > 1 ? "," : "") + "{\"id\":" + std::to_string(i) + ",\"description\":\"part " + std::to_string(i) +
             "\",\"depends_on\":[]}";
  return "{\"match\":{\"system_contains\":\"must plan\",\"last_user_contains\":\"K=" + std::to_string(k) +
         ";\"},\"response\":{\"json\":{\"steps\":[" + steps + "]}}}";
}

}  // namespace

int main(int argc, char** argv) {
  int sessions = 20, latency_ms = 50;
  std::string only;  // a lane label such as "coach k=8": run just that lane (for profiling)
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--sessions") sessions = std::atoi(argv[i + 1]);
    else if (a == "--latency-ms") latency_ms = std::atoi(argv[i + 1]);
    else if (a == "--lane") only = argv[i + 1];
  }
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("atlas-bench-lanes-" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::string scenario = "{\"default\":\"echo\",\"latency_ms\":" + std::to_string(latency_ms) + ",\"rules\":[" +
                         plan_rule(1) + "," + plan_rule(2) + "," + plan_rule(4) + "," + plan_rule(8) + "," +
                         R"({"match":{"system_contains":"Review the student's plan"},"response":{"json":{"steps":[]}}},
                           {"match":{"system_contains":"You are the teacher"},"response":{"json":{"valid":true}}},
                           {"match":{"system_contains":"You are the student agent"},"response":{"text":"done","usage":{"prompt_tokens":100,"completion_tokens":20}}}]})";
  std::ofstream(dir / "scenario.json") << scenario;

  // mock-llm as a child process; its first stdout line carries the port.
  int out[2];
  if (pipe(out) != 0) return 1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    // ATLAS_BENCH_REQUEST_LOG=FILE keeps every request the host sent (to inspect prompt sizes).
    std::string scenario_path = (dir / "scenario.json").string();
    std::vector<const char*> args = {ATLAS_BENCH_HOST_BIN, "mock-llm", "--scenario", scenario_path.c_str(), "--port", "0"};
    const char* log = std::getenv("ATLAS_BENCH_REQUEST_LOG");
    if (log && *log) args.insert(args.end(), {"--request-log", log});
    args.push_back(nullptr);
    execv(ATLAS_BENCH_HOST_BIN, const_cast<char* const*>(args.data()));
    _exit(127);
  }
  close(out[1]);
  std::string line;
  char c;
  while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
  size_t colon = line.rfind(':');
  if (line.find("listening") == std::string::npos || colon == std::string::npos) {
    std::fprintf(stderr, "mock-llm did not start: %s\n", line.c_str());
    kill(pid, SIGTERM);
    return 1;
  }
  std::string base = line.substr(line.find("http"));

  std::printf("session_lanes: %d sessions per lane, mock latency L = %d ms per model call, no storage, no judges\n",
              sessions, latency_ms);
  std::printf("%-14s %12s %14s %16s %12s\n", "lane", "wall/session", "round trips", "host CPU/session", "waits/session");
  struct Lane {
    const char* label;
    const char* mode;
    int k;
  };
  for (Lane lane : {Lane{"auto", "auto", 1}, Lane{"paired", "paired", 1}, Lane{"coach k=1", "coach", 1},
                    Lane{"coach k=2", "coach", 2}, Lane{"coach k=4", "coach", 4}, Lane{"coach k=8", "coach", 8}}) {
    if (!only.empty() && only != lane.label) continue;
    auto model = [&](const std::string& s) {
      return "[" + s + "]\nprovider = \"openai\"\nmodel = \"m\"\napi_key_env = \"ATLAS_BENCH_NO_KEY\"\napi_base = \"" + base +
             "/v1\"\n";
    };
    std::string toml = "[agent]\nadapter = \"openai\"\nname = \"bench\"\n" + model("student.llm") + model("teacher.llm") +
                       "[orchestration]\nforced_mode = \"" + lane.mode + "\"\nmax_parallel_steps = 8\n" +
                       "[rewards]\nsession_judges = []\nstep_judges = []\n[learning]\nenabled = false\n[storage]\nenabled = false\n";
    auto cfg = atlas::config::parse_config(toml, "bench.toml");
    if (!cfg) {
      std::fprintf(stderr, "%s\n", cfg.status().message().c_str());
      break;
    }
    atlas::runtime::RuntimeOptions ro;
    ro.use_default_plugin_dirs = false;
    ro.plugin_dirs = {ATLAS_BENCH_PLUGIN_DIR};
    auto rt = atlas::runtime::Runtime::create(std::move(*cfg), ro);
    if (!rt) {
      std::fprintf(stderr, "%s\n", rt.status().to_string().c_str());
      break;
    }
    std::string task = "K=" + std::to_string(lane.k) + "; review the module";
    (*rt)->run({task, "{}", ""});  // warm-up (connections, first-use initialisation)
    double cpu0 = cpu_seconds(), wall0 = atlas::clock::monotonic_seconds();
    long waits0 = blocking_waits();
    int failed = 0;
    for (int i = 0; i < sessions; ++i)
      if ((*rt)->run({task, "{}", ""}).status != atlas::SessionStatus::kSucceeded) ++failed;
    double wall = (atlas::clock::monotonic_seconds() - wall0) / sessions;
    double cpu = (cpu_seconds() - cpu0) / sessions;
    double waits = static_cast<double>(blocking_waits() - waits0) / sessions;
    std::printf("%-14s %10.1f ms %14.2f %13.2f ms %12.1f%s\n", lane.label, wall * 1000, wall * 1000 / latency_ms, cpu * 1000, waits,
                failed ? "  (some sessions failed)" : "");
  }
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  fs::remove_all(dir);
  return 0;
}
