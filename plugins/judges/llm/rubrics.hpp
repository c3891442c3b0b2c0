// Built-in rubrics of the `llm` judge (our own wording).
#ifndef ATLAS_JUDGE_LLM_RUBRICS_HPP
#define ATLAS_JUDGE_LLM_RUBRICS_HPP

#include <string_view>

namespace atlas_judge_llm {

struct Rubric {
  std::string_view name;
  std::string_view text;
};

inline constexpr Rubric kBuiltinRubrics[] = {
    {"process",
     "Judge HOW the work was done. Good process: the agent understood what the step asked for, chose "
     "suitable tools and called them with sensible arguments, read the tool results and used what they "
     "said (instead of ignoring or contradicting them), recovered from errors or failed attempts "
     "deliberately rather than repeating them, followed the teacher's guidance when it was given, and "
     "did not take needless detours. Penalise invented tool results, claims the trace does not "
     "support, unsafe or destructive actions, and retries that change nothing."},
    {"outcome",
     "Judge WHAT was delivered. A good outcome answers the task that was asked, completely and "
     "correctly, is consistent with the evidence gathered along the way, respects any stated format or "
     "constraints, and does not claim things it did not establish. A partially correct answer earns "
     "partial credit in proportion to what is usable; a confident wrong answer scores lower than an "
     "honest partial one. When an expected answer is given, agreement with it dominates the score."},
    {"helpfulness",
     "Judge how useful the result is to the person who asked. Helpful work addresses the actual need "
     "behind the task, is clear and well organised, gives the reader what they need to act (steps, "
     "caveats, sources where relevant) without padding, and is honest about uncertainty and limits. "
     "Penalise evasive, verbose or off-topic answers and answers that would mislead."},
};

inline const Rubric* find_builtin_rubric(std::string_view name) {
  for (const auto& r : kBuiltinRubrics) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace atlas_judge_llm

#endif
