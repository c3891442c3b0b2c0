// atlas-host quickstart: three security-review tasks sharing one learning key, through the real
// supervised loop, then a table of reward, tokens and time per task with the change from the
// first. Without a provider key it runs the in-process mock-llm with scripted replies.
#include <unistd.h>

#include <boost/program_options.hpp>
#include <filesystem>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/log.hpp"
#include "config/loader.hpp"
#include "mock/mock_server.hpp"
#include "runtime/console.hpp"
#include "runtime/quickstart.hpp"
#include "runtime/runtime.hpp"

namespace po = boost::program_options;
namespace fs = std::filesystem;

namespace atlas::cli {
namespace {

fs::path exe_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

// configs/quickstart-scenario.json from the working directory, the install tree
// (<prefix>/bin/atlas-host -> <prefix>/share/atlas-host/configs) or the build tree.
std::optional<fs::path> find_scenario() {
  std::vector<fs::path> candidates = {fs::path("configs/quickstart-scenario.json")};
  fs::path exe = exe_dir();
  if (!exe.empty()) {
    candidates.push_back(exe / "../share/atlas-host/configs/quickstart-scenario.json");  // install
    candidates.push_back(exe / "../../../configs/quickstart-scenario.json");  // build/<preset>/bin
    candidates.push_back(exe / "../../configs/quickstart-scenario.json");
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return fs::weakly_canonical(c, ec);
  }
  return std::nullopt;
}

std::string delta(std::optional<double> now, std::optional<double> first, int decimals, bool percent) {
  if (!now || !first) return "";
  double d = *now - *first;
  char b[64];
  if (percent) {
    if (*first == 0) return "";
    std::snprintf(b, sizeof b, "%+.0f%%", 100.0 * d / *first);
  } else {
    std::snprintf(b, sizeof b, "%+.*f", decimals, d);
  }
  return b;
}

// Starts the in-process mock-llm on the quickstart scenario (or --scenario FILE) and says so.
Status start_scripted_mock(const po::variables_map& vm, mock::MockLlmServer& mock) {
  std::optional<fs::path> scenario;
  if (vm.count("scenario")) scenario = fs::path(vm["scenario"].as<std::string>());
  else scenario = find_scenario();
  if (!scenario)
    return not_found("cannot find configs/quickstart-scenario.json (looked in ./configs, next to the executable and "
                     "in share/atlas-host/configs of the install); pass --scenario FILE");
  auto sc = mock::load_scenario_file(scenario->string());
  if (!sc) return sc.status();
  auto port = mock.start(std::move(*sc));
  if (!port) return port.status().with_context("could not start the mock model server");
  std::cerr << "Running against the in-process mock-llm: MODEL REPLIES ARE SCRIPTED (" << scenario->string()
            << ").\nEverything else is real: plugins, lanes, teacher loop, judges, learning and storage.\n\n";
  return Status::ok();
}

}  // namespace

int run_quickstart(const Args& args) {
  po::options_description opts("atlas-host quickstart [options]");
  opts.add_options()("help,h", "show this help")("tasks", po::value<int>()->default_value(3), "run the first N tasks (1-3)")(
      "config,c", po::value<std::string>(), "use this config instead of the built-in one")(
      "offline", "route every model of the config to the scripted mock, even when a provider key is set")(
      "scenario", po::value<std::string>(), "mock-llm scenario (default: configs/quickstart-scenario.json)")(
      "db", po::value<std::string>(), "storage URL (default sqlite://.atlas/atlas.db; overrides the config's)")(
      "skip-storage", "do not store the sessions")("no-preflight", "do not check the models before the first task")(
      "json", "print the results as JSON");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << "Runs three security-review tasks through the supervised loop and shows how reward, tokens and\n"
                 "time change as the playbook learns. Without OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY /\n"
                 "OPENAI_BASE_URL (or with --offline) the model replies are scripted by an in-process mock-llm.\n\n"
              << opts;
    return kExitOk;
  }
  int n_tasks = vm["tasks"].as<int>();
  if (n_tasks < 1 || n_tasks > 3) throw UsageError("--tasks must be 1, 2 or 3");
  if (vm.count("db") && vm.count("skip-storage")) throw UsageError("give --db URL or --skip-storage, not both");
  bool json_out = vm.count("json") > 0;
  const bool offline = vm.count("offline") > 0;

  config::Config cfg;
  std::string provider;
  if (vm.count("config")) {
    data::OpenRequest request;
    request.config_path = vm["config"].as<std::string>();
    auto loaded = data::load_effective_config(request);
    if (!loaded) {
      std::cerr << loaded.status().message() << "\n";
      return kExitFailure;
    }
    cfg = std::move(*loaded);
  } else {
    provider = offline ? "" : runtime::quickstart::detect_provider();
    if (!provider.empty()) std::cerr << "Using real " << provider << " models (provider key found in the environment).\n\n";
    else if (!offline)
      std::cerr << "No provider key found (OPENAI_API_KEY, ANTHROPIC_API_KEY, GEMINI_API_KEY or OPENAI_BASE_URL).\n";
    auto parsed = config::parse_config(runtime::quickstart::config_toml(provider, "sqlite://.atlas/atlas.db"),
                                       "quickstart (built-in)");
    if (!parsed) {
      std::cerr << parsed.status().message() << "\n";
      return kExitFailure;
    }
    cfg = std::move(*parsed);
    config::apply_env_overrides(cfg);  // the environment wins over the built-in config too
  }
  // The command line wins over the config file.
  if (vm.count("db")) {
    cfg.storage.enabled = true;
    cfg.storage.database_url = vm["db"].as<std::string>();
  }
  if (vm.count("skip-storage")) cfg.storage.enabled = false;

  mock::MockLlmServer mock;
  const bool scripted = offline || (!vm.count("config") && provider.empty());
  if (scripted) {
    Status started = start_scripted_mock(vm, mock);
    if (!started.is_ok()) {
      std::cerr << "atlas-host quickstart: " << started.message() << "\n";
      return kExitFailure;
    }
    runtime::quickstart::route_models_to_mock(cfg, mock.base_url());
  }
  if (!models_pass_preflight(vm, cfg, "atlas-host quickstart")) return kExitFailure;

  runtime::RuntimeOptions ro;
  ro.progress = isatty(STDERR_FILENO) && !json_out;
  ro.color = runtime::console::color_enabled(STDERR_FILENO);
  config::Config fallback_cfg = cfg;
  auto rt = runtime::Runtime::create(std::move(cfg), ro);
  if (!rt && fallback_cfg.storage.active() && rt.status().message().find("[storage]") != std::string::npos) {
    // The demo still shows the loop without a database; say why nothing is stored.
    std::cerr << "warning: storage unavailable, running without it (no history, no learning): "
              << rt.status().message() << "\n";
    fallback_cfg.storage.enabled = false;
    rt = runtime::Runtime::create(std::move(fallback_cfg), ro);
  }
  if (!rt) {
    std::cerr << "atlas-host quickstart: " << rt.status().message() << "\n";
    return kExitFailure;
  }
  std::vector<runtime::SessionReport> reports;
  const auto& tasks = runtime::quickstart::tasks();
  for (int i = 0; i < n_tasks; ++i) {
    if (!json_out) std::cout << "=== Task " << i + 1 << "/" << n_tasks << ": " << tasks[i].title << " ===\n";
    runtime::TaskSpec spec{tasks[i].task, runtime::quickstart::task_metadata(i + 1), ""};
    runtime::SessionReport r = (*rt)->run(spec);
    // The playbook this session teaches must be in place before the next task starts.
    (*rt)->wait_for_background();
    if (!json_out) {
      std::cout << "lane: " << r.lane << " (" << r.lane_source << ")";
      if (r.applied_playbook_version > 0) std::cout << ", playbook v" << r.applied_playbook_version << " applied";
      std::cout << "\nreward: " << runtime::console::fixed(r.reward) << "   session: " << r.session_id
                << (r.stored ? "" : " (not stored)") << "\n";
      if (r.status != SessionStatus::kSucceeded) {
        std::cout << "FAILED: " << r.error << "\n";
        if (i + 1 < n_tasks) std::cout << "Continuing with the remaining tasks.\n";
      } else {
        std::string answer = r.final_answer.size() > 1200 ? r.final_answer.substr(0, 1200) + "\n[...]" : r.final_answer;
        std::cout << "answer:\n" << answer << "\n";
      }
      std::cout << "\n";
    }
    reports.push_back(std::move(r));
  }

  if (json_out) {
    std::cout << "{\"scripted\":" << (scripted ? "true" : "false") << ",\"sessions\":[";
    for (size_t i = 0; i < reports.size(); ++i) std::cout << (i ? "," : "") << reports[i].to_json();
    std::cout << "]}\n";
  } else {
    const auto& first = reports.front();
    std::vector<std::vector<std::string>> rows = {
        {"task", "lane", "reward", "vs first", "tokens", "vs first", "seconds", "vs first", "status"}};
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      auto tok = std::optional<double>(static_cast<double>(r.total_tokens.total_tokens));
      auto ftok = std::optional<double>(static_cast<double>(first.total_tokens.total_tokens));
      rows.push_back({std::to_string(i + 1) + " " + tasks[i].title, r.lane, runtime::console::fixed(r.reward),
                      i ? delta(r.reward, first.reward, 2, false) : "", std::to_string(r.total_tokens.total_tokens),
                      i ? delta(tok, ftok, 0, true) : "", runtime::console::fixed(r.seconds, 2),
                      i ? delta(r.seconds, first.seconds, 0, true) : "", std::string(status_name(r.status))});
    }
    std::cout << "Learning progression (learning key " << runtime::quickstart::kLearningKey << ")\n"
              << runtime::console::table(rows);
    const auto& last = reports.back();
    if (reports.size() > 1 && last.reward && first.reward && *last.reward > *first.reward)
      std::printf("Reward rose by %+.2f from the first task to the last.\n", *last.reward - *first.reward);
    if (reports.size() > 1 && last.total_tokens.total_tokens < first.total_tokens.total_tokens)
      std::printf("The last task used %.0f%% fewer tokens than the first.\n",
                  100.0 * (1.0 - static_cast<double>(last.total_tokens.total_tokens) /
                                     static_cast<double>(std::max<int64_t>(1, first.total_tokens.total_tokens))));
    if (last.applied_playbook_version > 0)
      std::cout << "The playbook learnt from earlier tasks (version " << last.applied_playbook_version << ", "
                << last.playbook_entries << " entries) was injected into the last task's prompts.\n";
    if (scripted) std::cout << "(Model replies were scripted by the mock; set a provider key for real models.)\n";
    std::string where = (*rt)->store() ? runtime::console::store_location(*(*rt)->store()) : "";
    if (last.stored && !where.empty())
      std::cout << "Sessions stored in " << where
                << ": try `atlas-host review list` or `atlas-host export --format atlas-jsonl`.\n";
  }
  return reports.back().status == SessionStatus::kSucceeded ? kExitOk : kExitFailure;
}

}  // namespace atlas::cli
