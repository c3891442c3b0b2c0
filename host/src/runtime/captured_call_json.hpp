// A captured gateway call (runtime::CapturedCall) as JSON and back, for shared gateway episodes
// (docs/serve.md, "Several gateway replicas"): each call is stored in gateway_calls when it is
// served and replayed into the session by the replica that ends the episode.
//
//   {"wire", "model", "messages": [...], "tools": [...]   (the llm request form, docs/llm-model.md),
//    "system_injected", "ok", "error", "reply": {...}     (the llm response form),
//    "latency_seconds", "started_us", "ended_us", "streamed",
//    "rejected": [{"output", "verdict", "guidance"}], "guidance_before_call",
//    "final_verdict", "final_accepted"}
#pragma once

#include <string>

#include "common/status.hpp"
#include "runtime/runtime.hpp"

namespace atlas::runtime {

std::string captured_call_to_json(const CapturedCall& call);
Result<CapturedCall> captured_call_from_json(std::string_view text);

}  // namespace atlas::runtime
