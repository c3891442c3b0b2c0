#include "plugin/isolated_probe.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/json.hpp"
#include "plugin/discovery.hpp"
#include "plugin/info_json.hpp"
#include "plugin/loader.hpp"
#include "plugin/trust.hpp"

namespace atlas::plugin {

namespace fs = std::filesystem;

namespace {
bool g_plugin_code_process = false;
}  // namespace

void mark_plugin_code_process() { g_plugin_code_process = true; }

}  // namespace atlas::plugin

// LeakSanitizer asks this at exit (sanitizer builds only; unused otherwise).
// NOLINTNEXTLINE(bugprone-reserved-identifier,readability-identifier-naming): the sanitizer runtime's hook name
extern "C" int __lsan_is_turned_off() { return atlas::plugin::g_plugin_code_process ? 1 : 0; }

namespace atlas::plugin {

bool ProbeReport::ok() const {
  if (crashed || plugins.empty()) return false;
  for (const auto& d : diagnostics) {
    if (d.severity == Severity::kError) return false;
  }
  return true;
}

namespace {

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Child side: inspect and load the file, stream "S <stage>" lines, end with "R <json>".
[[noreturn]] void run_child(int fd, const fs::path& file) {
  // Die of a crash with the real signal, not via a handler (sanitizers install one), so the
  // parent can name it.
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, SIG_DFL);
  mark_plugin_code_process();
  try {
    auto stage = [fd](Stage s) { write_all(fd, "S " + std::to_string(static_cast<int>(s)) + "\n"); };
    std::vector<PluginInfo> plugins;
    std::vector<Diagnostic> diags;
    stage(Stage::kInspect);
    Status exports = inspect_exports(file, file);
    if (!exports.is_ok()) {
      diags.push_back(Diagnostic{file, Severity::kError, exports.message()});
    } else if (auto loaded = load_library(file, file, stage); !loaded.is_ok()) {
      diags.push_back(Diagnostic{file, Severity::kError, loaded.status().message()});
    } else {
      for (const auto& r : loaded->refusals) diags.push_back(Diagnostic{file, Severity::kError, r});
      for (const auto& w : loaded->warnings) diags.push_back(Diagnostic{file, Severity::kWarning, w});
      for (const auto& p : loaded->plugins) plugins.push_back(p->info);
    }
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    json::Value plugin_list(rapidjson::kArrayType), diag_list(rapidjson::kArrayType);
    for (const auto& p : plugins) plugin_list.PushBack(to_json(p, a), a);
    for (const auto& d : diags) diag_list.PushBack(to_json(d, a), a);
    json::set(doc, "plugins", std::move(plugin_list), a);
    json::set(doc, "diagnostics", std::move(diag_list), a);
    write_all(fd, "R " + json::dump(doc) + "\n");
  } catch (const std::exception& e) {
    write_all(fd, "E " + std::string(e.what()) + "\n");
  }
  ::close(fd);
  ::_exit(0);  // no atexit handlers, no static destructors of the parent's state
}

std::string signal_text(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return "signal " + std::to_string(sig) + (abbrev ? std::string(" (SIG") + abbrev + ")" : std::string());
}

}  // namespace

std::chrono::milliseconds effective_probe_timeout(const RegistryOptions& options) {
  if (options.probe_timeout.count() > 0) return options.probe_timeout;
  if (const char* env = std::getenv("ATLAS_PLUGIN_PROBE_TIMEOUT")) {
    char* end = nullptr;
    double seconds = std::strtod(env, &end);
    if (end != env && *end == '\0' && seconds > 0) return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  return std::chrono::seconds(20);
}

ProbeReport probe_isolated(const fs::path& file, const RegistryOptions& options, std::chrono::milliseconds timeout) {
  auto policy = TrustPolicy::create(options.lock_file, options.allow_unsafe);
  Status trusted = policy.is_ok() ? policy->check(file) : policy.status();
  if (!trusted.is_ok()) {
    ProbeReport report;
    report.file = file;
    report.diagnostics.push_back(Diagnostic{file, Severity::kError, trusted.message()});
    return report;
  }
  return probe_library(file, timeout);
}

ProbeReport probe_library(const fs::path& file, std::chrono::milliseconds timeout) {
  ProbeReport report;
  report.file = file;
  auto refuse = [&](std::string message) {
    report.crashed = true;
    report.diagnostics.push_back(Diagnostic{file, Severity::kError, std::move(message)});
    return report;
  };
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return refuse(file.string() + ": cannot create a pipe: " + ::strerror(errno));
  std::fflush(nullptr);  // do not duplicate buffered output in the child
  pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return refuse(file.string() + ": cannot fork a probe process: " + ::strerror(errno));
  }
  if (pid == 0) {
    ::close(fds[0]);
    run_child(fds[1], file);
  }
  ::close(fds[1]);

  std::string buffer;
  bool timed_out = false;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      timed_out = true;
      break;
    }
    char chunk[4096];
    ssize_t n = ::read(fds[0], chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF: the child closed its end (finished or died)
    buffer.append(chunk, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }

  Stage last_stage = Stage::kInspect;
  std::string result_line, child_error;
  size_t pos = 0;
  while (pos < buffer.size()) {
    size_t nl = buffer.find('\n', pos);
    if (nl == std::string::npos) break;  // a partial line from a dying child
    std::string_view line(buffer.data() + pos, nl - pos);
    if (line.rfind("S ", 0) == 0) last_stage = static_cast<Stage>(std::stoi(std::string(line.substr(2))));
    if (line.rfind("R ", 0) == 0) result_line = std::string(line.substr(2));
    if (line.rfind("E ", 0) == 0) child_error = std::string(line.substr(2));
    pos = nl + 1;
  }
  std::string where(stage_description(last_stage));
  const std::string fix = "; the plugin is broken: remove it from the plugin folder and report the problem to its vendor";
  if (timed_out) {
    report.timed_out = true;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%g", static_cast<double>(timeout.count()) / 1000.0);
    return refuse(file.string() + ": refused: did not finish within " + seconds + " s (stuck " + where + ")" + fix);
  }
  if (WIFSIGNALED(wstatus)) {
    report.signal = WTERMSIG(wstatus);
    return refuse(file.string() + ": refused: crashed with " + signal_text(report.signal) + " " + where + fix);
  }
  if (result_line.empty()) {
    int code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    return refuse(file.string() + ": refused: the probe process exited with status " + std::to_string(code) + " " +
                  where + (child_error.empty() ? std::string() : " (" + child_error + ")") + fix);
  }
  auto doc = json::parse(result_line, "probe result", json::kMaxInputDepth);
  if (!doc.is_ok()) return refuse(file.string() + ": internal error: unreadable probe result: " + doc.status().message());
  if (const auto* ps = json::find(*doc, "plugins"); ps && ps->IsArray()) {
    for (const auto& p : ps->GetArray()) report.plugins.push_back(plugin_info_from_json(p));
  }
  if (const auto* ds = json::find(*doc, "diagnostics"); ds && ds->IsArray()) {
    for (const auto& d : ds->GetArray()) report.diagnostics.push_back(diagnostic_from_json(d));
  }
  return report;
}

}  // namespace atlas::plugin
