#include "runtime/token_ledger.hpp"

#include "common/json.hpp"
#include "runtime/model_directory.hpp"

namespace atlas::runtime {

std::map<std::string, llm::TokenPrice> prices_by_role(const config::Config& config) {
  std::map<std::string, llm::TokenPrice> prices;
  for (const char* ref :
       {"student", "teacher", "rewards.small_model", "rewards.large_model", "routing.probe", "learning"}) {
    auto model = resolve_model_ref(config, ref);
    if (model.is_ok()) prices[default_role_for_ref(ref)] = llm::token_price(**model);
  }
  return prices;
}

std::optional<double> TokenLedger::add(const std::string& role, int64_t prompt, int64_t completion, int64_t total,
                                       double latency, bool ok) {
  const std::string name = role.empty() ? std::string("unknown") : role;
  std::lock_guard<std::mutex> g(mu_);
  auto price = prices_.find(name);
  std::optional<double> cost =
      price == prices_.end() ? std::nullopt : llm::call_cost_usd(price->second, prompt, completion, ok);
  RoleTotals& r = roles_[name];
  ++r.calls;
  if (!ok) ++r.failed_calls;
  r.prompt_tokens += prompt;
  r.completion_tokens += completion;
  r.total_tokens += total > 0 ? total : prompt + completion;
  r.latency_seconds += latency;
  if (cost) {
    r.priced_cost_usd += *cost;
  } else {
    ++r.unpriced_calls;
  }
  return cost;
}

std::map<std::string, RoleTotals> TokenLedger::by_role() const {
  std::lock_guard<std::mutex> g(mu_);
  return roles_;
}

RoleTotals TokenLedger::total() const {
  std::lock_guard<std::mutex> g(mu_);
  RoleTotals t;
  for (const auto& [_, r] : roles_) {
    t.calls += r.calls;
    t.failed_calls += r.failed_calls;
    t.prompt_tokens += r.prompt_tokens;
    t.completion_tokens += r.completion_tokens;
    t.total_tokens += r.total_tokens;
    t.latency_seconds += r.latency_seconds;
    t.priced_cost_usd += r.priced_cost_usd;
    t.unpriced_calls += r.unpriced_calls;
  }
  return t;
}

std::string TokenLedger::to_json() const {
  auto roles = by_role();
  RoleTotals t = total();
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  auto cost_value = [](const RoleTotals& r) {
    auto cost = r.cost_usd();
    return cost ? json::Value(*cost) : json::Value();
  };
  auto obj = [&](const RoleTotals& r) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("prompt_tokens", r.prompt_tokens, a);
    o.AddMember("completion_tokens", r.completion_tokens, a);
    o.AddMember("total_tokens", r.total_tokens, a);
    o.AddMember("calls", r.calls, a);
    o.AddMember("failed_calls", r.failed_calls, a);
    o.AddMember("latency_seconds", r.latency_seconds, a);
    o.AddMember("cost_usd", cost_value(r), a);
    return o;
  };
  d.AddMember("prompt_tokens", t.prompt_tokens, a);
  d.AddMember("completion_tokens", t.completion_tokens, a);
  d.AddMember("total_tokens", t.total_tokens, a);
  d.AddMember("calls", t.calls, a);
  d.AddMember("cost_usd", cost_value(t), a);
  json::Value unpriced(rapidjson::kArrayType);
  for (const auto& [role, r] : roles)
    if (r.unpriced_calls > 0) unpriced.PushBack(json::str(role, a), a);
  d.AddMember("unpriced_roles", unpriced, a);
  json::Value by(rapidjson::kObjectType);
  for (const auto& [role, r] : roles) by.AddMember(json::str(role, a), obj(r), a);
  d.AddMember("by_role", by, a);
  return json::dump(d);
}

}  // namespace atlas::runtime
