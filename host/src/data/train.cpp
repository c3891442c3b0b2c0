#include "data/train.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::data {

namespace {

constexpr std::string_view kPlaceholder = "{export_path}";

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

bool substitute(std::string& s, const std::string& path) {
  bool used = false;
  for (size_t p = s.find(kPlaceholder); p != std::string::npos; p = s.find(kPlaceholder, p + path.size())) {
    s.replace(p, kPlaceholder.size(), path);
    used = true;
  }
  return used;
}

// key=value tokens whose key looks secret get their value masked for display.
std::string mask(const std::string& token) {
  std::string lower = token;
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const char* w : {"key", "token", "secret", "password"}) {
    if (lower.find(w) != std::string::npos) {
      auto eq = token.find('=');
      return eq == std::string::npos ? "<redacted>" : token.substr(0, eq + 1) + "<redacted>";
    }
  }
  return secrets::redact(token);
}

std::string stamp() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  return buf;
}

}  // namespace

Result<std::vector<std::string>> trainer_argv(const config::TrainConfig& train, const std::string& export_path,
                                              const std::vector<std::string>& cli_overrides) {
  if (train.command.empty()) {
    return failed_precondition(
        "no trainer configured: add to the config\n  [train]\n  command = [\"python\", \"train.py\"]\n"
        "(the export path is passed as {export_path} where you write it, else as data.dataset_path=<file>)");
  }
  for (const auto& o : cli_overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid_argument("override '" + o + "' is not key=value (Hydra style, e.g. trainer.lr=1e-5)");
  }
  std::vector<std::string> parts = train.command;
  for (const auto& a : train.args) parts.push_back(a);
  bool used = false;
  for (auto& p : parts) used = substitute(p, export_path) || used;
  std::vector<std::string> overrides;
  for (const auto& [k, v] : train.overrides) overrides.push_back(k + "=" + v);
  for (const auto& o : cli_overrides) overrides.push_back(o);
  for (auto& o : overrides) used = substitute(o, export_path) || used;
  if (!used) overrides.insert(overrides.begin(), "data.dataset_path=" + export_path);
  if (train.command_is_shell) {
    std::string cmd = parts.front();
    for (size_t i = 1; i < parts.size(); ++i) cmd += " " + shell_quote(parts[i]);
    for (const auto& o : overrides) cmd += " " + shell_quote(o);
    return std::vector<std::string>{"/bin/sh", "-c", cmd};
  }
  for (const auto& o : overrides) parts.push_back(o);
  return parts;
}

Result<TrainResult> run_training(Store& store, const config::Config& config, const TrainRequest& request) {
  TrainResult result;
  std::string format_name = request.format.empty() ? config.train.export_format : request.format;
  ATLAS_ASSIGN_OR_RETURN(ExportFormat format, parse_export_format(format_name));
  result.export_path = !request.output.empty()       ? request.output
                       : !config.train.output.empty() ? config.train.output
                                                      : ".atlas/exports/" + stamp() + "-" + format_name + ".jsonl";
  // Validate the command before exporting anything.
  ATLAS_ASSIGN_OR_RETURN(result.argv, trainer_argv(config.train, result.export_path, request.overrides));
  for (const auto& a : result.argv) result.display_command += (result.display_command.empty() ? "" : " ") + mask(a);

  ExportOptions eo;
  eo.format = format;
  eo.output = result.export_path;
  eo.progress = request.progress;
  const auto& tf = config.train.filters;
  eo.filters.review_statuses =
      tf.review_statuses.empty() ? resolve_review_filter(&config.review, {}, false)
                                 : std::optional<std::vector<std::string>>(tf.review_statuses);
  eo.filters.statuses = tf.statuses;
  eo.filters.min_reward = tf.min_reward;
  eo.filters.learning_key = tf.learning_key;
  eo.filters.created_after = tf.created_after;
  eo.filters.limit = tf.limit;
  ATLAS_ASSIGN_OR_RETURN(result.summary, export_sessions(store, eo));
  if (result.summary.records == 0) {
    return failed_precondition(
        "no sessions matched the [train] filters, so training was not started (review sessions with "
        "`atlas-host review approve ID`, or widen [train.filters])");
  }
  if (request.dry_run) return result;

  std::string started = clock::now_iso8601();
  pid_t pid = ::fork();
  if (pid < 0) return internal_error(std::string("cannot start the trainer: fork: ") + std::strerror(errno));
  if (pid == 0) {
    if (!config.train.cwd.empty() && ::chdir(config.train.cwd.c_str()) != 0) {
      std::fprintf(stderr, "atlas-host train: cannot enter %s: %s\n", config.train.cwd.c_str(), std::strerror(errno));
      ::_exit(127);
    }
    ::setenv("ATLAS_EXPORT_PATH", result.export_path.c_str(), 1);
    ::setenv("ATLAS_EXPORT_FORMAT", format_name.c_str(), 1);
    std::vector<char*> argv;
    for (auto& a : result.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    std::fprintf(stderr, "atlas-host train: cannot run %s: %s\n", argv[0], std::strerror(errno));
    ::_exit(127);
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) return internal_error(std::string("waiting for the trainer failed: ") + std::strerror(errno));
  }
  result.exit_status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  std::string finished = clock::now_iso8601();

  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "export_path", result.export_path, a);
  json::set(d, "export_format", format_name, a);
  json::set(d, "export_sha256", result.summary.sha256, a);
  json::set(d, "exported_sessions", static_cast<int64_t>(result.summary.sessions), a);
  json::set(d, "command", result.display_command, a);
  json::set(d, "exit_status", result.exit_status, a);
  json::set(d, "started_at", started, a);
  json::set(d, "finished_at", finished, a);
  json::Value meta(rapidjson::kObjectType);
  json::set(meta, "records", static_cast<int64_t>(result.summary.records), a);
  json::set(meta, "bytes", static_cast<int64_t>(result.summary.bytes), a);
  json::set(d, "metadata", std::move(meta), a);
  ATLAS_ASSIGN_OR_RETURN(std::string out, store.execute("record_training_run", json::dump(d)));
  ATLAS_ASSIGN_OR_RETURN(auto rd, json::parse(out, "record_training_run response"));
  result.run_id = json::get_string(rd, "run_id");
  return result;
}

}  // namespace atlas::data
