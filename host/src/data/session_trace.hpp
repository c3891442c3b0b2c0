// Turns a stored session (the `read_session` response) into Atlas's AtlasSessionTrace JSON
// record (docs/export-formats.md), the `atlas-jsonl` export line, with our real step rewards in
// steps[].reward and trajectory events oldest -> newest. Also the shared pieces the trainer
// formats need (chat transcript reconstruction).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::data {

// `session` is a parsed read_session response; the record is built in `out` (an object).
void build_atlas_trace(const json::Value& session, json::Value& out, json::Allocator& a);

// What a trainer row carries of the conversation (docs/export-formats.md, "What the student saw").
struct TranscriptOptions {
  // Remove the injected playbook from the system message (export --strip-playbook).
  bool strip_playbook = false;
};

// The system prompt the student was sent on its first recorded call: `system_prompt` of the
// first student `attempt` or `llm_call` event that carries one, else metadata.system_prompt;
// "" when none was stored. With strip_playbook, without the playbook (strip_playbook below,
// with the call's `system_injected` text when it recorded one).
std::string student_system_prompt(const json::Value& session, const TranscriptOptions& options = {});

// `system_prompt` without the injected playbook block and the blank line that separates it from
// the rest: `injected` (the exact text a captured call recorded) when given and found, else the
// block from ">>> Student Playbook >>>" to ">>> End Student Playbook >>>". Unchanged when
// neither is there.
std::string strip_playbook(std::string_view system_prompt, std::string_view injected = {});

// One chat message in the adapter-contract shape: {role, content, tool_calls[{id, name,
// arguments (object)}], tool_call_id, name}.
// The conversation of a session: the student's system prompt (student_system_prompt), the user
// task, every tool call (from tool_call events, in order) with its result, and the final answer.
// When a step's metadata carries `messages` (the accepted attempt's transcript) those are used
// instead (with the system prompt first when they have none).
void build_transcript(const json::Value& session, json::Value& messages, json::Allocator& a,
                      const TranscriptOptions& options = {});
// Tool definitions, each {"type":"function","function":{name, description, parameters}}:
// metadata.tools when stored, else every tool the student was offered with its schema (`tools`
// of its attempt/llm_call events, first offer of each name), then a stub for any tool called
// but never recorded as offered.
void build_tools(const json::Value& session, const json::Value& messages, json::Value& tools, json::Allocator& a);

// An attempt's stored evaluation (steps[].attempt_details[].evaluation) the teacher rejected:
// validation.valid == false, else status failed/rejected/invalid/error.
bool attempt_rejected(const json::Value& evaluation);
// One it accepted: validation.valid == true, else status passed/accepted/succeeded/ok.
bool attempt_accepted(const json::Value& evaluation);

// The heading of the teacher's guidance in a retried step's user message (runtime/session.cpp,
// Session::run_step, appends it and then "\n- <note>" per note).
inline constexpr char kGuidanceHeading[] = "Guidance from your teacher on earlier attempts:";

// The user message a stored step's student was sent: `user_prompt` of the step's `attempt`
// start events (the last attempt's with_guidance, the guidance the retry carried included; the
// first attempt's without, made before any guidance). Sessions stored before the runtime
// recorded it: the task (+ "\n\nStep N: description" in a plan of several steps), and with
// with_guidance the step's guidance under kGuidanceHeading as the runtime appends it.
std::string step_user_prompt(const json::Value& session, const json::Value& step, bool with_guidance);

// A session as one multi-step conversation (docs/export-formats.md, "Multi-step
// conversations"): the student's system prompt, the user task, then per step whose final
// attempt was not rejected, in plan order: its user turn (run steps: the prompt as sent,
// step_user_prompt; captured calls have none, their conversation continues), the guidance notes
// as user turns (captured calls, with guidance), the accepted attempt's tool calls and results,
// and its output as an assistant turn; the final answer closes it when it is not the last output.
struct ConversationOptions {
  TranscriptOptions transcript;
  bool guidance = true;  // teacher guidance the student received, as context turns (never assistant)
};
// Where one step's turns are in the conversation.
struct StepTurns {
  int64_t step_id = 0;
  size_t begin = 0;        // its first turn (its user turn or guidance; else its first reply turn)
  size_t first_reply = 0;  // its first assistant turn
  size_t end = 0;          // one past its last turn
  // Run steps: each attempt was a fresh conversation [system, user turn], so the turns from
  // `begin` are all the student saw; captured calls continue the episode's conversation.
  bool own_prompt = false;
  std::string system_prompt;  // run steps: the system prompt of the accepted attempt
  // Its tool calls cannot be told apart from a rejected attempt's (stored without the attempt
  // that made them): context, not behaviour to train on.
  bool tool_turns_unattributed = false;
};
std::vector<StepTurns> build_conversation(const json::Value& session, json::Value& messages, json::Allocator& a,
                                          const ConversationOptions& options = {});

// The session's final answer synthesis as one conversation (docs/export-formats.md, "Multi-step
// conversations"): a coach session of several steps ends with one more student call that writes
// the final answer from the step results. Its `synthesis` event recorded what it was sent: the
// system prompt and the user message (the task and every step's result), then the tool calls it
// made and the final answer. False (and `messages` empty) when the session has no such call: one
// step (its output is the final answer), a captured episode (no call of the gateway's writes it),
// a session stored before the synthesis recorded its prompts, or no final answer.
bool build_synthesis(const json::Value& session, json::Value& messages, json::Allocator& a,
                     const TranscriptOptions& options = {});

// reward_stats.score of a read_session response, if any.
std::optional<double> session_score(const json::Value& session);
// reward_stats.uncertainty_mean of a read_session response, if any.
std::optional<double> session_uncertainty(const json::Value& session);
// A stored step's reward score (evaluation.reward.score); nullopt when the step was not judged
// (the runtime stores a 0.0 placeholder with raw.skipped = true: not a real score).
std::optional<double> step_score(const json::Value& step);

}  // namespace atlas::data
