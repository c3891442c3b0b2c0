// atlas-host train — export with the configured filters, then run the configured trainer.
#include <boost/program_options.hpp>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"
#include "data/train.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host train [-c FILE] [key=value ...] [--output FILE] [--format F] [--atlas-core-path DIR]\n"
        "                   [--dry-run] [--json]\n\n"
        "Exports the sessions selected by [train.filters] (approved only unless configured) in\n"
        "[train] export_format, then runs the trainer with the export's absolute path:\n"
        "  Atlas Core (--atlas-core-path, else ATLAS_CORE_PATH, else [train] atlas_core_path): in the\n"
        "    checkout, <python> scripts/run_offline_pipeline.py --export-path FILE, the\n"
        "    [train.atlas_core] flags, and one --override per [train.overrides] entry and key=value here;\n"
        "  any other trainer: [train] command + args ({export_path} in the command, else\n"
        "    data.dataset_path=FILE) and the key=value overrides, in [train] cwd.\n"
        "The trainer's output streams through; the run (export sha256, command, exit status, times) is\n"
        "recorded in training_runs. --dry-run exports and prints the command, shell-quoted, without\n"
        "running it. The exit code is the trainer's (2 when the Atlas Core checkout is incomplete).\n";
}

}  // namespace

int run_train(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("dry-run", "")(
      "output,o", po::value<std::string>(), "")("format,f", po::value<std::string>(), "")(
      "override", po::value<std::vector<std::string>>(), "")("atlas-core-path", po::value<std::string>(), "");
  add_store_options(desc);
  po::positional_options_description pos;
  pos.add("override", -1);
  po::variables_map vm = parse_options(args, desc, &pos);
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  std::string config_file = required_config_path(vm, "its [train] section names the trainer");
  data::TrainRequest tr;
  if (vm.count("override")) tr.overrides = vm["override"].as<std::vector<std::string>>();
  for (const auto& o : tr.overrides)
    if (o.find('=') == std::string::npos || o.front() == '=')
      throw UsageError("'" + o + "' is not a key=value override (e.g. trainer.learning_rate=1e-5)");
  if (vm.count("output")) tr.output = vm["output"].as<std::string>();
  if (vm.count("format")) {
    tr.format = vm["format"].as<std::string>();
    if (!data::parse_export_format(tr.format).is_ok()) throw UsageError(data::parse_export_format(tr.format).status().message());
  }
  tr.dry_run = vm.count("dry-run") != 0;
  if (::isatty(2)) {
    tr.progress = [](uint64_t done, uint64_t total) {
      std::fprintf(stderr, "\rexport %llu/%llu sessions", static_cast<unsigned long long>(done),
                   static_cast<unsigned long long>(total));
      if (done == total) std::fprintf(stderr, "\n");
    };
  }
  data::OpenRequest req = store_request(vm);
  req.config_path = config_file;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host train: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  auto core = data::atlas_core_checkout(opened->config.train,
                                       vm.count("atlas-core-path") ? vm["atlas-core-path"].as<std::string>() : "");
  if (!core.is_ok()) {
    std::cerr << "atlas-host train: " << core.status().message() << "\n";
    return kExitUsage;
  }
  tr.atlas_core = *core;
  if (!tr.dry_run && !vm.count("json")) std::cerr << "atlas-host train: exporting...\n";
  auto r = data::run_training(*opened->store, opened->config, tr);
  if (!r.is_ok()) {
    std::cerr << "atlas-host train: " << r.status().message() << "\n";
    return kExitFailure;
  }
  if (vm.count("json")) {
    std::cout << "{\"export_path\":" << json::quote(r->export_path) << ",\"sessions\":" << r->summary.sessions
              << ",\"records\":" << r->summary.records << ",\"sha256\":" << json::quote(r->summary.sha256)
              << ",\"command\":" << json::quote(r->display_command) << ",\"cwd\":" << json::quote(r->cwd) << ",\"dry_run\":" << (tr.dry_run ? "true" : "false")
              << ",\"exit_status\":" << r->exit_status << ",\"run_id\":" << json::quote(r->run_id) << "}\n";
  } else if (tr.dry_run) {
    std::cout << "Export: " << r->export_path << " (" << r->summary.records << " records, sha256 " << r->summary.sha256
              << ")\nTrainer command (dry run, not started" << (r->cwd.empty() ? "" : ", in " + r->cwd)
              << "): " << r->display_command << "\n";
  } else {
    std::cerr << "atlas-host train: trainer exited with status " << r->exit_status << " (run " << r->run_id
              << ", export " << r->export_path << ")\n";
  }
  if (tr.dry_run) return kExitOk;
  return r->exit_status == 0 ? kExitOk : (r->exit_status > 0 && r->exit_status < 256 ? r->exit_status : kExitFailure);
}

}  // namespace atlas::cli
