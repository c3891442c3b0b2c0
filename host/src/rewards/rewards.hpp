// Rewards: judge cascade, aggregation, step rewards and drift (docs/rewards.md).
//
// The runtime builds one RewardEngine per configuration and calls, at the end of a session:
//   auto steps  = engine.judge_steps(session, step_evidence);   // all steps' samples at once
//   auto reward = engine.judge_session(session_with_step_rewards);
//   auto drift  = check_drift(reward_stats, baseline_rows, drift_settings, learning_key);
//
// Every judge runs as a cascade: k samples (default 3, temperatures 0.2/0.5/0.8) concurrently;
// with >= 2 valid samples and (population std-dev > variance_threshold or max uncertainty >
// uncertainty_threshold) one arbiter sample from the large model replaces them. Judges that do
// not use a model (no ATLAS_CAP_USES_LLM, e.g. `verifiable`) are sampled once and never
// escalate. Several judges are combined by their configured weights. The payloads keep
// Atlas's shapes (docs/rewards.md) so Atlas consumers read them unchanged.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "llm/llm.hpp"
#include "plugin/handles.hpp"
#include "rewards/drift.hpp"

namespace atlas::rewards {

// ---- configuration -------------------------------------------------------------------------

// One configured judge ([rewards] session_judges / step_judges entries).
struct JudgeSpec {
  std::string plugin = "llm";     // judge plugin name
  std::string rubric;             // "process" | "outcome" | "helpfulness" | custom name ("" = plugin default)
  std::string rubric_text;        // custom rubric text (the config resolves a rubric file to its text)
  double weight = 1.0;            // > 0; judges combine by weight / sum of weights
  std::string config_json = "{}"; // the plugin instance's config (validated against its schema by the loader)
  std::optional<int> samples;     // k override; default CascadeSettings::samples for LLM judges, 1 otherwise
  std::string identifier;         // name in payloads; default: rubric, else plugin
  std::string display_identifier() const { return !identifier.empty() ? identifier : !rubric.empty() ? rubric : plugin; }
};

struct CascadeSettings {
  int samples = 3;                                     // k, 1..16
  std::vector<double> temperatures = {0.2, 0.5, 0.8};  // sample i uses temperatures[i % size]
  double arbiter_temperature = 0.3;
  double variance_threshold = 0.15;    // compared with the POPULATION std-dev of the scores, strictly greater
  double uncertainty_threshold = 0.3;  // compared with the max uncertainty, strictly greater
  bool escalation_enabled = true;      // false when no large model is configured
};

struct RewardSettings {
  CascadeSettings cascade;
  std::vector<JudgeSpec> session_judges;
  std::vector<JudgeSpec> step_judges;
  // Budget for STEP judging: max judge plugin calls (samples + arbiter) per session, 0 = unlimited.
  // Steps are admitted in the order given while their k samples fit; the rest are recorded
  // as skipped with reason "budget". An arbiter call that does not fit is not made.
  int max_judge_calls_per_session = 0;
  std::string focus_prompt;  // [rewards] judge_prompt, forwarded to judges as "focus_prompt"
};

// ---- judges as the engine sees them ---------------------------------------------------------

using JudgeCallFn = std::function<Result<std::string>(const plugin::CallContext&, std::string_view request_json)>;

struct BoundJudge {
  JudgeSpec spec;
  JudgeCallFn call;       // must be safe to call from several threads at once
  bool uses_llm = true;   // sampled k times and eligible for escalation
  // Takes all tier-1 temperatures in one call and answers {"replies": [...]}
  // (ATLAS_CAP_JUDGE_SAMPLES); the cascade then makes one call per job instead of k.
  bool batches_samples = false;
  std::string plugin_version;
};

// Binds a loaded judge plugin (uses_llm from its ATLAS_CAP_USES_LLM capability bit,
// batches_samples from ATLAS_CAP_JUDGE_SAMPLES).
BoundJudge bind_judge_handle(JudgeSpec spec, plugin::JudgeHandle handle);

// Creates (or finds) the plugin instance for a spec. The runtime passes one backed by the registry.
using JudgeResolver = std::function<Result<BoundJudge>(const JudgeSpec&)>;

// ---- evidence --------------------------------------------------------------------------------

struct ToolCallEvidence {
  std::string id;
  std::string name;
  std::string arguments_json = "{}";
  std::string result;  // what the tool returned (or its error text)
  bool is_error = false;
};

struct TraceEvidence {
  std::vector<llm::Message> messages;       // the step's conversation, tool messages included
  std::vector<ToolCallEvidence> tool_calls;  // every tool call of the step with its result
  std::string text;                          // free-form trace (adapter "trace", stderr), optional
};

struct StepEvidence {
  int64_t step_id = 0;
  std::string description;
  std::string output;
  int attempts = 1;
  bool executed = true;        // false: the step never ran (failed dependency...) -> not judged
  std::string status;          // free text from the runtime ("succeeded", "failed", "timeout")
  TraceEvidence trace;
  std::vector<std::string> guidance;  // teacher guidance given during the step
  std::string validation_json;        // teacher verdict object, "" when none
};

struct StepSummary {
  int64_t step_id = 0;
  std::string description;
  std::string output_summary;
  std::optional<double> reward;  // the step's reward score when it was judged
};

struct SessionEvidence {
  std::string session_id;
  std::string task;
  std::string plan_json;       // {"steps":[{"id","description","depends_on"}]} or ""
  std::string final_answer;
  std::string execution_mode;  // auto | paired | coach
  bool teacher_intervened = false;
  std::vector<StepSummary> steps;
  std::string expected_json;   // expected answer given with the task (verifiable judges), "" = none
  std::string learning_key;
};

// Fills StepSummary rows (with their rewards) from the evidence and the step outcomes.
struct StepRewardOutcome;
std::vector<StepSummary> summarize_steps(const std::vector<StepEvidence>& steps,
                                         const std::vector<StepRewardOutcome>& outcomes,
                                         size_t output_summary_chars = 400);

// ---- outcomes --------------------------------------------------------------------------------

struct RoleUsage {
  int64_t calls = 0;
  int64_t failed_calls = 0;
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  int64_t total_tokens = 0;
  double latency_seconds = 0.0;  // summed over calls (not wall time)
  void add(const RoleUsage& o);
};

// LLM usage of the judges per accounting role ("judge" for tier-1 samples, "arbiter").
struct JudgeUsage {
  RoleUsage judge;
  RoleUsage arbiter;
  void add(const JudgeUsage& o);
  // {"judge": {calls, failed_calls, prompt_tokens, completion_tokens, total_tokens, latency_seconds}, "arbiter": {...}}
  std::string to_json() const;
};

struct JudgeSample {
  double score = 0.0;
  double uncertainty = 1.0;
  std::string rationale;
  std::string principles_json = "[]";  // [{name, weight, description}]
  std::optional<double> temperature;
  std::string stage = "tier1";         // tier1 | arbiter | synthetic
};

// One judge's cascade result.
struct JudgeVerdict {
  std::string identifier;
  std::string plugin;
  double weight = 1.0;
  std::vector<JudgeSample> samples;  // the final list S (tier-1, or the arbiter's sample, or synthetic)
  double score = 0.0;                // mean of S
  bool escalated = false;
  std::string escalation_reason;     // "tier1_variance_or_uncertainty" when escalated
  int tier1_valid = 0;
  int tier1_invalid = 0;
  int calls = 0;                     // plugin calls made (samples + arbiter)
  // Some sample is the judge's own (not the synthetic 0.0 that stands in for no valid sample).
  bool has_verdict() const;
};

struct RewardOutcome {
  double score = 0.0;                 // weighted combination of the judges' scores
  std::vector<JudgeVerdict> judges;
  std::string reward_json;            // Atlas AtlasRewardBreakdown dict
  std::string reward_stats_json;      // Atlas reward_stats incl. "timestamp"
  std::string reward_audit_json;      // list of audit entries (tier1 per sample, arbiter when attempted)
  std::string reward_summary_json;    // {score, score_stddev, uncertainty_mean, uncertainty_stddev}
  JudgeUsage usage;
  int judge_calls = 0;
  bool escalated = false;             // any judge escalated

  // Some judge produced a valid sample. Without one, `score` is only the 0.0 of Atlas's
  // synthetic samples (a judge outage, not a verdict): the runtime stores no reward then.
  bool has_verdict() const;
  // Why there is no verdict: the judges' errors from the audit (when !has_verdict()).
  std::string no_verdict_reason() const;
};

struct StepRewardOutcome {
  int64_t step_id = 0;
  bool judged = false;
  std::string skip_reason;             // "budget" | "not_executed" | "no_step_judges" | "cancelled" | ""
  std::optional<RewardOutcome> reward;
  // Always set: the step's `evaluation.reward` in Atlas's reward shape; for a skipped step the
  // Atlas placeholder {"score":0.0,"judges":[],"rationale":"skipped","raw":{"skipped":true,"reason":...}}.
  std::string reward_json;
};

// Optional per-call plumbing from the runtime.
struct EngineHooks {
  // Receives every event the judge plugins emit, including the host's "llm_call" events.
  // Called from several threads at once: must be thread-safe.
  std::function<void(std::string_view event_json)> on_event;
  std::function<bool()> cancelled;
  int64_t deadline_unix_ms = 0;
};

class RewardEngine {
 public:
  RewardEngine(RewardSettings settings, std::vector<BoundJudge> session_judges, std::vector<BoundJudge> step_judges);

  // Resolves every judge in `settings` through `resolve`; the first failure is returned with
  // the judge's position in the config ("rewards.session_judges[1] (plugin \"llm\"): ...").
  static Result<std::unique_ptr<RewardEngine>> create(RewardSettings settings, const JudgeResolver& resolve);

  // Session reward from the configured session judges. FAILED_PRECONDITION when none is
  // configured. Judges that produce no valid sample contribute Atlas's synthetic sample
  // (score 0.0, uncertainty 1.0): that is a reward, not an error. CANCELLED when
  // hooks.cancelled() turned true while judging.
  Result<RewardOutcome> judge_session(const SessionEvidence& session, const EngineHooks& hooks = {}) const;

  // Step rewards, one outcome per input step in the same order. All admitted steps' samples run
  // concurrently. `max_judge_calls` overrides settings().max_judge_calls_per_session.
  std::vector<StepRewardOutcome> judge_steps(const SessionEvidence& session, const std::vector<StepEvidence>& steps,
                                             const EngineHooks& hooks = {},
                                             std::optional<int> max_judge_calls = std::nullopt) const;

  bool has_session_judges() const { return !session_judges_.empty(); }
  bool has_step_judges() const { return !step_judges_.empty(); }
  const RewardSettings& settings() const { return settings_; }

 private:
  RewardSettings settings_;
  std::vector<BoundJudge> session_judges_;
  std::vector<BoundJudge> step_judges_;
};

}  // namespace atlas::rewards
