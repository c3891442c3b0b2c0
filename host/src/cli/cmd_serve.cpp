// atlas-host serve — the capture gateway (docs/serve.md): agents point their provider base URL
// here and every call is forwarded, supervised and stored as an episode.
#include <boost/program_options.hpp>
#include <csignal>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "cli/runtime_metrics.hpp"
#include "cli/serve_ui.hpp"
#include "common/secrets.hpp"
#include "data/open.hpp"
#include "data/spool.hpp"
#include "runtime/runtime.hpp"
#include "serve/gateway.hpp"
#include "serve/malloc_arenas.hpp"

namespace atlas::cli {

int run_serve(const Args& args) {
  po::options_description opts("atlas-host serve [-c FILE] [--listen HOST:PORT] [options]");
  opts.add_options()("help,h", "show this help")("config,c", po::value<std::string>(),
                                                 "config file (TOML; default ./atlas.toml)")(
      "listen", po::value<std::string>(),
      "HOST:PORT to listen on (default [serve] listen, 127.0.0.1:8787; port 0 = any)")(
      "plugin-dir", po::value<std::vector<std::string>>(), "extra plugin folder (repeatable)")(
      "no-preflight", "do not check the teacher and judge models before serving")(
      "json", "print {\"url\": ..., \"port\": ...} instead of \"listening on URL\"")(
      "ui-only", "serve only the review UI (/ui/): no gateway routes, no upstream (docs/review-ui.md)")(
      "database-url", po::value<std::string>(), "with --ui-only: the database (sqlite://PATH or postgresql://...)");
  po::variables_map vm = parse_options(args, opts);
  if (vm.count("help")) {
    std::cout << opts
              << "\nServes POST /v1/chat/completions, /v1/messages, /v1beta/models/{model}:generateContent and\n"
                 ":streamGenerateContent, GET /v1/models; groups calls into episodes by the X-Atlas-Session\n"
                 "header or a /s/<id>/ path prefix; POST /atlas/v1/sessions/<id>/end ends one. SIGTERM or\n"
                 "Ctrl-C drains: calls in flight finish and every open episode is stored. docs/serve.md.\n";
    return kExitOk;
  }
  if (vm.count("ui-only")) return run_serve_ui_only(vm);
  std::string config_file = required_config_path(vm, "it names the upstream models, the teacher and storage");
  data::OpenRequest request;
  request.config_path = config_file;
  auto cfg = data::load_effective_config(request);
  if (!cfg) {
    std::cerr << cfg.status().message() << "\n";
    return kExitFailure;
  }
  auto listen = serve::parse_listen(vm.count("listen") ? vm["listen"].as<std::string>() : cfg->serve.listen);
  if (!listen) throw UsageError("--listen: " + listen.status().message());
  serve::use_one_malloc_arena_per_thread(cfg->serve.threads);  // before any thread starts
  if (!models_pass_preflight(vm, *cfg, "atlas-host serve")) return kExitFailure;
  const bool storage_on = cfg->storage.active();
  const std::filesystem::path spool_file = data::spool_file_for(cfg->storage.spool_path, cfg->storage.database_url);
  const double drain_seconds = cfg->serve.drain_seconds;

  // Block the stop signals before any thread starts, so that only sigwait() below sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  runtime::RuntimeOptions ro;
  for (const auto& d : values(vm, "plugin-dir")) ro.plugin_dirs.emplace_back(d);
  feed_metrics_from_events(ro);   // GET /metrics (docs/metrics.md)
  ro.idle_storage_writer = true;  // storage runs off the relay's CPU, as the storage workers do
  auto rt = runtime::Runtime::create(std::move(*cfg), ro);
  if (!rt) {
    std::cerr << "atlas-host serve: " << rt.status().message() << "\n";
    return kExitFailure;
  }
  int drained_ok = 0;
  int signo = 0;
  {
    StoreCollectors metric_collectors((*rt)->store());
    std::unique_ptr<review_ui::ReviewUi> ui;
    if ((*rt)->config().serve.ui) {
      if (!(*rt)->store()) {
        std::cerr << "atlas-host serve: [serve] ui = true needs storage (the UI shows stored sessions)\n";
        return kExitFailure;
      }
      auto made = make_review_ui((*rt)->config(), *(*rt)->store(), listen->host);
      if (!made) {
        std::cerr << "atlas-host serve: " << made.status().message() << "\n";
        return kExitFailure;
      }
      ui = std::move(*made);
      listen->extra_routes = [&ui](httplib::Server& s) { ui->mount(s); };
    }
    serve::Gateway gateway((*rt)->config(), **rt);
    auto port = gateway.start(*listen);
    if (!port) {
      std::cerr << "atlas-host serve: " << port.status().message() << "\n";
      return kExitFailure;
    }
    std::string host = listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
    std::string url = "http://" + host + ":" + std::to_string(*port);
    if (vm.count("json"))
      std::cout << "{\"url\":\"" << url << "\",\"port\":" << *port << "}" << std::endl;
    else
      std::cout << "listening on " << url << std::endl;  // std::endl flushes: callers wait for this line

    sigwait(&stop_signals, &signo);
    std::cerr << "atlas-host serve: " << (signo == SIGTERM ? "SIGTERM" : "SIGINT") << ": draining (up to "
              << drain_seconds << " s)\n";
    bool drained = gateway.drain(std::chrono::steady_clock::now() +
                                 std::chrono::milliseconds(static_cast<int64_t>(drain_seconds * 1000)));
    gateway.stop();
    auto c = gateway.counters();
    std::cerr << "atlas-host serve: " << c.calls << " calls, " << c.episodes_opened << " episodes opened, "
              << c.episodes_ended << " stored" << (drained ? "" : " (the drain deadline passed: see the errors above)")
              << "\n";
    drained_ok = drained ? 1 : 0;
  }
  (*rt)->wait_for_background();
  rt->reset();  // closes the store: flushes queued writes and tries the spool once more
  if (storage_on) {
    size_t waiting = data::read_spool_status(spool_file).pending_records;
    if (waiting > 0) {
      std::cerr << "atlas-host serve: " << waiting << " storage record(s) wait in the spool " << spool_file.string()
                << "; `atlas-host db replay` stores them\n";
      return kExitSpooled;
    }
  }
  return drained_ok ? kExitOk : kExitFailure;
}

}  // namespace atlas::cli
