// One session's flow (internal to the runtime component): routing, the lanes, then finish():
// the verdict (session_verdict.cpp), the stored document (finish_document.cpp), the report and
// the learning launch (learning_launch.cpp).
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"
#include "data/store.hpp"
#include "llm/llm.hpp"
#include "plugin/handles.hpp"
#include "runtime/dag_executor.hpp"
#include "runtime/lane.hpp"
#include "runtime/plan.hpp"
#include "runtime/rollout.hpp"
#include "runtime/runtime_impl.hpp"
#include "runtime/session_state.hpp"
#include "runtime/session_verdict.hpp"
#include "runtime/teacher.hpp"
#include "runtime/token_ledger.hpp"

namespace atlas::runtime {

// The reason a step gets when the teacher rejected its every attempt.
inline constexpr const char kTeacherRejected[] = "the teacher did not accept any attempt";

// One session: everything it owns lives here for the duration of run() (and, when a step
// was abandoned in a plugin call that never returned, until that call returns: shared).
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Runtime::Impl& rt, const TaskSpec& task)
      : rt_(rt),
        cfg_(rt.config),
        task_(task),
        events_(std::make_shared<EventLog>()),
        ledger_(std::make_shared<TokenLedger>(rt.config)) {}

  // A rollout sibling (Runtime::run_rollouts): set before run().
  void set_rollout(const RolloutSlot& slot) { rollout_ = slot; }
  SessionReport run();
  // Steps 1-3 of run(): metadata and learning key, session row, learning state, routing. False
  // when the session ended at once (report() final).
  bool begin();
  const SessionReport& report() const { return report_; }
  // begin() uses this learning state instead of reading it (Runtime::prepare_episode);
  // `refresh_cache`: begin() still reads the key, for the runtime's learning cache only.
  void preload_learning(data::LearningState state, bool refresh_cache) {
    preloaded_learning_ = std::move(state);
    refresh_learning_cache_ = refresh_cache;
  }

  // Capture mode (runtime::Episode, session_capture.cpp): the calls an outside agent made.
  const std::string& session_id() const { return session_id_; }
  const std::string& learning_key() const { return learning_key_; }
  config::Lane lane() const { return decision_.lane; }
  const std::string& student_playbook_block() const { return student_block_; }
  ReplyCheck check_captured_reply(const std::string& output, const std::vector<std::string>& guidance_so_far,
                                  int attempt, int call_number);
  void record_captured_call(const CapturedCall& call);
  std::string captured_guidance_before_call(const std::vector<llm::Message>& messages, int call_number,
                                            const std::vector<std::string>& guidance_so_far);
  SessionReport end_captured(const EpisodeOutcome& outcome);
  // Shared gateway episodes (session_resume.cpp): what begin() decided, as JSON, and a session
  // that takes it up on another process without a second session row (no "session start"
  // event, no learning read, no routing).
  std::string resume_state_json() const;
  bool resume(const std::string& state_json);
  // The [limits] bound that stopped the session ("" = none yet); note_limit() records one the
  // gateway found first (a "limit" event; the session ends failed with it as its error).
  std::string limit_reason() {
    std::lock_guard<std::mutex> g(limit_mu_);
    return limit_reason_;
  }
  void note_limit(const std::string& reason) { stop_for(reason); }

 private:
  // Plugin events (llm_call, tool_call, anything else) from a call on behalf of this session.
  // A tool_call event made for a plan step (`state` set) is also that step's tool evidence, whether
  // the host's MCP tool loop or the adapter itself (a scan-generated plugin) ran the tool.
  void on_plugin_event(std::string_view event_json, std::string_view parent, std::string_view step_id,
                       StepState* state = nullptr);
  // Ledger entry and llm_call trace event for one model call (made by a plugin or by the host).
  void note_llm_call(const std::string& role, std::string_view model_ref, const llm::Usage* usage,
                     double latency_seconds, bool ok, std::string event_json, std::string_view parent,
                     std::string_view step_id);
  plugin::CallContext call_context(std::string_view parent, std::string_view step_id, int64_t deadline,
                                   std::shared_ptr<std::atomic<bool>> stop = nullptr, StepState* state = nullptr);
  // A direct LLM call (teacher, learning) with accounting.
  Result<llm::Response> call_llm(std::string_view model_ref, llm::Request req, std::string_view parent,
                                 std::string_view step_id, int64_t deadline);
  // A student call through the adapter (and the MCP tool loop when configured).
  Result<std::string> call_student(std::string_view role, std::vector<llm::Message> messages, bool json_mode,
                                   std::string_view parent, std::string_view step_id, int64_t deadline,
                                   std::shared_ptr<std::atomic<bool>> stop, StepState* state);
  Status run_step(StepState& st, bool validate, const std::string& prior_json, const StepControl& control);
  // The `attempt` `start` event's payload: the attempt number, the system prompt and the user
  // message the student is sent (the step's prompt with its dependencies' results and, on a
  // retry, the teacher's guidance) and every tool it is offered with its schema, so exports carry
  // the conversation the student saw (docs/export-formats.md, "What the student saw"). Also the
  // payload of the final answer's `synthesis` event (its one call, attempt 1).
  std::string attempt_start_json(int attempt, std::string_view system_prompt, std::string_view user_prompt) const;
  LaneDecision route();
  void run_auto_or_paired(bool validate);
  void run_coach();
  std::string prior_results_for(const PlanStep& step);
  // Judging, verdict, stored document, report and learning launch (session.cpp).
  void finish();
  // Rewards, drift and the review decision (session_verdict.cpp).
  // Only a succeeded session is judged.
  SessionVerdict judge(bool store_ok, SessionStatus status, const std::string& unvalidated_step);
  // The learning history and playbook of the session's key (a rollout sibling: its group's
  // snapshot, read once for the group).
  void read_learning();
  // Rollout group metadata (rollout_group, rollout_index, rollout_size, rollout_seed,
  // rollout_temperature) and the report's group fields.
  void note_rollout();
  // The sinks that carry this session's events to storage, the caller and the progress lines.
  void attach_event_sinks();
  void make_teacher();
  // Background playbook synthesis from this session's evidence (learning_launch.cpp).
  void launch_learning(const rewards::RewardOutcome& reward);
  // The session stops making model calls: Ctrl-C, or a [limits] bound (stop_for).
  bool stopped() const { return rt_.cancelled() || stop_->load(); }
  void stop_for(const std::string& reason);
  // Stops the session once its model calls or tokens pass [limits].
  void check_budget();
  // A step's deadline: step_timeout_seconds from now, never past the session's deadline.
  int64_t step_deadline() const;

  Runtime::Impl& rt_;
  const config::Config& cfg_;
  TaskSpec task_;
  std::shared_ptr<EventLog> events_;
  std::shared_ptr<TokenLedger> ledger_;
  std::unique_ptr<Teacher> teacher_;
  std::string session_id_;
  std::string root_event_;
  std::string learning_key_;
  json::Document metadata_;
  json::Document history_;
  data::LearningState learning_state_;
  std::optional<data::LearningState> preloaded_learning_;
  bool refresh_learning_cache_ = false;
  std::string student_block_, teacher_block_;
  LaneDecision decision_;
  Plan plan_;
  Plan original_plan_;
  std::vector<std::unique_ptr<StepState>> steps_;
  std::mutex steps_mu_;
  std::string final_answer_;
  std::string error_;
  bool failed_ = false;
  SessionReport report_;
  double started_ = 0;
  int64_t deadline_ms_ = 0;  // [limits] session_timeout_seconds (0 = none)
  std::shared_ptr<std::atomic<bool>> stop_ = std::make_shared<std::atomic<bool>>(false);
  std::mutex limit_mu_;
  std::string limit_reason_;  // the [limits] bound that stopped the session (guarded by limit_mu_)
  bool capture_interrupted_ = false;
  RolloutSlot rollout_;  // group null: not a rollout sibling  // a captured episode cut short by the gateway's shutdown
};

}  // namespace atlas::runtime
