// `atlas-host train`: export with the [train] filters, run the configured trainer with the
// export path and Hydra-style key=value overrides (output streamed through), and record the
// run (export SHA-256, command, exit status, times) in training_runs.
#pragma once

#include <functional>
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
};

struct TrainResult {
  std::string export_path;
  ExportSummary summary;
  std::vector<std::string> argv;  // as run (sh -c form for a string command)
  std::string display_command;    // argv joined, secrets masked
  int exit_status = -1;           // -1 in a dry run
  std::string run_id;
};

// The trainer's argv for an export file (exposed for tests and --dry-run).
Result<std::vector<std::string>> trainer_argv(const config::TrainConfig& train, const std::string& export_path,
                                              const std::vector<std::string>& cli_overrides);

Result<TrainResult> run_training(Store& store, const config::Config& config, const TrainRequest& request);

}  // namespace atlas::data
