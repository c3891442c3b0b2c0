// atlas-host run --config FILE (--task TEXT | --tasks FILE.jsonl) [--concurrency N] [--json]
#include <unistd.h>

#include <atomic>
#include <boost/program_options.hpp>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "common/json.hpp"
#include "data/open.hpp"
#include "runtime/console.hpp"
#include "runtime/runtime.hpp"

namespace atlas::cli {
namespace {

std::atomic<runtime::Runtime*> g_running{nullptr};
extern "C" void on_sigint(int) {
  if (auto* rt = g_running.load()) rt->cancel();
}

// One task per line: a JSON string, or {"task": "...", "metadata": {...}, "expected": ...}.
std::vector<runtime::TaskSpec> read_tasks(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open task file " + path);
  std::vector<runtime::TaskSpec> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[line.find_first_not_of(" \t")] == '#') continue;
    auto doc = json::parse(line, path + ":" + std::to_string(n));
    if (!doc) throw std::runtime_error(doc.status().message());
    runtime::TaskSpec t;
    if (doc->IsString()) {
      t.task = doc->GetString();
    } else if (doc->IsObject()) {
      t.task = json::get_string(*doc, "task");
      if (const json::Value* m = json::find(*doc, "metadata"); m && m->IsObject()) t.metadata_json = json::dump(*m);
      if (const json::Value* e = json::find(*doc, "expected")) t.expected_json = json::dump(*e);
    }
    if (t.task.empty())
      throw std::runtime_error(path + ":" + std::to_string(n) + ": expected a string or an object with a non-empty \"task\"");
    out.push_back(std::move(t));
  }
  if (out.empty()) throw std::runtime_error(path + ": no tasks in the file");
  return out;
}

}  // namespace

int run_run(const Args& args) {
  po::options_description opts("atlas-host run --config FILE (--task TEXT | --tasks FILE.jsonl) [options]");
  opts.add_options()("help,h", "show this help")("config", po::value<std::string>(), "config file (TOML)")(
      "task", po::value<std::string>(), "run one task")("tasks", po::value<std::string>(),
                                                        "run every task of a JSONL file")(
      "concurrency", po::value<int>()->default_value(1), "sessions in parallel with --tasks (1-64)")(
      "metadata", po::value<std::string>(), "session metadata JSON for --task (e.g. {\"learning_key_override\":\"k\"})")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")(
      "json", "machine-readable output");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts;
    return kExitOk;
  }
  if (!vm.count("config")) throw UsageError("--config FILE is required (see configs/ for examples)");
  if (vm.count("task") == vm.count("tasks")) throw UsageError("give exactly one of --task TEXT or --tasks FILE.jsonl");
  int concurrency = vm["concurrency"].as<int>();
  if (concurrency < 1 || concurrency > 64) throw UsageError("--concurrency must be between 1 and 64");
  bool json_out = vm.count("json") > 0;

  std::vector<runtime::TaskSpec> tasks;
  if (vm.count("task")) {
    runtime::TaskSpec t;
    t.task = vm["task"].as<std::string>();
    if (vm.count("metadata")) {
      auto md = json::parse(vm["metadata"].as<std::string>(), "--metadata");
      if (!md || !md->IsObject()) throw UsageError("--metadata must be a JSON object");
      t.metadata_json = vm["metadata"].as<std::string>();
    }
    tasks.push_back(std::move(t));
  } else {
    tasks = read_tasks(vm["tasks"].as<std::string>());
  }

  data::OpenRequest request;
  request.config_path = vm["config"].as<std::string>();
  auto cfg = data::load_effective_config(request);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitFailure;
  }
  runtime::RuntimeOptions ro;
  for (const auto& d : values(vm, "plugin-dir")) ro.plugin_dirs.emplace_back(d);
  bool tty = isatty(STDERR_FILENO) != 0;
  ro.progress = tty && tasks.size() == 1 && !json_out;
  ro.color = runtime::console::color_enabled(STDERR_FILENO);
  auto rt = runtime::Runtime::create(std::move(*cfg), ro);
  if (!rt) {
    std::cerr << "atlas-host run: " << rt.status().message() << "\n";
    return kExitFailure;
  }
  g_running.store(rt->get());
  std::signal(SIGINT, on_sigint);

  std::vector<runtime::SessionReport> reports(tasks.size());
  std::atomic<size_t> next{0}, done{0};
  std::mutex out_mu;
  auto worker = [&] {
    for (size_t i = next++; i < tasks.size(); i = next++) {
      reports[i] = (*rt)->run(tasks[i]);
      size_t d = ++done;
      if (tty && tasks.size() > 1 && !json_out) {
        std::lock_guard<std::mutex> g(out_mu);
        std::cerr << "\r" << runtime::console::progress_bar(d, tasks.size()) << std::flush;
      }
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < std::min<int>(concurrency, static_cast<int>(tasks.size())); ++i) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  if (tty && tasks.size() > 1 && !json_out) std::cerr << "\n";
  (*rt)->wait_for_background();
  std::signal(SIGINT, SIG_DFL);
  g_running.store(nullptr);

  bool all_ok = true;
  for (const auto& r : reports) all_ok = all_ok && r.status == "succeeded";
  if (json_out) {
    if (reports.size() == 1) {
      std::cout << reports[0].to_json() << "\n";
    } else {
      std::cout << "[";
      for (size_t i = 0; i < reports.size(); ++i) std::cout << (i ? "," : "") << reports[i].to_json();
      std::cout << "]\n";
    }
  } else if (reports.size() == 1) {
    const auto& r = reports[0];
    if (r.status == "succeeded") std::cout << r.final_answer << "\n\n";
    else std::cerr << "atlas-host run: the session failed: " << r.error << "\n";
    std::cout << "session " << r.session_id << (r.stored ? "" : " (not stored)") << " | lane " << r.lane << " ("
              << r.lane_source << ") | reward " << runtime::console::fixed(r.reward) << " | review " << r.review_status
              << " | " << runtime::console::fixed(r.seconds, 2) << " s\n\n"
              << runtime::console::token_table(r);
  } else {
    std::vector<std::vector<std::string>> rows = {{"#", "task", "lane", "reward", "tokens", "seconds", "status"}};
    for (size_t i = 0; i < reports.size(); ++i) {
      const auto& r = reports[i];
      rows.push_back({std::to_string(i + 1), runtime::console::one_line(tasks[i].task, 48), r.lane,
                      runtime::console::fixed(r.reward), std::to_string(r.total_tokens.total_tokens),
                      runtime::console::fixed(r.seconds, 2), r.status});
    }
    std::cout << runtime::console::table(rows);
    for (size_t i = 0; i < reports.size(); ++i)
      if (reports[i].status != "succeeded") std::cerr << "task " << i + 1 << " failed: " << reports[i].error << "\n";
  }
  return all_ok ? kExitOk : kExitFailure;
}

}  // namespace atlas::cli
