// `atlas-host train`: export with the [train] filters, run the configured trainer with the
// export path and Hydra-style key=value overrides (output streamed through), and record the
// run (export SHA-256, command, exit status, times) in training_runs.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "data/export.hpp"
#include "data/store.hpp"

namespace atlas::data {

struct TrainRequest {
  std::vector<std::string> overrides;  // key=value from the command line (win over [train.overrides])
  std::string output;                  // export file; "" = [train] output or .atlas/exports/<time>.jsonl
  std::string format;                  // "" = [train] export_format
  bool dry_run = false;
  std::function<void(uint64_t, uint64_t)> progress;
  // A checked Atlas Core checkout (atlas_core_checkout): run its offline pipeline instead of
  // [train] command.
  std::optional<std::filesystem::path> atlas_core;
};

struct TrainResult {
  std::string export_path;
  ExportSummary summary;
  std::vector<std::string> argv;  // as run (sh -c form for a string command)
  std::string display_command;    // argv shell-quoted and joined, secrets masked
  std::string cwd;                // where the trainer runs ("" = here)
  int exit_status = -1;           // -1 in a dry run
  std::string run_id;
};

// The trainer's argv for an export file (exposed for tests and --dry-run).
Result<std::vector<std::string>> trainer_argv(const config::TrainConfig& train, const std::string& export_path,
                                              const std::vector<std::string>& cli_overrides);

// Atlas Core's checkout: `cli_path` (--atlas-core-path) > ATLAS_CORE_PATH (ignored when the
// config names its own [train] command) > [train] atlas_core_path. nullopt = not used. An
// error when the chosen folder is not a checkout holding train.py and
// scripts/run_offline_pipeline.py.
Result<std::optional<std::filesystem::path>> atlas_core_checkout(const config::TrainConfig& train,
                                                                 const std::string& cli_path);

// `<python> scripts/run_offline_pipeline.py --export-path <export> [--config-name ...]... [--override k=v]...`
// (run in the checkout): [train.atlas_core] flags, then one --override per [train.overrides]
// entry and per command-line key=value.
Result<std::vector<std::string>> atlas_core_argv(const config::TrainConfig& train, const std::string& export_path,
                                                 const std::vector<std::string>& cli_overrides);

// The argv as one line a POSIX shell reads back to the same argv (single quotes where needed).
std::string shell_join(const std::vector<std::string>& argv);

Result<TrainResult> run_training(Store& store, const config::Config& config, const TrainRequest& request);

}  // namespace atlas::data
