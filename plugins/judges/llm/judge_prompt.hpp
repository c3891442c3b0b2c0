// The `llm` judge's prompts: a system message with the rubric and the output contract, and a
// user message with the evidence (task, plan, the step with its trace, or the session's steps
// and final answer). Long evidence is cut to a character budget with explicit markers.
#ifndef ATLAS_JUDGE_LLM_JUDGE_PROMPT_HPP
#define ATLAS_JUDGE_LLM_JUDGE_PROMPT_HPP

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace atlas_judge_llm {

struct PromptLimits {
  size_t max_trace_chars = 16000;   // the rendered step trace
  size_t max_text_chars = 8000;     // each of: output, final answer, plan, one step summary list
};

struct Prompt {
  bool ok = false;
  std::string error;    // e.g. unknown rubric without text
  std::string rubric_name;
  std::string system;
  std::string user;
  bool trace_truncated = false;
};

// `default_rubric_text` (plugin config) is used for a non-built-in rubric the request gives
// no text for.
Prompt build_prompt(const rapidjson::Value& request, const PromptLimits& limits,
                    std::string_view default_rubric_text = {});

// Cuts `text` to at most about `limit` characters, keeping the head and the tail, with a
// marker saying how much was left out. Exposed for tests.
std::string truncate_middle(std::string_view text, size_t limit, bool* truncated = nullptr);

// Renders a trace object {messages, tool_calls, text} as readable text.
std::string render_trace(const rapidjson::Value& trace, size_t per_item_limit);

}  // namespace atlas_judge_llm

#endif
