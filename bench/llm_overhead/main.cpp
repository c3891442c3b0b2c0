// The host's own cost per LLM call: llm::Client against mock-llm at zero latency, next to the
// same number of raw HTTP requests made with libcurl's multi interface directly (same body,
// same connection reuse, no JSON work). Prints calls/s and CPU ms per call for 1 and 64 calls
// in flight, and the host/raw CPU ratio (target <= 1.5). Rows:
//   host   Client::complete, one blocked thread per call in flight
//   async  Client::start from one thread (the path of complete_many and llm_complete_many)
//   io     the transport's blocking perform alone (no JSON), one thread per call
//   raw    curl multi driven directly from one thread
//
// The mock runs in a forked child so that its CPU is not counted (getrusage RUSAGE_SELF).
//
//   bench_llm_overhead [--calls N] [--provider openai|anthropic|gemini] [--stream] [--in-flight N]
//                      [--only host|async|io|raw]   (one configuration and one row: for profiling)
#include <curl/curl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "llm/http_transport.hpp"
#include "llm/llm.hpp"
#include "llm/wire.hpp"
#include "mock/mock_server.hpp"

namespace {

using namespace atlas;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Figures {
  double wall = 0, cpu = 0;
  int calls = 0, failures = 0;
};

// Forks the mock; returns its port. The child serves until `stop_fd` reaches EOF.
int fork_mock(pid_t* pid, int* stop_fd) {
  int port_pipe[2], stop_pipe[2];
  if (pipe(port_pipe) != 0 || pipe(stop_pipe) != 0) return -1;
  *pid = fork();
  if (*pid == 0) {
    close(port_pipe[0]);
    close(stop_pipe[1]);
    mock::MockLlmServer server;
    mock::MockOptions opts;
    opts.threads = 256;  // idle keep-alive connections of one client must not starve the other
    auto port = server.start_json(R"({"rules":[{"response":{"text":"The answer is forty-two.","usage":{"prompt_tokens":20,"completion_tokens":6}}}]})", opts);
    int p = port ? *port : -1;
    if (write(port_pipe[1], &p, sizeof p) != sizeof p) _exit(1);
    char c;
    while (read(stop_pipe[0], &c, 1) > 0) {
    }
    server.stop();
    _exit(0);
  }
  close(port_pipe[1]);
  close(stop_pipe[0]);
  int p = -1;
  if (read(port_pipe[0], &p, sizeof p) != sizeof p) p = -1;
  close(port_pipe[0]);
  *stop_fd = stop_pipe[1];
  return p;
}

llm::Request make_request(bool stream) {
  llm::Request r;
  r.role = "student";
  r.stream = stream;
  r.messages.push_back({"system", "You are a terse assistant.", {}, "", ""});
  r.messages.push_back({"user", "What is six times seven? Answer in one sentence.", {}, "", ""});
  return r;
}

// Spreads `calls` over `in_flight` threads, each calling `one_call` (true = success) in turn.
template <typename OneCall>
Figures run_threads(int calls, int in_flight, OneCall one_call) {
  Figures f;
  std::atomic<int> failures{0};
  double cpu0 = cpu_seconds(), t0 = clock::monotonic_seconds();
  std::vector<std::thread> threads;
  for (int t = 0; t < in_flight; ++t) {
    int mine = calls / in_flight + (t < calls % in_flight ? 1 : 0);
    threads.emplace_back([&, mine] {
      for (int i = 0; i < mine; ++i)
        if (!one_call()) ++failures;
    });
  }
  for (auto& t : threads) t.join();
  f.wall = clock::monotonic_seconds() - t0;
  f.cpu = cpu_seconds() - cpu0;
  f.calls = calls;
  f.failures = failures;
  return f;
}

Figures run_host(llm::Client& client, const config::ModelConfig& model, const llm::Request& req, int calls,
                 int in_flight) {
  std::atomic<bool> reported{false};
  return run_threads(calls, in_flight, [&] {
    auto res = client.complete(model, req);
    if (!res && !reported.exchange(true))
      std::fprintf(stderr, "host call failed: %s\n", res.status().to_string().c_str());
    return res.is_ok();
  });
}

// The asynchronous path (Client::start, what complete_many and llm_complete_many use): `in_flight`
// calls started from this thread, each finished call starting the next from its callback.
Figures run_host_async(llm::Client& client, const config::ModelConfig& model, const llm::Request& req, int calls,
                       int in_flight) {
  Figures f;
  std::atomic<int> started{0}, failures{0};
  std::mutex mu;
  std::condition_variable all_done;
  int finished = 0;
  double cpu0 = cpu_seconds(), t0 = clock::monotonic_seconds();
  std::function<void()> launch = [&] {
    client.start(model, req, [&](Result<llm::Response> res, const llm::CallRecord&) {
      if (!res && failures++ == 0) std::fprintf(stderr, "async call failed: %s\n", res.status().to_string().c_str());
      if (started.fetch_add(1) < calls) launch();
      std::lock_guard<std::mutex> lock(mu);
      if (++finished == calls) all_done.notify_one();
    });
  };
  for (int i = 0; i < std::min(in_flight, calls); ++i)
    if (started.fetch_add(1) < calls) launch();
  std::unique_lock<std::mutex> lock(mu);
  all_done.wait(lock, [&] { return finished == calls; });
  f.wall = clock::monotonic_seconds() - t0;
  f.cpu = cpu_seconds() - cpu0;
  f.calls = calls;
  f.failures = failures;
  return f;
}

// The transport alone (no wire encoding or parsing): separates hand-off cost from JSON cost.
Figures run_transport(llm::HttpTransport& transport, const llm::WireHttp& http, int calls, int in_flight) {
  llm::HttpRequest r;
  r.url = http.url;
  r.headers = http.headers;
  r.body = http.body;
  return run_threads(calls, in_flight, [&] {
    llm::HttpResponse resp = transport.perform(r);
    return resp.curl_code == 0 && resp.status == 200;
  });
}

size_t discard(char*, size_t size, size_t nmemb, void* user) {
  static_cast<std::string*>(user)->append(size * nmemb, '\0');  // touch nothing, count bytes only
  return size * nmemb;
}

Figures run_raw(const llm::WireHttp& http, int calls, int in_flight) {
  Figures f;
  double cpu0 = cpu_seconds(), t0 = clock::monotonic_seconds();
  CURLM* multi = curl_multi_init();
  curl_slist* headers = nullptr;
  for (const auto& h : http.headers) headers = curl_slist_append(headers, h.c_str());
  headers = curl_slist_append(headers, "Expect:");
  struct Slot {
    CURL* easy;
    std::string sink;
  };
  std::vector<Slot> slots(static_cast<size_t>(in_flight));
  int started = 0, done = 0;
  auto launch = [&](Slot& s) {
    s.sink.clear();
    curl_multi_add_handle(multi, s.easy);
    ++started;
  };
  for (auto& s : slots) {
    s.easy = curl_easy_init();
    curl_easy_setopt(s.easy, CURLOPT_URL, http.url.c_str());
    curl_easy_setopt(s.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(s.easy, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(s.easy, CURLOPT_POSTFIELDS, http.body.c_str());
    curl_easy_setopt(s.easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(http.body.size()));
    curl_easy_setopt(s.easy, CURLOPT_WRITEFUNCTION, &discard);
    curl_easy_setopt(s.easy, CURLOPT_WRITEDATA, &s.sink);
    curl_easy_setopt(s.easy, CURLOPT_PRIVATE, &s);
    if (started < calls) launch(s);
  }
  while (done < calls) {
    int running = 0;
    curl_multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* m = curl_multi_info_read(multi, &left)) {
      if (m->msg != CURLMSG_DONE) continue;
      Slot* s = nullptr;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &s);
      long status = 0;
      curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
      if (m->data.result != CURLE_OK || status != 200) ++f.failures;
      curl_multi_remove_handle(multi, m->easy_handle);
      ++done;
      if (started < calls) launch(*s);
    }
    if (done < calls) curl_multi_poll(multi, nullptr, 0, 1000, nullptr);
  }
  for (auto& s : slots) curl_easy_cleanup(s.easy);
  curl_slist_free_all(headers);
  curl_multi_cleanup(multi);
  f.wall = clock::monotonic_seconds() - t0;
  f.cpu = cpu_seconds() - cpu0;
  f.calls = calls;
  return f;
}

void print_row(int in_flight, const char* who, const Figures& f) {
  std::printf("%9d  %-5s  %9.0f  %11.4f  %8d\n", in_flight, who, f.calls / f.wall, f.cpu * 1000.0 / f.calls,
              f.failures);
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 2000;
  std::string provider = "openai";
  bool stream = false;
  int only_in_flight = 0;  // 0 = both 1 and 64 (for profiling one configuration)
  std::string only_row;    // "" = host, io and raw
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--calls" && i + 1 < argc) calls = std::atoi(argv[++i]);
    else if (a == "--provider" && i + 1 < argc) provider = argv[++i];
    else if (a == "--stream") stream = true;
    else if (a == "--in-flight" && i + 1 < argc) only_in_flight = std::atoi(argv[++i]);
    else if (a == "--only" && i + 1 < argc) only_row = argv[++i];
    else {
      std::fprintf(stderr, "usage: bench_llm_overhead [--calls N] [--provider openai|anthropic|gemini] [--stream] [--in-flight N] [--only host|async|io|raw]\n");
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (calls < 64) calls = 64;
  pid_t child = -1;
  int stop_fd = -1;
  int port = fork_mock(&child, &stop_fd);  // before any thread exists
  if (port <= 0) {
    std::fprintf(stderr, "mock-llm did not start\n");
    return 1;
  }
  curl_global_init(CURL_GLOBAL_DEFAULT);
  std::string base = "http://127.0.0.1:" + std::to_string(port);
  config::ModelConfig model;
  model.provider = provider;
  model.model = "bench-model";
  model.api_base = provider == "openai" ? base + "/v1" : base;
  model.api_key_env = "ATLAS_BENCH_UNSET_KEY";
  llm::Request req = make_request(stream);
  auto wire = llm::wire_for_provider(provider);
  if (!wire) {
    std::fprintf(stderr, "%s\n", wire.status().to_string().c_str());
    return 2;
  }
  auto http = llm::build_request(*wire, model, req, model.api_base, std::nullopt);
  if (!http) return 1;
  http->headers.push_back("X-Atlas-Role: student");

  auto client = llm::make_client();
  // Warm up both paths (connections, allocator) before measuring.
  run_host(*client, model, req, 64, 64);
  run_host_async(*client, model, req, 64, 64);
  run_raw(*http, 64, 64);
  llm::HttpTransport transport;
  run_transport(transport, *http, 64, 64);

  std::printf("llm_overhead: %d calls per run, provider %s%s, mock-llm at zero latency (forked child; its CPU is "
              "not counted)\n",
              calls, provider.c_str(), stream ? " (streaming)" : "");
  std::printf("in_flight  who     calls/s  cpu_ms/call  failures\n");
  double ratio[2] = {0, 0}, async_ratio[2] = {0, 0};
  for (int in_flight : {1, 64}) {
    if (only_in_flight > 0 && in_flight != only_in_flight) continue;
    auto wanted = [&](const char* row) { return only_row.empty() || only_row == row; };
    Figures h, a, r, io;
    if (wanted("host")) print_row(in_flight, "host", h = run_host(*client, model, req, calls, in_flight));
    if (wanted("async")) print_row(in_flight, "async", a = run_host_async(*client, model, req, calls, in_flight));
    if (wanted("io")) print_row(in_flight, "io", io = run_transport(transport, *http, calls, in_flight));
    if (wanted("raw")) print_row(in_flight, "raw", r = run_raw(*http, calls, in_flight));
    const int k = in_flight == 1 ? 0 : 1;
    if (h.calls > 0 && r.calls > 0) ratio[k] = (h.cpu / h.calls) / (r.cpu / r.calls);
    if (a.calls > 0 && r.calls > 0) async_ratio[k] = (a.cpu / a.calls) / (r.cpu / r.calls);
  }
  std::printf("cpu per call host/raw, blocking complete(): %.2fx at 1 in flight, %.2fx at 64 in flight\n", ratio[0],
              ratio[1]);
  std::printf("cpu per call host/raw, asynchronous start(): %.2fx at 1 in flight, %.2fx at 64 in flight\n",
              async_ratio[0], async_ratio[1]);
  std::printf("target <= 1.5x: one call per thread uses complete(); many calls at once use start() / complete_many()\n");
  client.reset();
  close(stop_fd);
  int st = 0;
  waitpid(child, &st, 0);
  return 0;
}
