#include "rewards/payloads.hpp"

#include "common/json.hpp"
#include "rewards/stats.hpp"

namespace atlas::rewards {
namespace {

using json::Value;

Value principles_value(const std::string& text, json::Allocator& a) {
  auto parsed = json::parse(text, "principles");
  Value v(rapidjson::kArrayType);
  if (parsed && parsed->IsArray()) v.CopyFrom(parsed.value(), a);
  return v;
}

Value nullable_string(const std::string& s, json::Allocator& a) {
  return s.empty() ? Value(rapidjson::kNullType) : json::str(s, a);
}

// The sample with the lowest uncertainty, first on ties.
const JudgeSample* best_of(const std::vector<JudgeSample>& samples) {
  const JudgeSample* best = nullptr;
  for (const auto& s : samples) {
    if (!best || s.uncertainty < best->uncertainty) best = &s;
  }
  return best;
}

}  // namespace

double combine_scores(const std::vector<JudgeVerdict>& verdicts) {
  // A judge that produced no valid sample (only the synthetic 0.0) has no opinion: averaging
  // its 0.0 in would turn one judge's outage into a low reward. It is left out while another
  // judge has a verdict (Atlas averages it in; docs/atlas-compatibility.md).
  bool any_verdict = false;
  for (const auto& v : verdicts) any_verdict = any_verdict || v.has_verdict();
  double weight_sum = 0.0, sum = 0.0;
  for (const auto& v : verdicts) {
    if (any_verdict && !v.has_verdict()) continue;
    weight_sum += v.weight;
    sum += v.weight * v.score;
  }
  return weight_sum > 0.0 ? sum / weight_sum : 0.0;
}

void build_payloads(RewardOutcome& out, const PayloadContext& ctx, const std::vector<std::string>& audit_entries) {
  out.score = combine_scores(out.judges);
  out.escalated = false;

  std::vector<double> scores, uncertainties;
  const JudgeSample* best = nullptr;
  for (const auto& verdict : out.judges) {
    out.escalated = out.escalated || verdict.escalated;
    for (const auto& s : verdict.samples) {
      scores.push_back(s.score);
      uncertainties.push_back(s.uncertainty);
      if (!best || s.uncertainty < best->uncertainty) best = &s;
    }
  }

  // reward
  json::Document reward(rapidjson::kObjectType);
  auto& a = reward.GetAllocator();
  json::set(reward, "score", out.score, a);
  json::set(reward, "rationale", Value(rapidjson::kNullType), a);
  Value judges(rapidjson::kArrayType);
  Value raw_samples(rapidjson::kArrayType);
  Value raw_judges(rapidjson::kArrayType);
  for (const auto& verdict : out.judges) {
    const JudgeSample* jb = best_of(verdict.samples);
    Value j(rapidjson::kObjectType);
    json::set(j, "identifier", verdict.identifier, a);
    json::set(j, "score", verdict.score, a);
    json::set(j, "rationale", jb ? json::str(jb->rationale, a) : Value(rapidjson::kNullType), a);
    json::set(j, "principles", principles_value(jb ? jb->principles_json : "[]", a), a);
    Value samples(rapidjson::kArrayType);
    for (const auto& s : verdict.samples) {
      Value sv(rapidjson::kObjectType);
      json::set(sv, "score", s.score, a);
      json::set(sv, "rationale", s.rationale, a);
      json::set(sv, "principles", principles_value(s.principles_json, a), a);
      json::set(sv, "uncertainty", s.uncertainty, a);
      json::set(sv, "temperature", s.temperature ? Value(*s.temperature) : Value(rapidjson::kNullType), a);
      samples.PushBack(sv, a);
      Value rs(rapidjson::kObjectType);
      json::set(rs, "score", s.score, a);
      json::set(rs, "uncertainty", s.uncertainty, a);
      raw_samples.PushBack(rs, a);
    }
    json::set(j, "samples", std::move(samples), a);
    json::set(j, "escalated", verdict.escalated, a);
    json::set(j, "escalation_reason", nullable_string(verdict.escalation_reason, a), a);
    judges.PushBack(j, a);

    Value rj(rapidjson::kObjectType);
    json::set(rj, "identifier", verdict.identifier, a);
    json::set(rj, "plugin", verdict.plugin, a);
    json::set(rj, "weight", verdict.weight, a);
    json::set(rj, "score", verdict.score, a);
    json::set(rj, "tier1_valid", verdict.tier1_valid, a);
    json::set(rj, "tier1_invalid", verdict.tier1_invalid, a);
    json::set(rj, "calls", verdict.calls, a);
    raw_judges.PushBack(rj, a);
  }
  json::set(reward, "judges", std::move(judges), a);
  Value raw(rapidjson::kObjectType);
  json::set(raw, "score", out.score, a);
  json::set(raw, "samples", std::move(raw_samples), a);
  json::set(raw, "execution_mode", nullable_string(ctx.execution_mode, a), a);
  json::set(raw, "teacher_intervened", ctx.teacher_intervened, a);
  json::set(raw, "focus_prompt", nullable_string(ctx.focus_prompt, a), a);
  json::set(raw, "level", ctx.level, a);
  if (ctx.step_id) json::set(raw, "step_id", *ctx.step_id, a);
  json::set(raw, "judges", std::move(raw_judges), a);
  json::set(reward, "raw", std::move(raw), a);
  out.reward_json = json::dump(reward);

  // reward_stats
  const double sd = stats::pstdev(scores).value_or(0.0);
  const double um = stats::mean(uncertainties).value_or(0.0);
  const double usd = stats::pstdev(uncertainties).value_or(0.0);
  json::Document st(rapidjson::kObjectType);
  auto& sa = st.GetAllocator();
  json::set(st, "score", out.score, sa);
  json::set(st, "score_mean", out.score, sa);
  json::set(st, "score_stddev", sd, sa);
  json::set(st, "sample_count", static_cast<int64_t>(scores.size()), sa);
  json::set(st, "uncertainty_mean", um, sa);
  json::set(st, "uncertainty_stddev", usd, sa);
  json::set(st, "best_uncertainty", best ? best->uncertainty : 1.0, sa);
  if (!ctx.timestamp.empty()) json::set(st, "timestamp", ctx.timestamp, sa);
  out.reward_stats_json = json::dump(st);

  // reward_summary (session metadata)
  json::Document sum(rapidjson::kObjectType);
  auto& ma = sum.GetAllocator();
  json::set(sum, "score", out.score, ma);
  json::set(sum, "score_stddev", sd, ma);
  json::set(sum, "uncertainty_mean", um, ma);
  json::set(sum, "uncertainty_stddev", usd, ma);
  out.reward_summary_json = json::dump(sum);

  // reward_audit
  std::string audit = "[";
  for (size_t i = 0; i < audit_entries.size(); ++i) {
    if (i) audit += ',';
    audit += audit_entries[i];
  }
  audit += ']';
  out.reward_audit_json = std::move(audit);
}

std::string skipped_step_reward(int64_t step_id, std::string_view reason) {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  json::set(d, "score", 0.0, a);
  json::set(d, "judges", Value(rapidjson::kArrayType), a);
  json::set(d, "rationale", "skipped", a);
  Value raw(rapidjson::kObjectType);
  json::set(raw, "skipped", true, a);
  json::set(raw, "reason", reason, a);
  json::set(raw, "level", "step", a);
  json::set(raw, "step_id", step_id, a);
  json::set(d, "raw", std::move(raw), a);
  return json::dump(d);
}

}  // namespace atlas::rewards
