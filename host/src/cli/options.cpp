#include "cli/options.hpp"

#include <filesystem>
#include <iostream>

#include "runtime/preflight.hpp"

namespace atlas::cli {

po::variables_map parse_options(const Args& args, const po::options_description& desc,
                                const po::positional_options_description* positional) {
  po::variables_map vm;
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError(e.what());
  }
  return vm;
}

void add_store_options(po::options_description& desc) {
  desc.add_options()("config,c", po::value<std::string>(), "")("database-url", po::value<std::string>(), "")(
      "plugin-dir", po::value<std::vector<std::string>>(), "");
}

std::string required_config_path(const po::variables_map& vm, const std::string& purpose) {
  if (vm.count("config")) return vm["config"].as<std::string>();
  std::error_code ec;
  if (std::filesystem::is_regular_file("atlas.toml", ec)) return "atlas.toml";
  throw UsageError("no configuration: pass -c/--config FILE or run where ./atlas.toml is (" + purpose +
                   "; see configs/ for examples)");
}

data::OpenRequest store_request(const po::variables_map& vm) {
  data::OpenRequest req;
  if (vm.count("config")) req.config_path = vm["config"].as<std::string>();
  if (vm.count("database-url")) req.database_url = vm["database-url"].as<std::string>();
  for (const auto& d : values(vm, "plugin-dir")) req.plugin_dirs.emplace_back(d);
  return req;
}

std::vector<std::string> values(const po::variables_map& vm, const char* name) {
  return vm.count(name) ? vm[name].as<std::vector<std::string>>() : std::vector<std::string>{};
}

std::vector<SessionStatus> session_status_values(const po::variables_map& vm, const char* name) {
  auto parsed = parse_session_statuses(values(vm, name), std::string("--") + name);
  if (!parsed) throw UsageError(parsed.status().message());
  return std::move(*parsed);
}

std::vector<ReviewStatus> review_status_values(const po::variables_map& vm, const char* name) {
  auto parsed = parse_review_statuses(values(vm, name), std::string("--") + name);
  if (!parsed) throw UsageError(parsed.status().message());
  return std::move(*parsed);
}

bool models_pass_preflight(const po::variables_map& vm, const config::Config& config, std::string_view command) {
  if (vm.count("no-preflight")) return true;
  auto problems = runtime::preflight_models(config);
  if (problems.empty()) return true;
  std::cerr << runtime::preflight_message(command, problems);
  return false;
}

}  // namespace atlas::cli
