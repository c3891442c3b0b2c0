#include "cli/serve_ui.hpp"

#include <csignal>
#include <iostream>

#include "cli/commands.hpp"
#include "data/open.hpp"
#include "serve/gateway.hpp"

namespace atlas::cli {

Result<std::unique_ptr<review_ui::ReviewUi>> make_review_ui(const config::Config& config, data::Store& store,
                                                            const std::string& listen_host) {
  review_ui::UiOptions o;
  o.listen_host = listen_host;
  o.tokens_env = config.serve.ui_tokens_env;
  o.review = &config.review;
  return review_ui::ReviewUi::create(store, std::move(o));
}

int run_serve_ui_only(const po::variables_map& vm) {
  data::OpenRequest request = store_request(vm);
  request.recover = false;  // a gateway or a run may be writing the same database
  bool loaded = false;
  auto cfg = data::load_effective_config(request, &loaded);
  if (!cfg) {
    std::cerr << "atlas-host serve: " << cfg.status().message() << "\n";
    return kExitFailure;
  }
  auto listen = serve::parse_listen(vm.count("listen") ? vm["listen"].as<std::string>() : cfg->serve.listen);
  if (!listen) throw UsageError("--listen: " + listen.status().message());

  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto opened = data::open_store(request);
  if (!opened) {
    std::cerr << "atlas-host serve: " << opened.status().message() << "\n";
    return kExitFailure;
  }
  auto ui = make_review_ui(opened->config, *opened->store, listen->host);
  if (!ui) {
    std::cerr << "atlas-host serve: " << ui.status().message() << "\n";
    return kExitFailure;
  }
  review_ui::UiServer server(**ui);
  auto port = server.start(listen->host, listen->port);
  if (!port) {
    std::cerr << "atlas-host serve: " << port.status().message() << "\n";
    return kExitFailure;
  }
  std::string host = listen->host.find(':') != std::string::npos ? "[" + listen->host + "]" : listen->host;
  std::string url = "http://" + host + ":" + std::to_string(*port);
  if (vm.count("json"))
    std::cout << "{\"url\":\"" << url << "\",\"ui\":\"" << url << "/ui/\",\"port\":" << *port << "}" << std::endl;
  else
    std::cout << "review UI on " << url << "/ui/" << std::endl;  // std::endl flushes: callers wait for this line
  int signo = 0;
  sigwait(&stop_signals, &signo);
  std::cerr << "atlas-host serve: " << (signo == SIGTERM ? "SIGTERM" : "SIGINT") << ": stopping the review UI\n";
  server.stop();
  return kExitOk;
}

}  // namespace atlas::cli
