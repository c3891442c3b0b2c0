#include "llm/cost.hpp"

namespace atlas::llm {

TokenPrice token_price(const config::ModelConfig& model) {
  return TokenPrice{model.input_cost_per_mtok, model.output_cost_per_mtok};
}

std::optional<double> call_cost_usd(const TokenPrice& price, int64_t prompt_tokens, int64_t completion_tokens,
                                    bool call_ok) {
  if (!price.known()) return std::nullopt;
  const bool usage_reported = prompt_tokens > 0 || completion_tokens > 0;
  if (!usage_reported) {
    if (call_ok) return std::nullopt;  // a reply without usage: what it cost is not known
    return 0.0;
  }
  constexpr double kTokensPerPriceUnit = 1e6;
  return (static_cast<double>(prompt_tokens) * *price.input_per_mtok +
          static_cast<double>(completion_tokens) * *price.output_per_mtok) /
         kTokensPerPriceUnit;
}

}  // namespace atlas::llm
