// bench_judge_cascade [--latency-ms L] [--steps N] [--repeat R]
//
// Judges a session of N executed steps (default 5) with one step judge and one session judge
// (the real `llm` judge plugin, k = 3 samples) against mock-llm answering after L ms
// (default 200). Prints the judge wall time in units of L: all step samples run at once and
// then the session cascade, so the target is about 2 L (4 L when the steps and the session all
// escalate to the arbiter: one extra round each), against one L per model call made one
// after the other (18 L, or 24 L with the arbiters).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common/clock.hpp"
#include "integration/rewards/judge_host.hpp"
#include "mock/mock_server.hpp"

namespace {

using namespace atlas;

std::string reply(double score, double unc) {
  return R"({"json":{"principles":[],"score":)" + std::to_string(score) + R"(,"rationale":"r","uncertainty":)" +
         std::to_string(unc) + R"(},"usage":{"prompt_tokens":500,"completion_tokens":60}})";
}

std::vector<rewards::StepEvidence> make_steps(int n) {
  std::vector<rewards::StepEvidence> steps;
  for (int i = 1; i <= n; ++i) {
    rewards::StepEvidence s;
    s.step_id = i;
    s.description = "step " + std::to_string(i);
    s.output = "result of step " + std::to_string(i);
    s.trace.tool_calls.push_back({"c" + std::to_string(i), "lookup", R"({"q":"x"})", "tool output " + std::to_string(i), false});
    steps.push_back(s);
  }
  return steps;
}

struct Run {
  double steps_s = 0, session_s = 0;
  int calls = 0;
  bool escalated = false;
};

Run run_once(rewards::RewardEngine& engine, mock::MockLlmServer& server, int n_steps) {
  server.clear_requests();
  rewards::SessionEvidence session;
  session.session_id = "bench";
  session.task = "A five step task";
  session.final_answer = "done";
  session.execution_mode = "coach";
  auto steps = make_steps(n_steps);
  Run r;
  const double t0 = clock::monotonic_seconds();
  auto step_out = engine.judge_steps(session, steps);
  const double t1 = clock::monotonic_seconds();
  session.steps = rewards::summarize_steps(steps, step_out);
  auto out = engine.judge_session(session);
  const double t2 = clock::monotonic_seconds();
  r.steps_s = t1 - t0;
  r.session_s = t2 - t1;
  r.calls = static_cast<int>(server.requests().size());
  for (const auto& s : step_out) r.escalated = r.escalated || (s.reward && s.reward->escalated);
  if (!out.is_ok()) std::fprintf(stderr, "session judging failed: %s\n", out.status().to_string().c_str());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int latency_ms = 200, n_steps = 5, repeat = 3;
  for (int i = 1; i < argc; ++i) {
    auto next = [&](int& out) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      out = std::atoi(argv[++i]);
    };
    if (!std::strcmp(argv[i], "--latency-ms")) next(latency_ms);
    else if (!std::strcmp(argv[i], "--steps")) next(n_steps);
    else if (!std::strcmp(argv[i], "--repeat")) next(repeat);
    else {
      std::fprintf(stderr, "usage: bench_judge_cascade [--latency-ms L] [--steps N] [--repeat R]\n");
      return std::strcmp(argv[i], "--help") ? 2 : 0;
    }
  }
  const double L = latency_ms / 1000.0;
  std::printf("judge cascade: %d steps, 1 step judge + 1 session judge (llm plugin, k=3), latency L = %d ms\n",
              n_steps, latency_ms);
  std::printf("%-12s %6s %9s %11s %9s %14s\n", "scenario", "calls", "steps/L", "session/L", "total/L",
              "sequential/L");

  struct Scenario {
    const char* name;
    std::string json;
  };
  const std::string lat = std::to_string(latency_ms);
  const Scenario scenarios[] = {
      {"agreeing", R"({"default":"error","latency_ms":)" + lat + R"(,"rules":[{"match":{"model":"judge-small"},"response":)" +
                       reply(0.8, 0.1) + "}]}"},
      {"escalating", R"({"default":"error","latency_ms":)" + lat + R"(,"rules":[)" +
                         R"({"match":{"model":"judge-small"},"responses":[)" + reply(0.9, 0.1) + "," + reply(0.2, 0.1) +
                         "," + reply(0.5, 0.1) + R"(],"after":"cycle"},)" +
                         R"({"match":{"model":"judge-large"},"response":)" + reply(0.6, 0.05) + "}]}"},
  };
  for (const auto& sc : scenarios) {
    mock::MockLlmServer server;
    auto port = server.start_json(sc.json);
    if (!port) {
      std::fprintf(stderr, "mock-llm did not start: %s\n", port.status().to_string().c_str());
      return 1;
    }
    auto model = [&](const char* name) {
      config::ModelConfig m;
      m.provider = "openai";
      m.model = name;
      m.api_base = server.base_url() + "/v1";
      m.api_key_env = "ATLAS_BENCH_UNSET_KEY";
      return m;
    };
    auto services = std::make_shared<rewards::testing::JudgeHostServices>(std::map<std::string, config::ModelConfig>{
        {"rewards.small_model", model("judge-small")}, {"rewards.large_model", model("judge-large")}});
    auto registry = rewards::testing::judge_registry(services, ATLAS_BENCH_PLUGIN_DIR);
    if (!registry) {
      std::fprintf(stderr, "cannot load plugins from %s\n", ATLAS_BENCH_PLUGIN_DIR);
      return 1;
    }
    rewards::RewardSettings settings;
    rewards::JudgeSpec step_judge, session_judge;
    step_judge.rubric = "process";
    session_judge.rubric = "outcome";
    settings.step_judges = {step_judge};
    settings.session_judges = {session_judge};
    auto engine = rewards::RewardEngine::create(settings, rewards::registry_judge_resolver(*registry));
    if (!engine) {
      std::fprintf(stderr, "%s\n", engine.status().to_string().c_str());
      return 1;
    }
    run_once(*engine.value(), server, n_steps);  // warm-up: connections, plugin first calls
    Run best;
    for (int i = 0; i < repeat; ++i) {
      Run r = run_once(*engine.value(), server, n_steps);
      if (i == 0 || r.steps_s + r.session_s < best.steps_s + best.session_s) best = r;
    }
    std::printf("%-12s %6d %9.2f %11.2f %9.2f %14d\n", sc.name, best.calls, best.steps_s / L, best.session_s / L,
                (best.steps_s + best.session_s) / L, best.calls);
  }
  std::printf("(best of %d runs; sequential/L = model calls made one after the other)\n", repeat);
  return 0;
}
