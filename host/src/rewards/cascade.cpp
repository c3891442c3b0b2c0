#include "rewards/cascade.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

#include "common/clock.hpp"
#include "common/secrets.hpp"
#include "common/worker_pool.hpp"
#include "rewards/judge_request.hpp"
#include "rewards/sample.hpp"
#include "rewards/stats.hpp"

namespace atlas::rewards {
namespace {

constexpr size_t kAuditTextLimit = 4000;
constexpr const char* kEscalationReason = "tier1_variance_or_uncertainty";

// Accumulates the "llm_call" events the host emits while one judge call runs.
class UsageCollector {
 public:
  void on_event(std::string_view event_json) {
    auto doc = json::parse(event_json, "event", json::kMaxInputDepth);
    if (!doc || !doc->IsObject()) return;
    const json::Document& e = doc.value();
    std::string type = json::get_string(e, "type", json::get_string(e, "event", json::get_string(e, "kind")));
    if (type != "llm_call") return;
    const json::Value* u = json::find(e, "usage");
    const json::Value& src = (u && u->IsObject()) ? *u : static_cast<const json::Value&>(e);
    RoleUsage one;
    one.calls = 1;
    if (json::get_string(e, "outcome", "ok") != "ok") one.failed_calls = 1;
    one.prompt_tokens = json::get_int(src, "prompt_tokens");
    one.completion_tokens = json::get_int(src, "completion_tokens");
    one.total_tokens = json::get_int(src, "total_tokens", one.prompt_tokens + one.completion_tokens);
    one.latency_seconds = json::get_double(e, "latency_seconds", json::get_double(e, "latency", 0.0));
    std::lock_guard lock(mu_);
    per_call_.push_back(one);
  }
  // One entry per llm_call event, in the order the events arrived.
  std::vector<RoleUsage> per_call() const {
    std::lock_guard lock(mu_);
    return per_call_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<RoleUsage> per_call_;
};

std::string clip(std::string text) {
  if (text.size() > kAuditTextLimit) {
    const size_t dropped = text.size() - kAuditTextLimit;
    text.resize(kAuditTextLimit);
    text += "...[" + std::to_string(dropped) + " characters truncated]";
  }
  return secrets::redact(text);
}

struct CallOutcome {
  std::optional<ParsedJudgeResponse> parsed;
  std::string error;
  RoleUsage usage;
  std::string audit;
};

// One invocation of the judge plugin: its answer, how long it took, and the llm_call events
// the host reported meanwhile.
struct Invocation {
  Result<std::string> response = Status(StatusCode::kCancelled, "reward judging was cancelled");
  double latency = 0;
  std::vector<RoleUsage> per_call;  // one per llm_call event

  // The summed llm_call events, when there were any.
  std::optional<RoleUsage> seen_usage() const {
    if (per_call.empty()) return std::nullopt;
    RoleUsage sum;
    for (const auto& u : per_call) sum.add(u);
    return sum;
  }
};

Invocation invoke(const CascadeJob& job, const CascadeOptions& opt, const std::string& request) {
  Invocation inv;
  UsageCollector collector;
  plugin::CallContext ctx;
  ctx.session_id = opt.session_id;
  ctx.step_id = job.step_id;
  ctx.deadline_unix_ms = opt.hooks.deadline_unix_ms;
  ctx.cancelled = opt.hooks.cancelled;
  ctx.on_event = [&collector, &opt](std::string_view ev) {
    collector.on_event(ev);
    if (opt.hooks.on_event) opt.hooks.on_event(ev);
  };
  const double start = clock::monotonic_seconds();
  if (!(opt.hooks.cancelled && opt.hooks.cancelled())) inv.response = job.judge->call(ctx, request);
  inv.latency = clock::monotonic_seconds() - start;
  inv.per_call = collector.per_call();
  return inv;
}

// One sample's outcome and audit entry from the judge's answer (or error) for it. `seen_usage`:
// the llm_call events attributed to this sample; without any, the plugin's own "usage".
CallOutcome outcome_of(const CascadeJob& job, const Result<std::string>& response,
                       const std::optional<RoleUsage>& seen_usage, double latency,
                       std::optional<double> temperature, bool arbiter) {
  CallOutcome out;
  if (response) {
    auto parsed = parse_judge_response(response.value());
    if (parsed) {
      out.parsed = std::move(parsed).value();
    } else {
      out.error = parsed.status().to_string();
    }
  } else {
    out.error = response.status().to_string();
  }
  if (seen_usage) {
    out.usage = *seen_usage;
  } else if (out.parsed && out.parsed->usage) {
    out.usage = *out.parsed->usage;
  }

  json::Document a(rapidjson::kObjectType);
  auto& al = a.GetAllocator();
  json::set(a, "stage", arbiter ? "arbiter" : "tier1", al);
  json::set(a, "judge", job.verdict.identifier, al);
  json::set(a, "plugin", job.judge->spec.plugin, al);
  if (!job.step_id.empty()) json::set(a, "step_id", job.step_id, al);
  json::set(a, "temperature", temperature ? json::Value(*temperature) : json::Value(rapidjson::kNullType), al);
  if (out.parsed && !out.parsed->model.empty()) json::set(a, "model", out.parsed->model, al);
  json::set(a, "latency_seconds", latency, al);
  if (out.parsed) {
    json::Value r(rapidjson::kObjectType);
    const JudgeSample& s = out.parsed->sample;
    json::set(r, "score", s.score, al);
    json::set(r, "uncertainty", s.uncertainty, al);
    json::set(r, "rationale", clip(s.rationale), al);
    auto p = json::parse(s.principles_json, "principles");
    json::Value pv(rapidjson::kArrayType);
    if (p && p->IsArray()) pv.CopyFrom(p.value(), al);
    json::set(r, "principles", std::move(pv), al);
    json::set(a, "response", std::move(r), al);
    if (!out.parsed->reasoning.empty()) json::set(a, "reasoning", clip(out.parsed->reasoning), al);
    if (!out.parsed->raw_response.empty()) json::set(a, "raw_response", clip(out.parsed->raw_response), al);
  } else {
    json::set(a, "error", clip(out.error), al);
  }
  json::Value u(rapidjson::kObjectType);
  json::set(u, "prompt_tokens", out.usage.prompt_tokens, al);
  json::set(u, "completion_tokens", out.usage.completion_tokens, al);
  json::set(u, "total_tokens", out.usage.total_tokens, al);
  json::set(a, "usage", std::move(u), al);
  out.audit = json::dump(a);
  return out;
}

CallOutcome call_judge(const CascadeJob& job, const CascadeOptions& opt, const std::string& request,
                       std::optional<double> temperature, bool arbiter) {
  Invocation inv = invoke(job, opt, request);
  return outcome_of(job, inv.response, inv.seen_usage(), inv.latency, temperature, arbiter);
}

// All tier-1 samples of a job in one invocation (judges with ATLAS_CAP_JUDGE_SAMPLES): the
// request carries "temperatures", the answer {"replies": [...]} has one judge reply or
// {"error": {"code", "message"}} per temperature. The plugin's model calls run concurrently
// on the host's I/O thread (llm_complete_many), so k samples cost one plugin thread, not k.
std::vector<CallOutcome> call_judge_batch(const CascadeJob& job, const CascadeOptions& opt,
                                          const std::vector<double>& temperatures) {
  const size_t k = temperatures.size();
  Invocation inv = invoke(job, opt, batch_request(job.base_request, temperatures));
  std::vector<Result<std::string>> replies(k, Result<std::string>(std::string()));
  if (!inv.response) {
    std::fill(replies.begin(), replies.end(), Result<std::string>(inv.response.status()));
  } else {
    auto doc = json::parse(inv.response.value(), "judge replies", json::kMaxInputDepth);
    const json::Value* list = doc && doc->IsObject() ? json::find(*doc, "replies") : nullptr;
    if (!list || !list->IsArray() || list->Size() != k) {
      Status bad = invalid_argument("judge plugin '" + job.judge->spec.plugin + "' declares ATLAS_CAP_JUDGE_SAMPLES but " +
                                    (list && list->IsArray() ? "answered " + std::to_string(list->Size()) +
                                                                   " replies for " + std::to_string(k) + " temperatures"
                                                             : std::string("its answer has no \"replies\" array")));
      std::fill(replies.begin(), replies.end(), Result<std::string>(bad));
    } else {
      for (size_t i = 0; i < k; ++i) {
        const json::Value& r = (*list)[static_cast<rapidjson::SizeType>(i)];
        const json::Value* err = r.IsObject() ? json::find(r, "error") : nullptr;
        if (err && err->IsObject()) {
          replies[i] = Status(status_code_from_name(json::get_string(*err, "code", "UNKNOWN")),
                              json::get_string(*err, "message", "the judge gave no message"));
        } else {
          replies[i] = json::dump(r);
        }
      }
    }
  }
  // Usage per sample: one llm_call event per temperature when the plugin made one call each
  // (the host reports a batch's calls in order); otherwise the whole invocation's usage goes
  // to the first sample so that the job's totals stay right.
  const std::optional<RoleUsage> total = inv.seen_usage();
  std::vector<CallOutcome> out;
  for (size_t i = 0; i < k; ++i) {
    std::optional<RoleUsage> usage;
    if (inv.per_call.size() == k) {
      usage = inv.per_call[i];
    } else if (total) {
      usage = i == 0 ? *total : RoleUsage{};
    }
    out.push_back(outcome_of(job, replies[i], usage, inv.latency, temperatures[i], false));
  }
  return out;
}

double temperature_for(const CascadeSettings& s, size_t i) {
  return s.temperatures.empty() ? 0.2 : s.temperatures[i % s.temperatures.size()];
}

}  // namespace

int tier1_sample_count(const BoundJudge& judge, const CascadeSettings& settings) {
  if (judge.spec.samples && *judge.spec.samples > 0) return *judge.spec.samples;
  return judge.uses_llm ? std::max(1, settings.samples) : 1;
}

void run_cascades(std::vector<std::unique_ptr<CascadeJob>>& jobs, const CascadeOptions& opt) {
  // Phase 1: every tier-1 sample of every job at once. A judge that takes all its samples in
  // one call (ATLAS_CAP_JUDGE_SAMPLES) gets one slot for them; any other, one slot per sample.
  struct Slot {
    size_t job;
    size_t first;  // first sample index
    size_t count;  // samples in this slot
  };
  std::vector<Slot> slots;
  std::vector<std::vector<CallOutcome>> results(jobs.size());
  for (size_t j = 0; j < jobs.size(); ++j) {
    CascadeJob& job = *jobs[j];
    job.verdict.identifier = job.judge->spec.display_identifier();
    job.verdict.plugin = job.judge->spec.plugin;
    job.verdict.weight = job.judge->spec.weight;
    const size_t samples = static_cast<size_t>(std::max(0, job.samples));
    results[j].resize(samples);
    if (job.judge->batches_samples && job.judge->uses_llm && samples > 1) {
      slots.push_back({j, 0, samples});
    } else {
      for (size_t i = 0; i < samples; ++i) slots.push_back({j, i, 1});
    }
  }
  WorkerPool::shared().run_all(slots.size(), opt.max_threads, [&](size_t s) {
    const Slot& slot = slots[s];
    const CascadeJob& job = *jobs[slot.job];
    if (slot.count > 1) {
      std::vector<double> temps;
      for (size_t i = 0; i < slot.count; ++i) temps.push_back(temperature_for(opt.settings, slot.first + i));
      std::vector<CallOutcome> outs = call_judge_batch(job, opt, temps);
      for (size_t i = 0; i < slot.count; ++i) {
        CallOutcome& out = results[slot.job][slot.first + i];
        out = std::move(outs[i]);
        if (out.parsed) out.parsed->sample.temperature = temps[i];
      }
      return;
    }
    const double t = temperature_for(opt.settings, slot.first);
    // A deterministic judge gets no temperature in its samples; it is recorded as null.
    std::optional<double> temp = job.judge->uses_llm ? std::optional<double>(t) : std::nullopt;
    CallOutcome& out = results[slot.job][slot.first];
    out = call_judge(job, opt, sample_request(job.base_request, t, false, {}), temp, false);
    if (out.parsed) out.parsed->sample.temperature = temp;
  });

  // Collect tier-1 results in sample order and decide on escalation.
  std::vector<std::vector<JudgeSample>> valid(jobs.size());
  std::vector<size_t> needs_arbiter;
  for (size_t j = 0; j < jobs.size(); ++j) {
    CascadeJob& job = *jobs[j];
    for (auto& r : results[j]) {
      job.audit.push_back(std::move(r.audit));
      job.usage.judge.add(r.usage);
      job.verdict.calls += 1;
      if (r.parsed) {
        r.parsed->sample.stage = "tier1";
        valid[j].push_back(r.parsed->sample);
        job.verdict.tier1_valid += 1;
      } else {
        job.verdict.tier1_invalid += 1;
      }
    }
    if (job.judge->uses_llm && opt.settings.escalation_enabled &&
        should_escalate(valid[j], opt.settings.variance_threshold, opt.settings.uncertainty_threshold)) {
      if (!opt.reserve_arbiter_call || opt.reserve_arbiter_call()) {
        needs_arbiter.push_back(j);
      } else {
        job.audit.push_back(R"({"stage":"arbiter","judge":)" + json::quote(job.verdict.identifier) +
                            R"(,"skipped":true,"reason":"budget"})");
      }
    }
  }

  // Phase 2: the arbiters, concurrently.
  std::vector<CallOutcome> arbiter_results(needs_arbiter.size());
  WorkerPool::shared().run_all(needs_arbiter.size(), opt.max_threads, [&](size_t a) {
    CascadeJob& job = *jobs[needs_arbiter[a]];
    std::string req = sample_request(job.base_request, opt.settings.arbiter_temperature, true, valid[needs_arbiter[a]]);
    arbiter_results[a] = call_judge(job, opt, req, opt.settings.arbiter_temperature, true);
  });
  std::vector<bool> escalated(jobs.size(), false);
  for (size_t a = 0; a < needs_arbiter.size(); ++a) {
    const size_t j = needs_arbiter[a];
    CascadeJob& job = *jobs[j];
    CallOutcome& r = arbiter_results[a];
    job.audit.push_back(std::move(r.audit));
    job.usage.arbiter.add(r.usage);
    job.verdict.calls += 1;
    if (r.parsed) {
      JudgeSample s = r.parsed->sample;
      s.stage = "arbiter";
      s.temperature = opt.settings.arbiter_temperature;
      valid[j] = {s};  // the arbiter's sample replaces the tier-1 samples
      escalated[j] = true;
    }
  }

  // Final sample lists and scores.
  for (size_t j = 0; j < jobs.size(); ++j) {
    JudgeVerdict& v = jobs[j]->verdict;
    v.samples = valid[j].empty() ? std::vector<JudgeSample>{synthetic_sample()} : valid[j];
    v.escalated = escalated[j];
    v.escalation_reason = escalated[j] ? kEscalationReason : "";
    std::vector<double> scores;
    for (const auto& s : v.samples) scores.push_back(s.score);
    v.score = stats::mean(scores).value_or(0.0);
  }
}

}  // namespace atlas::rewards
