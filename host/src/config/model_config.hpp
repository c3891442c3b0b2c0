// A model block ({ provider, model, api_key_env, api_base, ... }) as used by every section
// that names a model (student, teacher, rewards.small_model/large_model, learning, routing
// probe). Defaults follow Atlas's LLMParameters (docs/configuration.md).
#pragma once

#include <map>
#include <optional>
#include <string>

namespace atlas::config {

struct RetryPolicy {
  int attempts = 3;               // total tries per call, 1..6 (Atlas: 1..5 for HTTP adapters)
  double backoff_seconds = 0.5;   // base of the exponential backoff (doubled per try, with jitter)
  double max_backoff_seconds = 20.0;
};

struct ModelConfig {
  // openai (also any OpenAI-compatible server: vLLM, Ollama, llama.cpp, TGI), anthropic, gemini
  std::string provider = "openai";
  std::string model;                      // required
  std::string api_key_env = "OPENAI_API_KEY";
  std::string api_base;                   // empty = the provider's public endpoint
  std::string organization;
  double temperature = 0.0;               // 0..2
  std::optional<double> top_p;            // 0..1
  std::optional<int> max_output_tokens;   // >= 1
  double timeout_seconds = 60.0;          // whole call, streaming included
  double connect_timeout_seconds = 10.0;
  RetryPolicy retry;
  std::map<std::string, std::string> additional_headers;
  std::string reasoning_effort;           // "", low, medium, high
  // Optional price table entries, USD per million tokens, for cost reports.
  std::optional<double> input_cost_per_mtok;
  std::optional<double> output_cost_per_mtok;
  // Ask an OpenAI-compatible local server (vLLM, SGLang, llama.cpp server) for prompt and
  // completion token ids and per-token logprobs, and store them with each call
  // (docs/llm-model.md, "Token-level capture"). OpenAI wire only.
  bool capture_tokens = false;

  bool configured() const { return !model.empty(); }
};

}  // namespace atlas::config
