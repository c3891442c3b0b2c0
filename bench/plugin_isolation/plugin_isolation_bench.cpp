// Measures what process isolation adds to one plugin call: the same adapter (fixture_echo)
// called in process and through `atlas-host plugin-worker` (a frame each way over a
// socketpair, plus the worker's wake-up), in alternating rounds so both see the same machine.
// Prints figures; not a test.
//
//   bench_plugin_isolation [--calls N] [--rounds R] [--request-bytes B]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
#include <algorithm>

#include "plugin/registry.hpp"

using Clock = std::chrono::steady_clock;
using namespace atlas;

namespace {

Result<plugin::AdapterHandle> make(plugin::Isolation isolation, plugin::Registry& registry) {
  plugin::RegistryOptions o;
  o.use_default_dirs = false;
  o.files = {ATLAS_BENCH_PLUGIN};
  o.isolation = isolation;
  o.worker_executable = ATLAS_BENCH_HOST;
  o.probe_cache = std::filesystem::path();
  ATLAS_RETURN_IF_ERROR(registry.discover(o));
  return registry.create_adapter("fixture_echo", R"({"prefix":"b-"})");
}

// Microseconds per call over `calls` calls.
double per_call_us(const plugin::AdapterHandle& a, const std::string& request, int calls) {
  plugin::CallContext ctx;
  ctx.session_id = "bench";
  auto t0 = Clock::now();
  for (int i = 0; i < calls; ++i) {
    auto out = a.invoke(ctx, request);
    if (!out.is_ok()) {
      std::fprintf(stderr, "call failed: %s\n", out.status().to_string().c_str());
      std::exit(1);
    }
  }
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count() / calls;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int calls = 5000, rounds = 5;
  size_t request_bytes = 1000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--calls")) calls = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--rounds")) rounds = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--request-bytes")) request_bytes = std::strtoul(argv[i + 1], nullptr, 10);
  }
  plugin::Registry in_reg, out_reg;
  auto in_process = make(plugin::Isolation::kInProcess, in_reg);
  auto worker = make(plugin::Isolation::kProcess, out_reg);
  if (!in_process.is_ok() || !worker.is_ok()) {
    std::fprintf(stderr, "setup failed: %s %s\n", in_process.status().to_string().c_str(),
                 worker.status().to_string().c_str());
    return 1;
  }
  std::string request = "{\"messages\":[{\"role\":\"user\",\"content\":\"" + std::string(request_bytes, 'x') + "\"}]}";
  per_call_us(*in_process, request, calls / 10);  // warm up both
  per_call_us(*worker, request, calls / 10);
  std::vector<double> in_us, worker_us;
  for (int r = 0; r < rounds; ++r) {
    in_us.push_back(per_call_us(*in_process, request, calls));
    worker_us.push_back(per_call_us(*worker, request, calls));
  }
  double in_med = median(in_us), worker_med = median(worker_us);
  std::printf("plugin call, request %zu bytes, %d calls x %d rounds (medians)\n", request.size(), calls, rounds);
  std::printf("  in-process         %8.2f us/call\n", in_med);
  std::printf("  process isolation  %8.2f us/call  (%.1fx in-process)\n", worker_med, worker_med / in_med);
  std::printf("  added by isolation %8.2f us/call  (target < 200 us)\n", worker_med - in_med);
  return 0;
}
