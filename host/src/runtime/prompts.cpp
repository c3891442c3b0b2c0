#include "runtime/prompts.hpp"

namespace atlas::runtime::prompts {

std::string_view student_planner() {
  return "You are the student agent and must plan how to complete the task below before doing it. "
         "Split the work into the fewest concrete steps that together finish the task. A step lists in "
         "\"depends_on\" the ids of exactly those earlier steps whose results it needs; steps that do not "
         "need each other's results must not depend on each other, so they can run at the same time.\n"
         "Reply with JSON only, no prose: {\"steps\": [{\"id\": 1, \"description\": \"...\", \"depends_on\": []}]}";
}

std::string_view student_executor() {
  return "You are the student agent carrying out one step of a larger task. Use the task, the validated "
         "results of the steps this one depends on, any guidance from your teacher, and the tools you have. "
         "Do the step completely and reply with its result; the result is what later steps and the final "
         "answer will build on.";
}

std::string_view student_synthesizer() {
  return "You are the student agent writing the final answer to a task whose steps are done. Use the step "
         "results below as your evidence, resolve any disagreement between them, and answer the task "
         "completely and directly. Reply with the final answer only.";
}

std::string_view teacher_plan_review() {
  return "You are the teacher supervising a student agent. Review the student's plan for the task: do the "
         "steps together complete the task, is each step concrete and feasible, does every step depend on "
         "exactly the steps whose results it needs, and is independent work left free to run in parallel? "
         "Correct the plan when needed, otherwise return it unchanged.\n"
         "Reply with JSON only: {\"steps\": [{\"id\": 1, \"description\": \"...\", \"depends_on\": []}], "
         "\"concerns\": [\"...\"] or null}";
}

std::string_view teacher_validation() {
  return "You are the teacher checking a student agent's work on one step of a task. Decide whether the "
         "output completes the step correctly and fully. If it does not, say precisely what is wrong or "
         "missing and what the student should do on the next attempt.\n"
         "Reply with JSON only: {\"valid\": true or false, \"guidance\": \"...\" or null, \"reasoning\": \"...\"}";
}

std::string_view teacher_guidance() {
  return "You are the teacher of a student agent whose attempt at a step was not accepted. Write guidance "
         "the student can act on immediately in its next attempt: at most three sentences, concrete, about "
         "this step only.\nReply with JSON only: {\"guidance\": \"...\"}";
}

std::string_view teacher_guidance_before_call() {
  return "You are the teacher of a student agent that is about to make its next model call for a task. From "
         "the task and the conversation so far, write guidance for the student's next reply: at most three "
         "sentences, concrete, about this reply only. When the student needs none, give an empty string.\n"
         "Reply with JSON only: {\"guidance\": \"...\"}";
}

std::string_view learning_synthesizer() {
  return "You maintain the playbook a student agent and its teacher read before every task with the same "
         "learning key. From the finished session below (task, reward with the judges' rationale, and the "
         "evidence of what happened) and the current playbook, write reusable guidance: what to repeat, what "
         "to avoid. No task-specific names, ids, dates, file names or incident numbers.\n"
         "Reply with JSON only:\n"
         "{\"version\": \"playbook_entry.v1\",\n"
         " \"student_pamphlet\": \"<= 600 words of guidance for the student, or null to keep the current one\",\n"
         " \"teacher_pamphlet\": \"guidance for the teacher, or null\",\n"
         " \"session_student_learning\": \"one sentence: what the student learned in this session\",\n"
         " \"session_teacher_learning\": \"one sentence for the teacher, or null\",\n"
         " \"playbook_entries\": [{\"id\": \"optional\", \"audience\": \"student|teacher\",\n"
         "   \"cue\": {\"type\": \"keyword|regex|predicate\", \"pattern\": \"...\", \"description\": \"...\"},\n"
         "   \"action\": {\"imperative\": \"<= 120 chars\", \"runtime_handle\": \"a tool name or null\"},\n"
         "   \"expected_effect\": \"<= 200 chars\",\n"
         "   \"scope\": {\"category\": \"reinforcement|differentiation\", \"constraints\": \"<= 250 chars\"}}]}";
}

std::string compose(std::string_view playbook_block, std::string_view base_prompt, std::string_view custom,
                    std::string_view builtin) {
  std::string body;
  if (!custom.empty()) {
    body = std::string(custom);
    const std::string_view token = "{base_prompt}";
    for (size_t pos = body.find(token); pos != std::string::npos; pos = body.find(token, pos + base_prompt.size()))
      body.replace(pos, token.size(), base_prompt);
  } else if (!base_prompt.empty()) {
    body = std::string(base_prompt) + "\n\n" + std::string(builtin);
  } else {
    body = std::string(builtin);
  }
  if (playbook_block.empty()) return body;
  return std::string(playbook_block) + "\n\n" + body;
}

}  // namespace atlas::runtime::prompts
