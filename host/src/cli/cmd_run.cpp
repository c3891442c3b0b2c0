// atlas-host run [-c FILE] (--task TEXT | --tasks FILE.jsonl) [--concurrency N] [--json]
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "cli/commands.hpp"
#include "cli/interrupt.hpp"
#include "cli/options.hpp"
#include "cli/session_runner.hpp"
#include "common/json.hpp"
#include "common/secrets.hpp"
#include "data/open.hpp"
#include "data/store.hpp"
#include "runtime/console.hpp"
#include "runtime/rollout.hpp"
#include "runtime/runtime.hpp"

namespace atlas::cli {
namespace {

// --rollouts N [--rollout-temperatures T,T,...] [--rollout-group ID]; nullopt without --rollouts.
std::optional<runtime::RolloutOptions> rollout_options(const po::variables_map& vm, int concurrency) {
  if (!vm.count("rollouts")) {
    for (const char* k : {"rollout-temperatures", "rollout-group"})
      if (vm.count(k)) throw UsageError(std::string("--") + k + " needs --rollouts N");
    return std::nullopt;
  }
  runtime::RolloutOptions o;
  o.siblings = vm["rollouts"].as<int>();
  if (o.siblings < 2 || o.siblings > 64)
    throw UsageError("--rollouts must be between 2 and 64 (a group of one has no group-relative signal)");
  o.parallel = concurrency;
  if (vm.count("rollout-temperatures")) {
    std::stringstream list(vm["rollout-temperatures"].as<std::string>());
    for (std::string item; std::getline(list, item, ',');) {
      char* end = nullptr;
      double t = std::strtod(item.c_str(), &end);
      if (item.empty() || end == item.c_str() || *end != '\0' || t < 0.0 || t > 2.0)
        throw UsageError("--rollout-temperatures: '" + item +
                         "' is not a temperature between 0 and 2; give a comma-separated list such as 0.3,0.7,1.0");
      o.temperatures.push_back(t);
    }
  }
  if (vm.count("rollout-group")) {
    if (vm.count("tasks"))
      throw UsageError("--rollout-group names one group: use it with --task, not --tasks (each task gets its own group)");
    o.group_id = vm["rollout-group"].as<std::string>();
    if (std::string why = runtime::rollout_group_id_error(o.group_id); !why.empty())
      throw UsageError("--rollout-group: " + why);
  }
  return o;
}

}  // namespace

int run_run(const Args& args) {
  po::options_description opts("atlas-host run [-c FILE] (--task TEXT | --tasks FILE.jsonl) [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(), "config file (TOML; default ./atlas.toml)")(
      "task", po::value<std::string>(), "run one task")("tasks", po::value<std::string>(),
                                                        "run every task of a JSONL file")(
      "concurrency", po::value<int>()->default_value(1), "sessions in parallel with --tasks (1-64)")(
      "metadata", po::value<std::string>(), "session metadata JSON for --task (e.g. {\"learning_key_override\":\"k\"})")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")(
      "no-preflight", "do not check the models before the first task")(
      "rollouts", po::value<int>(), "run N sibling sessions of each task as a rollout group (2-64; docs/runtime.md)")(
      "rollout-temperatures", po::value<std::string>(),
      "with --rollouts: sibling i samples at the i-th of these comma-separated temperatures (0-2), cycling")(
      "rollout-group", po::value<std::string>(), "with --rollouts and --task: the group id (default: a new one)")(
      "json", "machine-readable output");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  std::string config_file = required_config_path(vm, "it names the agent and its models");
  if (vm.count("task") == vm.count("tasks")) throw UsageError("give exactly one of --task TEXT or --tasks FILE.jsonl");
  int concurrency = vm["concurrency"].as<int>();
  if (concurrency < 1 || concurrency > 64) throw UsageError("--concurrency must be between 1 and 64");
  bool json_out = vm.count("json") > 0;
  std::optional<runtime::RolloutOptions> rollouts = rollout_options(vm, concurrency);

  std::vector<TaskLine> tasks;
  if (vm.count("task")) {
    TaskLine line;
    runtime::TaskSpec& t = line.spec;
    t.task = vm["task"].as<std::string>();
    if (vm.count("metadata")) {
      auto md = json::parse(vm["metadata"].as<std::string>(), "--metadata", json::kMaxInputDepth);
      if (!md) throw UsageError(md.status().message());
      if (!md->IsObject()) throw UsageError("--metadata must be a JSON object");
      t.metadata_json = vm["metadata"].as<std::string>();
    }
    tasks.push_back(std::move(line));
  } else {
    tasks = read_tasks(vm["tasks"].as<std::string>());
  }

  runtime::RuntimeOptions ro;
  bool tty = isatty(STDERR_FILENO) != 0;
  ro.progress = tty && tasks.size() == 1 && !json_out && !rollouts;
  ro.color = runtime::console::color_enabled(STDERR_FILENO);
  auto srt = open_session_runtime(vm, config_file, "atlas-host run", std::move(ro));
  if (!srt) return kExitFailure;
  auto& rt = srt->rt;
  // Ctrl-C / SIGTERM: sessions under way stop now and are stored `interrupted`; tasks not
  // started are not started (and not stored); exit 130 / 143.
  std::optional<InterruptWatch> interrupts;
  interrupts.emplace([&rt](int) { rt->cancel(); });

  std::vector<runtime::SessionReport> reports(tasks.size());
  for (auto& r : reports) r.status = SessionStatus::kNotStarted;
  if (rollouts) {
    // One group after the other; the siblings of a group run --concurrency at a time.
    std::vector<TaskLine> siblings;
    std::vector<runtime::SessionReport> sibling_reports;
    for (const auto& t : tasks) {
      if (interrupts->signal()) break;
      if (!t.error.empty()) {
        runtime::SessionReport refused;
        refused.task = t.spec.task;
        refused.status = SessionStatus::kFailed;
        refused.error = t.error;
        siblings.push_back(t);
        sibling_reports.push_back(std::move(refused));
        continue;
      }
      for (auto& r : rt->run_rollouts(t.spec, *rollouts)) {
        siblings.push_back(t);
        sibling_reports.push_back(std::move(r));
      }
      if (tty && !json_out) std::cerr << "\r" << runtime::console::progress_bar(siblings.size(), tasks.size() * rollouts->siblings) << std::flush;
    }
    if (tty && !json_out) std::cerr << "\n";
    tasks = std::move(siblings);
    reports = std::move(sibling_reports);
  }
  std::atomic<size_t> next{0}, done{0};
  std::mutex out_mu;
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size() && !interrupts->signal(); i = next++) {
      if (tasks[i].error.empty()) {
        reports[i] = rt->run(tasks[i].spec);
      } else {
        reports[i].task = tasks[i].spec.task;
        reports[i].status = SessionStatus::kFailed;  // refused as input: nothing was run or stored
        reports[i].error = tasks[i].error;
      }
      size_t d = ++done;
      if (tty && tasks.size() > 1 && !json_out) {
        std::lock_guard<std::mutex> g(out_mu);
        std::cerr << "\r" << runtime::console::progress_bar(d, tasks.size()) << std::flush;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; !rollouts && i < std::min<int>(concurrency, static_cast<int>(tasks.size())); ++i)
    threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (!rollouts && tty && tasks.size() > 1 && !json_out) std::cerr << "\n";
  rt->wait_for_background();
  const int signo = interrupts->signal();
  interrupts.reset();

  bool all_ok = true;
  for (const auto& r : reports) all_ok = all_ok && r.status == SessionStatus::kSucceeded;
  if (json_out) {
    if (reports.size() == 1) {
      std::cout << secrets::redact(reports[0].to_json()) << "\n";
    } else {
      std::cout << "[";
      for (size_t i = 0; i < reports.size(); ++i) std::cout << (i ? "," : "") << secrets::redact(reports[i].to_json());
      std::cout << "]\n";
    }
  } else if (reports.size() == 1) {
    const auto& r = reports[0];
    if (r.status == SessionStatus::kSucceeded) std::cout << secrets::redact(r.final_answer) << "\n\n";
    else std::cerr << "atlas-host run: the session failed: " << secrets::redact(r.error) << "\n";
    std::cout << "session " << r.session_id << (r.stored ? "" : " (not stored)") << " | lane " << r.lane << " ("
              << r.lane_source << ") | reward " << runtime::console::fixed(r.reward) << " | review " << status_name(r.review_status)
              << " | " << runtime::console::fixed(r.seconds, 2) << " s\n\n"
              << runtime::console::token_table(r);
  } else {
    std::vector<runtime::TaskSpec> specs;
    for (const auto& t : tasks) specs.push_back(t.spec);
    std::cout << runtime::console::batch_table(specs, reports);
    for (size_t i = 0; i < reports.size(); ++i)
      if (reports[i].status != SessionStatus::kSucceeded && reports[i].status != SessionStatus::kNotStarted)
        std::cerr << "task " << i + 1 << " " << status_name(reports[i].status) << ": " << secrets::redact(reports[i].error) << "\n";
  }
  rt.reset();  // closes the store: flushes queued writes and tries the spool once more
  if (report_spool_left(*srt, "atlas-host run") > 0 && signo == 0) return kExitSpooled;
  if (signo != 0) {
    size_t interrupted = 0, not_started = 0;
    for (const auto& r : reports) {
      interrupted += r.status == SessionStatus::kInterrupted;
      not_started += r.status == SessionStatus::kNotStarted;
    }
    std::cerr << "atlas-host run: stopped by " << (signo == SIGTERM ? "SIGTERM" : "SIGINT") << ": " << interrupted
              << " session(s) stored as interrupted, " << not_started
              << " task(s) not started (not stored; run them again)\n";
    return InterruptWatch::exit_code(signo);
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace atlas::cli
