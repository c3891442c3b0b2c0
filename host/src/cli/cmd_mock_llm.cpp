// atlas-host mock-llm — serve the OpenAI, Anthropic and Gemini wire formats on loopback from a
// scenario file (docs/mock-llm.md), for testing agents offline.
#include <boost/program_options.hpp>

#include <csignal>
#include <cstdio>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/options.hpp"
#include "mock/mock_server.hpp"

namespace atlas::cli {
namespace {

void print_usage(std::ostream& os) {
  os << "Usage:\n"
        "  atlas-host mock-llm [--scenario FILE] [--host 127.0.0.1] [--port 0] [--request-log FILE.jsonl]\n"
        "                      [--threads N] [--json]\n\n"
        "Serves, until interrupted (Ctrl-C / SIGTERM):\n"
        "  POST /v1/chat/completions                                 OpenAI Chat Completions (+ stream)\n"
        "  POST /v1/messages                                         Anthropic Messages (+ stream)\n"
        "  POST /v1beta/models/{model}:generateContent               Gemini\n"
        "  POST /v1beta/models/{model}:streamGenerateContent?alt=sse Gemini streaming\n"
        "  GET  /v1/models, GET /healthz\n\n"
        "Replies, tool calls, JSON outputs, usage and faults (429 + Retry-After, 500, 529, latency,\n"
        "timeouts, malformed JSON, mid-stream errors, dropped connections) come from the scenario\n"
        "file; without one every request gets an echo of its last user message. Format and examples:\n"
        "docs/mock-llm.md.\n\n"
        "Prints \"listening on http://HOST:PORT\" on stdout once it accepts connections (with\n"
        "--json: {\"url\": ..., \"port\": ...}). --port 0 picks a free port. --request-log appends every\n"
        "request (route, headers without key values, body, receive time) as one JSON line.\n"
        "Point clients at it: OPENAI_BASE_URL=http://HOST:PORT/v1, ANTHROPIC_BASE_URL=http://HOST:PORT,\n"
        "GEMINI_BASE_URL=http://HOST:PORT.\n";
}

}  // namespace

int run_mock_llm(const Args& args) {
  po::options_description desc;
  desc.add_options()("help,h", "")("json", "")("scenario,s", po::value<std::string>(), "")(
      "host", po::value<std::string>()->default_value("127.0.0.1"), "")("port,p", po::value<int>()->default_value(0), "")(
      "request-log", po::value<std::string>(), "")("threads", po::value<int>()->default_value(96), "");
  po::variables_map vm = parse_options(args, desc);
  if (vm.count("help")) {
    print_usage(std::cout);
    return kExitOk;
  }
  int port = vm["port"].as<int>();
  if (port < 0 || port > 65535) throw UsageError("--port must be between 0 and 65535 (0 = any free port)");
  int threads = vm["threads"].as<int>();
  if (threads < 1 || threads > 4096) throw UsageError("--threads must be between 1 and 4096");

  mock::Scenario scenario;
  if (vm.count("scenario")) {
    auto loaded = mock::load_scenario_file(vm["scenario"].as<std::string>());
    if (!loaded) {
      std::cerr << "atlas-host mock-llm: " << loaded.status().message() << "\n";
      return kExitFailure;
    }
    scenario = std::move(loaded).value();
  } else {
    std::cerr << "atlas-host mock-llm: no --scenario given; every request gets an echo reply\n";
  }

  // Block the stop signals before any thread starts so that only sigwait() sees them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  mock::MockOptions options;
  options.host = vm["host"].as<std::string>();
  options.port = port;
  options.threads = threads;
  if (vm.count("request-log")) options.request_log_path = vm["request-log"].as<std::string>();
  mock::MockLlmServer server;
  auto bound = server.start(std::move(scenario), options);
  if (!bound) {
    std::cerr << "atlas-host mock-llm: " << bound.status().message() << "\n";
    return kExitFailure;
  }
  std::string url = "http://" + options.host + ":" + std::to_string(*bound);
  if (vm.count("json")) {
    std::cout << "{\"url\":\"" << url << "\",\"port\":" << *bound << "}" << std::endl;
  } else {
    std::cout << "listening on " << url << std::endl;  // std::endl flushes: callers wait for this line
  }
  int sig = 0;
  sigwait(&stop_signals, &sig);
  std::cerr << "atlas-host mock-llm: stopping (" << server.requests().size() << " requests served)\n";
  server.stop();
  return kExitOk;
}

}  // namespace atlas::cli
