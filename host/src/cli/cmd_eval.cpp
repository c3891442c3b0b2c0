// atlas-host eval probe [-c FILE] --dataset FILE.jsonl [--probe NAME] [--as-of TIME] [--json]
#include <boost/program_options.hpp>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/clock.hpp"
#include "data/open.hpp"
#include "runtime/probe_eval.hpp"

namespace atlas::cli {

int run_eval(const Args& args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << "Usage: atlas-host eval probe [-c FILE] --dataset FILE.jsonl [--probe NAME] [--as-of TIME] [--json]\n"
                 "Runs the configured capability probe over a labelled dataset (one JSON record per line:\n"
                 "{task, learning_history, expected_mode}) and prints accuracy and a confusion matrix.\n"
                 "Each record is judged as of its newest history timestamp unless --as-of is given.\n";
    return args.empty() ? kExitUsage : kExitOk;
  }
  if (args[0] != "probe") throw UsageError("unknown eval target '" + args[0] + "' (only 'probe' exists)");
  po::options_description opts("atlas-host eval probe [-c FILE] --dataset FILE.jsonl [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(), "config file (TOML; default ./atlas.toml)")(
      "dataset", po::value<std::string>(), "JSONL dataset")("probe", po::value<std::string>(),
                                                           "probe plugin to evaluate (default: [routing] probe)")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")(
      "as-of", po::value<std::string>(),
      "judge every record as of this time (ISO-8601, e.g. 2025-10-31T00:00:00Z; default: each record's newest "
      "history timestamp)")("json", "JSON output");
  po::variables_map vm = parse_options(Args(args.begin() + 1, args.end()), opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (!vm.count("dataset")) throw UsageError("--dataset FILE.jsonl is required");
  data::OpenRequest request;
  request.config_path = required_config_path(vm, "its [routing] section names the probe");
  auto cfg = data::load_effective_config(request);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitFailure;
  }
  std::optional<int64_t> as_of;
  if (vm.count("as-of")) {
    as_of = clock::parse_iso8601_seconds(vm["as-of"].as<std::string>());
    if (!as_of)
      throw UsageError("--as-of '" + vm["as-of"].as<std::string>() +
                       "' is not an ISO-8601 time (e.g. 2025-10-31 or 2025-10-31T12:00:00Z)");
  }
  std::vector<std::filesystem::path> dirs;
  for (const auto& d : values(vm, "plugin-dir")) dirs.emplace_back(d);
  auto report = runtime::run_probe_eval(*cfg, vm["dataset"].as<std::string>(),
                                        vm.count("probe") ? vm["probe"].as<std::string>() : "", dirs, as_of);
  if (!report) {
    std::cerr << "atlas-host eval probe: " << report.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << (vm.count("json") ? report->to_json() + "\n" : report->to_text());
  return kExitOk;
}

}  // namespace atlas::cli
