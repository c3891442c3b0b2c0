// Turns a stored session (the `read_session` response) into Atlas's AtlasSessionTrace JSON
// record (docs/export-formats.md), the `atlas-jsonl` export line, with our real step rewards in
// steps[].reward and trajectory events oldest -> newest. Also the shared pieces the trainer
// formats need (chat transcript reconstruction).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/json.hpp"
#include "common/status.hpp"

namespace atlas::data {

// `session` is a parsed read_session response; the record is built in `out` (an object).
void build_atlas_trace(const json::Value& session, json::Value& out, json::Allocator& a);

// One chat message in the adapter-contract shape: {role, content, tool_calls[{id, name,
// arguments (object)}], tool_call_id, name}.
// The conversation of a session: the user task, every tool call (from tool_call events, in
// order) with its result, and the final answer. When a step's metadata carries `messages`
// (the accepted attempt's transcript) those are used instead.
void build_transcript(const json::Value& session, json::Value& messages, json::Allocator& a);
// Tool definitions used by the session: metadata.tools when stored, else one entry per tool
// name seen in the transcript.
void build_tools(const json::Value& session, const json::Value& messages, json::Value& tools, json::Allocator& a);

// reward_stats.score of a read_session response, if any.
std::optional<double> session_score(const json::Value& session);
// reward_stats.uncertainty_mean of a read_session response, if any.
std::optional<double> session_uncertainty(const json::Value& session);
// A stored step's reward score (evaluation.reward.score); nullopt when the step was not judged
// (the runtime stores a 0.0 placeholder with raw.skipped = true: not a real score).
std::optional<double> step_score(const json::Value& step);

}  // namespace atlas::data
