// The cost of a stored session, as recorded by the runtime in metadata.token_usage
// (runtime/token_ledger.hpp: "cost_usd", "unpriced_roles", "by_role": {role: {"cost_usd"}}).
// A cost that is not known stays unknown (nullopt) through every sum: it is never read as 0
// (docs/runtime.md, "Cost").
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"

namespace atlas::data {

struct SessionCost {
  std::optional<double> total_usd;  // nullopt: unknown
  std::map<std::string, std::optional<double>> by_role;
  std::vector<std::string> unpriced_roles;
  // Cost of the learning synthesis after the session (its llm_call events; not part of the
  // session's token_usage, which is final before synthesis). nullopt: unknown.
  int learning_calls = 0;
  std::optional<double> learning_usd;
};

// `session`: a read_session response (or a finish_session document). Sessions stored before
// cost was recorded have no "cost_usd": unknown.
SessionCost session_cost(const json::Value& session);

// "$0.004210", or "unknown" for nullopt.
std::string format_usd(std::optional<double> usd);

// A running sum that turns unknown as soon as one unknown term is added.
class CostSum {
 public:
  void add(std::optional<double> usd) {
    if (usd) {
      known_ += *usd;
    } else {
      ++unknown_terms_;
    }
  }
  std::optional<double> value() const { return unknown_terms_ == 0 ? std::optional<double>(known_) : std::nullopt; }
  double known_part() const { return known_; }
  uint64_t unknown_terms() const { return unknown_terms_; }

 private:
  double known_ = 0.0;
  uint64_t unknown_terms_ = 0;
};

}  // namespace atlas::data
