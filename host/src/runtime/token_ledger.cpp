#include "runtime/token_ledger.hpp"

#include "common/json.hpp"

namespace atlas::runtime {

void TokenLedger::add(const std::string& role, int64_t prompt, int64_t completion, int64_t total, double latency,
                      bool ok) {
  std::lock_guard<std::mutex> g(mu_);
  RoleTotals& r = roles_[role.empty() ? "unknown" : role];
  ++r.calls;
  if (!ok) ++r.failed_calls;
  r.prompt_tokens += prompt;
  r.completion_tokens += completion;
  r.total_tokens += total > 0 ? total : prompt + completion;
  r.latency_seconds += latency;
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
  }
  return t;
}

std::string TokenLedger::to_json() const {
  auto roles = by_role();
  RoleTotals t = total();
  json::Document d;
  d.SetObject();
  auto& a = d.GetAllocator();
  auto obj = [&](const RoleTotals& r) {
    json::Value o(rapidjson::kObjectType);
    o.AddMember("prompt_tokens", r.prompt_tokens, a);
    o.AddMember("completion_tokens", r.completion_tokens, a);
    o.AddMember("total_tokens", r.total_tokens, a);
    o.AddMember("calls", r.calls, a);
    o.AddMember("failed_calls", r.failed_calls, a);
    o.AddMember("latency_seconds", r.latency_seconds, a);
    return o;
  };
  d.AddMember("prompt_tokens", t.prompt_tokens, a);
  d.AddMember("completion_tokens", t.completion_tokens, a);
  d.AddMember("total_tokens", t.total_tokens, a);
  d.AddMember("calls", t.calls, a);
  json::Value by(rapidjson::kObjectType);
  for (const auto& [role, r] : roles) by.AddMember(json::str(role, a), obj(r), a);
  d.AddMember("by_role", by, a);
  return json::dump(d);
}

}  // namespace atlas::runtime
