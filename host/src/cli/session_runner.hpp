// What `run` and `worker` share (docs/runtime.md, docs/scaling.md): reading a task line, and
// opening the runtime the same way (config, environment, model preflight, plugins, storage),
// so a task run from the queue is a session exactly like one run by `atlas-host run`.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cli/options.hpp"
#include "runtime/runtime.hpp"

namespace atlas::cli {

// One task per line: a JSON string, or {"task": "...", "metadata": {...}, "expected": ...}
// (`enqueue` also reads an optional "id"). A line that cannot be read (bad JSON, nesting deeper
// than json::kMaxInputDepth, no task) has `error` set; the other lines are unaffected.
struct TaskLine {
  runtime::TaskSpec spec;
  std::string id;        // "id" of an object line ("" = none)
  std::string id_error;  // the "id" is neither a string nor an integer (`enqueue` refuses the line)
  std::string error;     // non-empty: the task is not run and is reported failed with this reason
  int line = 0;          // 1-based line number in its file
};
TaskLine read_task_line(const std::string& line, const std::string& where);
// Every task line of a JSONL file (blank lines and lines starting with '#' skipped). Throws
// std::runtime_error when the file cannot be opened or holds no task.
std::vector<TaskLine> read_tasks(const std::string& path);

// The runtime of a command that runs sessions, with what it needs to report on the spool.
struct SessionRuntime {
  std::unique_ptr<runtime::Runtime> rt;
  bool storage_on = false;
  std::string database_shown;  // the URL without its password
  std::filesystem::path spool_file;
};

// Loads the config `config_file` names, runs the model preflight (unless --no-preflight),
// applies --plugin-dir, and creates the runtime. nullopt after printing why, as `command`.
std::optional<SessionRuntime> open_session_runtime(const po::variables_map& vm, const std::string& config_file,
                                                   std::string_view command, runtime::RuntimeOptions options);

// After the runtime was reset (store closed): the number of records still only in the spool,
// printed as `command` with the way to store them (docs/storage.md, "Exit code 3").
size_t report_spool_left(const SessionRuntime& srt, std::string_view command);

}  // namespace atlas::cli
