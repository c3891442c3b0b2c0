// atlas-host eval probe --config FILE --dataset FILE.jsonl [--probe NAME] [--json]
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "data/open.hpp"
#include "runtime/probe_eval.hpp"

namespace atlas::cli {

int run_eval(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "Usage: atlas-host eval probe --config FILE --dataset FILE.jsonl [--probe NAME] [--json]\n"
                 "Runs the configured capability probe over a labelled dataset (one JSON record per line:\n"
                 "{task, learning_history, expected_mode}) and prints accuracy and a confusion matrix.\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "probe") throw UsageError("unknown eval target '" + args[0] + "' (only 'probe' exists)");
  po::options_description opts("atlas-host eval probe --config FILE --dataset FILE.jsonl [options]");
  opts.add_options()("help,h", "show this help")("config", po::value<std::string>(), "config file (TOML)")(
      "dataset", po::value<std::string>(), "JSONL dataset")("probe", po::value<std::string>(),
                                                           "probe plugin to evaluate (default: [routing] probe)")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")("json", "JSON output");
  po::variables_map vm = parse_options(Args(args.begin() + 1, args.end()), opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (!vm.count("config") || !vm.count("dataset")) throw UsageError("--config FILE and --dataset FILE.jsonl are required");
  data::OpenRequest request;
  request.config_path = vm["config"].as<std::string>();
  auto cfg = data::load_effective_config(request);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitFailure;
  }
  std::vector<std::filesystem::path> dirs;
  for (const auto& d : values(vm, "plugin-dir")) dirs.emplace_back(d);
  auto report = runtime::run_probe_eval(*cfg, vm["dataset"].as<std::string>(),
                                        vm.count("probe") ? vm["probe"].as<std::string>() : "", dirs);
  if (!report) {
    std::cerr << "atlas-host eval probe: " << report.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << (vm.count("json") ? report->to_json() + "\n" : report->to_text());
  return kExitOk;
}

}  // namespace atlas::cli
