// What `atlas-host serve` adds to a model call: the same open-loop load (fixed request rate,
// requests scheduled in advance so a slow reply delays the measurement, not the schedule) sent
// straight to the upstream (mock-llm, zero latency) and through the gateway in front of it, side
// by side in one run: the two paths alternate in blocks of --block-seconds (D G G D D G ...), so
// the machine's load drifting during a row (this is a shared VM) shifts both paths alike instead
// of whichever ran second. The gateway runs with capture and SQLite storage on, in the
// auto lane; every K calls an episode ends (POST .../end), so judges and storage run as they do
// in production. Prints, per rate and mode (plain / streaming), p50/p90/p99/max latency of each
// path, the added p50/p99, the achieved rate, and failed requests (target: zero).
//
//   bench_serve_gateway [--rates 100,2000] [--seconds 5] [--block-seconds 1] [--connections 32] [--calls-per-episode
//   10]
//                       [--only plain|stream] [--host-bin PATH] [--database-url URL] [--shared-episodes]
//                       [--judges-elsewhere] [--capture-only] [--no-storage] [--mock-threads N]
//                       [--reference-nginx PATH]
//
// --capture-only measures what the issue's latency target names, capture and storage: no model
// judges ([rewards] step_judges = [], session_judges = [{plugin = "verifiable"}]) and no learning
// update ([learning] update_enabled = false). Each episode still opens, records every call, ends,
// is reviewed and stored; the default runs ~33 judge calls per 10-call episode on the same cores.
//
// --no-storage runs the gateway with [storage] enabled = false: calls are still captured and
// episodes judged, nothing is written. Beside a --capture-only row it shows storage's share of
// the added latency.
//
// --mock-threads (default 1024): mock-llm's worker threads. Each open connection holds one, and
// the gateway's pooled upstream connections, the judges' and the load generator's together can
// pass its default of 96, which measures the mock making room instead of the gateway.
//
// --shared-episodes runs the gateway with [serve] shared_episodes = true (episode state in the
// database, every call stored before its reply: docs/serve.md, "Several gateway replicas");
// --database-url picks its database (default: a fresh SQLite file), e.g. the PostgreSQL of
// tests/support/postgres.sh.
//
// --reference-nginx PATH (e.g. /usr/sbin/nginx, Debian's nginx-light) runs every row a second
// time with nginx in the gateway's place: a plain reverse proxy to the same mock-llm (kept-alive
// upstream connections, no buffering, no logging, one worker per core), capturing nothing. What
// it adds is what a mature event-loop relay costs on this machine, measured in the same run: the
// floor under the gateway's own figure.
//
// Both servers are the real `atlas-host` binary (next to this one unless --host-bin), started as
// child processes; the load generator is this process (one thread per connection).
#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "atlas/child_process.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  std::vector<int> rates = {100, 2000};
  double seconds = 5;        // per path and row
  double block_seconds = 1;  // the paths alternate every block
  int connections = 32;
  int calls_per_episode = 10;
  int history_kb = 0;                     // earlier turns in each request
  std::string database_url;               // "" = a fresh SQLite file
  std::vector<std::string> soci_options;  // --soci KEY=VALUE as "KEY = VALUE": [plugins.soci] lines (docs/storage.md)
  bool shared_episodes = false;
  bool judges_elsewhere = false;
  bool capture_only = false;
  bool no_storage = false;
  std::string only;
  std::string host_bin;
  std::string reference_nginx;  // nginx binary for the pass-through reference rows ("" = none)
  int mock_threads = 1024;
};

struct Figures {
  std::vector<double> latency_ms;  // per successful request, from its scheduled start
  std::vector<int> block;          // the block each of them ran in
  int failed = 0;
  double wall_seconds = 0;
  std::string first_error;
};

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// Starts `atlas-host ARGS...` and returns its URL from the "listening on URL" line; "" (and says
// why) when it does not start.
std::string start_server(atlas::sdk::ChildProcess& child, const std::string& bin, std::vector<std::string> args) {
  atlas::sdk::ChildProcess::Spec spec;
  spec.argv = {bin};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.env["ATLAS_LOG"] = "error";
  if (std::string err = child.start(spec); !err.empty()) {
    std::fprintf(stderr, "cannot start %s: %s\n", bin.c_str(), err.c_str());
    return "";
  }
  std::string line;
  const int64_t deadline = atlas::sdk::ChildProcess::now_ms() + 60000;
  while (child.read_line(deadline, line) == atlas::sdk::ChildProcess::Read::kOk)
    if (line.rfind("listening on ", 0) == 0) return line.substr(13);
  child.wait_exit(2000);
  child.drain_stderr();
  std::fprintf(stderr, "%s %s did not start (%s):\n%s\n", bin.c_str(), args.empty() ? "" : args[0].c_str(),
               child.exit_description().c_str(), child.stderr_tail().text().c_str());
  return "";
}

// A chat request; `history_kb` > 0 puts that many KiB of earlier turns before the question, as
// an agent's request carries its conversation so far.
std::string chat_body(bool stream, int history_kb) {
  std::string history;
  const std::string line = "Earlier step: the tool returned 42 rows, none of them past the cut-off date. ";
  for (int turn = 0; static_cast<int>(history.size()) < history_kb * 1024; ++turn) {
    std::string text;
    while (text.size() < 2000) text += line;
    history +=
        std::string(R"({"role":")") + (turn % 2 == 0 ? "user" : "assistant") + R"(","content":")" + text + R"("},)";
  }
  return std::string(R"({"model":"mock-model","messages":[{"role":"system","content":"You answer briefly."},)") +
         history + R"({"role":"user","content":"What is the capital of France?"}])" +
         (stream ? R"(,"stream":true,"stream_options":{"include_usage":true}})" : "}");
}

// The order of the two paths over a row's blocks: direct first in even pairs, the gateway first
// in odd ones (D G G D D G ...), so a drift of the machine's load over the row favours neither.
bool block_goes_through_gateway(int block) {
  const int pair = block / 2;
  return (block % 2 == 1) != (pair % 2 == 1);
}

// One connection: requests at fixed times (rate / connections per second) for `blocks` blocks of
// `block_s` seconds, alternating between the direct path and the relay (the gateway, or the
// reference proxy) block by block over two kept-alive connections, so both paths are measured
// under the same machine conditions. Through the gateway, episode ids `<tag>-<conn>-<n>` change
// every `calls_per_episode` calls, each episode ended afterwards. Latencies go to `out[0]`
// (direct) and `out[1]` (relay), with their block.
void drive(const std::string& direct_url, const std::string& gw_url, bool relay_is_gateway, bool stream, int history_kb,
           double interval_s, Clock::time_point start, double block_s, int blocks, int conn, int connections,
           int calls_per_episode, const std::string& tag, std::array<Figures, 2>& out) {
  auto connect = [](const std::string& url) {
    auto client = std::make_unique<httplib::Client>(url);
    client->set_keep_alive(true);
    client->set_tcp_nodelay(true);  // else Nagle and delayed ACKs add ~40 ms to a request written in two parts
    client->set_read_timeout(std::chrono::seconds(30));
    return client;
  };
  std::unique_ptr<httplib::Client> clients[2] = {connect(direct_url), connect(gw_url)};
  const std::string body = chat_body(stream, history_kb);
  const auto offset = std::chrono::duration<double>(interval_s * conn / connections);
  int gateway_calls = 0;
  for (int k = 0;; ++k) {
    const std::chrono::duration<double> at = offset + std::chrono::duration<double>(interval_s * k);
    const int block = static_cast<int>(at.count() / block_s);
    if (block >= blocks) break;
    auto scheduled = start + std::chrono::duration_cast<Clock::duration>(at);
    std::this_thread::sleep_until(scheduled);
    const bool through_relay = block_goes_through_gateway(block);
    const bool through_gateway = through_relay && relay_is_gateway;
    Figures& figures = out[through_relay ? 1 : 0];
    httplib::Client& client = *clients[through_relay ? 1 : 0];
    std::string episode = tag + "-" + std::to_string(conn) + "-" + std::to_string(gateway_calls / calls_per_episode);
    httplib::Headers headers;
    if (through_gateway) headers.emplace("X-Atlas-Session", episode);
    auto res = client.Post("/v1/chat/completions", headers, body, "application/json");
    auto done = Clock::now();
    bool ok = res && res->status == 200 && res->body.find("chat.completion") != std::string::npos;
    if (ok) {
      figures.latency_ms.push_back(std::chrono::duration<double, std::milli>(done - scheduled).count());
      figures.block.push_back(block);
    } else {
      ++figures.failed;
      if (figures.first_error.empty())
        figures.first_error = res ? "HTTP " + std::to_string(res->status) + ": " + res->body.substr(0, 200)
                                  : httplib::to_string(res.error());
    }
    if (through_gateway && ++gateway_calls % calls_per_episode == 0)
      (void)client.Post("/atlas/v1/sessions/" + episode + "/end", "{}", "application/json");
  }
}

// End-of-episode jobs (judges, storage, learning) the gateway still has queued, from GET /healthz;
// -1 when it does not answer.
long queued_episode_work(const std::string& gw_url) {
  httplib::Client client(gw_url);
  auto res = client.Get("/healthz");
  if (!res || res->status != 200) return -1;
  const std::string key = "\"storage_queue\":";
  size_t at = res->body.find(key);
  return at == std::string::npos ? -1 : std::strtol(res->body.c_str() + at + key.size(), nullptr, 10);
}

// Waits (polling /healthz) until the gateway has caught up with the episodes of the row just
// run, so that the next row, its direct phase above all, does not share the CPU with that
// backlog. Returns the seconds it took, or -1 when the gateway stopped answering.
double wait_for_episode_work(const std::string& gw_url) {
  const auto start = Clock::now();
  for (;;) {
    long queued = queued_episode_work(gw_url);
    if (queued <= 0) return queued < 0 ? -1.0 : std::chrono::duration<double>(Clock::now() - start).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// One row: `o.seconds` of load on each path, in interleaved blocks of `o.block_seconds`.
// Returns {direct, relay}.
std::array<Figures, 2> run_row(const std::string& direct_url, const std::string& relay_url, bool relay_is_gateway,
                               bool stream, int rate, const Options& o, const std::string& tag) {
  const double interval_s = static_cast<double>(o.connections) / rate;
  const int blocks = 2 * std::max(1, static_cast<int>(o.seconds / o.block_seconds + 0.5));
  std::vector<std::array<Figures, 2>> per(static_cast<size_t>(o.connections));
  std::vector<std::thread> threads;
  auto start = Clock::now() + std::chrono::milliseconds(100);
  for (int c = 0; c < o.connections; ++c)
    threads.emplace_back(drive, direct_url, relay_url, relay_is_gateway, stream, o.history_kb, interval_s, start,
                         o.block_seconds, blocks, c, o.connections, o.calls_per_episode, tag,
                         std::ref(per[static_cast<size_t>(c)]));
  for (auto& t : threads) t.join();
  std::array<Figures, 2> all;
  for (auto& f : all) f.wall_seconds = o.block_seconds * blocks / 2;
  for (auto& conn : per) {
    for (int path = 0; path < 2; ++path) {
      Figures& to = all[static_cast<size_t>(path)];
      Figures& from = conn[static_cast<size_t>(path)];
      to.latency_ms.insert(to.latency_ms.end(), from.latency_ms.begin(), from.latency_ms.end());
      to.block.insert(to.block.end(), from.block.begin(), from.block.end());
      to.failed += from.failed;
      if (to.first_error.empty()) to.first_error = from.first_error;
    }
  }
  return all;
}

// Added p99 of each adjacent pair of blocks (one direct, one gateway), sorted: how much the
// figure moves within one row. Empty when a block holds too few requests for a p99 of its own.
std::vector<double> added_p99_per_pair(const std::array<Figures, 2>& row) {
  std::map<int, std::vector<double>> by_block;
  for (const Figures& f : row)
    for (size_t i = 0; i < f.latency_ms.size(); ++i) by_block[f.block[i]].push_back(f.latency_ms[i]);
  std::vector<double> added;
  for (auto it = by_block.begin(); it != by_block.end(); ++it) {
    if (it->first % 2 != 0) continue;
    auto other = by_block.find(it->first + 1);
    if (other == by_block.end() || it->second.size() < 500 || other->second.size() < 500) return {};
    const bool first_is_gateway = block_goes_through_gateway(it->first);
    std::vector<double>& gateway = first_is_gateway ? it->second : other->second;
    std::vector<double>& direct = first_is_gateway ? other->second : it->second;
    added.push_back(percentile(gateway, 0.99) - percentile(direct, 0.99));
  }
  std::sort(added.begin(), added.end());
  return added;
}

void print_row(const char* path, Figures& f) {
  double p50 = percentile(f.latency_ms, 0.50), p90 = percentile(f.latency_ms, 0.90),
         p99 = percentile(f.latency_ms, 0.99), max = f.latency_ms.empty() ? 0 : f.latency_ms.back();
  std::printf("  %-8s %8.3f %8.3f %8.3f %9.3f %9.0f %7d\n", path, p50, p90, p99, max,
              static_cast<double>(f.latency_ms.size()) / f.wall_seconds, f.failed);
  if (!f.first_error.empty()) std::printf("           first failure: %s\n", f.first_error.c_str());
}

// Prints a row's two paths and what the relay added; returns the row's failed requests.
int report_row(const char* relay_name, std::array<Figures, 2>& row) {
  const std::vector<double> pairs = added_p99_per_pair(row);
  Figures& direct = row[0];
  Figures& through = row[1];
  double added50 = percentile(through.latency_ms, 0.5) - percentile(direct.latency_ms, 0.5);
  double added99 = percentile(through.latency_ms, 0.99) - percentile(direct.latency_ms, 0.99);
  print_row("direct", direct);
  print_row(relay_name, through);
  std::printf("  added by %s: p50 %+.3f ms, p99 %+.3f ms", relay_name, added50, added99);
  if (!pairs.empty())
    std::printf(" (per pair of blocks: median %+.3f, from %+.3f to %+.3f over %zu pairs)", pairs[pairs.size() / 2],
                pairs.front(), pairs.back(), pairs.size());
  std::printf("\n");
  return direct.failed + through.failed;
}

// A TCP port on 127.0.0.1 free a moment ago (nginx takes its port from its configuration).
int free_loopback_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  int port = -1;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  if (fd >= 0) close(fd);
  return port;
}

// Starts nginx as a pass-through reverse proxy to `upstream_url` (http://host:port) and returns
// its URL once it answers; "" (and says why) when it does not start.
std::string start_reference_nginx(atlas::sdk::ChildProcess& child, const std::string& nginx, const fs::path& dir,
                                  const std::string& upstream_url) {
  fs::create_directories(dir / "logs");
  const int port = free_loopback_port();
  const std::string upstream = upstream_url.substr(upstream_url.find("://") + 3);
  std::ofstream(dir / "nginx.conf")
      << "worker_processes auto;\ndaemon off;\npid " << (dir / "nginx.pid").string() << ";\nerror_log "
      << (dir / "logs/error.log").string() << " error;\nevents { worker_connections 4096; }\nhttp {\n"
      << "  access_log off;\n  client_body_temp_path " << (dir / "body").string() << ";\n  proxy_temp_path "
      << (dir / "proxy").string() << ";\n  upstream mock { server " << upstream << "; keepalive 256; }\n"
      << "  server {\n    listen 127.0.0.1:" << port << ";\n    keepalive_timeout 60s;\n"
      << "    keepalive_requests 1000000;\n    client_body_buffer_size 1m;\n    location / {\n"
      << "      proxy_pass http://mock;\n      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
      << "      proxy_buffering off;\n      proxy_request_buffering off;\n    }\n  }\n}\n";
  atlas::sdk::ChildProcess::Spec spec;
  spec.argv = {nginx, "-p", dir.string(), "-c", (dir / "nginx.conf").string(), "-e", (dir / "logs/error.log").string()};
  if (std::string err = child.start(spec); !err.empty()) {
    std::fprintf(stderr, "cannot start %s: %s\n", nginx.c_str(), err.c_str());
    return "";
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (;;) {
    httplib::Client probe(url);
    probe.set_connection_timeout(std::chrono::milliseconds(200));
    if (auto res = probe.Get("/v1/models"); res && res->status == 200) return url;
    if (Clock::now() > deadline) {
      child.stop(0);
      std::fprintf(stderr, "%s did not answer on %s within 10 s:\n%s\n", nginx.c_str(), url.c_str(),
                   child.stderr_tail().text().c_str());
      return "";
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polling its start-up: nginx prints no "ready"
  }
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--rates") {
      o.rates.clear();
      std::string v = next();
      for (size_t p = 0; p < v.size();) {
        size_t c = v.find(',', p);
        o.rates.push_back(std::atoi(v.substr(p, c - p).c_str()));
        p = c == std::string::npos ? v.size() : c + 1;
      }
    } else if (a == "--seconds") {
      o.seconds = std::atof(next().c_str());
    } else if (a == "--history-kb") {
      o.history_kb = std::atoi(next().c_str());
    } else if (a == "--block-seconds") {
      o.block_seconds = std::atof(next().c_str());
    } else if (a == "--connections") {
      o.connections = std::atoi(next().c_str());
    } else if (a == "--calls-per-episode") {
      o.calls_per_episode = std::atoi(next().c_str());
    } else if (a == "--only") {
      o.only = next();
    } else if (a == "--host-bin") {
      o.host_bin = next();
    } else if (a == "--database-url") {
      o.database_url = next();
    } else if (a == "--soci") {
      std::string kv = next();
      const size_t eq = kv.find('=');
      if (eq == std::string::npos || eq == 0) {
        std::fprintf(stderr, "--soci takes KEY=VALUE (a [plugins.soci] key, e.g. group_commit_wait_ms=10)\n");
        std::exit(2);
      }
      o.soci_options.push_back(kv.substr(0, eq) + " = " + kv.substr(eq + 1));
    } else if (a == "--shared-episodes") {
      o.shared_episodes = true;
    } else if (a == "--mock-threads") {
      o.mock_threads = std::atoi(next().c_str());
    } else if (a == "--judges-elsewhere") {
      o.judges_elsewhere = true;
    } else if (a == "--capture-only") {
      o.capture_only = true;
    } else if (a == "--no-storage") {
      o.no_storage = true;
    } else if (a == "--reference-nginx") {
      o.reference_nginx = next();
    } else {
      std::fprintf(
          stderr,
          "usage: bench_serve_gateway [--rates 100,2000] [--seconds 5] [--block-seconds 1] [--connections 32] "
          "[--calls-per-episode 10] [--history-kb 0] [--only plain|stream] [--host-bin PATH] [--database-url URL] "
          "[--soci KEY=VALUE]... [--shared-episodes] [--judges-elsewhere] [--capture-only] [--no-storage] "
          "[--mock-threads N] [--reference-nginx PATH]\n");
      std::exit(2);
    }
  }
  bool rates_ok = !o.rates.empty() && std::all_of(o.rates.begin(), o.rates.end(), [](int r) { return r > 0; });
  if (!rates_ok || o.seconds <= 0 || o.block_seconds <= 0 || o.history_kb < 0 || o.connections < 1 ||
      o.calls_per_episode < 1 || o.mock_threads < 1 || (!o.only.empty() && o.only != "plain" && o.only != "stream")) {
    std::fprintf(stderr,
                 "bench_serve_gateway: rates, seconds, block seconds, connections, calls per episode and mock threads "
                 "must be positive; "
                 "--only is plain or stream\n");
    std::exit(2);
  }
  if (o.block_seconds > 4) {
    // Each connection idles through the other path's block; the servers close a keep-alive
    // connection after 5 idle seconds, and the reconnect would be measured.
    std::fprintf(stderr,
                 "bench_serve_gateway: --block-seconds must be at most 4 (keep-alive connections idle out at 5 s)\n");
    std::exit(2);
  }
  if (o.host_bin.empty()) o.host_bin = (fs::read_symlink("/proc/self/exe").parent_path() / "atlas-host").string();
  return o;
}

void write_file(const fs::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  char tmpl[] = "/tmp/atlas-bench-serve.XXXXXX";
  if (!mkdtemp(tmpl)) return 1;
  fs::path work = tmpl;

  write_file(work / "scenario.json", R"({"default":"echo","rules":[
    {"match":{"system_contains":"impartial evaluator"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
    {"match":{"system_contains":"senior arbiter"},"response":{"json":{"score":0.8,"uncertainty":0.1,"rationale":"ok","principles":[]}}},
    {"match":{"system_contains":"You maintain the playbook"},"response":{"json":{"student_pamphlet":"Be brief.","playbook_entries":[]}}},
    {"response":{"text":"Paris is the capital of France.","usage":{"prompt_tokens":20,"completion_tokens":7}}}]})");
  atlas::sdk::ChildProcess mock, gateway;
  const std::string mock_url = start_server(mock, o.host_bin,
                                            {"mock-llm", "--scenario", (work / "scenario.json").string(), "--port", "0",
                                             "--threads", std::to_string(o.mock_threads)});
  // A server that did not start ends the run; the ChildProcess destructors stop those that did.
  auto give_up = [&] {
    fs::remove_all(work);
    return 1;
  };
  if (mock_url.empty()) return give_up();

  // --judges-elsewhere: the teacher, judge and learning models are a second mock-llm under
  // SCHED_IDLE, standing in for a model served on other machines (as in production), so that
  // serving ~10 judge calls per episode does not compete for these two cores with the relay.
  atlas::sdk::ChildProcess judge_mock;
  const std::string judge_url =
      o.judges_elsewhere
          ? start_server(judge_mock, "/usr/bin/chrt",
                         {"--idle", "0", o.host_bin, "mock-llm", "--scenario", (work / "scenario.json").string(),
                          "--port", "0", "--threads", std::to_string(o.mock_threads)})
          : mock_url;
  if (judge_url.empty()) return give_up();
  auto model = [&](const char* section, const std::string& url) {
    return std::string("[") + section + "]\nprovider = \"openai\"\nmodel = \"mock-model\"\napi_base = \"" + url +
           "/v1\"\napi_key_env = \"\"\n\n";
  };
  std::string soci_table = o.soci_options.empty() ? "" : "\n[plugins.soci]\n";
  for (const std::string& line : o.soci_options) soci_table += line + "\n";
  write_file(work / "atlas.toml",
             "[agent]\nadapter = \"openai\"\nname = \"bench\"\n\n" + model("student.llm", mock_url) +
                 model("teacher.llm", judge_url) + model("rewards.small_model", judge_url) +
                 model("rewards.large_model", judge_url) + model("learning.llm", judge_url) +
                 "[orchestration]\nforced_mode = \"auto\"\n\n[storage]\n" + (o.no_storage ? "enabled = false\n" : "") +
                 "database_url = \"" +
                 (o.database_url.empty() ? "sqlite://" + (work / "atlas.db").string() : o.database_url) +
                 "\"\n\n[serve]\nmax_calls_per_episode = 1000000\n"
                 "storage_queue = 1000000\nthreads = 128\ndrain_seconds = 600\n" +
                 (o.shared_episodes ? "shared_episodes = true\n" : "") +
                 (o.capture_only ? "\n[rewards]\nstep_judges = []\nsession_judges = [{plugin = \"verifiable\"}]\n\n"
                                   "[learning]\nupdate_enabled = false\n"
                                 : "") +
                 soci_table);
  const std::string gw_url =
      start_server(gateway, o.host_bin,
                   {"serve", "-c", (work / "atlas.toml").string(), "--listen", "127.0.0.1:0", "--no-preflight"});
  if (gw_url.empty()) return give_up();
  atlas::sdk::ChildProcess nginx;
  const std::string nginx_url =
      o.reference_nginx.empty() ? "" : start_reference_nginx(nginx, o.reference_nginx, work / "nginx", mock_url);
  if (!o.reference_nginx.empty() && nginx_url.empty()) return give_up();

  std::printf(
      "atlas-host serve: added latency, open loop, %d connections, %.1f s per path and row in blocks of %.1f s "
      "(direct and gateway alternating), episodes of %d calls, requests of %zu bytes%s%s%s%s\n",
      o.connections, o.seconds, o.block_seconds, o.calls_per_episode, chat_body(false, o.history_kb).size(),
      o.no_storage ? ", storage off" : "",
      o.shared_episodes ? ", shared episodes ([serve] shared_episodes = true)" : "",
      o.judges_elsewhere ? ", judge/teacher/learning model on a SCHED_IDLE mock" : "",
      o.capture_only ? ", capture and storage only (no model judges, no learning update)" : "");
  for (const std::string& line : o.soci_options) std::printf("  [plugins.soci] %s\n", line.c_str());
  std::printf("  (latency in ms from each request's scheduled start; rate = successful requests/s)\n");
  int failures = 0;
  int round = 0;
  size_t through_gateway = 0;
  for (bool stream : {false, true}) {
    if (!o.only.empty() && (o.only == "stream") != stream) continue;
    for (int rate : o.rates) {
      std::printf("\n%s, %d requests/s\n  %-8s %8s %8s %8s %9s %9s %7s\n", stream ? "streaming" : "plain", rate, "path",
                  "p50", "p90", "p99", "max", "rate", "failed");
      std::array<Figures, 2> row = run_row(mock_url, gw_url, true, stream, rate, o, "g" + std::to_string(round++));
      failures += report_row("gateway", row);
      through_gateway += row[1].latency_ms.size();
      const long behind = queued_episode_work(gw_url);
      const double caught_up_s = wait_for_episode_work(gw_url);
      std::printf("  end-of-episode work queued when the load stopped: %ld jobs (calls and ends); done %.1f s later\n",
                  behind, caught_up_s);
      if (!nginx_url.empty()) {
        std::array<Figures, 2> reference = run_row(mock_url, nginx_url, false, stream, rate, o, "");
        failures += report_row("nginx", reference);
      }
      mock.drain_stderr();
      gateway.drain_stderr();
      if (o.judges_elsewhere) judge_mock.drain_stderr();
    }
  }
  // Everything captured must reach storage: SIGTERM drains, and exit 0 says all was stored.
  auto drain_start = Clock::now();
  kill(gateway.pid(), SIGTERM);
  gateway.wait_exit(600000);
  std::string ended = gateway.exit_description();
  // The gateway is the only child reaped so far, so the children's usage is its CPU: the relay and,
  // through the drain, all of its end-of-episode work (judges, storage, learning). A figure steadier
  // than p99 on a shared machine, and the one that decides how much the relay has to share the cores.
  rusage used{};
  getrusage(RUSAGE_CHILDREN, &used);
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  const double per = through_gateway ? 1.0 / static_cast<double>(through_gateway) : 0.0;
  std::printf(
      "\ngateway CPU per request through it (relay + its share of episode end, judges, storage): "
      "%.3f ms (user %.3f, kernel %.3f) over %zu requests\n",
      (ms(used.ru_utime) + ms(used.ru_stime)) * per, ms(used.ru_utime) * per, ms(used.ru_stime) * per, through_gateway);
  std::printf("gateway shutdown (SIGTERM: every open episode ended, judged and stored): %s after %.1f s\n",
              ended.empty() ? "still running" : ended.c_str(),
              std::chrono::duration<double>(Clock::now() - drain_start).count());
  gateway.stop(0);
  if (!nginx_url.empty()) nginx.stop(0);
  mock.stop(0);
  if (o.judges_elsewhere) judge_mock.stop(0);
  fs::remove_all(work);
  return failures == 0 && ended == "exit status 0" ? 0 : 1;
}
