// Token, cost and latency accounting per role (student, teacher, judge, arbiter, probe, learning)
// for one session. Thread-safe: parallel steps and judge samples add concurrently.
//
// Cost: each call is priced with the model block its role bills to (prices_by_role); a role
// whose model has no price, or a call whose usage is unknown, makes that role's cost (and the
// session's) unknown: null in to_json(), never 0 (docs/runtime.md, "Cost").
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "llm/cost.hpp"

namespace atlas::runtime {

struct RoleTotals {
  int64_t calls = 0;
  int64_t failed_calls = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  double latency_seconds = 0.0;
  double priced_cost_usd = 0.0;  // sum over the calls that could be priced
  int64_t unpriced_calls = 0;    // calls whose cost is unknown

  // USD, or nullopt when any call's cost is unknown.
  std::optional<double> cost_usd() const {
    return unpriced_calls == 0 ? std::optional<double>(priced_cost_usd) : std::nullopt;
  }
};

// The price of the model each accounting role bills to: student [student.llm], teacher
// [teacher.llm], judge [rewards.small_model], arbiter [rewards.large_model] (the small model when
// absent), probe [routing.probe_llm], learning [learning.llm]. A role whose block names no model
// is left out (its calls have no price).
std::map<std::string, llm::TokenPrice> prices_by_role(const config::Config& config);

class TokenLedger {
 public:
  TokenLedger() = default;  // no prices: every cost is unknown
  explicit TokenLedger(std::map<std::string, llm::TokenPrice> prices) : prices_(std::move(prices)) {}
  explicit TokenLedger(const config::Config& config) : TokenLedger(prices_by_role(config)) {}

  // Returns the call's cost in USD (nullopt = unknown).
  std::optional<double> add(const std::string& role, int64_t prompt, int64_t completion, int64_t total,
                            double latency_seconds, bool ok = true);
  std::map<std::string, RoleTotals> by_role() const;
  RoleTotals total() const;
  // {"prompt_tokens","completion_tokens","total_tokens","calls","cost_usd","unpriced_roles":[...],
  //  "by_role": {role: {..., "cost_usd"}}}; cost_usd is null when unknown.
  std::string to_json() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, llm::TokenPrice> prices_;
  std::map<std::string, RoleTotals> roles_;
};

}  // namespace atlas::runtime
