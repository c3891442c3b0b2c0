// atlas-host report — learning report per learning key: sessions, reward trend, lanes,
// teacher interventions, tokens per role; text, --json, or an SVG chart.
#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "data/open.hpp"
#include "data/report.hpp"

namespace atlas::cli {
namespace {

void usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host report [--learning-key K] [--tag T]... [--since DATE] [--json] [--svg FILE]\n\n"
        "Per learning key: sessions by status, reward mean and trend (first vs second half, slope),\n"
        "lane mix, teacher interventions (guidance notes, retries), tokens and cost per role, and the\n"
        "cost per accepted example. Keys are shown by a readable label (the key when set by hand,\n"
        "else its task); docs/runtime.md, \"Learning report\".\n"
        "--svg FILE writes a line chart of reward over sessions (one line per learning key).\n"
        "Common options: -c/--config FILE, --database-url URL, --plugin-dir DIR.\n";
}

}  // namespace

int run_report(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("learning-key", po::value<std::string>(), "")(
      "tag", po::value<std::vector<std::string>>(), "")("since", po::value<std::string>(), "")(
      "svg", po::value<std::string>(), "");
  add_store_options(desc);
  po::variables_map vm = parse_options(args, desc);
  if (vm.count("help")) {
    usage(std::cout);
    return kExitOk;
  }
  data::OpenRequest req = store_request(vm);
  req.read_only = true;
  auto opened = data::open_store(req);
  if (!opened.is_ok()) {
    std::cerr << "atlas-host report: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  data::ReportRequest rr;
  if (vm.count("learning-key")) rr.learning_key = vm["learning-key"].as<std::string>();
  if (vm.count("since")) rr.since = vm["since"].as<std::string>();
  if (vm.count("tag")) rr.tags = vm["tag"].as<std::vector<std::string>>();
  auto report = data::build_report(*opened->store, rr);
  if (!report.is_ok()) {
    std::cerr << "atlas-host report: " << report.status().message() << "\n";
    return kExitFailure;
  }
  if (vm.count("svg")) {
    std::string path = vm["svg"].as<std::string>();
    std::ofstream out(path);
    out << data::report_svg(*report);
    if (!out) {
      std::cerr << "atlas-host report: cannot write " << path << "\n";
      return kExitFailure;
    }
  }
  std::cout << (vm.count("json") ? data::report_json(*report) + "\n" : data::report_text(*report));
  return kExitOk;
}

}  // namespace atlas::cli
