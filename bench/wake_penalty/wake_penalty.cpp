// bench_wake_penalty: calibrates the machine, not atlas-host. It times one fixed piece of
// work (parse and re-serialise a 2.5 KB chat request, the kind of burst the host runs per
// model call) right after the thread slept for L ms, on this thread's CPU clock only (the
// sleep and the wake-up itself are not counted). On bare metal the figure barely moves with
// L; on a virtual machine whose caches and predictors are taken by others during the sleep,
// the same work can cost several times more. bench_session_lanes' CPU per session at a
// given L should be read against this factor.
//
//   bench_wake_penalty [--bursts N]   (N = pieces of work per burst, default 1)
#include <poll.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace {

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

std::string chat_request() {
  std::string doc = "{\"model\":\"m\",\"messages\":[";
  for (int i = 0; i < 20; ++i)
    doc += std::string(i ? "," : "") + "{\"role\":\"user\",\"content\":\"" + std::string(100, static_cast<char>('a' + i)) +
           "\"}";
  return doc + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  int bursts = 1;
  for (int i = 1; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == "--bursts") bursts = std::max(1, std::atoi(argv[i + 1]));
  const std::string doc = chat_request();
  size_t written = 0;
  auto work = [&] {
    for (int k = 0; k < bursts; ++k) {
      rapidjson::Document d;
      d.Parse(doc.data(), doc.size());
      rapidjson::StringBuffer sb;
      rapidjson::Writer<rapidjson::StringBuffer> w(sb);
      d.Accept(w);
      written += sb.GetSize();
    }
  };
  for (int i = 0; i < 200; ++i) work();  // warm up
  std::printf("wake_penalty: CPU for the same work (%d x parse+write of a %zu-byte request) after sleeping L ms\n",
              bursts, doc.size());
  std::printf("%8s %14s %10s\n", "L", "cpu/work", "vs L=0");
  double base = 0;
  for (int sleep_ms : {0, 1, 2, 5, 20, 50}) {
    const int rounds = sleep_ms >= 20 ? 80 : 400;
    double cpu = 0;
    for (int i = 0; i < rounds; ++i) {
      if (sleep_ms > 0) poll(nullptr, 0, sleep_ms);
      double t0 = thread_cpu_seconds();
      work();
      cpu += thread_cpu_seconds() - t0;
    }
    double us = cpu / rounds * 1e6;
    if (sleep_ms == 0) base = us;
    std::printf("%5d ms %11.1f us %9.2fx\n", sleep_ms, us, us / base);
  }
  return written == 0 ? 1 : 0;
}
