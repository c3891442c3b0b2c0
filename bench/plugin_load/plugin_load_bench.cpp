// Measures what `atlas-host` pays to bring up a plugin folder: discovery + trust checks +
// dlopen + manifest + descriptor checks (+ schema compile) for 100 plugin files, and the
// extra cost of verifying a plugins.lock (SHA-256 of every file). Prints figures; not a test.
//
//   bench_plugin_load [plugin.so] [--copies N] [--rounds R]
//
// Each copy gets its own file name AND its own plugin name (the copies are patched so the
// registry does not refuse them as duplicates); otherwise the files are byte-identical to
// the input, so dlopen really maps N distinct libraries.
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <vector>

#include "plugin/registry.hpp"
#include "plugin/trust.hpp"

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// CPU time of this process: unlike wall time, barely affected by other load on the machine.
double cpu_ms() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

double load_average() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1) l = -1;
    std::fclose(f);
  }
  return l;
}

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Replaces every occurrence of `from` by `to` (same length) in the binary image.
int patch(std::string& image, const std::string& from, const std::string& to) {
  int n = 0;
  for (size_t at = image.find(from); at != std::string::npos; at = image.find(from, at + to.size())) {
    image.replace(at, to.size(), to);
    ++n;
  }
  return n;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  fs::path source = ATLAS_BENCH_PLUGIN;
  int copies = 100, rounds = 5;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--copies" && i + 1 < argc) copies = std::atoi(argv[++i]);
    else if (a == "--rounds" && i + 1 < argc) rounds = std::atoi(argv[++i]);
    else if (a == "--help") {
      std::printf("usage: bench_plugin_load [plugin.so] [--copies N] [--rounds R]\n");
      return 0;
    } else source = a;
  }
  if (copies < 1 || copies > 999 || rounds < 1) {
    std::fprintf(stderr, "--copies must be 1..999 and --rounds >= 1\n");
    return 2;
  }
  std::string image = read_all(source);
  if (image.empty()) {
    std::fprintf(stderr, "cannot read %s (build the fixture_good_multi target first)\n", source.c_str());
    return 1;
  }
  // Names to make unique per copy: every plugin name in fixture_good_multi / template_echo.
  const std::vector<std::string> names = {"fixture_echo", "fixture_judge", "template_echo"};

  std::vector<double> discover_ms, discover_cpu_ms, discover_lock_ms, hash_ms;
  size_t loaded = 0, refused = 0;
  for (int round = 0; round < rounds; ++round) {
    // A fresh folder per round: a library that is already mapped would make dlopen free.
    std::string tmpl = (fs::temp_directory_path() / "atlas-bench-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) return 1;
    fs::path dir = tmpl;
    std::string lock_text;
    for (int i = 0; i < copies; ++i) {
      std::string copy = image;
      char suffix[8];
      std::snprintf(suffix, sizeof suffix, "%03d", i);
      char tag[4];
      std::snprintf(tag, sizeof tag, "%c%02d", 'a' + round % 26, i % 100);
      for (const auto& n : names) {
        std::string renamed = n.substr(0, n.size() - 4) + (i >= 100 ? std::string(suffix).substr(0, 1) : "") + tag;
        renamed.resize(n.size(), '_');
        patch(copy, n + std::string(1, '\0'), renamed + std::string(1, '\0'));
      }
      fs::path f = dir / ("plugin_" + std::string(suffix) + ".so");
      std::ofstream(f, std::ios::binary) << copy;
      ::chmod(f.c_str(), 0755);
    }

    atlas::plugin::RegistryOptions opts;
    opts.use_default_dirs = false;
    opts.dirs = {dir};
    auto t0 = Clock::now();
    double c0 = cpu_ms();
    atlas::plugin::Registry registry;
    (void)registry.discover(opts);
    discover_ms.push_back(ms_since(t0));
    discover_cpu_ms.push_back(cpu_ms() - c0);
    loaded = registry.plugins().size();
    refused = registry.diagnostics().size();

    // Lock verification alone: SHA-256 of every file.
    auto t1 = Clock::now();
    for (const auto& e : fs::directory_iterator(dir)) {
      auto digest = atlas::plugin::sha256_file(e.path());
      if (digest.is_ok()) lock_text += *digest + "  " + e.path().filename().string() + "\n";
    }
    hash_ms.push_back(ms_since(t1));
    std::ofstream(dir / "plugins.lock") << lock_text;

    // Same folder again with the lock enforced; the libraries are already mapped now, so
    // this measures the added checks (hashing) on top of a warm load.
    auto t2 = Clock::now();
    atlas::plugin::Registry locked;
    (void)locked.discover(opts);
    discover_lock_ms.push_back(ms_since(t2));
    if (locked.plugins().size() != loaded) {
      std::fprintf(stderr, "lock run loaded %zu plugins, expected %zu\n", locked.plugins().size(), loaded);
    }
    fs::remove_all(dir);
  }
  double total = median(discover_ms);
  std::printf("plugin_load: %d files of %zu KiB (%s), %d rounds, median\n", copies, image.size() / 1024,
              source.filename().c_str(), rounds);
  std::printf("  discovery + trust checks + load + manifest (cold): %8.2f ms total, %6.3f ms per file\n", total,
              total / copies);
  std::printf("    of which CPU time of this process:                %8.2f ms total, %6.3f ms per file\n",
              median(discover_cpu_ms), median(discover_cpu_ms) / copies);
  std::printf("  SHA-256 of all files (lock verification cost):      %8.2f ms total, %6.3f ms per file\n",
              median(hash_ms), median(hash_ms) / copies);
  std::printf("  discover again with plugins.lock enforced (warm):  %8.2f ms total, %6.3f ms per file\n",
              median(discover_lock_ms), median(discover_lock_ms) / copies);
  std::printf("  plugins registered: %zu, diagnostics: %zu, target < 100 ms: %s (load average %.1f on %ld cores)\n",
              loaded, refused, total < 100 ? "met" : "MISSED", load_average(), ::sysconf(_SC_NPROCESSORS_ONLN));
  return 0;
}
