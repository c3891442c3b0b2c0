#include "data/train.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"

namespace atlas::data {

namespace {

constexpr std::string_view kPlaceholder = "{export_path}";

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+=./:,@%") ==
                        std::string::npos)
    return s;
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

Status check_overrides(const std::vector<std::string>& cli_overrides) {
  for (const auto& o : cli_overrides) {
    auto eq = o.find('=');
    if (eq == std::string::npos || eq == 0)
      return invalid_argument("override '" + o + "' is not key=value (Hydra style, e.g. trainer.lr=1e-5)");
  }
  return Status();
}

}  // namespace

std::string shell_join(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) out += (out.empty() ? "" : " ") + shell_quote(a);
  return out;
}

Result<std::optional<std::filesystem::path>> atlas_core_checkout(const config::TrainConfig& train,
                                                                 const std::string& cli_path) {
  namespace fs = std::filesystem;
  std::string chosen = cli_path;
  std::string origin = "--atlas-core-path";
  if (chosen.empty() && train.command.empty()) {
    if (const char* env = std::getenv("ATLAS_CORE_PATH"); env && *env) chosen = env, origin = "ATLAS_CORE_PATH";
    else chosen = train.atlas_core_path, origin = "[train] atlas_core_path";
  }
  if (chosen.empty()) return std::optional<fs::path>();
  if (chosen == "~" || chosen.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    if (home && *home) chosen = std::string(home) + chosen.substr(1);
  }
  std::error_code ec;
  fs::path dir = fs::absolute(chosen, ec).lexically_normal();
  if (!ec && fs::is_directory(dir, ec) && fs::is_regular_file(dir / "train.py", ec) &&
      fs::is_regular_file(dir / "scripts" / "run_offline_pipeline.py", ec)) {
    auto canonical = fs::weakly_canonical(dir, ec);
    return std::optional<fs::path>(ec ? dir : canonical);
  }
  return failed_precondition("Atlas Core repository not found or incomplete at " + dir.string() + " (from " + origin +
                             "): it must be a checkout of Arc-Computer/ATLAS holding train.py and "
                             "scripts/run_offline_pipeline.py");
}

Result<std::vector<std::string>> atlas_core_argv(const config::TrainConfig& train, const std::string& export_path,
                                                 const std::vector<std::string>& cli_overrides) {
  ATLAS_RETURN_IF_ERROR(check_overrides(cli_overrides));
  std::vector<std::string> argv{train.python, "scripts/run_offline_pipeline.py", "--export-path", export_path};
  for (const auto& [flag, value] : train.atlas_core_flags) {
    argv.push_back(flag);
    argv.push_back(value);
  }
  for (const auto& [k, v] : train.overrides) {
    argv.push_back("--override");
    argv.push_back(k + "=" + v);
  }
  for (const auto& o : cli_overrides) {
    argv.push_back("--override");
    argv.push_back(o);
  }
  return argv;
}

Result<std::vector<std::string>> trainer_argv(const config::TrainConfig& train, const std::string& export_path,
                                              const std::vector<std::string>& cli_overrides) {
  if (train.command.empty()) {
    return failed_precondition(
        "no trainer configured: add to the config\n  [train]\n  command = [\"python\", \"train.py\"]\n"
        "(the export path is passed as {export_path} where you write it, else as data.dataset_path=<file>)");
  }
  ATLAS_RETURN_IF_ERROR(check_overrides(cli_overrides));
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
  if (request.atlas_core && format != ExportFormat::kAtlasJsonl)
    return invalid_argument("Atlas Core reads the atlas-jsonl export, not " + format_name +
                            " (drop export_format / --format, or use [train] command for another trainer)");
  std::string path = !request.output.empty()       ? request.output
                     : !config.train.output.empty() ? config.train.output
                     : request.atlas_core           ? (*request.atlas_core / "exports" / (stamp() + ".jsonl")).string()
                                                    : ".atlas/exports/" + stamp() + "-" + format_name + ".jsonl";
  // The trainer runs in its own folder: hand it a path that means the same file there.
  result.export_path = std::filesystem::absolute(path).lexically_normal().string();
  result.cwd = request.atlas_core ? request.atlas_core->string() : config.train.cwd;
  // Validate the command before exporting anything.
  if (request.atlas_core) {
    ATLAS_ASSIGN_OR_RETURN(result.argv, atlas_core_argv(config.train, result.export_path, request.overrides));
  } else {
    ATLAS_ASSIGN_OR_RETURN(result.argv, trainer_argv(config.train, result.export_path, request.overrides));
  }
  std::vector<std::string> shown;
  for (const auto& a : result.argv) shown.push_back(mask(a));
  result.display_command = shell_join(shown);
  if (request.atlas_core) {
    std::error_code ec;
    std::filesystem::create_directories(std::filesystem::path(result.export_path).parent_path(), ec);
  }

  ExportOptions eo;
  eo.format = format;
  eo.output = result.export_path;
  eo.progress = request.progress;
  const auto& tf = config.train.filters;
  eo.filters.review_statuses =
      tf.review_statuses.empty() ? resolve_review_filter(&config.review, {}, false)
                                 : std::optional<std::vector<ReviewStatus>>(tf.review_statuses);
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
    if (!result.cwd.empty() && ::chdir(result.cwd.c_str()) != 0) {
      std::fprintf(stderr, "atlas-host train: cannot enter %s: %s\n", result.cwd.c_str(), std::strerror(errno));
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
