#include "cli/session_runner.hpp"

#include <fstream>
#include <iostream>

#include "common/json.hpp"
#include "common/secrets.hpp"
#include "data/open.hpp"
#include "data/store.hpp"

namespace atlas::cli {

TaskLine read_task_line(const std::string& line, const std::string& where) {
  TaskLine out;
  auto doc = json::parse(line, where, json::kMaxInputDepth);
  if (!doc) {
    out.spec.task = line.substr(0, 80);
    out.error = doc.status().message();
    return out;
  }
  runtime::TaskSpec& t = out.spec;
  if (doc->IsString()) {
    t.task = doc->GetString();
  } else if (doc->IsObject()) {
    t.task = json::get_string(*doc, "task");
    if (const json::Value* m = json::find(*doc, "metadata"); m && m->IsObject()) t.metadata_json = json::dump(*m);
    if (const json::Value* e = json::find(*doc, "expected")) t.expected_json = json::dump(*e);
    if (const json::Value* id = json::find(*doc, "id")) {
      if (id->IsString())
        out.id = id->GetString();
      else if (id->IsInt64())
        out.id = std::to_string(id->GetInt64());
      else
        out.id_error = where + ": \"id\" must be a string or an integer";
    }
  }
  if (t.task.empty()) {
    t.task = line.substr(0, 80);
    out.error = where + ": expected a string or an object with a non-empty \"task\"";
  }
  return out;
}

std::vector<TaskLine> read_tasks(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open task file " + path);
  std::vector<TaskLine> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
    out.push_back(read_task_line(line, path + ":" + std::to_string(n)));
    out.back().line = n;
  }
  if (out.empty()) throw std::runtime_error(path + ": no tasks in the file");
  return out;
}

std::optional<SessionRuntime> open_session_runtime(const po::variables_map& vm, const std::string& config_file,
                                                   std::string_view command, runtime::RuntimeOptions options) {
  data::OpenRequest request;
  request.config_path = config_file;
  auto cfg = data::load_effective_config(request);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return std::nullopt;
  }
  if (!models_pass_preflight(vm, *cfg, command)) return std::nullopt;
  SessionRuntime out;
  // Where this command's writes wait when the database is unreachable (checked before exiting).
  out.storage_on = cfg->storage.active();
  out.database_shown = secrets::url_without_password(cfg->storage.database_url);
  out.spool_file = data::spool_file_for(cfg->storage.spool_path, cfg->storage.database_url);
  for (const auto& d : values(vm, "plugin-dir")) options.plugin_dirs.emplace_back(d);
  auto rt = runtime::Runtime::create(std::move(*cfg), std::move(options));
  if (!rt) {
    std::cerr << command << ": " << rt.status().message() << "\n";
    return std::nullopt;
  }
  out.rt = std::move(*rt);
  return out;
}

size_t report_spool_left(const SessionRuntime& srt, std::string_view command) {
  if (!srt.storage_on) return 0;
  size_t waiting = data::read_spool_status(srt.spool_file).pending_records;
  if (waiting > 0) {
    std::cerr << command << ": " << waiting << " storage record(s) wait in the spool " << srt.spool_file.string()
              << " because the database " << srt.database_shown
              << " did not take them; they are stored by `atlas-host db replay` or the next `atlas-host run` "
                 "(exit code 3 until then)\n";
  }
  return waiting;
}

}  // namespace atlas::cli
