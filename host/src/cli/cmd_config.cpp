// atlas-host config check|show — validate configuration files; print the effective config.
#include <boost/program_options.hpp>

#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "config/loader.hpp"

namespace atlas::cli {
namespace {

constexpr const char* kDefaultConfig = "atlas.toml";

void print_usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host config check [--config FILE]... [FILE]... [--json]\n"
        "      Validate configuration files without running anything. Every problem is listed\n"
        "      as file:line:column: key.path: message. Exit 0 when all are valid, 1 otherwise.\n"
        "  atlas-host config show [--config FILE] [--json]\n"
        "      Print the effective configuration (defaults filled in, environment overrides\n"
        "      applied). API keys are never printed; only whether each variable is set.\n\n"
        "Without --config, ./atlas.toml is used. Examples: configs/*.toml; reference:\n"
        "docs/configuration.md.\n";
}

struct Options {
  std::vector<std::string> files;
  bool json = false;
  bool help = false;
};

Options parse(const Args& args, bool many_files) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("config,c", po::value<std::vector<std::string>>(), "")(
      "file", po::value<std::vector<std::string>>(), "");
  po::positional_options_description pos;
  pos.add("file", -1);
  po::variables_map vm = parse_options(args, desc, &pos);
  Options o;
  o.help = vm.count("help") != 0;
  o.json = vm.count("json") != 0;
  for (const char* k : {"config", "file"})
    if (vm.count(k))
      for (const auto& f : vm[k].as<std::vector<std::string>>()) o.files.push_back(f);
  if (!many_files && o.files.size() > 1) throw UsageError("config show takes one configuration file");
  return o;
}

// The file to use when none was given, or an explanation of how to get one.
std::string default_file() {
  std::error_code ec;
  if (std::filesystem::exists(kDefaultConfig, ec)) return kDefaultConfig;
  throw std::runtime_error(
      "no configuration file: ./atlas.toml does not exist. Create one from an example, e.g.\n"
      "    cp configs/quickstart.toml atlas.toml\n"
      "(see docs/configuration.md for every key), or name a file with --config FILE.");
}

json::Value error_json(const config::ConfigError& e, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "file", e.where.file, a);
  json::set(v, "line", static_cast<int64_t>(e.where.line), a);
  json::set(v, "column", static_cast<int64_t>(e.where.column), a);
  json::set(v, "key_path", e.key_path, a);
  json::set(v, "message", secrets::redact(e.message), a);
  return v;
}

int run_check(const Args& args) {
  Options o = parse(args, true);
  if (o.help) {
    print_usage(std::cout);
    return kExitOk;
  }
  if (o.files.empty()) o.files.push_back(default_file());
  json::Document out;
  out.SetObject();
  json::Value results(rapidjson::kArrayType);
  bool all_ok = true;
  for (const auto& file : o.files) {
    std::vector<config::ConfigError> errors;
    auto cfg = config::load_config(file, &errors);
    std::vector<std::string> warnings;
    if (cfg.is_ok()) warnings = config::apply_env_overrides(*cfg);
    all_ok = all_ok && cfg.is_ok();
    if (o.json) {
      auto& a = out.GetAllocator();
      json::Value r(rapidjson::kObjectType);
      json::set(r, "file", file, a);
      json::set(r, "valid", cfg.is_ok(), a);
      json::Value errs(rapidjson::kArrayType);
      for (const auto& e : errors) errs.PushBack(error_json(e, a), a);
      r.AddMember("errors", errs, a);
      json::Value warns(rapidjson::kArrayType);
      for (const auto& w : warnings) warns.PushBack(json::str(secrets::redact(w), a), a);
      r.AddMember("warnings", warns, a);
      results.PushBack(r, a);
      continue;
    }
    if (cfg.is_ok()) {
      std::cout << file << ": OK (adapter " << cfg->agent.adapter << ", storage "
                << (cfg->storage.active() ? secrets::url_without_password(cfg->storage.database_url) : std::string("off")) << ")\n";
      for (const auto& w : warnings) std::cerr << file << ": warning: " << secrets::redact(w) << "\n";
    } else {
      for (const auto& e : errors) std::cerr << secrets::redact(e.to_string()) << "\n";
      if (errors.empty()) std::cerr << secrets::redact(cfg.status().message()) << "\n";
      std::cerr << file << ": invalid (" << std::max<size_t>(errors.size(), 1) << " error"
                << (errors.size() == 1 ? "" : "s") << ")\n";
    }
  }
  if (o.json) {
    out.AddMember("valid", all_ok, out.GetAllocator());
    out.AddMember("files", results, out.GetAllocator());
    std::cout << json::dump_pretty(out) << "\n";
  }
  return all_ok ? kExitOk : kExitFailure;
}

int run_show(const Args& args) {
  Options o = parse(args, false);
  if (o.help) {
    print_usage(std::cout);
    return kExitOk;
  }
  std::string file = o.files.empty() ? default_file() : o.files.front();
  std::vector<config::ConfigError> errors;
  auto cfg = config::load_config(file, &errors);
  if (!cfg.is_ok()) {
    for (const auto& e : errors) std::cerr << secrets::redact(e.to_string()) << "\n";
    if (errors.empty()) std::cerr << secrets::redact(cfg.status().message()) << "\n";
    return kExitFailure;
  }
  for (const auto& w : config::apply_env_overrides(*cfg)) std::cerr << "warning: " << secrets::redact(w) << "\n";
  if (o.json)
    std::cout << secrets::redact(json::dump_pretty(config::config_to_json(*cfg))) << "\n";
  else
    std::cout << secrets::redact(config::config_to_toml(*cfg));
  return kExitOk;
}

}  // namespace

int run_config(const Args& args) {
  if (args.empty()) throw UsageError("missing subcommand: check or show");
  const std::string& sub = args.front();
  Args rest(args.begin() + 1, args.end());
  if (sub == "--help" || sub == "-h" || sub == "help") {
    print_usage(std::cout);
    return kExitOk;
  }
  if (sub == "check") return run_check(rest);
  if (sub == "show") return run_show(rest);
  throw UsageError("unknown subcommand '" + sub + "' (expected check or show)");
}

}  // namespace atlas::cli
