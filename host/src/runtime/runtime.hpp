// The supervised session runtime (docs/runtime.md). One Runtime per configuration: it loads the
// plugins, opens storage, and runs sessions (concurrently if the caller wants) through
// routing, the auto/paired/coach lanes, rewards, drift, review and persistence. Learning
// synthesis runs after each session's result is final, in the background;
// wait_for_background() (also run by the destructor) waits for it.
//
//   auto rt = runtime::Runtime::create(config);          // Result<unique_ptr<Runtime>>
//   runtime::SessionReport r = (*rt)->run({.task = "..."});
//   (*rt)->wait_for_background();
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.hpp"
#include "config/config.hpp"
#include "config/statuses.hpp"
#include "llm/llm.hpp"
#include "runtime/events.hpp"
#include "runtime/token_ledger.hpp"

namespace atlas::data {
class Store;
}
namespace atlas::plugin {
class Registry;
}

namespace atlas::runtime {

struct TaskSpec {
  std::string task;
  std::string metadata_json = "{}";  // session metadata (learning_key_override, tags, tenant, ...)
  std::string expected_json;         // expected answer for verifiable judges ("" = none)
};

// run --rollouts N: N sibling sessions of one task (docs/runtime.md, "Rollout groups").
struct RolloutOptions {
  int siblings = 2;                  // 1..64
  std::vector<double> temperatures;  // sibling i samples at temperatures[i % size]; empty = the model's own
  int parallel = 1;                  // siblings run at once (1..64)
  std::string group_id;              // "" = a new random id ("rg-" + 16 hex digits)
};

struct StepReport {
  int id = 0;
  std::string description;
  std::vector<int> depends_on;
  StepStatus status = StepStatus::kPending;
  std::string reason;
  int attempts = 0;
  std::string output;
  std::optional<double> reward;
  int64_t started_us = 0;
  int64_t ended_us = 0;
};


struct SessionReport {
  std::string session_id;        // storage id, or "local-<id>" without storage
  // kInterrupted: Runtime::cancel() stopped it (stored); kNotStarted: cancelled before it began
  // (nothing stored).
  SessionStatus status = SessionStatus::kFailed;
  std::string error;
  std::string task;
  std::string final_answer;
  std::string lane;              // auto | paired | coach
  std::string lane_source;
  std::string learning_key;
  std::optional<double> reward;
  ReviewStatus review_status = ReviewStatus::kPending;
  bool drift_alert = false;
  std::map<std::string, RoleTotals> tokens;  // per role, learning synthesis excluded
  RoleTotals total_tokens;
  double seconds = 0.0;
  std::vector<StepReport> steps;
  int64_t applied_playbook_version = 0;  // learning_registry version injected (0 = none)
  size_t playbook_entries = 0;           // entries in the state that was applied
  bool stored = false;
  std::string rollout_group;             // run --rollouts: the group id ("" = not a rollout)
  int rollout_index = 0;                 // the sibling's index in its group (0-based)
  bool plan_fallback = false;            // coach plan unusable -> one step
  std::string plan_fallback_reason;
  std::string to_json() const;
};

// ---- capture mode: sessions whose agent runs elsewhere (the serve gateway, docs/serve.md) ----

// One model call of an outside agent, captured on the wire: what the client sent, what it got.
struct CapturedCall {
  std::string wire;   // openai.chat | openai.responses | anthropic.messages | gemini.generate
  std::string model;  // as the client named it
  std::vector<llm::Message> messages;  // the conversation the client sent (without injected text)
  std::vector<llm::ToolSpec> tools;    // every tool the client offered, with its schema
  std::string system_injected;         // text the gateway added to the system prompt ("" = none)
  bool ok = true;
  std::string error;  // when !ok: what the upstream answered
  llm::Response reply;
  double latency_seconds = 0.0;
  int64_t started_us = 0, ended_us = 0;
  bool streamed = false;
  // Supervised lanes: the attempts the teacher rejected before the reply the client got, each
  // with the teacher's verdict and the guidance the retry carried; then the final verdict.
  struct Rejected {
    std::string output;
    std::string verdict_json;
    std::string guidance;
  };
  std::vector<Rejected> rejected;
  std::string guidance_before_call;  // coach lane: the teacher's guidance added before the call ("" = none)
  std::string final_verdict_json;  // "" = the reply was not validated
  bool final_accepted = true;      // false: the teacher rejected the reply the client got
};

// How an episode ended (POST /atlas/v1/sessions/<id>/end, an idle timeout, or shutdown).
struct EpisodeOutcome {
  std::string final_answer;      // "" = the last assistant reply
  std::optional<bool> success;   // the client's own verdict, when it gave one
  std::string feedback_json;     // {"metrics":{...},"comment":...,"demonstration":...} or ""
  std::string ended_by = "client";  // client | idle_timeout | shutdown | superseded (shared_episodes)
};

// The teacher's check of a reply before the gateway returns it (paired/coach lanes).
struct ReplyCheck {
  bool accepted = true;
  bool unavailable = false;  // the teacher could not be reached: the reply goes out unvalidated
  std::string guidance;      // for the retry when not accepted
  std::string verdict_json;
};

class Session;

// A session whose model calls are made by an outside agent and recorded as they happen. Opened
// by Runtime::begin_episode (session row, learning state, lane), fed with record(), closed by
// end(), which judges and stores it exactly as run() does. record() and end() must not run
// concurrently for one episode (the gateway serialises them); check_reply() may run anytime.
class Episode {
 public:
  explicit Episode(std::shared_ptr<Session> session);
  const std::string& session_id() const;
  const std::string& learning_key() const;
  config::Lane lane() const;
  // The student playbook block for the system prompt ("" = none learned yet, or disabled).
  const std::string& playbook_block() const;
  bool stored() const;
  // Opens an episode made by Runtime::prepare_episode (session row, learning history, lane), off
  // the request path. False (with the report saying why) when the session ended at once.
  bool begin(SessionReport* ended_at_once = nullptr);
  ReplyCheck check_reply(const std::string& output, const std::vector<std::string>& guidance_so_far, int attempt,
                         int call_number);
  // Coach lane: the teacher's guidance for the coming call (recorded as a "guidance" event with
  // detail "before_call"); "" when it gives none.
  std::string guidance_before_call(const std::vector<llm::Message>& messages, int call_number,
                                   const std::vector<std::string>& guidance_so_far);
  void record(const CapturedCall& call);
  SessionReport end(const EpisodeOutcome& outcome);
  // The [limits] bound (tokens, model calls of every role, deadline) the episode went past, ""
  // while within them; note_limit() records a bound the caller enforced (a "limit" event).
  std::string limit_reason() const;
  void note_limit(const std::string& reason);
  // What begin() decided, for Runtime::resume_episode on another gateway replica (shared
  // episodes, docs/serve.md).
  std::string resume_state_json() const;

 private:
  std::shared_ptr<Session> session_;
};

struct RuntimeOptions {
  std::vector<std::filesystem::path> plugin_dirs;  // searched in addition to the config's and the defaults
  bool use_default_plugin_dirs = true;
  std::string database_url;                       // a command-line URL: wins over [storage] database_url
  std::shared_ptr<llm::Client> client;            // default: llm::default_client()
  bool progress = false;                          // live event lines on stderr
  bool color = false;
  // Every event of every session, as it happens (tests, progress bars). Thread-safe callers only.
  std::function<void(const Event& event)> on_event;
  // How long a learning state read counts as fresh for Runtime::prepare_episode; after that the
  // next episode of its key re-reads it off the request path (0: every episode does).
  double learning_cache_seconds = 10.0;
  // The store's background event writer yields the CPU to every other thread (StoreOptions::idle_writer).
  bool idle_storage_writer = false;
};

// An episode prepared without writing to storage (Runtime::prepare_episode): what its first call
// needs before it is forwarded, when the configuration and the learning state of its key (read
// once per key, then cached) already decide it.
struct PreparedEpisode {
  std::shared_ptr<Episode> episode;  // not begun: Episode::begin() opens it
  std::optional<config::Lane> lane;  // set when the configuration fixes the lane (no history or probe)
  bool playbook_known = false;       // playbook_block is what begin() will apply
  std::string playbook_block;        // the student playbook block ("" = none)
};

class Runtime {
 public:
  static Result<std::unique_ptr<Runtime>> create(config::Config config, RuntimeOptions options = {});
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Runs one session to the end. Never throws; failures are in the report. Thread-safe.
  SessionReport run(const TaskSpec& task);
  // Runs `options.siblings` sibling sessions of one task as a rollout group: one learning state
  // (playbook and learning history) read once for the whole group, distinct seeds (and the given
  // temperatures) per sibling, every session stored with the group id and its index, and the
  // learning updates of the group started only after its last sibling ended. Thread-safe.
  std::vector<SessionReport> run_rollouts(const TaskSpec& task, const RolloutOptions& options);
  // Opens a captured episode: the session row, learning state and lane, as run() begins. Null
  // (with the report saying why) when the session ended at once (interrupted, task too large).
  std::shared_ptr<Episode> begin_episode(const TaskSpec& task, SessionReport* ended_at_once = nullptr);
  // Prepares an episode without storage: the caller may forward the first call at once (with
  // `lane` and `playbook_block` when known) and run episode->begin() later, in order before
  // anything is recorded. Null when the session would end at once (interrupted, task too large):
  // use begin_episode for the report.
  std::shared_ptr<PreparedEpisode> prepare_episode(const TaskSpec& task);
  // Takes up an episode another process opened (Episode::resume_state_json): the same session
  // row, lane, playbook and learning history, without storage reads or a second session row.
  // Null when the state is not one.
  std::shared_ptr<Episode> resume_episode(const std::string& state_json);
  // Waits for every background learning synthesis started so far.
  void wait_for_background();
  // Stops every session (Ctrl-C), for good: model calls in flight are aborted, sessions under
  // way end `interrupted` (stored, never auto-approved or exported), and run() calls that have
  // not begun return `not_started` without storing anything. Thread-safe; not for a signal
  // handler (see cli::InterruptWatch).
  void cancel();

  const config::Config& config() const;
  data::Store* store() const;  // null without storage
  plugin::Registry& registry();

  class Impl;

 private:
  explicit Runtime(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace atlas::runtime
