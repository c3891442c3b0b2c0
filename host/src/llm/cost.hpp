// What a model call cost in USD: the price entries of the model block that served it
// (`input_cost_per_mtok`, `output_cost_per_mtok`, USD per million tokens; docs/configuration.md)
// applied to the call's token usage. A model without a price has no cost: "unknown" (nullopt),
// never 0 (docs/runtime.md, "Cost").
#pragma once

#include <cstdint>
#include <optional>

#include "config/model_config.hpp"

namespace atlas::llm {

struct TokenPrice {
  std::optional<double> input_per_mtok;
  std::optional<double> output_per_mtok;

  // Both prices are set: every call of this model can be priced.
  bool known() const { return input_per_mtok.has_value() && output_per_mtok.has_value(); }
};

TokenPrice token_price(const config::ModelConfig& model);

// USD for one call, or nullopt when it cannot be known: the model has no price, or the call
// succeeded without reporting any usage (0 tokens in and out). A failed call that reported no
// usage cost nothing (providers do not bill a refused call) and prices to 0 when the price is known.
std::optional<double> call_cost_usd(const TokenPrice& price, int64_t prompt_tokens, int64_t completion_tokens,
                                    bool call_ok);

}  // namespace atlas::llm
