// `atlas-host tokens check`: re-tokenises the prompt of every stored token-exact student call
// with the server's /tokenize and reports drift (docs/llm-model.md, "Checking for drift").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "data/store.hpp"

namespace atlas::runtime {

struct TokenCheckOptions {
  std::string tokenize_url;              // e.g. http://127.0.0.1:8000/tokenize
  std::string model;                     // "" = the model each call recorded
  std::vector<std::string> session_ids;  // empty = every stored succeeded or failed session
  int64_t limit = 0;                     // sessions; 0 = no limit
  double timeout_seconds = 30.0;
};

struct TokenDrift {
  std::string session_id;
  std::string step_id;
  int64_t call_index = 0;
  size_t first_difference = 0;  // token position where the two first differ
  size_t stored_count = 0, tokenizer_count = 0;
};

struct TokenCheckReport {
  uint64_t sessions = 0;
  uint64_t calls_checked = 0;    // token-exact calls re-tokenised
  uint64_t calls_text_only = 0;  // captured calls without ids (nothing to compare)
  uint64_t steps_checked = 0;
  uint64_t steps_drifted = 0;  // steps with at least one mismatching call
  std::vector<TokenDrift> drifts;
  bool drifted() const { return steps_drifted > 0; }
};

// Position of the first difference of two id sequences (the shorter length when one is a
// prefix of the other); nullopt when equal.
std::optional<size_t> first_difference(const std::vector<int64_t>& a, const std::vector<int64_t>& b);

Result<TokenCheckReport> check_token_drift(data::Store& store, const TokenCheckOptions& options);

}  // namespace atlas::runtime
