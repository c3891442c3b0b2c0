// atlas-host plugins list|inspect|verify — argument parsing and printing only; the work is
// done by plugin::Registry and plugin::probe_isolated.
#include <unistd.h>

#include <boost/program_options.hpp>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "plugin/discovery.hpp"
#include "plugin/info_json.hpp"
#include "plugin/isolated_probe.hpp"
#include "plugin/registry.hpp"
#include "plugin/trust.hpp"

namespace atlas::cli {

namespace {

namespace po = boost::program_options;
namespace fs = std::filesystem;
using plugin::Diagnostic;
using plugin::PluginInfo;
using plugin::Severity;

constexpr const char* kUsage =
    "Usage: atlas-host plugins <subcommand> [options]\n"
    "\n"
    "Subcommands:\n"
    "  list                   Plugins found in the plugin folders, and every file that was refused\n"
    "  inspect <file|name>    Everything about one plugin file (probed in a child process) or one\n"
    "                         plugin by name (its version, capabilities, ABI, config schema)\n"
    "  verify [files...]      Trust-check and load each file in its own child process; a file that\n"
    "                         crashes or hangs is reported. Without files: every file in the folders.\n"
    "\n"
    "Plugin folders: --plugin-dir folders, then <exe dir>/plugins, <exe dir>/../lib/atlas/plugins/abi1\n"
    "and the folders in ATLAS_PLUGIN_PATH (colon-separated). See docs/plugins.md.\n"
    "Exit codes: 0 ok, 1 a file was refused or nothing matched, 2 usage error.\n";

struct Options {
  std::string sub;
  std::vector<std::string> args;
  bool json = false;
  plugin::RegistryOptions registry;
};

bool color_enabled(FILE* stream) { return ::isatty(::fileno(stream)) && !std::getenv("NO_COLOR"); }

std::string paint(FILE* stream, const char* code, std::string_view text) {
  if (!color_enabled(stream)) return std::string(text);
  return std::string("\033[") + code + "m" + std::string(text) + "\033[0m";
}

Options parse(const Args& args) {
  po::options_description visible("Options");
  visible.add_options()
      ("help,h", "show this help")
      ("json", "machine-readable output on stdout")
      ("plugin-dir", po::value<std::vector<std::string>>()->composing(), "scan this folder too (repeatable)")
      ("no-default-dirs", "scan only --plugin-dir folders (and the given files)")
      ("allow-unsafe-plugins", "skip the permission checks (development only)")
      ("lock", po::value<std::string>(), "enforce this plugins.lock (lines `<sha256>  <file name>`)")
      ("timeout", po::value<double>(), "seconds a probed file may take (default: $ATLAS_PLUGIN_PROBE_TIMEOUT or 20)");
  po::options_description hidden;
  hidden.add_options()("args", po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(visible).add(hidden);
  po::positional_options_description pos;
  pos.add("args", -1);
  po::variables_map vm = parse_options(args, all, &pos);
  Options o;
  std::vector<std::string> positional = vm.count("args") ? vm["args"].as<std::vector<std::string>>() : Args{};
  if (vm.count("help")) {
    std::ostringstream text;
    text << visible;
    std::cout << kUsage << "\n" << text.str();
    o.sub = "help";
    return o;
  }
  if (positional.empty()) throw UsageError("missing subcommand: expected list, inspect or verify");
  o.sub = positional.front();
  o.args.assign(positional.begin() + 1, positional.end());
  o.json = vm.count("json") > 0;
  if (vm.count("timeout")) {
    double seconds = vm["timeout"].as<double>();
    if (!(seconds > 0)) throw UsageError("--timeout must be a positive number of seconds");
    o.registry.probe_timeout = std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
  }
  for (const auto& d : values(vm, "plugin-dir")) o.registry.dirs.emplace_back(d);
  o.registry.use_default_dirs = vm.count("no-default-dirs") == 0;
  o.registry.allow_unsafe = vm.count("allow-unsafe-plugins") > 0;
  if (vm.count("lock")) o.registry.lock_file = fs::path(vm["lock"].as<std::string>());
  if (o.sub != "list" && o.sub != "inspect" && o.sub != "verify") {
    throw UsageError("unknown subcommand '" + o.sub + "': expected list, inspect or verify");
  }
  if (o.sub == "list" && !o.args.empty()) throw UsageError("'plugins list' takes no arguments (got '" + o.args[0] + "')");
  if (o.sub == "inspect" && o.args.size() != 1) throw UsageError("'plugins inspect' takes exactly one file or plugin name");
  return o;
}

void print_diagnostics(const std::vector<Diagnostic>& diags) {
  for (const auto& d : diags) {
    const char* label = d.severity == Severity::kError ? "error" : d.severity == Severity::kWarning ? "warning" : "note";
    const char* code = d.severity == Severity::kError ? "1;31" : "1;33";
    std::cerr << paint(stderr, code, label) << ": " << d.message << "\n";
  }
}

size_t error_count(const std::vector<Diagnostic>& diags) {
  size_t n = 0;
  for (const auto& d : diags) n += d.severity == Severity::kError;
  return n;
}

json::Value json_array(const std::vector<PluginInfo>& plugins, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& p : plugins) arr.PushBack(plugin::to_json(p, a), a);
  return arr;
}

json::Value json_array(const std::vector<Diagnostic>& diags, json::Allocator& a) {
  json::Value arr(rapidjson::kArrayType);
  for (const auto& d : diags) arr.PushBack(plugin::to_json(d, a), a);
  return arr;
}

std::string join_caps(uint64_t bits) {
  std::string out;
  for (const auto& c : plugin::capability_names(bits)) out += (out.empty() ? "" : ", ") + c;
  return out.empty() ? "none" : out;
}

void print_table(const std::vector<PluginInfo>& plugins) {
  std::vector<std::vector<std::string>> rows = {{"KIND", "NAME", "VERSION", "VENDOR", "FILE"}};
  for (const auto& p : plugins) {
    rows.push_back({std::string(plugin::kind_name(p.kind)), p.name, p.version, p.vendor, p.file.string()});
  }
  std::vector<size_t> width(5, 0);
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  for (size_t row = 0; row < rows.size(); ++row) {
    std::string line;
    for (size_t i = 0; i < rows[row].size(); ++i) {
      std::string cell = rows[row][i];
      if (i + 1 < rows[row].size()) cell.resize(width[i] + 2, ' ');
      line += cell;
    }
    std::cout << (row == 0 ? paint(stdout, "1", line) : line) << "\n";
  }
}

void print_details(const PluginInfo& p) {
  std::cout << paint(stdout, "1", p.name) << " (" << plugin::kind_name(p.kind) << ") " << p.version << "\n"
            << "  vendor:        " << p.vendor << "\n"
            << "  license:       " << p.license << "\n"
            << "  description:   " << p.description << "\n"
            << "  file:          " << p.file.string() << "\n"
            << "  plugin ABI:    " << p.abi_major << "." << p.abi_minor << " (host " << ATLAS_ABI_MAJOR << "."
            << ATLAS_ABI_MINOR << "), build " << p.build_tag << "\n"
            << "  capabilities:  " << join_caps(p.capabilities) << "\n"
            << "  cancel:        " << (p.has_cancel ? "supported" : "not supported") << "\n"
            << "  config schema: ";
  if (p.config_schema.empty()) {
    std::cout << "none (the plugin takes no config: {} only)\n";
    return;
  }
  auto doc = json::parse(p.config_schema, "schema");
  std::string text = doc.is_ok() ? json::dump_pretty(*doc) : p.config_schema;
  std::string indented;
  for (char c : text) {
    indented += c;
    if (c == '\n') indented += "    ";
  }
  std::cout << "\n    " << indented << "\n";
}

std::chrono::milliseconds timeout_of(const Options& o) { return plugin::effective_probe_timeout(o.registry); }

// What the registry found: every file is probed in a child process (or taken from the probe
// cache), so one crashing plugin cannot take the command down.
struct Scan {
  std::vector<PluginInfo> plugins;
  std::vector<Diagnostic> diagnostics;
  std::vector<fs::path> dirs;
  Status status;
};

Scan discover_all(const Options& o) {
  plugin::Registry registry;
  Scan out;
  out.status = registry.discover(o.registry);
  out.plugins = registry.plugins();
  out.diagnostics = registry.diagnostics();
  out.dirs = registry.scanned_dirs();
  return out;
}

int run_list(const Options& o) {
  Scan scan = discover_all(o);
  // A refused file is a failure too (a plugin the user installed is not usable).
  int code = scan.status.is_ok() && error_count(scan.diagnostics) == 0 ? kExitOk : kExitFailure;
  if (o.json) {
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    json::set(doc, "plugins", json_array(scan.plugins, a), a);
    json::set(doc, "diagnostics", json_array(scan.diagnostics, a), a);
    json::Value dirs(rapidjson::kArrayType);
    for (const auto& d : scan.dirs) dirs.PushBack(json::str(d.string(), a), a);
    json::set(doc, "dirs", std::move(dirs), a);
    std::cout << json::dump_pretty(doc) << "\n";
  } else {
    if (scan.plugins.empty()) {
      std::cout << "No plugins found. ";
    } else {
      print_table(scan.plugins);
    }
    std::string dirs;
    for (const auto& d : scan.dirs) dirs += (dirs.empty() ? "" : ", ") + d.string();
    std::cout << "Scanned: " << (dirs.empty() ? "(no folders)" : dirs) << "\n";
  }
  print_diagnostics(scan.diagnostics);
  size_t refused = error_count(scan.diagnostics);
  if (refused && !o.json) {
    std::cerr << refused << " problem" << (refused == 1 ? "" : "s") << " found"
              << (scan.plugins.empty() ? "" : "; the plugins listed above are usable") << ".\n";
  }
  return code;
}

bool looks_like_file(const std::string& arg) {
  std::error_code ec;
  return arg.find('/') != std::string::npos || fs::path(arg).extension() == plugin::plugin_file_suffix() ||
         fs::is_regular_file(arg, ec);
}

json::Value report_json(const plugin::ProbeReport& r, json::Allocator& a) {
  json::Value v(rapidjson::kObjectType);
  json::set(v, "file", r.file.string(), a);
  json::set(v, "ok", r.ok(), a);
  json::set(v, "crashed", r.crashed, a);
  json::set(v, "signal", r.signal, a);
  json::set(v, "plugins", json_array(r.plugins, a), a);
  json::set(v, "diagnostics", json_array(r.diagnostics, a), a);
  return v;
}


int run_inspect(const Options& o) {
  const std::string& target = o.args[0];
  if (looks_like_file(target)) {
    plugin::ProbeReport r = plugin::probe_isolated(target, o.registry, timeout_of(o));
    if (o.json) {
      json::Document doc(rapidjson::kObjectType);
      doc.CopyFrom(report_json(r, doc.GetAllocator()), doc.GetAllocator());
      std::cout << json::dump_pretty(doc) << "\n";
    } else {
      for (size_t i = 0; i < r.plugins.size(); ++i) {
        if (i) std::cout << "\n";
        print_details(r.plugins[i]);
      }
    }
    print_diagnostics(r.diagnostics);
    return r.ok() ? kExitOk : kExitFailure;
  }
  Scan scan = discover_all(o);
  int code = scan.status.is_ok() ? kExitOk : kExitFailure;
  std::vector<PluginInfo> matches;
  for (const auto& p : scan.plugins) {
    if (p.name == target) matches.push_back(p);
  }
  if (matches.empty()) {
    std::string known;
    for (const auto& p : scan.plugins) known += (known.empty() ? "" : ", ") + p.name;
    std::cerr << paint(stderr, "1;31", "error") << ": no plugin named '" << target << "' (found: "
              << (known.empty() ? "none" : known) << "); check the spelling, add its folder with --plugin-dir, or "
              << "pass the file path to inspect a file that was refused\n";
    print_diagnostics(scan.diagnostics);
    return kExitFailure;
  }
  if (o.json) {
    json::Document doc(rapidjson::kObjectType);
    auto& a = doc.GetAllocator();
    json::set(doc, "plugins", json_array(matches, a), a);
    std::cout << json::dump_pretty(doc) << "\n";
  } else {
    for (size_t i = 0; i < matches.size(); ++i) {
      if (i) std::cout << "\n";
      print_details(matches[i]);
    }
  }
  return code;
}

int run_verify(const Options& o) {
  std::vector<fs::path> files;
  std::vector<Diagnostic> folder_problems;
  if (!o.args.empty()) {
    for (const auto& a : o.args) files.emplace_back(a);
  } else {
    plugin::FileSet set = plugin::collect_plugin_files(o.registry);
    files = std::move(set.files);
    folder_problems = std::move(set.problems);
  }
  size_t ok = 0, failed = error_count(folder_problems);
  json::Document doc(rapidjson::kObjectType);
  auto& a = doc.GetAllocator();
  json::Value reports(rapidjson::kArrayType);
  for (const auto& f : files) {
    plugin::ProbeReport r = plugin::probe_isolated(f, o.registry, timeout_of(o));
    r.ok() ? ++ok : ++failed;
    if (o.json) {
      reports.PushBack(report_json(r, a), a);
      continue;
    }
    std::string names;
    for (const auto& p : r.plugins) {
      names += (names.empty() ? "" : ", ") + std::string(plugin::kind_name(p.kind)) + " " + p.name + " " + p.version;
    }
    if (r.ok()) {
      std::cout << paint(stdout, "32", "ok    ") << "  " << f.string() << ": " << names << "\n";
    } else {
      std::cout << paint(stdout, "1;31", "FAILED") << "  " << f.string()
                << (names.empty() ? std::string() : " (usable: " + names + ")") << "\n";
    }
    print_diagnostics(r.diagnostics);
  }
  if (o.json) {
    json::set(doc, "files", std::move(reports), a);
    json::set(doc, "diagnostics", json_array(folder_problems, a), a);
    json::set(doc, "ok", static_cast<int64_t>(ok), a);
    json::set(doc, "failed", static_cast<int64_t>(failed), a);
    std::cout << json::dump_pretty(doc) << "\n";
  } else {
    print_diagnostics(folder_problems);
    std::cout << files.size() << " file" << (files.size() == 1 ? "" : "s") << " verified: " << ok << " ok, " << failed
              << " failed\n";
  }
  return failed ? kExitFailure : kExitOk;
}

}  // namespace

int run_plugins(const Args& args) {
  Options o = parse(args);
  if (o.sub == "help") return kExitOk;
  if (o.registry.lock_file) {
    auto lock = plugin::LockFile::load(*o.registry.lock_file);
    if (!lock.is_ok()) {
      std::cerr << paint(stderr, "1;31", "error") << ": " << lock.status().message() << "\n";
      return kExitFailure;
    }
  }
  if (o.sub == "list") return run_list(o);
  if (o.sub == "inspect") return run_inspect(o);
  return run_verify(o);
}

}  // namespace atlas::cli
