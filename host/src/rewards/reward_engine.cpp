#include <atomic>
#include <map>

#include "common/clock.hpp"
#include "common/json.hpp"
#include "rewards/cascade.hpp"
#include "rewards/judge_request.hpp"
#include "rewards/payloads.hpp"
#include "rewards/rewards.hpp"

namespace atlas::rewards {
namespace {

// Assembles one RewardOutcome from the jobs that judged the same object (session or step).
RewardOutcome outcome_from_jobs(const std::vector<CascadeJob*>& jobs, const PayloadContext& ctx) {
  RewardOutcome out;
  std::vector<std::string> audit;
  for (const CascadeJob* job : jobs) {
    out.judges.push_back(job->verdict);
    out.usage.add(job->usage);
    out.judge_calls += job->verdict.calls;
    audit.insert(audit.end(), job->audit.begin(), job->audit.end());
  }
  build_payloads(out, ctx, audit);
  return out;
}

}  // namespace

bool JudgeVerdict::has_verdict() const {
  for (const auto& s : samples)
    if (s.stage != "synthetic") return true;
  return false;
}

bool RewardOutcome::has_verdict() const {
  for (const auto& j : judges)
    if (j.has_verdict()) return true;
  return false;
}

std::string RewardOutcome::no_verdict_reason() const {
  std::string errors;
  auto audit = json::parse(reward_audit_json, "reward audit");
  if (audit && audit->IsArray()) {
    for (const auto& entry : audit->GetArray()) {
      std::string e = json::get_string(entry, "error");
      if (e.empty() || errors.find(e) != std::string::npos) continue;
      errors += (errors.empty() ? "" : "; ") + e;
      if (errors.size() > 600) break;
    }
  }
  return "no judge produced a valid verdict" + (errors.empty() ? std::string() : ": " + errors);
}

void RoleUsage::add(const RoleUsage& o) {
  calls += o.calls;
  failed_calls += o.failed_calls;
  prompt_tokens += o.prompt_tokens;
  completion_tokens += o.completion_tokens;
  total_tokens += o.total_tokens;
  latency_seconds += o.latency_seconds;
}

void JudgeUsage::add(const JudgeUsage& o) {
  judge.add(o.judge);
  arbiter.add(o.arbiter);
}

std::string JudgeUsage::to_json() const {
  json::Document d(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto role = [&a](const RoleUsage& u) {
    json::Value v(rapidjson::kObjectType);
    json::set(v, "calls", u.calls, a);
    json::set(v, "failed_calls", u.failed_calls, a);
    json::set(v, "prompt_tokens", u.prompt_tokens, a);
    json::set(v, "completion_tokens", u.completion_tokens, a);
    json::set(v, "total_tokens", u.total_tokens, a);
    json::set(v, "latency_seconds", u.latency_seconds, a);
    return v;
  };
  json::set(d, "judge", role(judge), a);
  json::set(d, "arbiter", role(arbiter), a);
  return json::dump(d);
}

std::vector<StepSummary> summarize_steps(const std::vector<StepEvidence>& steps,
                                         const std::vector<StepRewardOutcome>& outcomes,
                                         size_t output_summary_chars) {
  std::map<int64_t, const StepRewardOutcome*> by_id;
  for (const auto& o : outcomes) by_id[o.step_id] = &o;
  std::vector<StepSummary> out;
  for (const auto& s : steps) {
    StepSummary sum;
    sum.step_id = s.step_id;
    sum.description = s.description;
    sum.output_summary = s.output;
    if (sum.output_summary.size() > output_summary_chars) {
      sum.output_summary.resize(output_summary_chars);
      sum.output_summary += " [...]";
    }
    if (auto it = by_id.find(s.step_id); it != by_id.end() && it->second->judged && it->second->reward) {
      sum.reward = it->second->reward->score;
    }
    out.push_back(std::move(sum));
  }
  return out;
}

RewardEngine::RewardEngine(RewardSettings settings, std::vector<BoundJudge> session_judges,
                           std::vector<BoundJudge> step_judges)
    : settings_(std::move(settings)),
      session_judges_(std::move(session_judges)),
      step_judges_(std::move(step_judges)) {}

Result<std::unique_ptr<RewardEngine>> RewardEngine::create(RewardSettings settings, const JudgeResolver& resolve) {
  auto bind_all = [&resolve](const std::vector<JudgeSpec>& specs, const char* where,
                             std::vector<BoundJudge>& out) -> Status {
    for (size_t i = 0; i < specs.size(); ++i) {
      const std::string ctx = "rewards." + std::string(where) + "[" + std::to_string(i) + "] (plugin \"" +
                              specs[i].plugin + "\")";
      if (!(specs[i].weight > 0.0)) {
        return invalid_argument(ctx + ": weight must be > 0, got " + std::to_string(specs[i].weight));
      }
      auto bound = resolve(specs[i]);
      if (!bound) return bound.status().with_context(ctx);
      if (!bound->call) return internal_error(ctx + ": the resolver returned a judge without a call function");
      out.push_back(std::move(bound).value());
    }
    return Status::ok();
  };
  std::vector<BoundJudge> session, step;
  ATLAS_RETURN_IF_ERROR(bind_all(settings.session_judges, "session_judges", session));
  ATLAS_RETURN_IF_ERROR(bind_all(settings.step_judges, "step_judges", step));
  return std::make_unique<RewardEngine>(std::move(settings), std::move(session), std::move(step));
}

Result<RewardOutcome> RewardEngine::judge_session(const SessionEvidence& session, const EngineHooks& hooks) const {
  if (session_judges_.empty()) {
    return failed_precondition("no session judge is configured; add one to [rewards] session_judges");
  }
  std::vector<std::unique_ptr<CascadeJob>> jobs;
  for (const auto& judge : session_judges_) {
    auto job = std::make_unique<CascadeJob>();
    job->judge = &judge;
    job->base_request = session_judge_request(session, judge.spec, settings_.focus_prompt);
    job->samples = tier1_sample_count(judge, settings_.cascade);
    jobs.push_back(std::move(job));
  }
  CascadeOptions opt;
  opt.settings = settings_.cascade;
  opt.hooks = hooks;
  opt.session_id = session.session_id;
  run_cascades(jobs, opt);
  // A cancelled session gets no reward rather than the synthetic 0.0 of failed judges.
  if (hooks.cancelled && hooks.cancelled()) return cancelled("reward judging was cancelled");

  std::vector<CascadeJob*> all;
  for (auto& j : jobs) all.push_back(j.get());
  PayloadContext ctx;
  ctx.level = "session";
  ctx.execution_mode = session.execution_mode;
  ctx.teacher_intervened = session.teacher_intervened;
  ctx.focus_prompt = settings_.focus_prompt;
  ctx.timestamp = clock::now_iso8601();
  return outcome_from_jobs(all, ctx);
}

std::vector<StepRewardOutcome> RewardEngine::judge_steps(const SessionEvidence& session,
                                                         const std::vector<StepEvidence>& steps,
                                                         const EngineHooks& hooks,
                                                         std::optional<int> max_judge_calls) const {
  std::vector<StepRewardOutcome> outcomes(steps.size());
  const int64_t limit = max_judge_calls.value_or(settings_.max_judge_calls_per_session);
  std::atomic<int64_t> used{0};

  std::vector<std::unique_ptr<CascadeJob>> jobs;
  std::vector<size_t> step_of_job;
  for (size_t i = 0; i < steps.size(); ++i) {
    const StepEvidence& step = steps[i];
    StepRewardOutcome& out = outcomes[i];
    out.step_id = step.step_id;
    if (step_judges_.empty()) {
      out.skip_reason = "no_step_judges";
    } else if (!step.executed) {
      out.skip_reason = "not_executed";
    } else {
      int64_t needed = 0;
      for (const auto& judge : step_judges_) needed += tier1_sample_count(judge, settings_.cascade);
      if (limit > 0 && used.load() + needed > limit) {
        out.skip_reason = "budget";
      } else {
        used += needed;
        out.judged = true;
        for (const auto& judge : step_judges_) {
          auto job = std::make_unique<CascadeJob>();
          job->judge = &judge;
          job->base_request = step_judge_request(session, step, judge.spec, settings_.focus_prompt);
          job->step_id = std::to_string(step.step_id);
          job->samples = tier1_sample_count(judge, settings_.cascade);
          jobs.push_back(std::move(job));
          step_of_job.push_back(i);
        }
      }
    }
    if (!out.judged) out.reward_json = skipped_step_reward(step.step_id, out.skip_reason);
  }

  CascadeOptions opt;
  opt.settings = settings_.cascade;
  opt.hooks = hooks;
  opt.session_id = session.session_id;
  opt.reserve_arbiter_call = [&used, limit] {
    if (limit <= 0) return true;
    if (used.load() + 1 > limit) return false;
    ++used;
    return true;
  };
  run_cascades(jobs, opt);
  const bool was_cancelled = hooks.cancelled && hooks.cancelled();

  std::vector<std::vector<CascadeJob*>> by_step(steps.size());
  for (size_t j = 0; j < jobs.size(); ++j) by_step[step_of_job[j]].push_back(jobs[j].get());
  const std::string now = clock::now_iso8601();
  for (size_t i = 0; i < steps.size(); ++i) {
    if (!outcomes[i].judged) continue;
    if (was_cancelled) {
      outcomes[i].judged = false;
      outcomes[i].skip_reason = "cancelled";
      outcomes[i].reward_json = skipped_step_reward(steps[i].step_id, "cancelled");
      continue;
    }
    PayloadContext ctx;
    ctx.level = "step";
    ctx.step_id = steps[i].step_id;
    ctx.execution_mode = session.execution_mode;
    ctx.teacher_intervened = steps[i].attempts > 1 || !steps[i].guidance.empty();
    ctx.focus_prompt = settings_.focus_prompt;
    ctx.timestamp = now;
    outcomes[i].reward = outcome_from_jobs(by_step[i], ctx);
    outcomes[i].reward_json = outcomes[i].reward->reward_json;
  }
  return outcomes;
}

}  // namespace atlas::rewards
